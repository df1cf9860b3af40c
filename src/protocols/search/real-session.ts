// One person's (or one HTTP request's) session with a real search cluster: writes a batch of vectors to every replica of
// their shards and waits for each write quorum, and runs one scatter-gather query, hedged, its partial answers flagged.
import { Effect } from "effect"
import { Clock, Network } from "../../env/index.ts"
import { LatencyTracker, mergeTopK } from "./merge.ts"
import { asMessage, type Delete, type Insert } from "./messages.ts"
import { makeScatterGather, type QueryOutcome } from "./scatter-gather.ts"
import { replicasOf, type ShardMap, shardsHeldBy } from "./shards.ts"

/** How a session writes and queries. */
export interface SearchSessionOptions {
  readonly map: ShardMap
  readonly writeQuorum: number
  /** Writes in flight at once: a batch of thousands is sent a window at a time, so no replica's queue overflows. */
  readonly writeWindow: number
  /** How long a write waits for an acknowledgement before it is sent again to the replicas that have not given one. */
  readonly retryMs: number
  /** After every write of a batch reached its quorum, how long the session still waits for the other replicas. */
  readonly stragglersMs: number
  readonly hedgeDelayMs: number
  /** The most one operation (a batch of writes, or a query) takes. */
  readonly operationTimeoutMs: number
}

/** What a batch of writes came to: the ids durable on a write quorum, and those whose outcome is unknown. */
export interface WriteOutcome {
  readonly acknowledged: ReadonlyArray<number>
  readonly unknown: ReadonlyArray<number>
  /** Ids some replica of their shard has not acknowledged yet (it may be down): those replicas miss them. */
  readonly notEverywhere: ReadonlyArray<number>
}

interface Pending {
  readonly message: Insert | Delete
  readonly acked: Set<string>
  sentMs: number
}

/** Opens a session of the node it runs as (`network.self` is the client's id). */
export const makeSearchSession = (options: SearchSessionOptions) =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const latency = new LatencyTracker()
    let queries = 0

    const atQuorum = (write: Pending) => write.acked.size >= options.writeQuorum
    const everywhere = (write: Pending) => write.acked.size === replicasOf(options.map, write.message.shard).length

    /** Sends `write` to each replica of its shard that has not acknowledged it. */
    const send = (write: Pending, now: number) => {
      write.sentMs = now
      return network.sendAll(replicasOf(options.map, write.message.shard).filter((node) => !write.acked.has(node)).map((node) => [node, write.message] as const))
    }

    /**
     * Writes a batch: a window of writes below their quorum at a time; those at it stay to collect the other replicas'
     * acknowledgements until every write is at its quorum and `stragglersMs` more have passed. The bookkeeping is by
     * counters and one scan per retry interval, so a batch of 100,000 with a replica down stays linear.
     */
    const write = (messages: ReadonlyArray<Insert | Delete>): Effect.Effect<WriteOutcome> =>
      Effect.gen(function*() {
        const startedMs = yield* clock.now
        const deadlineMs = startedMs + options.operationTimeoutMs
        const inFlight = new Map<number, Pending>()
        const done: Array<Pending> = []
        let next = 0
        let belowQuorum = 0
        let lastScanMs = startedMs
        let quorumMs: number | undefined
        while (true) {
          const now = yield* clock.now
          while (next < messages.length && belowQuorum < options.writeWindow) {
            const pending: Pending = { message: messages[next++]!, acked: new Set(), sentMs: now }
            inFlight.set(pending.message.id, pending)
            belowQuorum++
            yield* send(pending, now)
          }
          if (now - lastScanMs >= options.retryMs) {
            lastScanMs = now
            for (const pending of inFlight.values()) if (now - pending.sentMs >= options.retryMs) yield* send(pending, now)
          }
          if (next === messages.length && belowQuorum === 0) quorumMs ??= now
          if (inFlight.size === 0 && next === messages.length) break
          if (now >= deadlineMs || (quorumMs !== undefined && now - quorumMs >= options.stragglersMs)) break
          const envelope = yield* network.receiveWithin(Math.max(1, Math.min(options.retryMs, deadlineMs - now)))
          const message = envelope === undefined ? undefined : asMessage(envelope.message)
          if (message?._tag !== "Acked") continue
          const pending = inFlight.get(message.id)
          if (pending === undefined || message.op !== (pending.message._tag === "Insert" ? "insert" : "delete") || pending.acked.has(envelope!.from)) continue
          pending.acked.add(envelope!.from)
          if (pending.acked.size === options.writeQuorum) belowQuorum--
          if (everywhere(pending)) {
            done.push(pending)
            inFlight.delete(message.id)
          }
        }
        const all = [...done, ...inFlight.values()]
        return {
          acknowledged: all.filter(atQuorum).map((pending) => pending.message.id),
          // Writes never sent (the deadline came first) are unknown too: none of them happened, but the batch did not finish.
          unknown: [...all.filter((pending) => !atQuorum(pending)).map((pending) => pending.message.id), ...messages.slice(next).map((message) => message.id)],
          notEverywhere: all.filter((pending) => atQuorum(pending) && !everywhere(pending)).map((pending) => pending.message.id)
        }
      })

    /**
     * One query: each shard is asked at its fastest replica (by observed latency), and after each hedge delay without
     * an answer at its next one; a shard no replica answered by the timeout is missing and the answer is flagged partial.
     * Messages other than this query's answers (a write's late acknowledgements) are dropped while it waits.
     */
    const query = (vector: ReadonlyArray<number>, k: number, ef: number): Effect.Effect<QueryOutcome> =>
      Effect.gen(function*() {
        const gather = yield* makeScatterGather({
          query: ++queries,
          vector,
          k,
          ef,
          shards: options.map.shards,
          replicasOf: (shard) => replicasOf(options.map, shard),
          latency,
          hedgeDelayMs: options.hedgeDelayMs,
          timeoutMs: options.operationTimeoutMs,
          merge: mergeTopK
        }).pipe(Effect.provideService(Network, network), Effect.provideService(Clock, clock))
        return yield* gather.run((waitMs) =>
          Effect.gen(function*() {
            const envelope = yield* network.receiveWithin(Math.max(1, waitMs))
            const message = envelope === undefined ? undefined : asMessage(envelope.message)
            if (message?._tag === "Hits") yield* gather.onHits(envelope!.from, message)
          })
        )
      })

    /** Whether `server` answers a one-neighbour query on a shard it holds within `timeoutMs`. */
    const probe = (server: string, vector: ReadonlyArray<number>, timeoutMs: number): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        const shard = shardsHeldBy(options.map, server)[0]
        if (shard === undefined) return false
        const number = ++queries
        const startedMs = yield* clock.now
        yield* network.send(server, { _tag: "Query", query: number, shard, vector, k: 1, ef: 1 })
        while (true) {
          const waitMs = startedMs + timeoutMs - (yield* clock.now)
          if (waitMs <= 0) return false
          const envelope = yield* network.receiveWithin(waitMs)
          const message = envelope === undefined ? undefined : asMessage(envelope.message)
          if (message?._tag === "Hits" && message.query === number && envelope!.from === server) return true
        }
      })

    return { write, query, probe }
  })

/** A session of a real search cluster. */
export type SearchSession = Effect.Success<ReturnType<typeof makeSearchSession>>
