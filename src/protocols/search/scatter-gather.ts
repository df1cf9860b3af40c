// One query's hedged scatter-gather, the one implementation the simulated workload client and the real cluster's session
// share: each shard asked at its fastest replica, hedged to the next after each delay, merged, partial answers flagged.
import { Effect } from "effect"
import { Clock, Network } from "../../env/index.ts"
import { type LatencyTracker, type MergeRule, type ShardHits, shardEf } from "./merge.ts"
import type { Hits } from "./messages.ts"

/** What one query asks, of which shards, and how long it waits. */
export interface ScatterGatherOptions {
  /** The query's number: answers carry it back, so a late answer to an earlier query is told apart. */
  readonly query: number
  readonly vector: ReadonlyArray<number>
  readonly k: number
  /** The query's ef; each shard searches with `shardEf` of it. */
  readonly ef: number
  readonly shards: ReadonlyArray<string>
  /** The replicas that may answer for `shard`, in the order that breaks ties between equally fast ones. */
  readonly replicasOf: (shard: string) => ReadonlyArray<string>
  /** Observed latencies, kept across queries: who is asked first, and what this query teaches. */
  readonly latency: LatencyTracker
  readonly hedgeDelayMs: number
  readonly timeoutMs: number
  readonly merge: MergeRule
  /** Told of each hedge (a shard asked again, at `to`): the workload client traces it. */
  readonly onHedge?: (shard: string, to: string) => Effect.Effect<void>
}

/** What a query came to: the global top-k of the shards that answered, and the shards that did not. */
export interface QueryOutcome extends ShardHits {
  readonly partial: boolean
  readonly answered: ReadonlyArray<string>
  readonly missing: ReadonlyArray<string>
  readonly latencyMs: number
}

/** One query in flight: answers are handed to it as they arrive, and `run` drives it to its outcome. */
export interface ScatterGather {
  /** Takes `hits` from `from` if it answers this query, for a shard not yet answered, from a replica asked for it. */
  readonly onHits: (from: string, hits: Hits) => Effect.Effect<void>
  /**
   * Asks every shard, then waits through `step` (which receives at most `waitMs` and hands any answer to `onHits`) and
   * hedges until every shard answered or the timeout passed; then merges what came.
   */
  readonly run: (step: (waitMs: number) => Effect.Effect<void>) => Effect.Effect<QueryOutcome>
}

interface ShardAsk {
  readonly asked: Array<string>
  readonly sentMs: Array<number>
  answer: ShardHits | undefined
  answeredBy: string | undefined
}

/** Starts a query now (its latency counts from here); nothing is sent until `run`. */
export const makeScatterGather = (options: ScatterGatherOptions): Effect.Effect<ScatterGather, never, Clock | Network> =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const startedMs = yield* clock.now
    const asks = new Map(options.shards.map((shard): [string, ShardAsk] => [shard, { asked: [], sentMs: [], answer: undefined, answeredBy: undefined }]))
    const shardEfOfQuery = shardEf(options.ef, options.shards.length)

    const onHits = (from: string, hits: Hits) =>
      Effect.gen(function*() {
        if (hits.query !== options.query) return
        const ask = asks.get(hits.shard)
        // The hedge's slower answer (or a duplicate) is dropped: each shard is merged once.
        if (ask === undefined || ask.answer !== undefined) return
        const position = ask.asked.indexOf(from)
        if (position < 0) return
        ask.answer = { ids: hits.ids, distances: hits.distances }
        ask.answeredBy = from
        options.latency.observe(from, (yield* clock.now) - ask.sentMs[position]!)
      })

    /** Asks `shard` at its fastest replica not yet asked, if one is left. */
    const ask = (shard: string, attempt: number) =>
      Effect.gen(function*() {
        const state = asks.get(shard)!
        const replica = options.latency.order(options.replicasOf(shard)).find((node) => !state.asked.includes(node))
        if (replica === undefined) return
        state.asked.push(replica)
        state.sentMs.push(yield* clock.now)
        if (attempt > 0 && options.onHedge !== undefined) yield* options.onHedge(shard, replica)
        yield* network.send(replica, { _tag: "Query", query: options.query, shard, vector: options.vector, k: options.k, ef: shardEfOfQuery })
      })

    const unanswered = () => [...asks].filter(([, state]) => state.answer === undefined).map(([shard]) => shard)

    const run = (step: (waitMs: number) => Effect.Effect<void>) =>
      Effect.gen(function*() {
        for (const shard of options.shards) yield* ask(shard, 0)
        // Each hedge delay without an answer asks the shard's next replica: one lost message (the query or its
        // answer) would otherwise leave a shard unanswered even with a second replica up.
        let hedges = 0
        while (unanswered().length > 0) {
          const elapsed = (yield* clock.now) - startedMs
          if (elapsed >= options.timeoutMs) break
          if (elapsed >= options.hedgeDelayMs * (hedges + 1)) {
            hedges++
            for (const shard of unanswered()) yield* ask(shard, hedges)
          }
          yield* step(Math.min(options.timeoutMs, options.hedgeDelayMs * (hedges + 1)) - elapsed)
        }
        const missing = unanswered()
        penalizeLosers(yield* clock.now)
        const answered = options.shards.filter((shard) => !missing.includes(shard))
        const merged = options.merge(answered.map((shard) => asks.get(shard)!.answer!), options.k)
        return { ...merged, partial: missing.length > 0, answered, missing, latencyMs: (yield* clock.now) - startedMs }
      })

    /**
     * A replica that was asked and beaten by the hedge (or never answered) is at least as slow as it has been kept
     * waiting: without this its late answers, which are dropped, would never teach the client to avoid it.
     */
    const penalizeLosers = (endedMs: number) => {
      for (const state of asks.values()) {
        state.asked.forEach((node, position) => {
          if (node !== state.answeredBy) options.latency.penalize(node, endedMs - state.sentMs[position]!)
        })
      }
    }

    return { onHits, run }
  })
