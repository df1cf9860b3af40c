// What a run reports agrees with its trace: fault counts by phase, and progress that covers the run.
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario, type RunProgress } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { smallBroadcastScenario } from "./fixtures/scenarios.ts"
import { parseKeptTrace } from "./fixtures/trace.ts"

/** Fault lines of a trace by kind, split where the liveness phase begins. */
const faultLinesOf = (lines: ReadonlyArray<string> | undefined) => {
  const safety: Record<string, number> = {}
  const healing: Record<string, number> = {}
  let phase = safety
  for (const line of parseKeptTrace(lines)) {
    if (line.e === "phase") phase = healing
    if (line.e === "fault") phase[line.fault._tag] = (phase[line.fault._tag] ?? 0) + 1
  }
  return { safety, healing }
}

describe("a run's report", () => {
  it("counts the faults the trace has, in each phase", () => {
    const result = runScenario(loadScenario("scenarios/causal-broadcast-partitions.yaml"), { protocols: builtinProtocols, keepTrace: true })
    expect(result.faultLines).toEqual(faultLinesOf(result.traceLines!))
    expect(Object.values(result.faultLines.safety).reduce((sum, count) => sum + count, 0)).toBe(result.faults.length)
  })

  it("a scheduled fault that changes nothing writes no line and is counted as such", () => {
    // Set up: restarting a node that never crashed changes nothing.
    const scenario = smallBroadcastScenario({ faults: { scheduled: [{ at: "1s", restart: "n2" }, { at: "2s", pause: "n3" }] } })

    // Act.
    const result = runScenario(scenario, { protocols: builtinProtocols, keepTrace: true })

    // Check: two scheduled, one in the trace (the pause), and the healing resumed n3.
    expect(result.faults).toHaveLength(2)
    expect(result.faultLines).toEqual(faultLinesOf(result.traceLines!))
    expect(result.faultLines.safety).toEqual({ Pause: 1 })
    expect(result.faultLines.healing).toMatchObject({ Heal: 1, Resume: 1 })
  })

  it("reports progress at least every simulated second, ending at the end, without changing the run", () => {
    const scenario = loadScenario("scenarios/raft-leader-crash.yaml")
    const seen: Array<RunProgress> = []
    const watched = runScenario(scenario, { protocols: builtinProtocols, onProgress: (progress) => seen.push(progress) })
    const quiet = runScenario(scenario, { protocols: builtinProtocols })
    expect(watched.traceHash).toBe(quiet.traceHash)
    const endUs = (scenario.durationMs + scenario.livenessMs) * 1000
    expect(seen.at(-1)).toEqual({ timeUs: endUs, endUs, events: watched.events })
    for (let index = 1; index < seen.length; index++) {
      expect(seen[index]!.timeUs - seen[index - 1]!.timeUs).toBeLessThanOrEqual(1_000_000)
      expect(seen[index]!.events).toBeGreaterThanOrEqual(seen[index - 1]!.events)
    }
  })
})
