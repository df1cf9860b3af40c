// Chapter 2, a reference solution: entry-wise comparison of vector clocks, and Lamport's receive rule.
import type { Ordering, VectorClock } from "../../../src/protocols/clocks/vector-clock.ts"

/** Entry-wise: each clock covers the other where it is at least as large in every entry. */
export const compare = (left: VectorClock, right: VectorClock): Ordering => {
  const nodes = new Set([...Object.keys(left), ...Object.keys(right)])
  let leftSmaller = false
  let rightSmaller = false
  for (const node of nodes) {
    const difference = (left[node] ?? 0) - (right[node] ?? 0)
    if (difference < 0) leftSmaller = true
    if (difference > 0) rightSmaller = true
  }
  return leftSmaller && rightSmaller ? "concurrent" : leftSmaller ? "before" : rightSmaller ? "after" : "equal"
}

/** Later than both what the node had seen and what the message carries. */
export const lamportReceive = (current: number, received: number): number => Math.max(current, received) + 1
