// The network model: fault rates within statistical bounds, one-way partitions, clogs, latency distributions.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Network, type NodeProgram } from "../src/env/index.ts"
import { drawLatencyUs, NetworkState, perfectNetwork } from "../src/sim/network-model.ts"
import { RandomStream } from "../src/sim/random-streams.ts"
import { Simulation } from "../src/sim/simulation.ts"
import { parseKeptTrace } from "./fixtures/trace.ts"

const withinSigmas = (observed: number, trials: number, probability: number, sigmas = 5) => {
  const mean = trials * probability
  const deviation = Math.sqrt(trials * probability * (1 - probability))
  expect(Math.abs(observed - mean)).toBeLessThanOrEqual(sigmas * deviation)
}

describe("network model", () => {
  it("loses and duplicates messages at the configured rates", () => {
    // Set up: a lossy, duplicating link.
    const base = perfectNetwork(1)
    const state = new NetworkState(
      { defaults: { ...base.defaults, lossRate: 0.2, duplicateRate: 0.1 }, links: [] },
      (label) => new RandomStream(42, label)
    )
    // Act: decide 20,000 messages.
    let lost = 0
    let duplicated = 0
    const trials = 20_000
    for (let index = 0; index < trials; index++) {
      const verdict = state.decide("n1", "n2")
      if (verdict._tag === "Drop") lost++
      else if (verdict.delaysUs.length === 2) duplicated++
    }
    // Check: both counts are within five standard deviations of their expectation.
    withinSigmas(lost, trials, 0.2)
    withinSigmas(duplicated, trials - lost, 0.1)
  })

  it("applies per-link overrides only to their link", () => {
    const state = new NetworkState(
      { ...perfectNetwork(1), links: [{ from: "n1", to: "n2", lossRate: 1 }] },
      (label) => new RandomStream(1, label)
    )
    expect(state.decide("n1", "n2")._tag).toBe("Drop")
    expect(state.decide("n2", "n1")._tag).toBe("Deliver")
  })

  it("draws latencies inside their distribution's support", () => {
    const random = new RandomStream(3, "latency")
    for (let index = 0; index < 2000; index++) {
      const uniform = drawLatencyUs({ _tag: "Uniform", minMs: 2, maxMs: 4 }, random)
      expect(uniform).toBeGreaterThanOrEqual(2000)
      expect(uniform).toBeLessThanOrEqual(4000)
      expect(drawLatencyUs({ _tag: "Exponential", meanMs: 5, minMs: 1 }, random)).toBeGreaterThanOrEqual(1000)
    }
    const tail = Array.from({ length: 20_000 }, () => drawLatencyUs({ _tag: "LongTail", medianMs: 10, p99Ms: 100 }, random))
    tail.sort((a, b) => a - b)
    // The median and 99th percentile land near what was asked for.
    expect(tail[10_000]! / 1000).toBeGreaterThan(9)
    expect(tail[10_000]! / 1000).toBeLessThan(11)
    expect(tail[19_800]! / 1000).toBeGreaterThan(80)
    expect(tail[19_800]! / 1000).toBeLessThan(125)
  })
})

/** Every node sends one numbered message to every other node each 10 ms; receipts are recorded. */
const chatter = (received: Array<string>): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    yield* Effect.forkChild(
      Effect.gen(function*() {
        for (let round = 0; round < 10; round++) {
          for (const peer of network.nodes) if (peer !== network.self) yield* network.send(peer, round)
          yield* Effect.sleep(10)
        }
      })
    )
    while (true) {
      const envelope = yield* network.receive
      received.push(`${envelope.from}>${network.self}`)
    }
  })

describe("partitions and clogs", () => {
  it("a one-way partition blocks exactly one direction", () => {
    // Set up: three nodes; n1 cannot reach n2, everything else works.
    const received: Array<string> = []
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(1), keepTrace: false })
    for (const id of ["n1", "n2", "n3"]) simulation.addNode(id, chatter(received))
    simulation.partitionOneWay(["n1"], ["n2"])
    // Act.
    simulation.runUntil(1_000_000)
    // Check: every link but n1>n2 carried all ten rounds; n1>n2 carried none.
    const count = (link: string) => received.filter((entry) => entry === link).length
    expect(count("n1>n2")).toBe(0)
    for (const link of ["n2>n1", "n1>n3", "n3>n1", "n2>n3", "n3>n2"]) expect(count(link)).toBe(10)
  })

  it("a symmetric partition blocks both directions between groups only", () => {
    const received: Array<string> = []
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(1), keepTrace: false })
    for (const id of ["n1", "n2", "n3"]) simulation.addNode(id, chatter(received))
    simulation.partition([["n1"], ["n2", "n3"]])
    simulation.runUntil(1_000_000)
    const count = (link: string) => received.filter((entry) => entry === link).length
    for (const link of ["n1>n2", "n2>n1", "n1>n3", "n3>n1"]) expect(count(link)).toBe(0)
    for (const link of ["n2>n3", "n3>n2"]) expect(count(link)).toBe(10)
  })

  it("a clogged link holds messages and releases them in order", () => {
    const order: Array<unknown> = []
    const receiver: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      while (true) order.push((yield* network.receive).message)
    })
    const sender: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      for (let index = 0; index < 5; index++) {
        yield* network.send("n2", index)
        yield* Effect.sleep(1)
      }
    })
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(1), keepTrace: false })
    simulation.addNode("n1", sender)
    simulation.addNode("n2", receiver)
    simulation.clog("n1", "n2")
    simulation.runUntil(100_000)
    expect(order).toEqual([])
    simulation.unclog("n1", "n2")
    simulation.runUntil(200_000)
    expect(order).toEqual([0, 1, 2, 3, 4])
  })
})

describe("receiveWithin", () => {
  it("returns a message that comes in time, undefined at the deadline, and leaves a late message for the next receive", () => {
    // Set up: n1 sends at 5 ms and at 50 ms; n2 waits 20 ms twice, then receives without a deadline.
    const seen: Array<string> = []
    const sender: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      yield* Effect.sleep(5)
      yield* network.send("n2", "early")
      yield* Effect.sleep(45)
      yield* network.send("n2", "late")
    })
    const receiver: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      const record = (envelope: { readonly message: unknown } | undefined, atMs: number) =>
        seen.push(`${envelope === undefined ? "none" : String(envelope.message)}@${atMs}`)
      const now = () => simulation.timeUs / 1000
      record(yield* network.receiveWithin(20), now())
      yield* Effect.sleep(15)
      record(yield* network.receiveWithin(20), now())
      record(yield* network.receive, now())
    })
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(1), keepTrace: false })
    simulation.addNode("n1", sender)
    simulation.addNode("n2", receiver)
    // Act.
    simulation.runUntil(200_000)
    // Check: "early" (sent at 5 ms, 1 ms latency) ends the first wait at 6 ms; the second wait
    // (from 21 ms) times out at 41 ms; "late" then arrives at 51 ms for the plain receive.
    expect(seen).toEqual(["early@6", "none@41", "late@51"])
  })

  it("stops waiting when its fiber is interrupted, so another receive may start", () => {
    const seen: Array<unknown> = []
    const receiver: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      // A shorter Effect timeout interrupts the 100 ms wait at 10 ms.
      yield* Effect.timeoutOption(network.receiveWithin(100), 10)
      seen.push((yield* network.receive).message)
    })
    const sender: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      yield* Effect.sleep(30)
      yield* network.send("n2", "after")
    })
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(1), keepTrace: false })
    simulation.addNode("n1", sender)
    simulation.addNode("n2", receiver)
    simulation.runUntil(200_000)
    expect(seen).toEqual(["after"])
    expect(simulation.violations).toEqual([])
  })
})

describe("message lines in the trace", () => {
  /** n1 sends "m" to n2 at 0 ms, 10 ms and 20 ms; n2 receives forever. */
  const setup = () => {
    const sender: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      for (let round = 0; round < 3; round++) {
        yield* network.send("n2", `m${round}`)
        yield* Effect.sleep(10)
      }
    })
    const receiver: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      while (true) yield* network.receive
    })
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(1), keepTrace: true })
    simulation.addNode("n1", sender)
    simulation.addNode("n2", receiver)
    return simulation
  }
  interface MessageRow {
    readonly kind: string
    readonly t: number
    readonly id: number
    readonly at: number | null
    readonly reason: string | null
  }
  const messageLines = (simulation: Simulation) =>
    parseKeptTrace(simulation.trace.lines).flatMap((line): Array<MessageRow> => {
      if (line.e === "send") return [{ kind: line.e, t: line.t, id: line.id, at: line.at ?? null, reason: null }]
      if (line.e === "hold" || line.e === "deliver") return [{ kind: line.e, t: line.t, id: line.id, at: null, reason: null }]
      if (line.e === "drop") return [{ kind: line.e, t: line.t, id: line.id, at: null, reason: line.reason }]
      return []
    })

  it("a message that arrives as planned has one line, whose `at` is its arrival", () => {
    const simulation = setup()
    simulation.runUntil(100_000)
    expect(messageLines(simulation).map((row) => [row.kind, row.t, row.at])).toEqual([
      ["send", 0, 1000],
      ["send", 10_000, 11_000],
      ["send", 20_000, 21_000]
    ])
  })

  it("a clogged message gets a hold line and a deliver line; one to a crashed node a drop line", () => {
    const simulation = setup()
    simulation.clog("n1", "n2")
    simulation.runUntil(5_000)
    simulation.unclog("n1", "n2")
    simulation.runUntil(15_000)
    simulation.crash("n2")
    simulation.runUntil(100_000)
    expect(messageLines(simulation).map((row) => [row.kind, row.t, row.id, row.reason])).toEqual([
      ["send", 0, 0, null],
      ["hold", 1000, 0, null],
      ["deliver", 5001, 0, null],
      ["send", 10_000, 1, null],
      ["send", 20_000, 2, null],
      ["drop", 21_000, 2, "down"]
    ])
  })
})
