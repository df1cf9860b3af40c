// The search's one hedged scatter-gather (the workload client's and the real session's), in the simulator against
// replicas that answer, answer slowly or stay silent: hedging, learning whom to ask first, and flagging partial answers.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Clock, Network, type NodeProgram } from "../src/env/index.ts"
import { LatencyTracker, mergeTopK } from "../src/protocols/search/merge.ts"
import { asMessage } from "../src/protocols/search/messages.ts"
import { makeScatterGather, type QueryOutcome } from "../src/protocols/search/scatter-gather.ts"
import { perfectNetwork } from "../src/sim/network-model.ts"
import { Simulation } from "../src/sim/simulation.ts"

/** A replica that answers the queries `answers` allows after `workMs`, with one hit: its own id, at distance id / 1000. */
const stubReplica = (hit: number, answers: (query: number) => boolean, asked: Array<string>): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    while (true) {
      const envelope = yield* network.receive
      const message = asMessage(envelope.message)
      if (message?._tag !== "Query") continue
      asked.push(`${network.self}:${message.query}`)
      if (!answers(message.query)) continue
      yield* clock.sleep(2)
      yield* network.send(envelope.from, { _tag: "Hits", query: message.query, shard: message.shard, ids: [hit], distances: [hit / 1000] })
    }
  })

describe("hedged scatter-gather", () => {
  it("hedges a silent replica, asks the faster one first next time, and flags a shard no replica answered as partial", () => {
    // Set up: s0 on r1 (silent) and r2, s1 on r3 alone, which stays silent for query 3. 1 ms links, 2 ms of work.
    const asked: Array<string> = []
    const hedges: Array<string> = []
    const outcomes: Array<QueryOutcome> = []
    const replicas: Record<string, ReadonlyArray<string>> = { s0: ["r1", "r2"], s1: ["r3"] }
    const latency = new LatencyTracker()
    const client: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      for (const query of [1, 2, 3]) {
        const gather = yield* makeScatterGather({
          query, vector: [0], k: 2, ef: 10, shards: ["s0", "s1"], replicasOf: (shard) => replicas[shard]!, latency,
          hedgeDelayMs: 10, timeoutMs: 50, merge: mergeTopK,
          onHedge: (shard, to) => Effect.sync(() => hedges.push(`${query}:${shard}>${to}`))
        })
        outcomes.push(yield* gather.run((waitMs) =>
          Effect.gen(function*() {
            const envelope = yield* network.receiveWithin(Math.max(waitMs, 0.001))
            const message = envelope === undefined ? undefined : asMessage(envelope.message)
            if (message?._tag === "Hits") yield* gather.onHits(envelope!.from, message)
          })
        ))
      }
    })
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(1), keepTrace: false })
    simulation.addNode("r1", stubReplica(1, () => false, asked))
    simulation.addNode("r2", stubReplica(2, () => true, asked))
    simulation.addNode("r3", stubReplica(3, (query) => query !== 3, asked))
    simulation.addNode("c1", client, "client")
    // Act.
    simulation.runUntil(1_000_000)
    // Check: query 1 asked r1 (never measured, first in order), hedged s0 to r2 after 10 ms, and was complete.
    expect(outcomes).toHaveLength(3)
    expect(hedges.filter((hedge) => hedge.startsWith("1:"))).toEqual(["1:s0>r2"])
    expect(outcomes[0]).toMatchObject({ ids: [2, 3], partial: false, answered: ["s0", "s1"], missing: [] })
    expect(outcomes[0]!.latencyMs).toBeGreaterThanOrEqual(10)
    // r1 was kept waiting, so query 2 asks r2 first and needs no hedge.
    expect(asked.filter((entry) => entry.endsWith(":2")).sort()).toEqual(["r2:2", "r3:2"])
    expect(outcomes[1]).toMatchObject({ ids: [2, 3], partial: false })
    expect(outcomes[1]!.latencyMs).toBeLessThan(10)
    // Query 3: no replica of s1 answered by the timeout; s1 has no other replica to hedge to.
    expect(outcomes[2]).toMatchObject({ ids: [2], partial: true, answered: ["s0"], missing: ["s1"] })
    expect(outcomes[2]!.latencyMs).toBeGreaterThanOrEqual(50)
    expect(hedges.filter((hedge) => hedge.startsWith("3:"))).toEqual([])
  })
})
