// The search client: writes generated vectors to every replica of their shard (acknowledged at a write quorum), then
// scatter-gathers queries to one replica per shard, hedged to the next after each delay, flagging partial answers.
import { Effect } from "effect"
import { Clock, type Envelope, Network, type NodeProgram, Tracing } from "../../env/index.ts"
import type { Mixture } from "./data.ts"
import { LatencyTracker, type MergeRule, mergeTopK } from "./merge.ts"
import { Routing } from "./membership.ts"
import { asMessage, type Delete, type Insert } from "./messages.ts"
import { makeScatterGather, type ScatterGather } from "./scatter-gather.ts"
import { type ShardMap, shardOf } from "./shards.ts"

/** What one client does. */
export interface ClientOptions {
  readonly map: ShardMap
  readonly mixture: Mixture
  readonly clientIndex: number
  readonly clients: number
  /** Vectors 0..vectors-1 exist; this client writes those with id ≡ clientIndex (mod clients). */
  readonly vectors: number
  /** Every this-many of its vectors, the client deletes one once its inserts are done (0: none). */
  readonly deleteEvery: number
  readonly writeQuorum: number
  readonly writeWindow: number
  readonly retryMs: number
  /** A write not at its quorum by then is reported as timed out (unknown outcome); its replication goes on. */
  readonly writeTimeoutMs: number
  readonly queries: number
  readonly k: number
  readonly ef: number
  readonly thinkMs: number
  readonly hedgeDelayMs: number
  readonly queryTimeoutMs: number
  /**
   * After its queries, how long the client still resends writes that some replica has not acknowledged. None: until
   * every replica has every write (a simulated run ends anyway; a real cluster's load would wait for a node that stays down).
   */
  readonly settleMs?: number | undefined
  readonly merge?: MergeRule
}

interface PendingWrite {
  readonly message: Insert | Delete
  /** Where the write goes (a shard's new owners join when a move starts while the write is pending). */
  readonly replicas: Array<string>
  /** Whose acknowledgements count towards the write quorum: the replicas that held the shard when it was sent. */
  readonly quorum: ReadonlyArray<string>
  readonly acked: Set<string>
  readonly invokedMs: number
  /** When the write is next resent to the replicas that have not acknowledged it, and the wait after that. */
  nextRetryMs: number
  retryIntervalMs: number
  /** Whether the client has reported the outcome (ok at the quorum, or a timeout). */
  reported: boolean
}

/** A pending write is resent at most this many retry intervals apart. */
const RETRY_BACKOFF_MAX = 8

const opOf = (message: Insert | Delete) => (message._tag === "Insert" ? "insert" : "delete")
const writeKey = (op: string, id: number) => `${op}:${id}`

/** A client node of the search protocol. */
export const searchClient = (options: ClientOptions): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const tracing = yield* Tracing
    const pending = new Map<string, PendingWrite>()
    const latency = new LatencyTracker()
    const routing = new Routing(options.map)
    let inFlight = 0
    let lastRetryMs = yield* clock.now
    /** The query in flight, to which answers go as they arrive. */
    let current: ScatterGather | undefined

    const onAcked = (from: string, op: string, id: number) =>
      Effect.gen(function*() {
        const write = pending.get(writeKey(op, id))
        if (write === undefined || !write.replicas.includes(from)) return
        write.acked.add(from)
        if (!write.reported && write.quorum.filter((node) => write.acked.has(node)).length >= options.writeQuorum) {
          write.reported = true
          inFlight--
          yield* tracing.event("ok", { op, id, shard: write.message.shard })
        }
        if (write.acked.size === write.replicas.length) pending.delete(writeKey(op, id))
      })

    /** A membership change: writes still pending to a moving shard go to its new owners too, so their copies miss nothing. */
    const onMembership = (epoch: number, nodes: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const moves = routing.adopt(epoch, nodes)
        if (moves.length === 0) return
        yield* tracing.event("membership", { epoch, moving: moves.map((move) => move.shard) })
        for (const write of pending.values()) {
          for (const node of routing.writeTargets(write.message.shard)) if (!write.replicas.includes(node)) write.replicas.push(node)
        }
      })

    const onShardReady = (from: string, epoch: number, shard: string) =>
      routing.onReady(epoch, shard, from) ? tracing.event("shardTakeover", { epoch, shard }) : Effect.void

    const handle = (envelope: Envelope) => {
      const message = asMessage(envelope.message)
      if (message === undefined) return Effect.void
      switch (message._tag) {
        case "Acked":
          return onAcked(envelope.from, message.op, message.id)
        case "Hits":
          return current === undefined ? Effect.void : current.onHits(envelope.from, message)
        case "Membership":
          return onMembership(message.epoch, message.nodes)
        case "ShardReady":
          return onShardReady(envelope.from, message.epoch, message.shard)
        case "Insert":
        case "Delete":
        case "Query":
        case "Fetch":
        case "Entries":
          return Effect.void
        default: {
          const unreachable: never = message
          throw new Error(`unknown message ${JSON.stringify(unreachable)}`)
        }
      }
    }

    /**
     * Resends each due write to the replicas that have not acknowledged it, and times out writes short of their quorum.
     * Each write backs off (doubling, up to RETRY_BACKOFF_MAX times retryMs): a slow replica that has a thousand writes
     * to catch up on is otherwise sent all of them again every retryMs, and the resends are what keeps it behind.
     */
    const retry = Effect.gen(function*() {
      const now = yield* clock.now
      if (now - lastRetryMs < options.retryMs) return
      lastRetryMs = now
      const sends: Array<readonly [string, unknown]> = []
      for (const write of pending.values()) {
        if (now >= write.nextRetryMs) {
          for (const replica of write.replicas) if (!write.acked.has(replica)) sends.push([replica, write.message])
          write.retryIntervalMs = Math.min(2 * write.retryIntervalMs, RETRY_BACKOFF_MAX * options.retryMs)
          write.nextRetryMs = now + write.retryIntervalMs
        }
        if (!write.reported && now - write.invokedMs >= options.writeTimeoutMs) {
          write.reported = true
          inFlight--
          yield* tracing.event("timeout", { op: opOf(write.message), id: write.message.id, shard: write.message.shard })
        }
      }
      yield* network.sendAll(sends)
    })

    /** Waits at most `waitMs` for one message, handles it, then runs due retries. */
    const step = (waitMs: number) =>
      Effect.gen(function*() {
        const envelope = yield* network.receiveWithin(Math.max(waitMs, 0.001))
        if (envelope !== undefined) yield* handle(envelope)
        yield* retry
      })

    const write = (message: Insert | Delete) =>
      Effect.gen(function*() {
        while (inFlight >= options.writeWindow) yield* step(options.retryMs)
        const replicas = routing.writeTargets(message.shard)
        const quorum = routing.quorumOf(message.shard)
        const invokedMs = yield* clock.now
        pending.set(writeKey(opOf(message), message.id), {
          message, replicas, quorum, acked: new Set(), invokedMs, nextRetryMs: invokedMs + options.retryMs, retryIntervalMs: options.retryMs, reported: false
        })
        inFlight++
        yield* tracing.event("invoke", { op: opOf(message), id: message.id, shard: message.shard })
        yield* network.sendAll(replicas.map((replica) => [replica, message] as const))
      })

    const own = Array.from({ length: Math.ceil((options.vectors - options.clientIndex) / options.clients) }, (_, index) =>
      options.clientIndex + index * options.clients).filter((id) => id < options.vectors)
    for (const id of own) {
      yield* write({ _tag: "Insert", shard: shardOf(options.map, id), id, vector: Array.from(options.mixture.vector(id)) })
    }
    while (inFlight > 0) yield* step(options.retryMs)
    if (options.deleteEvery > 0) {
      for (const id of own.filter((_, index) => index % options.deleteEvery === options.deleteEvery - 1)) {
        yield* write({ _tag: "Delete", shard: shardOf(options.map, id), id })
      }
      while (inFlight > 0) yield* step(options.retryMs)
    }

    for (let round = 0; round < options.queries; round++) {
      const query = options.clientIndex + round * options.clients
      yield* runQuery(query)
      yield* clock.sleep(options.thinkMs)
    }
    // Replication to replicas that missed writes goes on after the workload, so restarted replicas catch up.
    const settledByMs = (yield* clock.now) + (options.settleMs ?? Infinity)
    while (pending.size > 0 && (yield* clock.now) < settledByMs) yield* step(options.retryMs)

    function runQuery(query: number) {
      return Effect.gen(function*() {
        const gather = yield* makeScatterGather({
          query,
          vector: Array.from(options.mixture.vector(options.vectors + query)),
          k: options.k,
          ef: options.ef,
          shards: options.map.shards,
          replicasOf: (shard) => routing.queryReplicas(shard),
          latency,
          hedgeDelayMs: options.hedgeDelayMs,
          timeoutMs: options.queryTimeoutMs,
          merge: options.merge ?? mergeTopK,
          onHedge: (shard, to) => tracing.event("hedge", { query, shard, to })
        })
        current = gather
        yield* tracing.event("queryInvoke", { query, vectorIndex: options.vectors + query })
        const outcome = yield* gather.run(step)
        current = undefined
        const { ids, partial, answered, missing, latencyMs } = outcome
        yield* tracing.event("queryResult", { query, ids, partial, answered, missing, latencyMs })
      })
    }
  })
