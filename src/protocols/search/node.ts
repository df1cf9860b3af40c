// The Effect shell of a search replica: replay each shard's log, then serve batched writes (logged and synced before acked) and queries.
import { Effect } from "effect"
import { Clock, type Envelope, Network, type NodeProgram, Tracing } from "../../env/index.ts"
import type { IndexOptions } from "./index-store.ts"
import { asMessage, type Delete, type Insert, type Query } from "./messages.ts"
import { ShardReplica } from "./replica.ts"
import { appendLog, type LogEntry, readLog, syncLog } from "./shard-log.ts"
import { type ShardMap, shardsHeldBy } from "./shards.ts"

/** The modelled cost of HNSW work in simulated time; the real work happens too, this says how long it takes. */
export interface CostModel {
  /** Fixed cost of one query on one shard. */
  readonly queryBaseMs: number
  /** Added per unit of ef (a search visits about ef candidates, each costing a few distance computations). */
  readonly queryPerEfMs: number
  /** Cost of adding one vector to the index. */
  readonly insertMs: number
}

/** Options of a search replica. */
export interface ReplicaOptions {
  readonly map: ShardMap
  readonly index: IndexOptions
  readonly cost: CostModel
  /** At most this many messages are taken into one batch (one sync per shard per batch). */
  readonly maxBatch: number
}

/** Seams for tests: the shipped node passes none. `ackBeforeSync` plants a durability bug. */
export interface ReplicaHooks {
  readonly ackBeforeSync?: boolean
}

type Write = { readonly from: string; readonly message: Insert | Delete }

const toEntry = (message: Insert | Delete): LogEntry =>
  message._tag === "Insert" ? { op: "insert", id: message.id, vector: message.vector } : { op: "delete", id: message.id }

/** A replica node: holds every shard the shard map gives it, each in a real HNSW index rebuilt from its log on restart. */
export const searchReplica = (options: ReplicaOptions, hooks: ReplicaHooks = {}): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const tracing = yield* Tracing
    const replicas = new Map<string, ShardReplica>()
    for (const shard of shardsHeldBy(options.map, network.self)) {
      const replica = new ShardReplica(options.index)
      // Replayed in log order: with hnswlib's fixed seed this rebuilds the same graph.
      const entries = yield* readLog(shard)
      for (const entry of entries) replica.apply(entry)
      replicas.set(shard, replica)
      yield* tracing.event("recover", { shard, entries: replica.entries, size: replica.index.size })
    }

    /** Logs one shard's new writes, syncs once, applies them in log order, then acknowledges every write of the batch. */
    const writeShard = (shard: string, replica: ShardReplica, writes: ReadonlyArray<Write>) =>
      Effect.gen(function*() {
        const fresh: Array<LogEntry> = []
        const acks: Array<{ readonly write: Write; readonly position: number }> = []
        for (const write of writes) {
          const decision = replica.decide(toEntry(write.message))
          if (decision._tag === "AlreadyLogged") acks.push({ write, position: decision.position })
          else {
            fresh.push(decision.entry)
            acks.push({ write, position: replica.entries + fresh.length - 1 })
          }
        }
        const acknowledge = Effect.gen(function*() {
          for (const { write, position } of acks) {
            const op = write.message._tag === "Insert" ? "insert" : "delete"
            yield* tracing.event("acked", { shard, id: write.message.id, op, position })
          }
          yield* network.sendAll(acks.map(({ write }) => [write.from, {
            _tag: "Acked", op: write.message._tag === "Insert" ? "insert" : "delete", shard, id: write.message.id
          }] as const))
        })
        if (fresh.length > 0) {
          yield* appendLog(shard, fresh)
          for (const entry of fresh) yield* tracing.event("stored", { shard, id: entry.id, op: entry.op, position: replica.apply(entry) })
          yield* clock.sleep(options.cost.insertMs * fresh.length)
          if (hooks.ackBeforeSync === true) yield* acknowledge
          yield* syncLog(shard)
          if (hooks.ackBeforeSync === true) return
        }
        yield* acknowledge
      })

    const answer = (from: string, query: Query) =>
      Effect.gen(function*() {
        const replica = replicas.get(query.shard)
        if (replica === undefined) return
        yield* clock.sleep(options.cost.queryBaseMs + options.cost.queryPerEfMs * Math.max(query.ef, query.k))
        const hits = replica.index.search(query.vector, query.k, query.ef)
        yield* tracing.event("served", { client: from, query: query.query, shard: query.shard })
        yield* network.send(from, { _tag: "Hits", query: query.query, shard: query.shard, ...hits })
      })

    const handleBatch = (batch: ReadonlyArray<Envelope>) =>
      Effect.gen(function*() {
        const writes = new Map<string, Array<Write>>()
        const queries: Array<{ readonly from: string; readonly query: Query }> = []
        for (const envelope of batch) {
          const message = asMessage(envelope.message)
          if (message === undefined) continue
          switch (message._tag) {
            case "Insert":
            case "Delete": {
              if (!replicas.has(message.shard)) break
              const list = writes.get(message.shard) ?? []
              list.push({ from: envelope.from, message })
              writes.set(message.shard, list)
              break
            }
            case "Query":
              queries.push({ from: envelope.from, query: message })
              break
            case "Acked":
            case "Hits":
              break
            default: {
              const unreachable: never = message
              throw new Error(`unknown message ${JSON.stringify(unreachable)}`)
            }
          }
        }
        for (const [shard, list] of [...writes].sort(([left], [right]) => (left < right ? -1 : 1))) {
          yield* writeShard(shard, replicas.get(shard)!, list)
        }
        for (const { from, query } of queries) yield* answer(from, query)
      })

    while (true) yield* handleBatch(yield* network.receiveAll(options.maxBatch))
  })
