// Rendezvous (highest-random-weight) hashing (Thaler and Ravishankar): every node scores every key,
// and the key's preference list is the nodes by descending score. Weighted as in Schindelhauer and
// Schomaker's logarithmic method: score = -weight / ln(hash in (0, 1)), so a node's share of keys is
// its share of the total weight. Keys are first grouped into a fixed number of partitions of the hash
// space (as Riak and Ceph do), so that a join or leave moves whole key ranges a plan can name.
import { assert } from "../assert.ts"
import { compareIds, type WeightedNode } from "./consistent-ring.ts"
import { HASH_SPACE, murmur3, murmur3Integer, unitInterval } from "./hash.ts"

/** Rendezvous placement over `partitions` equal ranges of the hash space. */
export interface Rendezvous {
  readonly _tag: "Rendezvous"
  readonly nodes: ReadonlyArray<WeightedNode>
  /** A power of two: partition `p` holds the hashes whose top log2(partitions) bits are `p`. */
  readonly partitions: number
  /** Each node's hash seed, in the order of `nodes`. */
  readonly seeds: ReadonlyArray<number>
}

/** A rendezvous placement over `nodes` (distinct ids, positive weights). */
export const makeRendezvous = (nodes: ReadonlyArray<WeightedNode>, partitions: number): Rendezvous => {
  assert(Number.isInteger(partitions) && partitions >= 1 && partitions <= 2 ** 24, () => `partitions ${partitions} out of range`)
  assert((partitions & (partitions - 1)) === 0, () => `partitions ${partitions} is not a power of two`)
  return { _tag: "Rendezvous", nodes, partitions, seeds: nodes.map((node) => murmur3(node.id)) }
}

/** The partition that holds `hash`. */
export const partitionOf = (rendezvous: Rendezvous, hash: number): number =>
  Math.floor(hash / (HASH_SPACE / rendezvous.partitions))

/** `weight` times a node's score for `partition`: the higher, the earlier in the preference list. */
export const score = (partition: number, seed: number, weight: number): number =>
  -weight / Math.log(unitInterval(murmur3Integer(partition, seed)))

/** The `n` highest-scoring nodes for `hash`'s partition (ties by id); all of them when fewer than `n`. */
export const rendezvousPreferenceList = (rendezvous: Rendezvous, hash: number, n: number): Array<string> => {
  const partition = partitionOf(rendezvous, hash)
  const wanted = Math.min(Math.max(0, n), rendezvous.nodes.length)
  // A partial insertion sort keeps the best `wanted` so far: lookups want few of many nodes.
  const ids: Array<string> = []
  const scores: Array<number> = []
  rendezvous.nodes.forEach((node, index) => {
    const nodeScore = score(partition, rendezvous.seeds[index]!, node.weight)
    let at = ids.length
    while (at > 0 && ranksBefore(nodeScore, node.id, scores[at - 1]!, ids[at - 1]!)) at--
    if (at >= wanted) return
    ids.splice(at, 0, node.id)
    scores.splice(at, 0, nodeScore)
    if (ids.length > wanted) {
      ids.pop()
      scores.pop()
    }
  })
  return ids
}

const ranksBefore = (score: number, id: string, otherScore: number, otherId: string): boolean =>
  score > otherScore || (score === otherScore && compareIds(id, otherId) < 0)

/** The two placements of {@link changedPartitions}: the same partitions, nodes joined or gone between them. */
export interface RendezvousChange {
  readonly before: Rendezvous
  readonly after: Rendezvous
}

/**
 * Calls `visit` with each partition, ascending, whose `n` highest-scoring nodes differ between the
 * two placements, and both lists. The same as {@link rendezvousPreferenceList} on each side, but each
 * node's hash and logarithm for a partition are worked out once for both sides, and no list is
 * made for a partition that keeps its nodes: a membership change plans every partition (16,384 by
 * default) on every node, and most keep theirs.
 */
export const changedPartitions = (
  change: RendezvousChange,
  n: number,
  visit: (partition: number, before: Array<string>, after: Array<string>) => void
): void => {
  const { before, after } = change
  assert(before.partitions === after.partitions, () => `cannot compare ${before.partitions} partitions with ${after.partitions}`)
  // Every node of either side once, with its weight on each side: 0 where it is absent, which no
  // node present has (makePlacement asserts positive weights).
  const ids = [...new Set([...before.nodes, ...after.nodes].map((node) => node.id))]
  const weightsOf = (side: Rendezvous) => {
    const weights = new Map(side.nodes.map((node) => [node.id, node.weight]))
    return Float64Array.from(ids, (id) => weights.get(id) ?? 0)
  }
  const weightsBefore = weightsOf(before)
  const weightsAfter = weightsOf(after)
  const seeds = Uint32Array.from(ids, (id) => murmur3(id))
  const logarithms = new Float64Array(ids.length)
  const topBefore = new Top(ids, Math.min(Math.max(0, n), before.nodes.length))
  const topAfter = new Top(ids, Math.min(Math.max(0, n), after.nodes.length))
  for (let partition = 0; partition < before.partitions; partition++) {
    for (let index = 0; index < ids.length; index++) logarithms[index] = Math.log(unitInterval(murmur3Integer(partition, seeds[index]!)))
    topBefore.select(logarithms, weightsBefore)
    topAfter.select(logarithms, weightsAfter)
    if (!topBefore.sameAs(topAfter)) visit(partition, topBefore.list(), topAfter.list())
  }
}

/** The highest-scoring nodes of one side for one partition, as indexes into the ids, best first; reused from partition to partition. */
class Top {
  private readonly members: Int32Array
  private readonly scores: Float64Array
  private length = 0

  constructor(
    private readonly ids: ReadonlyArray<string>,
    private readonly wanted: number
  ) {
    this.members = new Int32Array(wanted)
    this.scores = new Float64Array(wanted)
  }

  /** Keeps the best `wanted` of the nodes present on this side (weight above 0), ranked as {@link rendezvousPreferenceList} ranks them. */
  select(logarithms: Float64Array, weights: Float64Array): void {
    this.length = 0
    for (let index = 0; index < weights.length; index++) {
      const weight = weights[index]!
      if (weight === 0) continue
      // The very expression of `score`, so that the ranking is bit for bit the lookup's.
      const nodeScore = -weight / logarithms[index]!
      let at = this.length
      while (at > 0 && ranksBefore(nodeScore, this.ids[index]!, this.scores[at - 1]!, this.ids[this.members[at - 1]!]!)) at--
      if (at >= this.wanted) continue
      // Shift the worse ones down one place; the last falls off when the list is full.
      for (let place = Math.min(this.length, this.wanted - 1); place > at; place--) {
        this.members[place] = this.members[place - 1]!
        this.scores[place] = this.scores[place - 1]!
      }
      this.members[at] = index
      this.scores[at] = nodeScore
      if (this.length < this.wanted) this.length++
    }
  }

  sameAs(other: Top): boolean {
    if (this.length !== other.length) return false
    for (let at = 0; at < this.length; at++) if (this.members[at] !== other.members[at]) return false
    return true
  }

  list(): Array<string> {
    const list: Array<string> = []
    for (let at = 0; at < this.length; at++) list.push(this.ids[this.members[at]!]!)
    return list
  }
}

/** The ends of the partitions, ascending: partition `p` is the range ending at `(p + 1) × 2^32 / partitions - 1`. */
export const rendezvousRangeEnds = (rendezvous: Rendezvous): Array<number> => {
  if (rendezvous.nodes.length === 0) return []
  const width = HASH_SPACE / rendezvous.partitions
  return Array.from({ length: rendezvous.partitions }, (_, partition) => (partition + 1) * width - 1)
}
