// Placement of keys on nodes for the quorum store: consistent hashing with virtual nodes and weights,
// rendezvous hashing, preference lists, sloppy quorums and the plan of ranges that move on a join or leave.
export { type ConsistentRing, type Token, type WeightedNode } from "./consistent-ring.ts"
export { HASH_SPACE, keyHash, murmur3 } from "./hash.ts"
export { contains, type KeyRange, size } from "./key-range.ts"
export {
  coordinator,
  makePlacement,
  ownership,
  PARTITIONS_DEFAULT,
  type Placement,
  type PlacementOptions,
  preferenceList,
  preferenceListAt,
  rangeEnds,
  ranges,
  type ReplicaTarget,
  sloppyPreferenceList,
  type Strategy,
  TOKENS_PER_WEIGHT_DEFAULT,
  withNode,
  withoutNode
} from "./placement.ts"
export { ownersAfter, plan, type RangeMove, type Transfer } from "./plan.ts"
export { type Rendezvous } from "./rendezvous.ts"
