/**
 * Errors thrown by tiercache. Each carries a stable `code` (for programs), a message that names
 * what went wrong (for people), and the underlying `cause` when there is one.
 */

/** Base class of every error tiercache throws; `code` is stable across versions. */
export class TiercacheError extends Error {
  /** Stable machine-readable code, e.g. `E_INVALID_OPTION`. */
  readonly code: string

  /**
   * @param code stable code of this kind of failure
   * @param message what went wrong, naming the option, key or command involved
   * @param options standard `ErrorOptions`; pass `cause` when wrapping another error
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TiercacheError'
    this.code = code
  }
}

/** A configuration value is missing or malformed; the message names the option. */
export class InvalidOptionError extends TiercacheError {
  /** The option's name as the user wrote it (`ttl`, `--base-port`, `l1.max`, ...). */
  readonly option: string
  /** What is wrong with the value, without the option's name (to name it otherwise: a CLI flag). */
  readonly problem: string

  /**
   * @param option the option's name
   * @param problem what is wrong with the value, e.g. `must be a positive integer, got "abc"`
   */
  constructor(option: string, problem: string, options?: ErrorOptions) {
    super('E_INVALID_OPTION', `Invalid option ${option}: ${problem}`, options)
    this.name = 'InvalidOptionError'
    this.option = option
    this.problem = problem
  }
}

/** A cache key is not usable: empty, not a string, or longer than the limit. */
export class InvalidKeyError extends TiercacheError {
  /** The key as given. */
  readonly key: unknown

  constructor(key: unknown, problem: string) {
    super(
      'E_INVALID_KEY',
      `Invalid cache key ${typeof key === 'string' ? JSON.stringify(key.slice(0, 80)) : String(key)}: ${problem}`,
    )
    this.name = 'InvalidKeyError'
    this.key = key
  }
}

/** A loader threw (or rejected); the error is rethrown to the caller and nothing is cached. */
export class LoaderError extends TiercacheError {
  /** The key whose loader failed. */
  readonly key: string

  constructor(key: string, cause: unknown) {
    super(
      'E_LOADER',
      `The loader for ${JSON.stringify(key)} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    )
    this.name = 'LoaderError'
    this.key = key
  }
}

/** A value cannot be stored losslessly as JSON (a BigInt, a Map, a function, an invalid Date ...). */
export class UnserializableValueError extends TiercacheError {
  /** The key the value was meant for. */
  readonly key: string

  constructor(key: string, problem: string, options?: ErrorOptions) {
    super('E_UNSERIALIZABLE', `The value for ${JSON.stringify(key)} cannot be cached: ${problem}`, options)
    this.name = 'UnserializableValueError'
    this.key = key
  }
}

/** `withLock` could not take the lock within its `wait`. */
export class LockTimeoutError extends TiercacheError {
  /** The lock's name. */
  readonly lock: string

  constructor(lock: string, waitMs: number) {
    super('E_LOCK_TIMEOUT', `Could not acquire the lock ${JSON.stringify(lock)} within ${waitMs} ms`)
    this.name = 'LockTimeoutError'
    this.lock = lock
  }
}

/** A held lock was lost (it expired or was taken over) while its holder still ran. */
export class LockLostError extends TiercacheError {
  /** The lock's name. */
  readonly lock: string

  constructor(lock: string) {
    super(
      'E_LOCK_LOST',
      `The lock ${JSON.stringify(lock)} was lost while it was held (expired or taken over)`,
    )
    this.name = 'LockLostError'
    this.lock = lock
  }
}

/** A caller waited `rebuild.wait` for another instance's rebuild of a key, and was told to throw. */
export class RebuildTimeoutError extends TiercacheError {
  /** The key being rebuilt. */
  readonly key: string

  constructor(key: string, waitMs: number) {
    super(
      'E_REBUILD_TIMEOUT',
      `No fill of ${JSON.stringify(key)} arrived within ${waitMs} ms while another instance rebuilt it`,
    )
    this.name = 'RebuildTimeoutError'
    this.key = key
  }
}
