// Where a key's replicas live: one interface over two strategies, the consistent-hash ring and
// rendezvous hashing, chosen by option. The quorum store asks only these functions.
import { absurd, assert } from "../assert.ts"
import { type ConsistentRing, makeConsistentRing, ringPreferenceList, ringRangeEnds, type WeightedNode } from "./consistent-ring.ts"
import { HASH_SPACE, keyHash } from "./hash.ts"
import { arcs, type KeyRange, size } from "./key-range.ts"
import { makeRendezvous, type Rendezvous, rendezvousPreferenceList, rendezvousRangeEnds } from "./rendezvous.ts"

/** A placement of keys on nodes, by either strategy. */
export type Placement = ConsistentRing | Rendezvous

/** Which placement strategy. */
export type Strategy = "consistent" | "rendezvous"

/** How to build a placement. */
export interface PlacementOptions {
  readonly strategy: Strategy
  readonly nodes: ReadonlyArray<WeightedNode>
  /** Consistent hashing: virtual nodes per unit of weight (default 256). */
  readonly tokensPerWeight?: number
  /** Rendezvous: partitions of the hash space, a power of two (default 16,384: about 330 per node at 50 nodes, enough for balance). */
  readonly partitions?: number
}

/** Default virtual nodes per unit of weight: the figure the balance tests are stated for. */
export const TOKENS_PER_WEIGHT_DEFAULT = 256
/** Default rendezvous partitions. */
export const PARTITIONS_DEFAULT = 16_384

/** A placement over `options.nodes`, which must have distinct ids and positive, finite weights. */
export const makePlacement = (options: PlacementOptions): Placement => {
  const ids = new Set(options.nodes.map((node) => node.id))
  assert(ids.size === options.nodes.length, "node ids are not distinct")
  for (const node of options.nodes) {
    assert(Number.isFinite(node.weight) && node.weight > 0, () => `node ${node.id} has weight ${node.weight}`)
  }
  switch (options.strategy) {
    case "consistent":
      return makeConsistentRing(options.nodes, options.tokensPerWeight ?? TOKENS_PER_WEIGHT_DEFAULT)
    case "rendezvous":
      return makeRendezvous(options.nodes, options.partitions ?? PARTITIONS_DEFAULT)
    default:
      return absurd(options.strategy)
  }
}

/** A placement of the same strategy and settings as `placement`, over `nodes`. */
const rebuild = (placement: Placement, nodes: ReadonlyArray<WeightedNode>): Placement => {
  switch (placement._tag) {
    case "ConsistentRing":
      return makePlacement({ strategy: "consistent", nodes, tokensPerWeight: placement.tokensPerWeight })
    case "Rendezvous":
      return makePlacement({ strategy: "rendezvous", nodes, partitions: placement.partitions })
    default:
      return absurd(placement)
  }
}

/** `placement` with `node` joined. */
export const withNode = (placement: Placement, node: WeightedNode): Placement => rebuild(placement, [...placement.nodes, node])

/** `placement` with the node `id` gone. */
export const withoutNode = (placement: Placement, id: string): Placement => {
  assert(placement.nodes.some((node) => node.id === id), () => `node ${id} is not in the placement`)
  return rebuild(placement, placement.nodes.filter((node) => node.id !== id))
}

/** The preference list of the key whose hash is `hash`; see {@link preferenceList}. */
export const preferenceListAt = (placement: Placement, hash: number, n: number): Array<string> => {
  switch (placement._tag) {
    case "ConsistentRing":
      return ringPreferenceList(placement, hash, n)
    case "Rendezvous":
      return rendezvousPreferenceList(placement, hash, n)
    default:
      return absurd(placement)
  }
}

/**
 * The `n` distinct physical nodes that hold `key`'s replicas, in order: the first is its coordinator
 * (Dynamo §4.3). With fewer than `n` nodes it is all of them, so a caller that needs `n` replicas
 * must check the length; with no nodes it is empty.
 */
export const preferenceList = (placement: Placement, key: string, n: number): Array<string> =>
  preferenceListAt(placement, keyHash(key), n)

/** The node that coordinates writes of `key` when it is healthy; undefined with no nodes. */
export const coordinator = (placement: Placement, key: string): string | undefined => preferenceList(placement, key, 1)[0]

/** The ends of the ranges within which every key has the same preference list, ascending. */
export const rangeEnds = (placement: Placement): Array<number> => {
  switch (placement._tag) {
    case "ConsistentRing":
      return ringRangeEnds(placement)
    case "Rendezvous":
      return rendezvousRangeEnds(placement)
    default:
      return absurd(placement)
  }
}

/** Every range of the placement with its preference list of length `n`. */
export const ranges = (placement: Placement, n: number): Array<{ readonly range: KeyRange; readonly preferenceList: Array<string> }> =>
  arcs(rangeEnds(placement)).map((range) => ({ range, preferenceList: preferenceListAt(placement, range.end, n) }))

/** Each node's share of the hash space as a coordinator (the first of the preference list), in [0, 1]. */
export const ownership = (placement: Placement): Map<string, number> => {
  const shares = new Map(placement.nodes.map((node) => [node.id, 0]))
  for (const { range, preferenceList: owners } of ranges(placement, 1)) {
    const owner = owners[0]!
    shares.set(owner, shares.get(owner)! + size(range) / HASH_SPACE)
  }
  return shares
}

/** Where one replica of a key goes under a sloppy quorum, and whom it stands in for. */
export interface ReplicaTarget {
  readonly node: string
  /** Set when `node` holds the replica for the owner `hintFor`, which is down (Dynamo §4.6). */
  readonly hintFor?: string
}

/**
 * Dynamo's sloppy quorum: the replicas of `key` go to its `n` owners, except that each owner that is
 * not `healthy` is replaced by the next healthy node further along the walk, with a hint naming the
 * owner so that the replica is handed back when it returns (hinted handoff). Fewer than `n` targets
 * when there are not enough healthy nodes.
 */
export const sloppyPreferenceList = (
  placement: Placement,
  key: string,
  n: number,
  healthy: (node: string) => boolean
): Array<ReplicaTarget> => {
  const walk = preferenceList(placement, key, placement.nodes.length)
  const standIns = walk.slice(n).filter(healthy)
  const targets: Array<ReplicaTarget> = []
  for (const owner of walk.slice(0, n)) {
    if (healthy(owner)) targets.push({ node: owner })
    else if (standIns.length > 0) targets.push({ node: standIns.shift()!, hintFor: owner })
  }
  return targets
}
