// Sharded vector search: the merge and placement rules, deterministic HNSW, the shipped scenarios' promises on small data,
// planted bugs caught by a swarm over a shipped scenario, and no acknowledged insert lost under generated fault schedules.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { makeMixture, makeShardMap, mergeTopK, replicasOf, shardOf, ShardIndex } from "../src/protocols/search/index.ts"
import { faultScheduleArbitrary } from "../src/sim/arbitraries.ts"
import { runScenario, type RunResult } from "../src/sim/run.ts"
import { loadScenario, type Scenario, scenarioFromObject, serverIds } from "../src/sim/scenario.ts"
import { runSeed } from "../src/sim/swarm.ts"
import { protocols as variants } from "./fixtures/search-bugs.ts"

const failed = (result: RunResult) => result.checks.filter((check) => !check.ok).map((check) => `${check.name}: ${check.violations[0]?.message}`)

/** A shipped scenario made small, so each run takes a second or two; each use says why its faults still land where they should. */
const small = (file: string, workload: Record<string, unknown>): Scenario => {
  const scenario = loadScenario(file)
  return { ...scenario, workload: { ...scenario.workload, ...workload } }
}

const searchNote = (result: RunResult) => result.notes.find((note) => note.startsWith("search:")) ?? ""

describe("search core", () => {
  it("merges per-shard top-k into the global order, nearest first, each id once", () => {
    // Set up: two shards whose neighbours interleave, and an id both answered (a hedge merged twice would do it).
    const answers = [{ ids: [1, 2, 3], distances: [0.1, 0.4, 0.9] }, { ids: [7, 8, 2], distances: [0.2, 0.3, 0.4] }]
    // Act.
    const merged = mergeTopK(answers, 4)
    // Check.
    expect(merged.ids).toEqual([1, 7, 8, 2])
    expect(merged.distances).toEqual([0.1, 0.2, 0.3, 0.4])
  })

  it("places every id on one shard and every shard on distinct replicas", () => {
    const map = makeShardMap({ shards: 4, nodes: serverIds(5), replicationFactor: 3 })
    const shards = new Set(Array.from({ length: 1000 }, (_, id) => shardOf(map, id)))
    expect([...shards].sort()).toEqual(["s0", "s1", "s2", "s3"])
    for (const shard of map.shards) expect(new Set(replicasOf(map, shard)).size).toBe(3)
  })

  it("builds the same HNSW graph, and gives the same answers, for the same seed and insertion order", () => {
    const mixture = makeMixture({ seed: 3, dimensions: 64, clusters: 8, spread: 0.15 })
    const build = () => {
      const index = new ShardIndex({ space: "l2", dimensions: 64, m: 8, efConstruction: 50, randomSeed: 7 })
      for (let id = 0; id < 1500; id++) index.insert(id, Array.from(mixture.vector(id)))
      return index
    }
    const left = build()
    const right = build()
    const queries = Array.from({ length: 20 }, (_, index) => Array.from(mixture.vector(5000 + index)))
    expect(queries.map((query) => left.search(query, 10, 32))).toEqual(queries.map((query) => right.search(query, 10, 32)))
    expect(left.size).toBe(1500)
  })
})

describe("search scenarios (small data)", () => {
  it("with a replica of each shard crashed in turn, no acknowledged insert is lost and recall@10 stays at 0.95 or more", () => {
    // 600 vectors are written by 0.3 s, so n1's torn crash at 0.2 s still falls in the writes and the queries run while it is down.
    const result = runScenario(small("scenarios/search-replica-crashes.yaml", { vectors: 600, queriesPerClient: 20 }), { seed: 1, protocols: builtinProtocols })
    expect(failed(result)).toEqual([])
    expect(searchNote(result)).toMatch(/\(0 partial\)/)
  })

  it("with every replica of a shard down, the answers in that window are flagged partial and the others stay complete", () => {
    const result = runScenario(small("scenarios/search-shard-down.yaml", { vectors: 400 }), { seed: 1, protocols: builtinProtocols })
    expect(failed(result)).toEqual([])
    const partial = Number(/\((\d+) partial\)/.exec(searchNote(result))?.[1])
    expect(partial).toBeGreaterThan(0)
    expect(partial).toBeLessThan(80)
  })

  it("the same seed gives the same trace", () => {
    const scenario = small("scenarios/search-slow-node.yaml", { vectors: 300, queriesPerClient: 10 })
    const first = runScenario(scenario, { seed: 4, protocols: builtinProtocols })
    const second = runScenario(scenario, { seed: 4, protocols: builtinProtocols })
    expect(second.traceHash).toBe(first.traceHash)
  })
})

describe("planted search bugs are caught by a swarm over scenarios/search-crash-storm.yaml", () => {
  const scenario = loadScenario("scenarios/search-crash-storm.yaml")
  const firstFailure = (protocol: string, seeds: number) => {
    const protocols = new Map([[protocol, variants.find((variant) => variant.name === protocol)!]])
    for (let seed = 1; seed <= seeds; seed++) {
      const outcome = runSeed({ ...scenario, protocol }, seed, { swarm: true, protocols })
      if (!outcome.ok) return { seed, outcome }
    }
    return undefined
  }

  it("an insert acknowledged before its log is synced fails acked-durable, and the correct search passes that seed", () => {
    const failure = firstFailure("search-bug-ack-before-sync", 12)
    expect(failure?.outcome.firstViolation?.check).toBe("acked-durable")
    expect(runSeed(scenario, failure!.seed, { swarm: true, protocols: builtinProtocols }).ok).toBe(true)
  })

  it("a merge that concatenates per-shard top-k fails recall", () => {
    const failure = firstFailure("search-bug-concatenate-merge", 3)
    expect(failure?.outcome.firstViolation?.check).toBe("recall")
  })
})

describe("property: no acknowledged insert is lost across crashes and restarts", () => {
  it("holds for generated fault schedules", () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 1_000_000 }),
          faults: faultScheduleArbitrary({ nodes: serverIds(3), durationMs: 2000, maxFaults: 6 })
        }),
        ({ seed, faults }) => {
          const scenario = {
            ...scenarioFromObject({
              protocol: "search",
              nodes: 3,
              duration: 2000,
              liveness: 1500,
              options: { shards: 3, replicationFactor: 2, writeQuorum: 2 },
              workload: { vectors: 400, clients: 2, writeWindow: 8, queriesPerClient: 5 },
              network: { latency: { distribution: "uniform", minMs: 1, maxMs: 4 } },
              disk: { syncLatency: { distribution: "uniform", minMs: 1, maxMs: 5 } }
            }),
            scheduled: faults
          }
          const result = runScenario(scenario, { seed, protocols: builtinProtocols })
          const durability = result.checks.filter((check) => ["acked-durable", "no-lost-insert", "node-failed"].includes(check.name))
          expect(durability.filter((check) => !check.ok).map((check) => check.violations[0]?.message), `simulation seed ${seed}`).toEqual([])
        }
      ),
      { numRuns: 5 }
    )
  })
})
