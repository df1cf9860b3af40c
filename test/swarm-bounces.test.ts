// Bounces: a server killed and restarted within milliseconds, as a process supervisor restarts it.
// The nemesis plans them within maxDown, swarm draws them for some seeds from a stream of their own,
// and a seed that drew them replays exactly.
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { planRandomFaults } from "../src/sim/nemesis.ts"
import { RandomStream } from "../src/sim/random-streams.ts"
import { checkDeterminism } from "../src/sim/determinism.ts"
import { loadScenario, type ScheduledFault, scenarioFromObject } from "../src/sim/scenario.ts"
import { scenarioToInput } from "../src/sim/scenario-writer.ts"
import { describeDraw, swarmScenario } from "../src/sim/swarm-faults.ts"

const SERVERS = ["n1", "n2", "n3", "n4", "n5"]

const plan = (random: Record<string, unknown>): Array<ScheduledFault> => {
  const scenario = scenarioFromObject({ protocol: "raft", nodes: 5, duration: "60s", faults: { random } })
  return planRandomFaults(scenario.random, SERVERS, scenario.durationMs, new RandomStream(7, "nemesis"))
}

/** The most servers down (crashed or paused) at once over a schedule. */
const mostDown = (faults: ReadonlyArray<ScheduledFault>): number => {
  const down = new Set<string>()
  let most = 0
  for (const { fault } of faults) {
    if (fault._tag === "Crash" || fault._tag === "Pause") down.add(fault.node)
    if (fault._tag === "Restart" || fault._tag === "Resume") down.delete(fault.node)
    most = Math.max(most, down.size)
  }
  return most
}

describe("bounces", () => {
  it("crash a server without tearing a write and restart it within the drawn milliseconds", () => {
    const faults = plan({ bounces: { ratePerSecond: 2, durationMs: [1, 20] } })
    const crashes = faults.filter((entry) => entry.fault._tag === "Crash")
    expect(crashes.length).toBeGreaterThan(60)
    for (const crash of crashes) {
      const node = (crash.fault as { node: string }).node
      expect(crash.fault).toEqual({ _tag: "Crash", node, torn: false })
      const restart = faults.find((entry) => entry.atMs >= crash.atMs && entry.fault._tag === "Restart" && entry.fault.node === node)
      expect(restart!.atMs - crash.atMs).toBeGreaterThanOrEqual(0)
      expect(restart!.atMs - crash.atMs).toBeLessThanOrEqual(20)
    }
  })

  it("leave every other fault a scenario draws as it was, and keep within maxDown together with crashes and pauses", () => {
    const others = { crashes: { ratePerSecond: 0.5, durationMs: [300, 3000] }, pauses: { ratePerSecond: 0.5 }, partitions: { ratePerSecond: 0.2 }, maxDown: 2 }
    const without = plan(others)
    const withBounces = plan({ ...others, bounces: { ratePerSecond: 5 } })
    expect(withBounces.length).toBeGreaterThan(without.length + 100)
    const remaining = withBounces.map((entry) => JSON.stringify(entry))
    for (const entry of without) {
      const index = remaining.indexOf(JSON.stringify(entry))
      expect(index).toBeGreaterThanOrEqual(0)
      remaining.splice(index, 1)
    }
    expect(mostDown(without)).toBeLessThanOrEqual(2)
    expect(mostDown(withBounces)).toBe(2)
  })

  it("are drawn by swarm for some seeds only, printed with the draw, and written out with the scenario", () => {
    const scenario = loadScenario("scenarios/raft-random-faults.yaml")
    const draws = Array.from({ length: 40 }, (_, index) => swarmScenario(scenario, index + 1, builtinProtocols))
    const bouncing = draws.filter(({ draw }) => draw.random.bounces.ratePerSecond > 0)
    expect(bouncing.length).toBeGreaterThan(5)
    expect(bouncing.length).toBeLessThan(35)
    const first = bouncing[0]!
    expect(describeDraw(first.draw)).toMatch(/bounces \d+\.\d\d\/s/)
    expect(scenarioToInput(first.scenario)).toMatchObject({ faults: { random: { bounces: first.draw.random.bounces } } })
    const quiet = draws.find(({ draw }) => draw.random.bounces.ratePerSecond === 0)!
    expect(describeDraw(quiet.draw)).not.toMatch(/bounces/)
  })

  it("a seed that drew bounces runs twice to the same trace", () => {
    const scenario = loadScenario("scenarios/raft-random-faults.yaml")
    const seed = Array.from({ length: 40 }, (_, index) => index + 1).find(
      (candidate) => swarmScenario(scenario, candidate, builtinProtocols).draw.random.bounces.ratePerSecond > 0.5
    )!
    const drawn = swarmScenario(scenario, seed, builtinProtocols).scenario
    const short = { ...drawn, durationMs: 6000, livenessMs: 2000 }
    const report = checkDeterminism(short, { seed, protocols: builtinProtocols })
    expect(report.first.faults.some((entry) => entry.fault._tag === "Restart")).toBe(true)
    expect(report.divergence).toBeUndefined()
  })
})
