// Where a vector lives: its id picks a shard on one consistent-hash ring, the shard's name picks its replicas on another.
import { coordinator, makePlacement, type Placement, preferenceList } from "../hashring/index.ts"
import { assert } from "../assert.ts"

/** The shard map of a cluster: which shard holds each vector id, and which nodes hold each shard. */
export interface ShardMap {
  readonly shards: ReadonlyArray<string>
  /** Per shard, its replicas in preference order (the first is where a new owner would build from). */
  readonly replicas: ReadonlyMap<string, ReadonlyArray<string>>
  readonly shardRing: Placement
  /** The ring of nodes the replicas come from, kept so a membership change can plan what moves. */
  readonly nodeRing: Placement
  readonly replicationFactor: number
}

/** Shard names `s0..s{count-1}`. */
export const shardNames = (count: number): Array<string> => Array.from({ length: count }, (_, index) => `s${index}`)

/**
 * Two levels, as Qdrant and Milvus do it: ids hash to a fixed set of shards (so a shard moves as a
 * whole when nodes come and go), and each shard's replicas are its preference list on the node ring.
 */
export const makeShardMap = (options: {
  readonly shards: number
  readonly nodes: ReadonlyArray<string>
  readonly replicationFactor: number
}): ShardMap => {
  assert(options.replicationFactor >= 1, "the replication factor is at least 1")
  assert(options.replicationFactor <= options.nodes.length, () => `replication factor ${options.replicationFactor} exceeds ${options.nodes.length} nodes`)
  const shards = shardNames(options.shards)
  const shardRing = makePlacement({ strategy: "consistent", nodes: shards.map((id) => ({ id, weight: 1 })) })
  const nodeRing = makePlacement({ strategy: "consistent", nodes: options.nodes.map((id) => ({ id, weight: 1 })) })
  const replicas = new Map(shards.map((shard) => [shard, preferenceList(nodeRing, shard, options.replicationFactor)] as const))
  return { shards, replicas, shardRing, nodeRing, replicationFactor: options.replicationFactor }
}

/** The same shards under a new set of nodes (a join or a leave): ids stay on their shards, replicas follow the node ring. */
export const withMembers = (map: ShardMap, nodes: ReadonlyArray<string>): ShardMap =>
  makeShardMap({ shards: map.shards.length, nodes, replicationFactor: map.replicationFactor })

/** The shard of vector `id`. */
export const shardOf = (map: ShardMap, id: number): string => {
  const shard = coordinator(map.shardRing, `v${id}`)
  assert(shard !== undefined, "the shard ring is empty")
  return shard
}

/** The replicas of `shard`. */
export const replicasOf = (map: ShardMap, shard: string): ReadonlyArray<string> => {
  const replicas = map.replicas.get(shard)
  assert(replicas !== undefined, () => `unknown shard ${shard}`)
  return replicas
}

/** The shards `node` holds a replica of, in shard order. */
export const shardsHeldBy = (map: ShardMap, node: string): Array<string> =>
  map.shards.filter((shard) => replicasOf(map, shard).includes(node))
