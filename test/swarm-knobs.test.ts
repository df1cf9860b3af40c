// Swarm knobs and timing faults: knobs drawn per seed within their declared values, long delays past
// election timeouts, stalled links, and shrinking that returns knobs and network to their defaults honestly.
import { describe, expect, it } from "vitest"
import type { ProtocolDefinition } from "../src/definition/protocol.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { causalBroadcastProtocol } from "../src/protocols/causal-broadcast/definition.ts"
import { checkDeterminism } from "../src/sim/determinism.ts"
import { planRandomFaults } from "../src/sim/nemesis.ts"
import { RandomStream } from "../src/sim/random-streams.ts"
import { buildProtocol, runScenario } from "../src/sim/run.ts"
import { loadScenario, type Scenario, scenarioFromObject } from "../src/sim/scenario.ts"
import { failsTheSameWay, shrinkFailure } from "../src/sim/shrink.ts"
import { swarmScenario } from "../src/sim/swarm-faults.ts"
import { knobAllows } from "../src/sim/swarm-knobs.ts"
import { fifoOnly } from "./fixtures/broadcast-bugs.ts"
import { smallBroadcastScenario } from "./fixtures/scenarios.ts"

const RAFT = "scenarios/raft-random-faults.yaml"
const BROADCAST = "scenarios/causal-broadcast-partitions.yaml"
const QUORUM = "scenarios/quorum-membership.yaml"

describe("knobs drawn per seed", () => {
  for (const file of [RAFT, BROADCAST, QUORUM]) {
    it(`${file}: the same seed draws the same knobs, every one within its declared values, and the protocol accepts them`, () => {
      // Set up: the protocol's declared knobs.
      const scenario = loadScenario(file)
      const knobs = builtinProtocols.get(scenario.protocol)!.knobs!
      expect(knobs.length).toBeGreaterThan(2)

      // Act: draw fifty seeds, twice.
      const draws = Array.from({ length: 50 }, (_, index) => swarmScenario(scenario, index + 1, builtinProtocols))
      const again = Array.from({ length: 50 }, (_, index) => swarmScenario(scenario, index + 1, builtinProtocols))

      // Check: equal draws, values within range, options carry them, every draw builds, and the knobs vary.
      for (const [index, { scenario: drawn, draw }] of draws.entries()) {
        expect(draw.knobs).toEqual(again[index]!.draw.knobs)
        for (const knob of knobs) {
          expect(knobAllows(knob, draw.knobs[knob.name]), `${knob.name} = ${String(draw.knobs[knob.name])}`).toBe(true)
          expect(drawn.options[knob.name]).toBe(draw.knobs[knob.name])
        }
        expect(() => buildProtocol(builtinProtocols.get(drawn.protocol)!, drawn)).not.toThrow()
      }
      for (const knob of knobs) expect(new Set(draws.map(({ draw }) => draw.knobs[knob.name])).size, knob.name).toBeGreaterThan(1)
    })
  }

  it("Raft's drawn knobs stay valid with any one of them back at its default, as shrinking tries", () => {
    const scenario = loadScenario(RAFT)
    const raft = builtinProtocols.get("raft")!
    for (let seed = 1; seed <= 30; seed++) {
      const drawn = swarmScenario(scenario, seed, builtinProtocols).scenario
      for (const knob of raft.knobs!) {
        const { [knob.name]: _, ...rest } = drawn.options
        expect(() => buildProtocol(raft, { ...drawn, options: rest }), `seed ${seed} without ${knob.name}`).not.toThrow()
      }
    }
  })

  it("Raft's timing knobs build at every corner of their ranges, harsh ones included, with the others drawn or at their defaults", () => {
    // Set up: each timing knob's bounds, over all its values and its stress values, and its default (left out).
    const scenario = loadScenario(RAFT)
    const raft = builtinProtocols.get("raft")!
    const timing = ["heartbeatTicks", "electionTimeoutTicksMin", "electionTimeoutTicksMax"]
    const corners = timing.map((name) => {
      const knob = raft.knobs!.find((candidate) => candidate.name === name)!
      expect(knob._tag, name).toBe("Integer")
      if (knob._tag !== "Integer") return []
      return [undefined, knob.min, knob.max, ...(knob.stress ?? [])]
    })

    // Act and check: every combination builds (the option checks hold: heartbeats inside the
    // shortest timeout, at least two election timeouts to draw from).
    for (const heartbeatTicks of corners[0]!) {
      for (const electionTimeoutTicksMin of corners[1]!) {
        for (const electionTimeoutTicksMax of corners[2]!) {
          const options = Object.fromEntries(Object.entries({ heartbeatTicks, electionTimeoutTicksMin, electionTimeoutTicksMax }).filter(([, value]) => value !== undefined))
          expect(() => buildProtocol(raft, { ...scenario, options }), JSON.stringify(options)).not.toThrow()
        }
      }
    }
  })

  it("a seed with drawn knobs, long delays and stalls runs twice to the same trace, line for line", () => {
    // Set up: the first seed that draws both timing faults.
    const scenario = loadScenario("scenarios/raft-leader-crash.yaml")
    const seed = Array.from({ length: 40 }, (_, index) => index + 1).find((candidate) => {
      const { draw } = swarmScenario(scenario, candidate, builtinProtocols)
      return draw.longDelayRate > 0 && draw.random.stalls.ratePerSecond > 0
    })!

    // Act
    const report = checkDeterminism(swarmScenario(scenario, seed, builtinProtocols).scenario, { seed, protocols: builtinProtocols })

    // Check
    expect(report.divergence).toBeUndefined()
    expect(report.second.traceHash).toBe(report.first.traceHash)
    expect(report.first.ok, report.first.checks.filter((check) => !check.ok).map((check) => check.violations[0]?.message).join("; ")).toBe(true)
  })

  it("a protocol that declares no knobs draws none and keeps its options", () => {
    const scenario = loadScenario(BROADCAST)
    const withoutKnobs = new Map([["causal-broadcast", { ...builtinProtocols.get("causal-broadcast")!, knobs: undefined }]])
    const { scenario: drawn, draw } = swarmScenario(scenario, 3, withoutKnobs)
    expect(draw.knobs).toEqual({})
    expect(drawn.options).toEqual(scenario.options)
  })
})

/** Send lines of a trace: when each message left and when it arrives. */
const sends = (lines: ReadonlyArray<string>) =>
  lines
    .map((line) => JSON.parse(line) as { e: string; t: number; at?: number; from?: string; to?: string })
    .filter((line) => line.e === "send" && line.at !== undefined)

describe("timing faults", () => {
  const raft = (network: Record<string, unknown>) =>
    scenarioFromObject({
      protocol: "raft",
      nodes: 3,
      duration: "6s",
      liveness: "6s",
      workload: { clients: 2, operationsPerClient: 400 },
      network: { latency: { distribution: "uniform", minMs: 1, maxMs: 10 }, ...network }
    })

  it("long delays hold messages past the election timeout, and the trace's send lines say so (Raft stays correct)", () => {
    // Set up: 3% of messages held 3-4 s extra; Raft's election timeout is at most 20 ticks of 50 ms.
    const electionTimeoutMaxUs = 20 * 50 * 1000

    // Act
    const result = runScenario(raft({ longDelayRate: 0.03, longDelayMs: [3000, 4000] }), { seed: 7, keepTrace: true, protocols: builtinProtocols })

    // Check: some messages arrive more than an election timeout after they left, none later than the range allows.
    const delays = sends(result.traceLines!).map((line) => line.at! - line.t)
    const long = delays.filter((delay) => delay > electionTimeoutMaxUs)
    expect(long.length).toBeGreaterThan(0)
    expect(long.every((delay) => delay >= 3000_000 && delay <= 4010_000)).toBe(true)
    expect(long.length / delays.length).toBeLessThan(0.1)
    expect(result.checks.filter((check) => !check.ok)).toEqual([])
  })

  it("a network without long delays draws nothing for them: an explicit zero rate leaves the trace hash as it was", () => {
    const plain = runScenario(raft({}), { seed: 3, protocols: builtinProtocols })
    const zero = runScenario(raft({ longDelayRate: 0, longDelayMs: [3000, 4000] }), { seed: 3, protocols: builtinProtocols })
    const some = runScenario(raft({ longDelayRate: 0.05 }), { seed: 3, protocols: builtinProtocols })
    expect(zero.traceHash).toBe(plain.traceHash)
    expect(some.traceHash).not.toBe(plain.traceHash)
  })

  it("a stall clogs both directions of a link for seconds, then unclogs both at once", () => {
    const scenario = scenarioFromObject({ protocol: "raft", nodes: 5, duration: "60s", faults: { random: { stalls: { ratePerSecond: 0.2 } } } })
    const faults = planRandomFaults(scenario.random, ["n1", "n2", "n3", "n4", "n5"], scenario.durationMs, new RandomStream(1, "nemesis"))
    const clogs = faults.filter((entry) => entry.fault._tag === "Clog")
    expect(clogs.length).toBeGreaterThan(2)
    for (const clog of clogs) {
      const { from, to } = clog.fault as { from: string; to: string }
      expect(clogs.some((other) => other.atMs === clog.atMs && (other.fault as { from: string }).from === to)).toBe(true)
      const unclog = faults.find(
        (entry) => entry.fault._tag === "Unclog" && entry.atMs > clog.atMs && JSON.stringify(entry.fault) === JSON.stringify({ _tag: "Unclog", from, to })
      )
      const unclogs = faults.filter((entry) => entry.fault._tag === "Unclog" && entry.atMs === unclog!.atMs)
      expect(unclogs.map((entry) => entry.fault)).toContainEqual({ _tag: "Unclog", from: to, to: from })
      // A stall lasts its drawn 1-5 s unless the safety phase ends first.
      if (unclog!.atMs < scenario.durationMs - 1) expect(unclog!.atMs - clog.atMs).toBeGreaterThanOrEqual(999)
    }
  })

  it("swarm draws long delays of seconds for some seeds and none for others", () => {
    const scenario = loadScenario(RAFT)
    const draws = Array.from({ length: 40 }, (_, index) => swarmScenario(scenario, index + 1, builtinProtocols))
    const delayed = draws.filter(({ draw }) => draw.longDelayRate > 0)
    expect(delayed.length).toBeGreaterThan(5)
    expect(delayed.length).toBeLessThan(35)
    for (const { scenario: drawn, draw } of delayed) {
      expect(draw.longDelayMs[0]).toBeGreaterThanOrEqual(2000)
      expect(drawn.network.defaults.longDelayRate).toBe(draw.longDelayRate)
    }
    const quiet = draws.find(({ draw }) => draw.longDelayRate === 0)!
    expect(quiet.scenario.network.defaults.longDelayRate).toBeUndefined()
    expect(draws.some(({ draw }) => draw.random.stalls.ratePerSecond > 0)).toBe(true)
  })

  it.each([
    [{ longDelayRate: 1.5 }, "network.longDelayRate"],
    [{ longDelayMs: [5000, 1000] }, "network.longDelayMs: the upper bound 1000 is below the lower bound 5000"],
    [{ longDelayMs: [-1, 1000] }, "network.longDelayMs"]
  ])("a bad long-delay field %o is named in one line", (network, message) => {
    expect(() => raft(network)).toThrow(message)
  })
})

describe("shrinking knobs and the network", () => {
  const fifoScenario = () => loadScenario("test/fixtures/broadcast-fifo-only.yaml")
  const buggy = new Map([...builtinProtocols, ["causal-broadcast-fifo-only", causalBroadcastProtocol("causal-broadcast-fifo-only", fifoOnly)] as const])

  it("returns every knob and the network to the scenario's own when the failure does not need them, and every kept step fails the same way", () => {
    // Set up: a swarm seed of the FIFO-only bug; it drew knobs and a reordering network.
    const base = fifoScenario()
    const { scenario } = swarmScenario(base, 2, buggy)
    expect(scenario.options).not.toEqual(base.options)

    // Act: shrink, keeping every step's scenario.
    const kept: Array<Scenario> = []
    const result = shrinkFailure(scenario, 2, { protocols: buggy, knobDefaults: base.options, onStep: (_, step) => kept.push(step) })

    // Check: knobs back, network quiet, and each kept step, rerun, fails as the original did.
    expect(result.shrunk.options).toEqual(base.options)
    const defaults = result.shrunk.network.defaults
    expect([defaults.lossRate, defaults.duplicateRate, defaults.reorderRate, defaults.longDelayRate ?? 0]).toEqual([0, 0, 0, 0])
    expect(kept.length).toBeGreaterThan(3)
    for (const step of kept) expect(failsTheSameWay(result.originalResult, result.check, runScenario(step, { seed: 2, protocols: buggy }))).toBe(true)
  })

  it("keeps a knob the failure needs: a bug that shows only with maxBatch 8 keeps maxBatch 8", () => {
    // Set up: causal broadcast that is FIFO-only exactly when maxBatch is 8, and a seed that drew 8 and fails.
    const correct = builtinProtocols.get("causal-broadcast")!
    const fifo = causalBroadcastProtocol("fifo-at-batch-8", fifoOnly)
    const knobBug: ProtocolDefinition = { ...correct, name: "fifo-at-batch-8", build: (run) => (run.options.maxBatch === 8 ? fifo : correct).build(run) }
    const protocols = new Map([...builtinProtocols, [knobBug.name, knobBug] as const])
    const base = { ...fifoScenario(), protocol: knobBug.name }
    const seed = Array.from({ length: 60 }, (_, index) => index + 1).find((candidate) => {
      const drawn = swarmScenario(base, candidate, protocols)
      return drawn.draw.knobs.maxBatch === 8 && !runScenario(drawn.scenario, { seed: candidate, protocols }).ok
    })
    expect(seed, "a seed that draws maxBatch 8 and fails").toBeDefined()

    // Act
    const result = shrinkFailure(swarmScenario(base, seed!, protocols).scenario, seed!, { protocols, knobDefaults: base.options, maxRuns: 120 })

    // Check: the knob the failure hangs on stayed; the repro fails; back at the default it passes.
    expect(result.shrunk.options.maxBatch).toBe(8)
    expect(result.shrunkResult.ok).toBe(false)
    const { maxBatch: _, ...withoutKnob } = result.shrunk.options
    expect(runScenario({ ...result.shrunk, options: withoutKnob }, { seed: seed!, protocols }).ok).toBe(true)
  })

  it("a smaller network that fails another way is not kept (a liveness failure needs its loss)", () => {
    // Set up: anti-entropy off and a lossy network: messages are lost for good, which eventual-delivery catches.
    const broken = smallBroadcastScenario({ options: { syncIntervalMs: 1_000_000 }, network: { lossRate: 0.2, latency: { distribution: "uniform", minMs: 1, maxMs: 20 } } })
    const protocols = builtinProtocols
    const seed = [1, 2, 3, 4, 5].find((candidate) => !runScenario(broken, { seed: candidate, protocols }).ok)!

    // Act
    const result = shrinkFailure(broken, seed, { protocols, maxRuns: 60 })

    // Check: without loss nothing is lost, so the loss stays.
    expect(result.check).toBe("eventual-delivery")
    expect(result.shrunk.network.defaults.lossRate).toBeGreaterThan(0)
  })
})
