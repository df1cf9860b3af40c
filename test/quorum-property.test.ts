// Property: for generated fault schedules, networks, workloads and quorum settings (R + W > N), the
// quorum store keeps every rule its checker judges; and the same generator finds a planted bug.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { faultScheduleArbitrary } from "../src/sim/arbitraries.ts"
import { runScenario } from "../src/sim/run.ts"
import { scenarioFromObject, serverIds } from "../src/sim/scenario.ts"
import { protocols as variants } from "./fixtures/quorum-bugs.ts"

const protocols = new Map([...builtinProtocols, ...variants.map((protocol) => [protocol.name, protocol] as const)])

const nodes = 5

/** N of 2 or 3 with R + W = N + 1 or more, a sloppy quorum or not, anti-entropy or not. */
const options = fc
  .record({ n: fc.constantFrom(2, 3), sloppyQuorum: fc.boolean(), antiEntropyIntervalMs: fc.constantFrom(0, 200) })
  .chain((base) =>
    fc.integer({ min: 1, max: base.n }).chain((r) =>
      fc.integer({ min: base.n + 1 - r, max: base.n }).map((w) => ({ ...base, r, w }))
    )
  )

const runs = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  faults: faultScheduleArbitrary({ nodes: serverIds(nodes), durationMs: 3000, maxFaults: 8 }),
  options,
  workload: fc.record({ clients: fc.integer({ min: 1, max: 3 }), keys: fc.integer({ min: 1, max: 4 }), thinkMs: fc.integer({ min: 10, max: 60 }) }),
  lossRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
  duplicateRate: fc.double({ min: 0, max: 0.1, noNaN: true })
})

type Run = typeof runs extends fc.Arbitrary<infer A> ? A : never

/** A three-second safety phase with the generated faults, then a healed liveness phase long enough to converge. */
const simulateRun = (run: Run, protocol: string) =>
  runScenario(
    {
      ...scenarioFromObject({
        protocol,
        nodes,
        duration: 3000,
        liveness: 5000,
        options: run.options,
        workload: { ...run.workload, operationsPerClient: 25 },
        network: { latency: { distribution: "uniform", minMs: 1, maxMs: 8 }, lossRate: run.lossRate, duplicateRate: run.duplicateRate }
      }),
      scheduled: run.faults
    },
    { seed: run.seed, protocols }
  )

const failures = (result: ReturnType<typeof simulateRun>) =>
  result.checks.filter((check) => !check.ok).map((check) => `${check.name}: ${check.violations[0]?.message}`)

describe("the quorum store under generated faults (property)", () => {
  it("keeps every rule whenever R + W > N", { timeout: 300_000 }, () => {
    fc.assert(
      fc.property(runs, (run) => {
        const result = simulateRun(run, "quorum")
        expect(failures(result), `simulation seed ${run.seed}`).toEqual([])
        expect(result.history?.length ?? 0).toBeGreaterThan(0)
      }),
      { numRuns: 60 }
    )
  })

  it("finds the read repair that keeps one sibling", { timeout: 300_000 }, () => {
    const report = fc.check(
      fc.property(runs, (run) => failures(simulateRun(run, "quorum-bug-repair-one-sibling")).length === 0),
      { numRuns: 60, seed: 1 }
    )
    expect(report.failed).toBe(true)
  })
})
