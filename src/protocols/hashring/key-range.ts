// Arcs of the hash ring. Both placement strategies, the rebalancing plan and the Merkle trees speak
// of key ranges in this one form.
import { assert } from "../assert.ts"
import { HASH_SPACE } from "./hash.ts"

/**
 * The hashes `h` with `start < h <= end`, clockwise, wrapping past 2^32 - 1 to 0 when `end <= start`.
 * `start === end` is the whole ring. A key belongs to the range that holds its hash ({@link keyHash}).
 */
export interface KeyRange {
  readonly start: number
  readonly end: number
}

/** True when `hash` falls in `range`. */
export const contains = (range: KeyRange, hash: number): boolean => {
  if (range.start < range.end) return range.start < hash && hash <= range.end
  if (range.start === range.end) return true
  return hash > range.start || hash <= range.end
}

/** How many hashes `range` holds, out of 2^32. */
export const size = (range: KeyRange): number => {
  if (range.start === range.end) return HASH_SPACE
  return (range.end - range.start + HASH_SPACE) % HASH_SPACE
}

/**
 * The arcs between consecutive `ends` (sorted ascending, distinct): each arc ends at one of them and
 * starts just after the one before, the first wrapping around from the last. No ends, no arcs.
 */
export const arcs = (ends: ReadonlyArray<number>): Array<KeyRange> => {
  const result: Array<KeyRange> = []
  for (let index = 0; index < ends.length; index++) {
    const end = ends[index]!
    const start = index === 0 ? ends[ends.length - 1]! : ends[index - 1]!
    assert(index === 0 || start < end, () => `range ends not sorted and distinct at ${index}`)
    result.push({ start, end })
  }
  return result
}

/** The ascending, distinct union of two sorted lists of range ends. */
export const unionOfEnds = (left: ReadonlyArray<number>, right: ReadonlyArray<number>): Array<number> => {
  const result: Array<number> = []
  let leftIndex = 0
  let rightIndex = 0
  while (leftIndex < left.length || rightIndex < right.length) {
    const takeLeft = rightIndex >= right.length || (leftIndex < left.length && left[leftIndex]! <= right[rightIndex]!)
    const next = takeLeft ? left[leftIndex++]! : right[rightIndex++]!
    if (result.length === 0 || result[result.length - 1] !== next) result.push(next)
  }
  return result
}
