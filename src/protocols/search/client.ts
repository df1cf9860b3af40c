// The search client: writes generated vectors to every replica of their shard (acknowledged at a write quorum), then
// scatter-gathers queries to one replica per shard, hedged to the next after each delay, flagging partial answers.
import { Effect } from "effect"
import { Clock, type Envelope, Network, type NodeProgram, Tracing } from "../../env/index.ts"
import type { Mixture } from "./data.ts"
import { LatencyTracker, type MergeRule, mergeTopK, type ShardHits, shardEf } from "./merge.ts"
import { Routing } from "./membership.ts"
import { asMessage, type Delete, type Hits, type Insert } from "./messages.ts"
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

interface ShardAsk {
  readonly asked: Array<string>
  readonly sentMs: Array<number>
  answer: ShardHits | undefined
  answeredBy: string | undefined
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
    let current: { readonly query: number; readonly startedMs: number; readonly asks: Map<string, ShardAsk> } | undefined

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

    const onHits = (from: string, hits: Hits) =>
      Effect.gen(function*() {
        if (current === undefined || hits.query !== current.query) return
        const ask = current.asks.get(hits.shard)
        // The hedge's slower answer (or a duplicate) is dropped: each shard is merged once.
        if (ask === undefined || ask.answer !== undefined) return
        const position = ask.asked.indexOf(from)
        if (position < 0) return
        ask.answer = { ids: hits.ids, distances: hits.distances }
        ask.answeredBy = from
        latency.observe(from, (yield* clock.now) - ask.sentMs[position]!)
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
          return onHits(envelope.from, message)
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
        const vector = Array.from(options.mixture.vector(options.vectors + query))
        const startedMs = yield* clock.now
        const asks = new Map(options.map.shards.map((shard) => [shard, { asked: [], sentMs: [], answer: undefined, answeredBy: undefined } as ShardAsk]))
        current = { query, startedMs, asks }
        yield* tracing.event("queryInvoke", { query, vectorIndex: options.vectors + query })
        const ask = (shard: string, attempt: number) =>
          Effect.gen(function*() {
            const state = asks.get(shard)!
            const replica = latency.order(routing.queryReplicas(shard)).find((node) => !state.asked.includes(node))
            if (replica === undefined) return
            state.asked.push(replica)
            state.sentMs.push(yield* clock.now)
            if (attempt > 0) yield* tracing.event("hedge", { query, shard, to: replica })
            yield* network.send(replica, { _tag: "Query", query, shard, vector, k: options.k, ef: shardEf(options.ef, options.map.shards.length) })
          })
        for (const shard of options.map.shards) yield* ask(shard, 0)
        // Each hedge delay without an answer asks the shard's next replica: one lost message (the query or its
        // answer) would otherwise leave a shard unanswered even with a second replica up.
        let hedges = 0
        const unanswered = () => [...asks].filter(([, state]) => state.answer === undefined).map(([shard]) => shard)
        while (unanswered().length > 0) {
          const elapsed = (yield* clock.now) - startedMs
          if (elapsed >= options.queryTimeoutMs) break
          if (elapsed >= options.hedgeDelayMs * (hedges + 1)) {
            hedges++
            for (const shard of unanswered()) yield* ask(shard, hedges)
          }
          yield* step(Math.min(options.queryTimeoutMs, options.hedgeDelayMs * (hedges + 1)) - elapsed)
        }
        const missing = unanswered()
        // A replica that was asked and beaten by the hedge (or never answered) is at least as slow as it has been
        // kept waiting: without this its late answers, which are dropped, would never teach the client to avoid it.
        const endedMs = yield* clock.now
        for (const state of asks.values()) {
          state.asked.forEach((node, position) => {
            if (node !== state.answeredBy) latency.penalize(node, endedMs - state.sentMs[position]!)
          })
        }
        const answered = options.map.shards.filter((shard) => !missing.includes(shard))
        const merged = (options.merge ?? mergeTopK)(answered.map((shard) => asks.get(shard)!.answer!), options.k)
        current = undefined
        yield* tracing.event("queryResult", {
          query,
          ids: merged.ids,
          partial: missing.length > 0,
          answered,
          missing,
          latencyMs: (yield* clock.now) - startedMs
        })
      })
    }
  })
