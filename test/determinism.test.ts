// Same seed, same trace; another seed, another trace; hidden nondeterminism is caught and located.
import { readdirSync } from "node:fs"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Network, Random } from "../src/env/index.ts"
import { checkDeterminism } from "../src/sim/determinism.ts"
import { perfectNetwork } from "../src/sim/network-model.ts"
import { Simulation } from "../src/sim/simulation.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario, scenarioFromObject } from "../src/sim/scenario.ts"
import { formatTraceLine, parseTraceFile, parseTraceLine } from "../src/trace/index.ts"
import { nondeterministicProtocol } from "./fixtures/nondeterministic-protocol.ts"
import { smallBroadcastScenario } from "./fixtures/scenarios.ts"

describe("determinism", () => {
  it("the same seed gives the same trace hash, another seed another", () => {
    const scenario = smallBroadcastScenario()
    const first = runScenario(scenario, { seed: 11, protocols: builtinProtocols })
    const again = runScenario(scenario, { seed: 11, protocols: builtinProtocols })
    const other = runScenario(scenario, { seed: 12, protocols: builtinProtocols })
    expect(again.traceHash).toBe(first.traceHash)
    expect(other.traceHash).not.toBe(first.traceHash)
  })

  it("adding a node does not reshuffle another node's random draws", () => {
    // Each node draws from its own stream, split from the seed by its id.
    const drawsOfN1 = (nodes: number) => {
      const draws: Array<number> = []
      const simulation = new Simulation({ seed: 5, network: perfectNetwork(), keepTrace: false })
      for (let index = 1; index <= nodes; index++) {
        simulation.addNode(
          `n${index}`,
          Effect.gen(function*() {
            const random = yield* Random
            const network = yield* Network
            for (let draw = 0; draw < 5; draw++) {
              const value = yield* random.next
              if (network.self === "n1") draws.push(value)
            }
          })
        )
      }
      simulation.runUntil(1000)
      return draws
    }
    expect(drawsOfN1(3)).toEqual(drawsOfN1(5))
    expect(new Set(drawsOfN1(3)).size).toBe(5)
  })

  it.each(readdirSync("scenarios").filter((name) => name.endsWith(".yaml")))(
    "shipped scenario %s is deterministic for seed 7, and every trace line is valid and canonical",
    (name) => {
      const report = checkDeterminism(loadScenario(`scenarios/${name}`), { seed: 7, protocols: builtinProtocols })
      expect(report.divergence).toBeUndefined()
      expect(report.first.traceHash).toBe(report.second.traceHash)
      // Each line parses, and the serializer gives back its very bytes: what the simulator
      // writes and what a reader takes in are one schema.
      const lines = parseTraceFile(report.first.traceLines!.join("\n"), name)
      if (typeof lines === "string") expect.fail(lines)
      expect(lines.map(formatTraceLine)).toEqual(report.first.traceLines)
    }
  )

  it("catches a protocol that reads Math.random and names the first diverging event", () => {
    const scenario = scenarioFromObject({ protocol: "nondeterministic-gossip", nodes: 4, duration: "1s" })
    const protocols = new Map([[nondeterministicProtocol.name, nondeterministicProtocol]])
    const report = checkDeterminism(scenario, { seed: 7, protocols })
    expect(report.divergence).toBeDefined()
    const { firstLine, secondLine } = report.divergence!
    // The first difference is a send whose destination differs: the Math.random draw.
    expect(parseTraceLine(firstLine!)).toMatchObject({ e: "send" })
    expect(parseTraceLine(secondLine!)).toMatchObject({ e: "send" })
    expect(firstLine).not.toBe(secondLine)
  })
})
