// A replica's versions of one key as a dotted version vector set (Almeida, Baquero et al., "Scalable
// and Accurate Causality Tracking for Eventually Consistent Stores", 2014; Riak's `dvvset`): the
// siblings (concurrent writes, each with its version) and one causal context covering every write
// the replica has seen, kept or superseded. A write that names the context it read supersedes what
// that context covers; writes that did not see each other stay side by side as siblings.
import { assert } from "../assert.ts"
import { entry, merge, normalize, type VectorClock } from "../clocks/vector-clock.ts"
import { murmur3 } from "../hashring/hash.ts"
import { compareDots, covers, type Dot, type DottedVersionVector, format, makeVersion, sameDot } from "./dotted-version-vector.ts"

/** One concurrent value of a key, with the version of the write that made it. */
export interface Sibling<V> {
  readonly version: DottedVersionVector
  readonly value: V
}

/**
 * A replica's state of one key. `siblings` are pairwise concurrent and sorted by dot; `context`
 * covers each sibling's dot and every write they superseded. An empty set is a key never written.
 */
export interface SiblingSet<V> {
  readonly context: VectorClock
  readonly siblings: ReadonlyArray<Sibling<V>>
}

/** The state of a key nobody has written. */
export const empty = <V>(): SiblingSet<V> => ({ context: {}, siblings: [] })

/** The values a read returns, in dot order: more than one when writes were concurrent. */
export const values = <V>(set: SiblingSet<V>): Array<V> => set.siblings.map((sibling) => sibling.value)

/**
 * A write of `value` coordinated by `coordinator`, whose client read `context` (the `context` of a
 * set it read, or `{}` for a blind write). Returns the coordinator's new state of the key: the siblings
 * `context` covers are superseded; the others are concurrent with this write and stay as siblings.
 * The write's dot is the coordinator's next counter for this key.
 */
export const put = <V>(set: SiblingSet<V>, context: VectorClock, value: V, coordinator: string): SiblingSet<V> => {
  const counter = Math.max(entry(set.context, coordinator), entry(context, coordinator)) + 1
  const version = makeVersion(coordinator, counter, context)
  const concurrent = set.siblings.filter((sibling) => !covers(context, sibling.version.dot))
  const siblings = [...concurrent, { version, value }].sort(bySiblingDot)
  return checked({ context: normalize({ ...merge(set.context, context), [coordinator]: counter }), siblings })
}

/**
 * Two replicas' states of one key merged (anti-entropy, read repair, hinted handoff): a sibling
 * survives unless the other replica has seen its write (its context covers the dot) and dropped it,
 * because a later write superseded it. Commutative, associative and idempotent.
 */
export const sync = <V>(left: SiblingSet<V>, right: SiblingSet<V>): SiblingSet<V> => {
  const kept = left.siblings.filter((sibling) => has(right, sibling.version.dot) || !covers(right.context, sibling.version.dot))
  const added = right.siblings.filter((sibling) => !has(left, sibling.version.dot) && !covers(left.context, sibling.version.dot))
  return checked({ context: normalize(merge(left.context, right.context)), siblings: [...kept, ...added].sort(bySiblingDot) })
}

const has = <V>(set: SiblingSet<V>, dot: Dot): boolean => set.siblings.some((sibling) => sameDot(sibling.version.dot, dot))

const bySiblingDot = <V>(left: Sibling<V>, right: Sibling<V>): number => compareDots(left.version.dot, right.version.dot)

/** Asserts a set's invariants: its context covers its siblings, which are distinct and pairwise concurrent. */
const checked = <V>(set: SiblingSet<V>): SiblingSet<V> => {
  set.siblings.forEach((sibling, index) => {
    assert(covers(set.context, sibling.version.dot), () => `sibling ${format(sibling.version)} is outside the context`)
    for (const other of set.siblings.slice(index + 1)) {
      assert(compareDots(sibling.version.dot, other.version.dot) < 0, () => `siblings ${format(sibling.version)} and ${format(other.version)} out of order`)
      assert(!covers(other.version.past, sibling.version.dot), () => `sibling ${format(sibling.version)} precedes ${format(other.version)}`)
      assert(!covers(sibling.version.past, other.version.dot), () => `sibling ${format(other.version)} precedes ${format(sibling.version)}`)
    }
  })
  return set
}

/**
 * Last-writer-wins, only when a store asks for it: keeps the one sibling with the highest
 * `timestampOf` (ties by dot), with the same context, so the others are superseded everywhere it
 * syncs. Concurrent writes are lost by design; that is why it is never the default.
 */
export const lastWriterWins = <V>(set: SiblingSet<V>, timestampOf: (value: V) => number): SiblingSet<V> => {
  let winner: Sibling<V> | undefined
  for (const sibling of set.siblings) {
    if (winner === undefined) winner = sibling
    else {
      const order = timestampOf(sibling.value) - timestampOf(winner.value) || compareDots(sibling.version.dot, winner.version.dot)
      if (order > 0) winner = sibling
    }
  }
  return { context: set.context, siblings: winner === undefined ? [] : [winner] }
}

/**
 * A 32-bit digest of the set's versions (its context and its siblings' dots, not their values: a dot
 * names one write, so equal dots mean equal values). Anti-entropy compares these in Merkle trees.
 */
export const versionDigest = <V>(set: SiblingSet<V>): number => {
  const dots = set.siblings.map((sibling) => [sibling.version.dot.node, sibling.version.dot.counter])
  return murmur3(JSON.stringify([Object.entries(normalize(set.context)), dots]))
}
