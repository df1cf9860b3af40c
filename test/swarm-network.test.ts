// Slow networks: swarm draws, for some seeds, a latency of 1 ms up to a drawn bound in place of the
// scenario's own, within what the protocol says it stays live under; shrink can put the scenario's
// own latency back.
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { causalBroadcastProtocol } from "../src/protocols/causal-broadcast/definition.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario, parseScenario } from "../src/sim/scenario.ts"
import { scenarioToYaml } from "../src/sim/scenario-writer.ts"
import { shrinkFailure } from "../src/sim/shrink.ts"
import { describeDraw, swarmScenario } from "../src/sim/swarm-faults.ts"
import { fifoOnly } from "./fixtures/broadcast-bugs.ts"

const seeds = Array.from({ length: 40 }, (_, index) => index + 1)

describe("slow networks", () => {
  it("are drawn for some seeds only, printed with the draw, and stay below Raft's shortest election timeout", () => {
    // Set up and act: forty seeds of the shipped Raft scenario.
    const scenario = loadScenario("scenarios/raft-random-faults.yaml")
    const draws = seeds.map((seed) => swarmScenario(scenario, seed, builtinProtocols))

    // Check: about half the seeds that are not harsh are slow, and every harsh one (about two
    // thirds in all), each uniform from 1 ms to at most 150 ms and to at most the drawn tick times
    // the drawn shortest election timeout; the others keep the scenario's latency.
    const slow = draws.filter(({ draw }) => draw.slowLatencyMsMax > 0)
    expect(slow.length).toBeGreaterThan(15)
    expect(slow.length).toBeLessThan(36)
    expect(slow.filter(({ draw }) => !draw.harsh).length).toBeGreaterThan(5)
    expect(draws.filter(({ draw }) => draw.harsh).every(({ draw }) => draw.slowLatencyMsMax > 0)).toBe(true)
    for (const { scenario: drawn, draw } of slow) {
      expect(drawn.network.defaults.latency).toEqual({ _tag: "Uniform", minMs: 1, maxMs: draw.slowLatencyMsMax })
      expect(draw.slowLatencyMsMax).toBeLessThanOrEqual(150)
      expect(draw.slowLatencyMsMax).toBeLessThanOrEqual(Number(draw.knobs.tickMs) * Number(draw.knobs.electionTimeoutTicksMin))
      expect(describeDraw(draw)).toContain(`latency 1-${draw.slowLatencyMsMax} ms`)
    }
    const kept = draws.find(({ draw }) => draw.slowLatencyMsMax === 0)!
    expect(kept.scenario.network.defaults.latency).toEqual(scenario.network.defaults.latency)
    expect(describeDraw(kept.draw)).not.toMatch(/latency/)
  })

  it("go back to the scenario's own latency when shrinking a failure that does not need them", () => {
    // Set up: a swarm seed of the FIFO-only broadcast bug that drew a slow network and fails.
    const protocols = new Map([...builtinProtocols, ["causal-broadcast-fifo-only", causalBroadcastProtocol("causal-broadcast-fifo-only", fifoOnly)] as const])
    const base = loadScenario("test/fixtures/broadcast-fifo-only.yaml")
    const seed = seeds.find((candidate) => {
      const drawn = swarmScenario(base, candidate, protocols)
      return drawn.draw.slowLatencyMsMax > 0 && !runScenario(drawn.scenario, { seed: candidate, protocols }).ok
    })
    expect(seed, "a seed that draws a slow network and fails").toBeDefined()
    const drawn = swarmScenario(base, seed!, protocols).scenario

    // Act: shrink it, told the scenario's own latency.
    const ownLatency = base.network.defaults.latency
    const result = shrinkFailure(drawn, seed!, { protocols, knobDefaults: base.options, ownLatency, maxRuns: 60 })

    // Check: the slow latency is gone; what is left is the scenario's own (1-20 ms), or that made
    // constant at its mean.
    const latency = result.shrunk.network.defaults.latency
    expect(ownLatency).toEqual({ _tag: "Uniform", minMs: 1, maxMs: 20 })
    expect(latency).not.toEqual(drawn.network.defaults.latency)
    expect([ownLatency, { _tag: "Constant", ms: 10.5 }]).toContainEqual(latency)
    expect(result.shrunkResult.ok).toBe(false)
  })

  it("heal for the liveness phase: a drawn network returns to the scenario's own, in the trace and in a written repro", () => {
    // Set up: Raft seeds that drew a slow or lossy network, and one that drew none.
    const scenario = loadScenario("scenarios/raft-random-faults.yaml")
    const draws = seeds.map((seed) => ({ seed, ...swarmScenario(scenario, seed, builtinProtocols) }))
    const noisy = draws.find(({ draw }) => draw.slowLatencyMsMax > 0 && draw.lossRate > 0)!
    const quiet = draws.find(({ draw }) => draw.slowLatencyMsMax === 0 && draw.lossRate === 0 && draw.duplicateRate === 0 && draw.reorderRate === 0 && draw.longDelayRate === 0)!

    // Act: run the noisy seed keeping its trace, and write its scenario out and read it back.
    const result = runScenario(noisy.scenario, { seed: noisy.seed, keepTrace: true, protocols: builtinProtocols })
    const reread = parseScenario(scenarioToYaml(noisy.scenario, "repro"), "repro.yaml")

    // Check: the liveness network is the scenario's own (no drawn long delays either); the trace
    // says when it came back, once, at the liveness phase; the written scenario replays exactly.
    expect(noisy.scenario.network.liveness).toEqual({ ...scenario.network.defaults, longDelayRate: 0 })
    expect(quiet.scenario.network.liveness).toBeUndefined()
    const lines = (result.traceLines ?? []).map((line) => JSON.parse(line) as { t: number; e: string; phase?: string; fault?: { _tag: string } })
    const resets = lines.filter((line) => line.e === "fault" && line.fault?._tag === "NetworkReset")
    const phase = lines.find((line) => line.e === "phase" && line.phase === "liveness")!
    expect(resets.map((line) => line.t)).toEqual([phase.t])
    expect(reread.network.liveness).toMatchObject(noisy.scenario.network.liveness!)
    expect(runScenario(reread, { seed: noisy.seed, protocols: builtinProtocols }).traceHash).toBe(result.traceHash)
  })
})
