// Chapter 2 exercise: compare two vector clocks, and move a Lamport clock on receipt. Edit both
// functions, then run `npx tsx docs/learn/check.ts 2`. As given, both are wrong in instructive ways.
import type { Ordering, VectorClock } from "../../../src/protocols/clocks/vector-clock.ts"

/**
 * How two vector clocks are ordered: "before" when every entry of `left` is at most `right`'s and
 * they differ, "after" the other way round, "equal", or "concurrent" when neither covers the other.
 * A missing entry counts as 0.
 */
export const compare = (left: VectorClock, right: VectorClock): Ordering => {
  const sum = (clock: VectorClock): number => Object.values(clock).reduce((total, count) => total + count, 0)
  const difference = sum(left) - sum(right)
  return difference < 0 ? "before" : difference > 0 ? "after" : "equal"
}

/** A node whose Lamport clock reads `current` receives a message stamped `received`: its clock after the receipt. */
export const lamportReceive = (current: number, received: number): number => received + 1
