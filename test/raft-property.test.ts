// Property: for generated fault schedules, networks and workloads on 3- and 5-node clusters, every Raft invariant holds
// and every history is linearizable.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { faultScheduleArbitrary } from "../src/sim/arbitraries.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { scenarioFromObject, serverIds } from "../src/sim/scenario.ts"

const workload = fc.record({
  clients: fc.integer({ min: 1, max: 3 }),
  thinkMs: fc.integer({ min: 10, max: 80 }),
  mix: fc.record({
    read: fc.integer({ min: 0, max: 4 }),
    write: fc.integer({ min: 1, max: 4 }),
    cas: fc.integer({ min: 0, max: 3 }),
    append: fc.integer({ min: 0, max: 2 }),
    delete: fc.integer({ min: 0, max: 1 })
  })
})

const network = fc.record({
  lossRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
  duplicateRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
  reorderRate: fc.double({ min: 0, max: 0.2, noNaN: true })
})

const caseFor = (nodes: number) =>
  fc.record({
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    faults: faultScheduleArbitrary({ nodes: serverIds(nodes), durationMs: 3000, maxFaults: 8 }),
    workload,
    network,
    snapshotEveryEntries: fc.constantFrom(0, 20, 200)
  })

const check = (nodes: number, numRuns: number) => {
  fc.assert(
    fc.property(caseFor(nodes), ({ seed, faults, workload, network, snapshotEveryEntries }) => {
      // Set up: a short run, so that many cases fit in the suite.
      const scenario = {
        ...scenarioFromObject({
          protocol: "raft",
          nodes,
          duration: 3000,
          liveness: 4000,
          options: { snapshotEveryEntries },
          workload: { ...workload, operationsPerClient: 1000, livenessBoundMs: 3500 },
          network: { latency: { distribution: "uniform", minMs: 1, maxMs: 6 }, ...network, reorderWindowMs: 15 }
        }),
        scheduled: faults
      }
      // Act.
      const result = runScenario(scenario, { seed, protocols: builtinProtocols })
      // Check: every invariant and the linearizability of the history; the message names the seed.
      const failed = result.checks.filter((outcome) => !outcome.ok).map((outcome) => `${outcome.name}: ${outcome.violations[0]?.message}`)
      expect(failed, `simulation seed ${seed}`).toEqual([])
      expect(result.history?.length ?? 0).toBeGreaterThan(0)
    }),
    { numRuns }
  )
}

describe("raft under generated faults (property)", () => {
  it("holds on 3-node clusters", () => check(3, 100), 240_000)
  it("holds on 5-node clusters", () => check(5, 100), 240_000)
})
