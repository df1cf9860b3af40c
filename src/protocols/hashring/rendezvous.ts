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

/** The ends of the partitions, ascending: partition `p` is the range ending at `(p + 1) × 2^32 / partitions - 1`. */
export const rendezvousRangeEnds = (rendezvous: Rendezvous): Array<number> => {
  if (rendezvous.nodes.length === 0) return []
  const width = HASH_SPACE / rendezvous.partitions
  return Array.from({ length: rendezvous.partitions }, (_, partition) => (partition + 1) * width - 1)
}
