// The library API users' tests import: simulate(), the arbitraries and the property helpers, and the README that shows them.
import { readFileSync } from "node:fs"
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  assertProperty,
  checkProperty,
  type HistoryEvent,
  Network,
  networkModelArbitrary,
  type NodeProgram,
  ScenarioError,
  serverIds,
  simulate,
  type SimulateOptions,
  SimulationPropertyError,
  Tracing,
  workloadArbitrary,
  type WorkloadItem
} from "../src/index.ts"
import { CounterChecker, counterNode } from "./fixtures/user-protocol.ts"
import { parseKeptTrace } from "./fixtures/trace.ts"

const increments: ReadonlyArray<WorkloadItem<number>> = [
  { atMs: 0, node: "n1", operation: 2 },
  { atMs: 300, node: "n2", operation: 3 },
  { atMs: 700, node: "n3", operation: 1 }
]

/** The README's counter on a network whose latencies are drawn from the seed. */
const counterOptions = (overrides: Partial<SimulateOptions> & { buggy?: boolean } = {}): SimulateOptions => {
  const { buggy = false, ...rest } = overrides
  return {
    seed: 1,
    nodes: 3,
    node: () => counterNode({ increments, buggy }),
    durationMs: 1_000,
    livenessMs: 500,
    network: { latency: { _tag: "Uniform", minMs: 1, maxMs: 10 } },
    checkers: () => [new CounterChecker()],
    ...rest
  }
}

const partitionN1 = { atMs: 0, fault: { _tag: "Partition", groups: [["n1"], ["n2", "n3"]] } } as const

describe("simulate", () => {
  it("is deterministic: the same seed gives the same trace hash and events", () => {
    const first = simulate(counterOptions({ seed: 7 }))
    const second = simulate(counterOptions({ seed: 7 }))
    expect(second.traceHash).toBe(first.traceHash)
    expect(second.events).toEqual(first.events)
    expect(first.ok).toBe(true)
  })

  it("gives another run for another seed", () => {
    const hashes = new Set([1, 2, 3].map((seed) => simulate(counterOptions({ seed })).traceHash))
    expect(hashes.size).toBe(3)
  })

  it("returns every Tracing event in order, and the trace lines when asked", () => {
    const result = simulate(counterOptions({ keepTrace: true }))
    const increments = result.events.filter((event) => event.name === "increment")
    expect(increments.map((event) => [event.node, event.attributes["count"]])).toEqual([
      ["n1", 2],
      ["n2", 3],
      ["n3", 1]
    ])
    const times = result.events.map((event) => event.timeUs)
    expect(times).toEqual([...times].sort((left, right) => left - right))
    // Every protocol event is a trace line too, and the trace starts with the run line.
    const lines = parseKeptTrace(result.trace)
    expect(lines.filter((line) => line.e === "event")).toHaveLength(result.events.length)
    expect(lines[0]).toEqual({ t: 0, e: "run", protocol: "user-protocol", seed: 1, nodes: 3 })
    expect(simulate(counterOptions()).trace).toBeUndefined()
  })

  it("reports a checker's violation in ok, checks and violations", () => {
    // Set up: the buggy counter sends each increment once, and a partition cuts n1 off until the liveness phase.
    const result = simulate(counterOptions({ buggy: true, faults: [partitionN1] }))
    expect(result.ok).toBe(false)
    expect(result.checks.map((check) => [check.name, check.ok])).toEqual([
      ["node-failed", true],
      ["convergence", false]
    ])
    expect(result.violations.map((violation) => violation.message)).toEqual([
      "node n1 counts 2, but 6 was added",
      "node n2 counts 4, but 6 was added",
      "node n3 counts 4, but 6 was added"
    ])
    expect(result.faults).toEqual([partitionN1])
    // The fixed counter repairs the same loss by gossip once the partition heals.
    expect(simulate(counterOptions({ faults: [partitionN1] })).ok).toBe(true)
  })

  it("reports a node program that dies as node-failed", () => {
    const dying: NodeProgram = Effect.die(new Error("assertion failed: term went backwards"))
    const result = simulate({ seed: 1, nodes: 2, node: () => dying, durationMs: 100 })
    expect(result.ok).toBe(false)
    expect(result.checks[0]).toMatchObject({ name: "node-failed", ok: false })
    expect(result.violations[0]!.message).toMatch(/node n1 failed: .*term went backwards/)
  })

  it("runs clients beside the servers, and builds a history from their events", () => {
    // Set up: a client writes once to every server; each server traces what it receives.
    const server: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      const tracing = yield* Tracing
      while (true) {
        const { from, message } = yield* network.receive
        yield* tracing.event("received", { from, message })
      }
    })
    const client: NodeProgram = Effect.gen(function*() {
      const network = yield* Network
      const tracing = yield* Tracing
      yield* tracing.event("invoke", { servers: network.nodes })
      for (const node of network.nodes) yield* network.send(node, { _tag: "Write", value: 1 })
    })
    const history = (events: ReadonlyArray<{ readonly name: string; readonly timeUs: number }>): Array<HistoryEvent> =>
      events
        .filter((event) => event.name === "invoke")
        .map((event, index) => ({ index, process: 1, type: "invoke", f: "write", key: "x", value: 1, time: event.timeUs * 1000 }))
    // Act.
    const result = simulate({ seed: 1, nodes: 2, node: () => server, clients: [{ id: "c1", program: client }], durationMs: 50, history })
    // Check: clients are not in Network.nodes, and reach every server.
    expect(result.events.find((event) => event.node === "c1")!.attributes).toEqual({ servers: ["n1", "n2"] })
    expect(result.events.filter((event) => event.name === "received").map((event) => [event.node, event.attributes["from"]])).toEqual([
      ["n1", "c1"],
      ["n2", "c1"]
    ])
    expect(result.history).toEqual([{ index: 0, process: 1, type: "invoke", f: "write", key: "x", value: 1, time: 0 }])
  })

  it("refuses to run a checker instance twice", () => {
    const checker = new CounterChecker()
    simulate(counterOptions({ checkers: [checker] }))
    expect(() => simulate(counterOptions({ checkers: [checker] }))).toThrow(/checkers: \(\) => \[new MyChecker\(\)\]/)
  })

  it.each([
    ["no servers", { nodes: 0 }, /simulate\(\): nodes: /],
    ["a fault on an unknown node", { faults: [{ atMs: 5, fault: { _tag: "Crash", node: "n9", torn: false } }] }, /faults\[0\]\.fault: unknown node n9/],
    ["a loss rate above 1", { network: { lossRate: 2 } }, /network\.lossRate: expected a probability in \[0, 1\], got 2/],
    ["a uniform latency upside down", { network: { latency: { _tag: "Uniform", minMs: 5, maxMs: 1 } } }, /network\.latency: maxMs: must not be below minMs/],
    ["a client named like a server", { clients: [{ id: "n1", program: Effect.void }] }, /clients\[0\]\.id: n1 is already a server/]
  ] as const)("names the bad option: %s", (_, overrides, message) => {
    expect(() => simulate(counterOptions(overrides as Partial<SimulateOptions>))).toThrow(ScenarioError)
    expect(() => simulate(counterOptions(overrides as Partial<SimulateOptions>))).toThrow(message)
  })
})

describe("arbitraries", () => {
  it("networkModelArbitrary stays within its bounds and shrinks towards a perfect network", () => {
    const arbitrary = networkModelArbitrary({ maxLossRate: 0.2, maxDuplicateRate: 0.1, maxReorderRate: 0.3, minLatencyMs: 2, maxLatencyMs: 30 })
    fc.assert(
      fc.property(arbitrary, ({ defaults, links }) => {
        expect(links).toEqual([])
        expect(defaults.lossRate).toBeGreaterThanOrEqual(0)
        expect(defaults.lossRate).toBeLessThanOrEqual(0.2)
        expect(defaults.duplicateRate).toBeLessThanOrEqual(0.1)
        expect(defaults.reorderRate).toBeLessThanOrEqual(0.3)
        const latency = defaults.latency
        const bounds = latency._tag === "Uniform" ? [latency.minMs, latency.maxMs] : latency._tag === "Constant" ? [latency.ms] : []
        expect(bounds.length).toBeGreaterThan(0)
        for (const ms of bounds) expect(ms >= 2 && ms <= 30).toBe(true)
      })
    )
    // A property that fails on any loss shrinks to exactly the smallest lossy network it can find.
    const details = fc.check(fc.property(arbitrary, (model) => model.defaults.lossRate === 0), { seed: 3 })
    expect(details.failed).toBe(true)
    const shrunk = details.counterexample![0].defaults
    expect(shrunk.latency).toEqual({ _tag: "Constant", ms: 2 })
    expect([shrunk.duplicateRate, shrunk.reorderRate, shrunk.reorderWindowMs]).toEqual([0, 0, 0])
  })

  it("the fixed counter converges on any generated lossy, duplicating, reordering network", () => {
    const networks = networkModelArbitrary({ maxLossRate: 0.3, maxDuplicateRate: 0.2, maxReorderRate: 0.5 })
    const runs = fc.record({ seed: fc.integer({ min: 1, max: 1_000_000 }), network: networks })
    assertProperty(runs, ({ seed, network }) => simulate(counterOptions({ seed, network })), { numRuns: 40 })
  })

  it("workloadArbitrary draws sorted, timed operations for the given nodes", () => {
    const nodes = serverIds(3)
    const arbitrary = workloadArbitrary({ nodes, durationMs: 500, operation: fc.constantFrom("read", "write"), minItems: 1, maxItems: 5 })
    fc.assert(
      fc.property(arbitrary, (items) => {
        expect(items.length).toBeGreaterThanOrEqual(1)
        expect(items.length).toBeLessThanOrEqual(5)
        expect(items.map((item) => item.atMs)).toEqual(items.map((item) => item.atMs).sort((left, right) => left - right))
        for (const item of items) {
          expect(nodes).toContain(item.node)
          expect(item.atMs >= 0 && item.atMs < 500).toBe(true)
          expect(["read", "write"]).toContain(item.operation)
        }
      })
    )
  })
})

describe("property helpers", () => {
  const runs = fc.record({ seed: fc.integer({ min: 1, max: 1_000_000 }), lossRate: fc.double({ min: 0, max: 0.5, noNaN: true }) })
  const lossyBuggyCounter = ({ seed, lossRate }: { seed: number; lossRate: number }) =>
    simulate(counterOptions({ seed, buggy: true, network: { lossRate } }))

  it("assertProperty throws with the simulation seed, the violation and the fast-check seed and path", () => {
    let thrown: unknown
    try {
      assertProperty(runs, lossyBuggyCounter, { seed: 11 })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(SimulationPropertyError)
    const report = (thrown as SimulationPropertyError<{ seed: number; lossRate: number }>).report
    const message = (thrown as Error).message
    expect(message).toContain(`simulation seed  ${report.result!.seed}`)
    expect(message).toMatch(/violated {9}convergence at 1\.500 s: node n\d counts \d+, but 6 was added/)
    expect(message).toContain(`fast-check       seed 11, path "${report.path}"`)
    expect(message).toContain(`{ seed: 11, path: "${report.path}", endOnFailure: true }`)
    expect(report.result!.seed).toBe(report.counterexample.seed)
  })

  it("replays the shrunk counterexample from the printed seed and path", () => {
    const failed = checkProperty(runs, lossyBuggyCounter, { seed: 5 })
    if (failed._tag !== "Failed") throw new Error("the buggy counter should fail on a lossy network")
    const replayed = checkProperty(runs, lossyBuggyCounter, { seed: failed.seed, path: failed.path, endOnFailure: true })
    if (replayed._tag !== "Failed") throw new Error("the replay should fail too")
    expect(replayed.counterexample).toEqual(failed.counterexample)
    expect(replayed.result!.traceHash).toBe(failed.result!.traceHash)
  })

  it("reports a run that throws, and a property that holds", () => {
    const throwing = checkProperty(fc.constant(0), () => simulate(counterOptions({ nodes: -1 })))
    expect(throwing._tag).toBe("Failed")
    expect(throwing._tag === "Failed" && throwing.message).toMatch(/threw {12}simulate\(\): nodes: /)
    const passing = checkProperty(fc.integer({ min: 1, max: 100 }), (seed) => simulate(counterOptions({ seed })), { numRuns: 5 })
    expect(passing).toMatchObject({ _tag: "Passed", numRuns: 5 })
  })
})

describe("the README", () => {
  it("shows the example's protocol and test exactly as the suite runs them", () => {
    // Set up: the README's section, and the two files with the imports a user would write.
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const section = readme.slice(readme.indexOf("## Testing your own protocol"))
    const asShown = (file: string) =>
      readFileSync(new URL(file, import.meta.url), "utf8")
        .replaceAll('"../../src/index.ts"', '"faultline"')
        .replaceAll('"../src/index.ts"', '"faultline"')
        .replaceAll('"./fixtures/user-protocol.ts"', '"./counter.ts"')
    // Check: each file appears verbatim as a fenced TypeScript block.
    expect(section).toContain("```ts\n" + asShown("./fixtures/user-protocol.ts") + "```")
    expect(section).toContain("```ts\n" + asShown("./readme-example.test.ts") + "```")
  })
})
