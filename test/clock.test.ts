// Node clocks: offsets, drift and steps change what a node reads, and drift changes how long its timers take.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Clock, type NodeProgram, Tracing } from "../src/env/index.ts"
import { perfectNetwork } from "../src/sim/network-model.ts"
import { Simulation } from "../src/sim/simulation.ts"
import { parseKeptTrace } from "./fixtures/trace.ts"

/** Records the true time (µs) and the local reading (ms) after each of `count` sleeps of `sleepMs`. */
const sleeper = (simulation: () => Simulation, log: Array<[number, number]>, sleepMs: number, count: number): NodeProgram =>
  Effect.gen(function*() {
    const clock = yield* Clock
    for (let index = 0; index < count; index++) {
      yield* clock.sleep(sleepMs)
      log.push([simulation().timeUs, yield* clock.now])
    }
  })

describe("node clocks", () => {
  it("an offset shifts the local reading and nothing else", () => {
    const log: Array<[number, number]> = []
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(), keepTrace: false })
    simulation.addNode("n1", sleeper(() => simulation, log, 100, 3))
    simulation.setClockOffset("n1", 5000)
    simulation.runUntil(1_000_000)
    expect(log).toEqual([
      [100_000, 5100],
      [200_000, 5200],
      [300_000, 5300]
    ])
  })

  it("a clock that runs 10% fast reads 10% more and times out 10% sooner", () => {
    const log: Array<[number, number]> = []
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(), keepTrace: false })
    simulation.addNode("n1", sleeper(() => simulation, log, 110, 2))
    simulation.setClockDrift("n1", 0.1)
    simulation.runUntil(1_000_000)
    expect(log.map(([trueUs]) => trueUs)).toEqual([100_000, 200_000])
    expect(log[0]![1]).toBeCloseTo(110, 6)
    expect(log[1]![1]).toBeCloseTo(220, 6)
  })

  it("a step moves the reading but not a pending timer", () => {
    const log: Array<[number, number]> = []
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(), keepTrace: false })
    simulation.addNode("n1", sleeper(() => simulation, log, 100, 1))
    simulation.runUntil(50_000)
    simulation.stepClock("n1", -30_000)
    simulation.runUntil(1_000_000)
    expect(log).toEqual([[100_000, 100 - 30_000]])
  })

  it("two nodes with different offsets disagree by exactly the skew", () => {
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(), keepTrace: false })
    simulation.addNode("n1", Effect.never)
    simulation.addNode("n2", Effect.never)
    simulation.setClockOffset("n2", 250)
    simulation.runUntil(1_234_000)
    expect(simulation.localTimeMs("n2") - simulation.localTimeMs("n1")).toBe(250)
  })
})

describe("tracing", () => {
  it("spans record the node's own clock next to true time", () => {
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(), keepTrace: true })
    simulation.addNode(
      "n1",
      Effect.gen(function*() {
        const tracing = yield* Tracing
        const clock = yield* Clock
        yield* tracing.span("work", { step: 1 }, clock.sleep(10))
      })
    )
    simulation.setClockOffset("n1", 1000)
    simulation.runUntil(100_000)
    const spans = parseKeptTrace(simulation.trace.lines).filter((line) => line.e === "span-start" || line.e === "span-end")
    expect(spans).toEqual([
      { t: 0, e: "span-start", node: "n1", span: 1, name: "work", attrs: { step: 1 }, localMs: 1000 },
      { t: 10_000, e: "span-end", node: "n1", span: 1, outcome: "ok", localMs: 1010 }
    ])
  })
})
