// Dotted version vectors (Preguiça, Baquero, Almeida et al., "Dotted Version Vectors: Logical Clocks
// for Optimistic Replication", 2010): a version is the dot of the write that made it plus the version
// vector of what its writer had seen. Plain version vectors per server either lose concurrent writes
// or grow one entry per client; the dot keeps one entry per server and still tells two writes
// coordinated by the same server apart when neither saw the other.
import { assert } from "../assert.ts"
import { entry, normalize, type Ordering, type VectorClock } from "../clocks/vector-clock.ts"

/** One write event: the `counter`-th write that `node` coordinated for a key. */
export interface Dot {
  readonly node: string
  readonly counter: number
}

/**
 * A write's version: its `dot`, and `past`, the causal context its writer named (the version vector
 * of everything it had read). The dot is not in the past, and the past need not reach up to the dot:
 * that gap is what lets the dot stand for this one write alone.
 */
export interface DottedVersionVector {
  readonly dot: Dot
  readonly past: VectorClock
}

/** True when `context` has seen the write `dot`: version vectors hold contiguous dots per node. */
export const covers = (context: VectorClock, dot: Dot): boolean => entry(context, dot.node) >= dot.counter

/** The same dot. */
export const sameDot = (left: Dot, right: Dot): boolean => left.node === right.node && left.counter === right.counter

/** Orders dots by node id, then counter: the order siblings are kept in, so equal sets are equal data. */
export const compareDots = (left: Dot, right: Dot): number =>
  left.node < right.node ? -1 : left.node > right.node ? 1 : left.counter - right.counter

/** A new version for a write that `coordinator` makes as its `counter`-th, having seen `context`. */
export const makeVersion = (coordinator: string, counter: number, context: VectorClock): DottedVersionVector => {
  const dot = { node: coordinator, counter }
  assert(Number.isInteger(counter) && counter > 0, () => `dot counter ${counter} is not a positive integer`)
  assert(!covers(context, dot), () => `the write ${coordinator}:${counter} is in its own past`)
  return { dot, past: normalize(context) }
}

/**
 * How two versions relate: `before` means `left` happened before `right` (right's writer had seen
 * left's write), `equal` that they are the same write, `concurrent` that neither writer saw the other.
 */
export const compare = (left: DottedVersionVector, right: DottedVersionVector): Ordering => {
  if (sameDot(left.dot, right.dot)) return "equal"
  const leftBefore = covers(right.past, left.dot)
  const rightBefore = covers(left.past, right.dot)
  assert(!(leftBefore && rightBefore), () => `versions ${format(left)} and ${format(right)} each precede the other`)
  if (leftBefore) return "before"
  if (rightBefore) return "after"
  return "concurrent"
}

/** A version as text, for messages: `n1:3 {n1:1, n2:4}`. */
export const format = (version: DottedVersionVector): string => {
  const past = Object.entries(normalize(version.past)).map(([node, counter]) => `${node}:${counter}`)
  return `${version.dot.node}:${version.dot.counter} {${past.join(", ")}}`
}
