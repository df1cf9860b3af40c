// One person's (or one HTTP request's) session with a real search cluster: writes a batch of vectors to every replica of
// their shards and waits for each write quorum, and runs one scatter-gather query, hedged, its partial answers flagged.
import { Effect } from "effect"
import { Clock, Network } from "../../env/index.ts"
import { LatencyTracker, mergeTopK, type ShardHits, shardEf } from "./merge.ts"
import { asMessage, type Delete, type Insert } from "./messages.ts"
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

/** What a query came to: the global top-k of the shards that answered, and the shards that did not. */
export interface QueryOutcome extends ShardHits {
  readonly partial: boolean
  readonly missing: ReadonlyArray<string>
  readonly latencyMs: number
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
     */
    const query = (vector: ReadonlyArray<number>, k: number, ef: number): Effect.Effect<QueryOutcome> =>
      Effect.gen(function*() {
        const number = ++queries
        const startedMs = yield* clock.now
        const asked = new Map(options.map.shards.map((shard) => [shard, [] as Array<{ readonly node: string; readonly sentMs: number }>]))
        const answers = new Map<string, ShardHits>()
        const ask = (shard: string, now: number) => {
          const tried = asked.get(shard)!
          const node = latency.order(replicasOf(options.map, shard)).find((candidate) => !tried.some((attempt) => attempt.node === candidate))
          if (node === undefined) return Effect.void
          tried.push({ node, sentMs: now })
          return network.send(node, { _tag: "Query", query: number, shard, vector, k, ef: shardEf(ef, options.map.shards.length) })
        }
        let hedges = 0
        for (const shard of options.map.shards) yield* ask(shard, startedMs)
        while (answers.size < options.map.shards.length) {
          const now = yield* clock.now
          const elapsed = now - startedMs
          if (elapsed >= options.operationTimeoutMs) break
          if (elapsed >= options.hedgeDelayMs * (hedges + 1)) {
            hedges++
            for (const shard of options.map.shards) if (!answers.has(shard)) yield* ask(shard, now)
          }
          const envelope = yield* network.receiveWithin(Math.max(1, Math.min(options.operationTimeoutMs, options.hedgeDelayMs * (hedges + 1)) - elapsed))
          const message = envelope === undefined ? undefined : asMessage(envelope.message)
          if (message?._tag !== "Hits" || message.query !== number || answers.has(message.shard)) continue
          const attempt = asked.get(message.shard)?.find((candidate) => candidate.node === envelope!.from)
          if (attempt === undefined) continue
          answers.set(message.shard, message)
          latency.observe(attempt.node, (yield* clock.now) - attempt.sentMs)
        }
        const missing = options.map.shards.filter((shard) => !answers.has(shard))
        const merged = mergeTopK([...answers.values()], k)
        return { ...merged, partial: missing.length > 0, missing, latencyMs: (yield* clock.now) - startedMs }
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
