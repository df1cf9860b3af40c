// A property test of the counter over generated fault schedules and workloads; its buggy variant must fail and shrink.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  assertProperty,
  checkProperty,
  faultScheduleArbitrary,
  type ScheduledFault,
  serverIds,
  simulate,
  workloadArbitrary,
  type WorkloadItem
} from "../src/index.ts"
import { CounterChecker, counterNode } from "./fixtures/user-protocol.ts"

const nodes = serverIds(3)
const durationMs = 2_000

/** One run: a seed for the simulator, faults to inject and increments to make. */
interface CounterRun {
  readonly seed: number
  readonly faults: ReadonlyArray<ScheduledFault>
  readonly increments: ReadonlyArray<WorkloadItem<number>>
}

const counterRuns: fc.Arbitrary<CounterRun> = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  faults: faultScheduleArbitrary({ nodes, durationMs, maxFaults: 8 }),
  increments: workloadArbitrary({ nodes, durationMs, operation: fc.integer({ min: 1, max: 5 }), maxItems: 10 })
})

/** Runs the counter: faults for two seconds, then one second on a healed network to converge. */
const simulateCounter = (run: CounterRun, buggy: boolean) =>
  simulate({
    seed: run.seed,
    nodes: nodes.length,
    node: () => counterNode({ increments: run.increments, buggy }),
    durationMs,
    livenessMs: 1_000,
    network: { latency: { _tag: "Uniform", minMs: 1, maxMs: 10 } },
    faults: run.faults,
    checkers: () => [new CounterChecker()]
  })

describe("a replicated counter (the README example)", () => {
  it("converges under any fault schedule", () => {
    assertProperty(counterRuns, (run) => simulateCounter(run, false), { numRuns: 100 })
  })

  it("the buggy counter fails, shrunk to a minimal run that names its seed and replay path", () => {
    const report = checkProperty(counterRuns, (run) => simulateCounter(run, true), { numRuns: 100 })
    expect(report._tag).toBe("Failed")
    if (report._tag !== "Failed") return
    // One increment and one fault that loses it are enough; fast-check removed everything else.
    expect(report.counterexample.faults.length).toBeLessThanOrEqual(2)
    expect(report.counterexample.increments.length).toBeLessThanOrEqual(2)
    expect(report.message).toContain(`simulation seed  ${report.counterexample.seed}`)
    expect(report.message).toContain(`violated         convergence`)
    expect(report.message).toContain(`seed: ${report.seed}, path: "${report.path}"`)
  })
})
