// Sharded, replicated vector search as a protocol any world can host: option and workload schemas, replicas, clients, checker.
import { Schema } from "effect"
import { SearchChecker } from "../../check/search.ts"
import { decodeSection, nonNegative, nonNegativeInt, positive, positiveInt, type ProtocolDefinition, ScenarioError, serverIds } from "../../definition/index.ts"
import { membershipAdmin, MembershipStepInput, membershipSteps } from "../quorum-store/admin-client.ts"
import { searchClient } from "./client.ts"
import { cosineDistance, makeMixture, squaredL2 } from "./data.ts"
import type { MergeRule } from "./merge.ts"
import { type ReplicaHooks, searchReplica } from "./node.ts"
import { hnswLibraryAvailable } from "./index-store.ts"
import { searchRealClient } from "./real-client.ts"
import { makeShardMap } from "./shards.ts"


const Options = Schema.Struct({
  shards: Schema.optional(positiveInt),
  replicationFactor: Schema.optional(positiveInt),
  writeQuorum: Schema.optional(positiveInt),
  space: Schema.optional(Schema.Literals(["l2", "cosine"])),
  m: Schema.optional(positiveInt),
  efConstruction: Schema.optional(positiveInt),
  indexSeed: Schema.optional(nonNegativeInt),
  maxBatch: Schema.optional(positiveInt),
  /** The first this-many nodes hold the shards; the others get theirs when a membership step adds them. */
  initialNodes: Schema.optional(positiveInt),
  /** Modelled costs in simulated time; defaults calibrated by `npm run bench:search`. */
  queryBaseMs: Schema.optional(nonNegative),
  queryPerEfMs: Schema.optional(nonNegative),
  insertMs: Schema.optional(nonNegative),
  /**
   * The data set, as a cluster fact: a real cluster's nodes, clients and checker must agree on it (the checker
   * regenerates every vector from its id). A scenario may give these in its workload instead.
   */
  dimensions: Schema.optional(positiveInt),
  clusters: Schema.optional(positiveInt),
  spread: Schema.optional(positive),
  dataSeed: Schema.optional(nonNegativeInt)
})

const Workload = Schema.Struct({
  vectors: Schema.optional(positiveInt),
  dimensions: Schema.optional(positiveInt),
  clusters: Schema.optional(positiveInt),
  spread: Schema.optional(positive),
  dataSeed: Schema.optional(nonNegativeInt),
  clients: Schema.optional(positiveInt),
  deleteEvery: Schema.optional(nonNegativeInt),
  writeWindow: Schema.optional(positiveInt),
  retryMs: Schema.optional(positive),
  writeTimeoutMs: Schema.optional(positive),
  queriesPerClient: Schema.optional(nonNegativeInt),
  k: Schema.optional(positiveInt),
  ef: Schema.optional(positiveInt),
  thinkMs: Schema.optional(nonNegative),
  hedgeDelayMs: Schema.optional(positive),
  queryTimeoutMs: Schema.optional(positive),
  minRecall: Schema.optional(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  /** After its queries, how long a client still resends writes some replica has not acknowledged (none: until all have). */
  settleMs: Schema.optional(nonNegative),
  /** Operator actions at given times: `{at: 2s, join: n5}`, `{at: 4s, leave: n2}`; shards move to follow the ring. */
  membership: Schema.optional(Schema.Array(MembershipStepInput))
})

/** A data-set field from the options or the workload; a run that gives both must give one value. */
const dataField = <A>(run: { readonly file: string }, name: string, fromOptions: A | undefined, fromWorkload: A | undefined, fallback: A): A => {
  if (fromOptions !== undefined && fromWorkload !== undefined && fromOptions !== fromWorkload) {
    throw new ScenarioError(`${run.file}: workload.${name}: ${String(fromWorkload)} differs from options.${name}, ${String(fromOptions)} (give it once)`)
  }
  return fromOptions ?? fromWorkload ?? fallback
}

/** Tests use at most this many vectors; the bench goes further on its own. */
const MAX_VECTORS = 20_000

/** The sharded search protocol; `merge` and `hooks` are replaceable so tests can plant bugs. */
export const searchProtocol = (name = "search", hooks: ReplicaHooks = {}, merge?: MergeRule): ProtocolDefinition => ({
  name,
  description: "Sharded, replicated vector search on real HNSW indexes (hnswlib-node), scatter-gather with hedging",
  build: (run) => {
    if (!hnswLibraryAvailable()) {
      throw new ScenarioError(`${run.file}: the search protocol needs hnswlib-node, an optional peer dependency: npm install hnswlib-node@3.0.0`)
    }
    const options = decodeSection(Options, run, "options")
    const workload = decodeSection(Workload, run, "workload")
    const servers = serverIds(run.nodes)
    const initialNodes = options.initialNodes ?? run.nodes
    if (initialNodes > run.nodes) throw new ScenarioError(`${run.file}: options.initialNodes: ${initialNodes} is more than the ${run.nodes} nodes`)
    const nodes = servers.slice(0, initialNodes)
    const replicationFactor = options.replicationFactor ?? Math.min(3, nodes.length)
    const writeQuorum = options.writeQuorum ?? Math.floor(replicationFactor / 2) + 1
    if (replicationFactor > nodes.length) throw new ScenarioError(`${run.file}: options.replicationFactor: ${replicationFactor} exceeds the ${nodes.length} nodes that start in the ring`)
    if (writeQuorum > replicationFactor) throw new ScenarioError(`${run.file}: options.writeQuorum: ${writeQuorum} exceeds the replication factor ${replicationFactor}`)
    const vectors = workload.vectors ?? 2000
    if (vectors > MAX_VECTORS) throw new ScenarioError(`${run.file}: workload.vectors: ${vectors} is above ${MAX_VECTORS}`)
    const space = options.space ?? "l2"
    const dimensions = dataField(run, "dimensions", options.dimensions, workload.dimensions, 64)
    const map = makeShardMap({ shards: options.shards ?? 4, nodes, replicationFactor })
    const mixture = makeMixture({
      seed: dataField(run, "dataSeed", options.dataSeed, workload.dataSeed, 1),
      dimensions,
      clusters: dataField(run, "clusters", options.clusters, workload.clusters, 16),
      spread: dataField(run, "spread", options.spread, workload.spread, 0.15)
    })
    const k = workload.k ?? 10
    const clients = workload.clients ?? 2
    const clientIds = Array.from({ length: clients }, (_, clientIndex) => `c${clientIndex + 1}`)
    const retryMs = workload.retryMs ?? 50
    const steps = membershipSteps(workload.membership ?? [], nodes, servers, run, replicationFactor, "options.replicationFactor")
    const replica = {
      map,
      index: { space, dimensions, m: options.m ?? 16, efConstruction: options.efConstruction ?? 100, randomSeed: options.indexSeed ?? 100 },
      cost: { queryBaseMs: options.queryBaseMs ?? 0.1, queryPerEfMs: options.queryPerEfMs ?? 0.001, insertMs: options.insertMs ?? 0.2 },
      maxBatch: options.maxBatch ?? 64,
      clients: clientIds,
      retryMs
    }
    return {
      server: () => searchReplica(replica, hooks),
      clients: [...clientIds.map((id, clientIndex) => ({
        id,
        program: searchClient({
          map, mixture, clientIndex, clients, vectors, writeQuorum,
          deleteEvery: workload.deleteEvery ?? 10,
          writeWindow: workload.writeWindow ?? 32,
          retryMs,
          writeTimeoutMs: workload.writeTimeoutMs ?? 1000,
          queries: workload.queriesPerClient ?? 50,
          k,
          ef: workload.ef ?? 64,
          thinkMs: workload.thinkMs ?? 20,
          hedgeDelayMs: workload.hedgeDelayMs ?? 20,
          queryTimeoutMs: workload.queryTimeoutMs ?? 200,
          settleMs: workload.settleMs,
          ...(merge === undefined ? {} : { merge })
        })
      })), ...(steps.length === 0 ? [] : [{ id: "admin", program: membershipAdmin([...servers, ...clientIds], steps) }])],
      checkers: [new SearchChecker({
        vector: mixture.vector,
        distance: space === "l2" ? squaredL2 : cosineDistance,
        shards: map.shards,
        k,
        minRecall: workload.minRecall ?? 0.95
      })],
      realClient: searchRealClient({ map, writeQuorum, mixture })
    }
  },
  // On a real cluster the HNSW work takes its own real time: a modelled cost would be waited on top of it.
  clusterOptions: { queryBaseMs: 0, queryPerEfMs: 0, insertMs: 0 },
  // Real-network timings: a query hedged after 100 ms, not the simulator's 20, writes resent after half a second, and a
  // load that ends at most 10 s after its queries even when a node that missed writes stays down.
  clusterWorkload: (size) => ({ clients: size.clients, queriesPerClient: size.operations, thinkMs: 5, retryMs: 500, writeTimeoutMs: 10_000, hedgeDelayMs: 100, queryTimeoutMs: 3000, settleMs: 10_000 })
})
