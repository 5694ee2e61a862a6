/**
 * Version tags: a caller's tags and namespace views' tags live in one hash of versions, kept
 * apart by a prefix (`t:` and `n:`). Invalidating bumps a version; an entry written under an
 * older one is not served (see l1-sync.ts).
 */
import { InvalidOptionError } from '../errors.js'
import { describeValue } from '../option-names.js'

/** The version tag of a namespace view (`clear()` bumps it). */
export function namespaceTag(prefix: string): string {
  return `n:${prefix}`
}

/** The version tag of a caller's tag (kept apart from namespace tags). */
export function userTag(tag: string): string {
  return `t:${tag}`
}

/**
 * Checks tags given to writes and invalidations.
 * @throws {InvalidOptionError} naming `tags` when one is not a non-empty string
 */
export function checkTags(tags: unknown): string[] {
  if (!Array.isArray(tags))
    throw new InvalidOptionError('tags', `must be an array of tags, got ${describeValue(tags)}`)
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length === 0)
      throw new InvalidOptionError('tags', `must be non-empty strings, got ${describeValue(tag)}`)
  }
  return tags as string[]
}
