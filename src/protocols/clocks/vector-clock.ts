// Vector clocks (Fidge, Mattern): one counter per node; comparing two tells happened-before from concurrent.

/** A vector clock: node id to counter. Missing entries are zero. Plain JSON, so it crosses the wire. */
export type VectorClock = Readonly<Record<string, number>>

/** How two vector clocks relate. */
export type Ordering = "before" | "after" | "equal" | "concurrent"

/** The counter of `node`, zero when absent. */
export const entry = (clock: VectorClock, node: string): number => clock[node] ?? 0

/** A copy of `clock` with `node`'s counter one higher. */
export const increment = (clock: VectorClock, node: string): VectorClock => ({ ...clock, [node]: entry(clock, node) + 1 })

/** The pointwise maximum of two clocks. */
export const merge = (left: VectorClock, right: VectorClock): VectorClock => {
  const result: Record<string, number> = { ...left }
  for (const node of Object.keys(right)) result[node] = Math.max(entry(left, node), entry(right, node))
  return result
}

/** True when every counter of `left` is at most the matching counter of `right`. */
export const lessOrEqual = (left: VectorClock, right: VectorClock): boolean => {
  for (const node of Object.keys(left)) if (entry(left, node) > entry(right, node)) return false
  return true
}

/** Compares two clocks: `before` means `left` happened before `right`. */
export const compare = (left: VectorClock, right: VectorClock): Ordering => {
  const leftBelow = lessOrEqual(left, right)
  const rightBelow = lessOrEqual(right, left)
  if (leftBelow && rightBelow) return "equal"
  if (leftBelow) return "before"
  if (rightBelow) return "after"
  return "concurrent"
}

/** The clock with zero entries removed and keys sorted, so equal clocks encode to equal text. */
export const normalize = (clock: VectorClock): VectorClock => {
  const result: Record<string, number> = {}
  for (const node of Object.keys(clock).sort()) {
    const value = entry(clock, node)
    if (value !== 0) result[node] = value
  }
  return result
}
