// Shrinking a fault schedule: pairs kept together, the earliest faults bisected away, whole kinds removed at once, delta debugging that drops a large irrelevant block in few runs, and the run stopped where it first fails.
import { describe, expect, it } from "vitest"
import type { Checker, ProtocolEvent, Violation } from "../src/check/checker.ts"
import type { ProtocolDefinition } from "../src/definition/protocol.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { type Scenario, scenarioFromObject, type ScheduledFault } from "../src/sim/scenario.ts"
import { faultUnits, type FaultShrinking, removeEarliest, unitKind } from "../src/sim/shrink-faults.ts"
import { shrinkFailure } from "../src/sim/shrink.ts"
import type { TraceFault } from "../src/trace/trace-line.ts"

/** Reports a violation when a fault that `matches` is applied: a failure that exactly one scheduled fault causes. */
class FaultChecker implements Checker {
  readonly checks = ["the-fault"]
  readonly livenessChecks = []
  readonly violations: Array<Violation> = []
  constructor(private readonly matches: (fault: TraceFault) => boolean) {}
  onEvent(_event: ProtocolEvent): void {}
  onFault(fault: TraceFault, timeUs: number): void {
    if (this.matches(fault)) this.violations.push({ check: this.checks[0]!, message: `fault ${fault._tag} applied`, timeUs })
  }
  finish(): void {}
}

/**
 * Fails once 50 crashes have been applied, or once a partition has stood for 3 s: two ways to the
 * same failure, one fast and one slow, as a storm of bounces and one partition were to a stale read.
 */
class StormOrPartitionChecker implements Checker {
  readonly checks = ["the-fault"]
  readonly livenessChecks = []
  readonly violations: Array<Violation> = []
  private crashes = 0
  private partitionedUs: number | undefined
  onEvent(event: ProtocolEvent): void {
    if (this.partitionedUs !== undefined && event.timeUs - this.partitionedUs >= 3_000_000) this.fail(event.timeUs)
  }
  onFault(fault: TraceFault, timeUs: number): void {
    if (fault._tag === "Crash" && ++this.crashes === 50) this.fail(timeUs)
    if (fault._tag === "Partition") this.partitionedUs ??= timeUs
  }
  private fail(timeUs: number): void {
    if (this.violations.length === 0) this.violations.push({ check: this.checks[0]!, message: "the cluster went wrong", timeUs })
  }
  finish(): void {}
}

const raft = builtinProtocols.get("raft")!

/** Raft with a checker that fails on the fault `matches` accepts. */
const failingOn = (matches: (fault: TraceFault) => boolean): ReadonlyMap<string, ProtocolDefinition> => checkedBy(() => new FaultChecker(matches))

/** Raft with one more checker, made afresh for each run. */
const checkedBy = (checker: () => Checker): ReadonlyMap<string, ProtocolDefinition> => {
  const protocol: ProtocolDefinition = {
    ...raft,
    name: "raft-fault-checked",
    build: (run) => {
      const built = raft.build(run)
      return { ...built, checkers: [...built.checkers, checker()] }
    }
  }
  return new Map([...builtinProtocols, [protocol.name, protocol] as const])
}

/** Shrinks `scenario`, and counts the runs it took to get down to its last fault count. */
const shrinkCounting = (scenario: Scenario, protocols: ReadonlyMap<string, ProtocolDefinition>, maxRuns: number) => {
  const steps: Array<{ faults: number; runs: number }> = []
  const result = shrinkFailure(scenario, 1, { protocols, maxRuns, onStep: (_, kept, runs) => steps.push({ faults: kept.scheduled.length, runs }) })
  const runsToFewestFaults = steps.find((step) => step.faults === result.shrunk.scheduled.length)?.runs
  return { result, runsToFewestFaults }
}

/** A small Raft run of 10 s with `scheduled` as its faults. */
const withFaults = (scheduled: ReadonlyArray<ScheduledFault>): Scenario => ({
  ...scenarioFromObject({
    protocol: "raft-fault-checked",
    nodes: 3,
    duration: "10s",
    liveness: "0s",
    workload: { clients: 1, operationsPerClient: 100, thinkMs: 100 },
    checks: ["the-fault"]
  }),
  scheduled
})

/** `count` bounces of n3 (a crash and a restart 5 ms later), the first at `fromMs`, one every `everyMs`. */
const bouncesOfN3 = (options: { count: number; fromMs: number; everyMs: number }): Array<ScheduledFault> =>
  Array.from({ length: options.count }, (_, index): Array<ScheduledFault> => [
    { atMs: options.fromMs + index * options.everyMs, fault: { _tag: "Crash", node: "n3", torn: false } },
    { atMs: options.fromMs + index * options.everyMs + 5, fault: { _tag: "Restart", node: "n3" } }
  ]).flat()

describe("shrinking a fault schedule", () => {
  it("bisects the earliest faults away, no faults at all tried first, in about log2 of their number of runs", () => {
    // Set up: 200 clock steps, of which a failure needs the last ten (the history just before it).
    let scheduled: ReadonlyArray<ScheduledFault> = Array.from({ length: 200 }, (_, index) => ({
      atMs: 10 + index * 10,
      fault: { _tag: "ClockStep", node: "n1", ms: index }
    }))
    const needed = scheduled.slice(190)
    const tried: Array<number> = []
    const shrinking: FaultShrinking = {
      current: () => scheduled,
      runsLeft: () => tried.length < 40,
      attempt: (candidate) => {
        tried.push(candidate.length)
        if (!needed.every((fault) => candidate.includes(fault))) return false
        scheduled = candidate
        return true
      }
    }

    // Act
    const removed = removeEarliest(shrinking)

    // Check: the needed ten are all that is left, found in ten runs, the first with none.
    expect(removed).toBe(true)
    expect(scheduled).toEqual(needed)
    expect(tried[0]).toBe(0)
    expect(tried.length).toBeLessThanOrEqual(10)
  })

  it("pairs a crash with the restart of the same node that follows it, and names a short crash a bounce", () => {
    const scheduled: Array<ScheduledFault> = [
      { atMs: 100, fault: { _tag: "Crash", node: "n1", torn: false } },
      { atMs: 110, fault: { _tag: "Crash", node: "n2", torn: false } },
      { atMs: 120, fault: { _tag: "Restart", node: "n2" } },
      { atMs: 130, fault: { _tag: "ClockStep", node: "n3", ms: 5 } },
      { atMs: 900, fault: { _tag: "Restart", node: "n1" } },
      { atMs: 950, fault: { _tag: "Restart", node: "n3" } }
    ]
    const units = faultUnits(scheduled)
    expect(units).toEqual([[0, 4], [1, 2], [3], [5]])
    expect(units.map((unit) => unitKind(scheduled, unit))).toEqual(["crash", "bounce", "clock step", "restart"])
  })

  it("removes a storm of 150 irrelevant bounces by halves in a dozen runs, keeping the one crash that matters", () => {
    // Set up: bounces of n3 every 60 ms, and one long crash of n2 at 6 s that the checker fails on.
    const bounces = bouncesOfN3({ count: 150, fromMs: 50, everyMs: 60 })
    const crash: Array<ScheduledFault> = [
      { atMs: 6_001, fault: { _tag: "Crash", node: "n2", torn: false } },
      { atMs: 7_501, fault: { _tag: "Restart", node: "n2" } }
    ]
    const scheduled = [...bounces, ...crash].sort((left, right) => left.atMs - right.atMs)
    const protocols = failingOn((fault) => fault._tag === "Crash" && fault.node === "n2")

    // Act
    const { result, runsToFewestFaults } = shrinkCounting(withFaults(scheduled), protocols, 60)

    // Check: only the crash is left (its restart comes after the failure), in about one run per
    // halving of the 301 faults, not one run per fault.
    expect(result.check).toBe("the-fault")
    expect(result.shrunk.scheduled).toEqual([crash[0]])
    expect(result.shrunk.durationMs).toBe(6_002)
    expect(runsToFewestFaults).toBeLessThanOrEqual(16)
  })

  it("delta debugging drops a large irrelevant block of one kind in few runs, not one run per fault", () => {
    // Set up: 255 clock steps, all alike but one, which the checker fails on, two thirds of the way in.
    const steps = Array.from({ length: 256 }, (_, index): ScheduledFault => ({
      atMs: 20 + index * 30,
      fault: { _tag: "ClockStep", node: index === 170 ? "n2" : "n1", ms: 1 }
    }))
    const protocols = failingOn((fault) => fault._tag === "ClockStep" && fault.node === "n2")

    // Act
    const { result, runsToFewestFaults } = shrinkCounting(withFaults(steps), protocols, 80)

    // Check: the 85 steps after it go with the stop, the 170 before it by halves: about two runs a halving.
    expect(result.shrunk.scheduled).toEqual([steps[170]])
    expect(runsToFewestFaults).toBeLessThanOrEqual(25)
  })

  it("tries a whole kind away in a run of the original length, so a slower way to the same failure can take over", () => {
    // Set up: 60 bounces in the first 1.2 s fail the run at the 50th; a partition at 100 ms would
    // fail it too, but only at 3.1 s, after the run was stopped at the 50th bounce.
    const bounces = bouncesOfN3({ count: 60, fromMs: 200, everyMs: 20 })
    const partition: Array<ScheduledFault> = [
      { atMs: 100, fault: { _tag: "Partition", groups: [["n1"], ["n2", "n3"]] } },
      { atMs: 9_000, fault: { _tag: "Heal" } }
    ]
    const scheduled = [...partition, ...bounces].sort((left, right) => left.atMs - right.atMs)
    const protocols = checkedBy(() => new StormOrPartitionChecker())

    // Act
    const { result, runsToFewestFaults } = shrinkCounting(withFaults(scheduled), protocols, 60)

    // Check: the bounces went in one run of 10 s; the partition alone fails at 3.1 s, and the run stops there.
    expect(result.shrunk.scheduled).toEqual([partition[0]])
    expect(result.shrunk.durationMs).toBeGreaterThan(3_100)
    expect(result.shrunk.durationMs).toBeLessThan(3_400)
    // Runs: single faults by halves get half of the 60 (no halving of the bounces keeps the failure
    // by 1.2 s), then every bounce goes in one run, the stop again, and the 50th crash, whose restart the stop had cut.
    expect(runsToFewestFaults).toBeLessThanOrEqual(40)
  })
})
