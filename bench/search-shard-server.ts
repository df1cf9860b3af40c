// One shard server of the search bench, run in a worker thread (see worker-entry.js): builds its shard's HNSW index from
// the seeded data set, then answers batches of queries, as one of four shard servers of a deployment would.
import "../src/definition/registry.ts" // provides hnswlib-node to the search protocol
import { parentPort } from "node:worker_threads"
import { type IndexOptions, makeMixture, type MixtureOptions, makeShardMap, ShardIndex, shardOf } from "../src/protocols/search/index.ts"

/** What a shard server builds: the vectors 0..vectors-1 that the shard map puts on `shard`. */
export interface ShardServerOptions {
  readonly vectors: number
  readonly shards: number
  readonly shard: string
  readonly index: IndexOptions
  readonly mixture: MixtureOptions
}

/** A batch of queries for one shard, answered with each query's top-k in order. */
export interface ShardRequest {
  readonly k: number
  readonly ef: number
  readonly queries: ReadonlyArray<ReadonlyArray<number>>
}

/** Builds the shard (timed), starts answering requests on the worker's port, and returns the build time. */
export const serveShard = (options: ShardServerOptions): { readonly buildMs: number; readonly size: number } => {
  const started = performance.now()
  const map = makeShardMap({ shards: options.shards, nodes: ["n1"], replicationFactor: 1 })
  const mixture = makeMixture(options.mixture)
  const index = new ShardIndex(options.index)
  for (let id = 0; id < options.vectors; id++) {
    if (shardOf(map, id) === options.shard) index.insert(id, Array.from(mixture.vector(id)))
  }
  const buildMs = performance.now() - started
  parentPort!.on("message", (request: ShardRequest) => {
    parentPort!.postMessage(request.queries.map((query) => index.search(query, request.k, request.ef)))
  })
  return { buildMs, size: index.size }
}
