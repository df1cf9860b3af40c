// Sharded, replicated vector search: public entry of the protocol.
export { searchClient, type ClientOptions } from "./client.ts"
export { cosineDistance, makeMixture, type Mixture, type MixtureOptions, squaredL2 } from "./data.ts"
export { searchProtocol } from "./definition.ts"
export { type IndexOptions, ShardIndex, type Space } from "./index-store.ts"
export { LatencyTracker, type MergeRule, mergeTopK, type ShardHits, shardEf } from "./merge.ts"
export { incomingOf, Routing, type ShardMove, shardMoves } from "./membership.ts"
export { type CostModel, type ReplicaHooks, type ReplicaOptions, searchReplica } from "./node.ts"
export { makeShardMap, replicasOf, type ShardMap, shardOf, shardsHeldBy, withMembers } from "./shards.ts"
