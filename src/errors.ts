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

  /**
   * @param option the option's name
   * @param problem what is wrong with the value, e.g. `must be a positive integer, got "abc"`
   */
  constructor(option: string, problem: string, options?: ErrorOptions) {
    super('E_INVALID_OPTION', `Invalid option ${option}: ${problem}`, options)
    this.name = 'InvalidOptionError'
    this.option = option
  }
}
