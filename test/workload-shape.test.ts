// Workload shapes: where clients send requests (follow-leader, pinned, random), named mixes and a hot
// key, Raft servers forwarding for clients that do not look for the leader, and the swarm's draw of a
// shape per seed, which `run --swarm` and `replay` reproduce exactly.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import type { ProtocolDefinition } from "../src/definition/protocol.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { causalBroadcastProtocol } from "../src/protocols/causal-broadcast/definition.ts"
import { Random } from "../src/env/index.ts"
import { chooseKey, MIX_NAMES, pinnedServer, PLACEMENTS } from "../src/protocols/kv/index.ts"
import { resolveMix } from "../src/protocols/kv/workload-schema.ts"
import type { ClientRequest } from "../src/protocols/raft/client-messages.ts"
import { FORWARDED_MAX, makeForwarding } from "../src/protocols/raft/forwarding.ts"
import { buildProtocol, runScenario, type RunResult } from "../src/sim/run.ts"
import { loadScenario, type Scenario, scenarioFromObject } from "../src/sim/scenario.ts"
import { failsTheSameWay, shrinkFailure } from "../src/sim/shrink.ts"
import { swarmScenario } from "../src/sim/swarm-faults.ts"
import { knobAllows } from "../src/sim/swarm-knobs.ts"
import { fifoOnly } from "./fixtures/broadcast-bugs.ts"
import { runCli } from "./fixtures/cli.ts"

const RAFT = "scenarios/raft-random-faults.yaml"
const directory = mkdtempSync(join(tmpdir(), "faultline-workload-"))
afterAll(() => rmSync(directory, { recursive: true, force: true }))

/** A short Raft run on three servers with a workload of the given shape. */
const smallRaft = (workload: Record<string, unknown>, protocol = "raft"): Scenario =>
  scenarioFromObject({
    protocol,
    nodes: 3,
    duration: "3s",
    liveness: "4s",
    workload: { clients: 3, operationsPerClient: 40, thinkMs: 40, ...workload },
    network: { latency: { distribution: "uniform", minMs: 1, maxMs: 6 } }
  })

/** Every ClientRequest a client sent, with the server it went to, from a kept trace. */
const clientSends = (result: RunResult): Array<{ from: string; to: string; request: ClientRequest }> =>
  (result.traceLines ?? [])
    .map((line) => JSON.parse(line) as { e: string; from?: string; to?: string; msg?: { _tag?: string } })
    .filter((line) => line.e === "send" && line.msg?._tag === "ClientRequest" && line.from!.startsWith("c"))
    .map((line) => ({ from: line.from!, to: line.to!, request: line.msg as ClientRequest }))

const failures = (result: RunResult) => result.checks.filter((check) => !check.ok).map((check) => `${check.name}: ${check.violations[0]?.message}`)

/** A Random service that hands out the given draws in turn, for the key choice. */
const scriptedRandom = (draws: ReadonlyArray<number>) => {
  let next = 0
  const take = () => draws[next++ % draws.length]!
  return Layer.succeed(Random, { next: Effect.sync(take), nextInt: (bound: number) => Effect.sync(() => Math.floor(take() * bound)) })
}

describe("workload shape choices", () => {
  it("pinned clients spread over the servers in turn", () => {
    const servers = ["n1", "n2", "n3"]
    expect([1, 2, 3, 4, 5].map((process) => pinnedServer(servers, process))).toEqual(["n1", "n2", "n3", "n1", "n2"])
  })

  it("a named mix gives its weights; given weights keep the balanced mix's for those left out", () => {
    const presets = { balanced: { read: 1, write: 1 }, "read-heavy": { read: 4, write: 1 }, "write-heavy": { read: 1, write: 4 } }
    expect(resolveMix(undefined, presets)).toEqual({ read: 1, write: 1 })
    expect(resolveMix("read-heavy", presets)).toEqual({ read: 4, write: 1 })
    expect(resolveMix({ write: 3 }, presets)).toEqual({ read: 1, write: 3 })
  })

  it("a hot-key share of 0 draws one key per operation, as workloads always did; above 0 it first draws whether the key is hot", () => {
    const pool = ["k1", "k2", "k3", "k4"]
    const run = (hotKeyShare: number, draws: ReadonlyArray<number>) =>
      Effect.runSync(Effect.provide(Effect.gen(function*() {
        return yield* chooseKey(yield* Random, { pool, hot: ["k1"], hotKeyShare })
      }), scriptedRandom(draws)))
    // Uncontended: the one draw picks the key (0.6 of four keys is k3).
    expect(run(0, [0.6])).toBe("k3")
    // Contended: 0.5 is below a share of 0.9, so the key is the hot one; 0.95 is not, so 0.6 picks k3.
    expect(run(0.9, [0.5, 0.6])).toBe("k1")
    expect(run(0.9, [0.95, 0.6])).toBe("k3")
  })
})

describe("Raft servers forward for clients that do not look for the leader", () => {
  const request = (requestId: string, forward: boolean): ClientRequest => ({
    _tag: "ClientRequest",
    requestId,
    clientId: "c1",
    sequence: 1,
    operation: { _tag: "Get", key: "k1" },
    ...(forward ? { forward: true } : {})
  })

  it("a follower that knows the leader passes the request on without the flag and relays the reply once; otherwise it handles it", () => {
    // Set up
    const forwarding = makeForwarding()
    const follower = { self: "n2", role: "Follower", leader: "n1" }

    // Act
    const routed = forwarding.route("c1", request("c1:1:1", true), follower)
    const reply = { _tag: "ClientReply" as const, requestId: "c1:1:1", outcome: { _tag: "Ok" as const } }

    // Check: forwarded to the leader, not to be forwarded again; the reply goes back to c1, once.
    expect(routed?.to).toBe("n1")
    expect(routed?.request.forward).toBeUndefined()
    expect(forwarding.relay(reply)).toBe("c1")
    expect(forwarding.relay(reply)).toBeUndefined()
    expect(forwarding.route("c1", request("c1:1:2", false), follower)).toBeUndefined()
    expect(forwarding.route("c1", request("c1:1:3", true), { ...follower, role: "Leader", leader: "n2" })).toBeUndefined()
    expect(forwarding.route("c1", request("c1:1:4", true), { ...follower, leader: null })).toBeUndefined()
  })

  it("at most FORWARDED_MAX requests wait; the oldest is forgotten first", () => {
    const forwarding = makeForwarding()
    const follower = { self: "n2", role: "Follower", leader: "n1" }
    for (let index = 0; index <= FORWARDED_MAX; index++) forwarding.route(`c${index}`, request(`r${index}`, true), follower)
    const reply = (requestId: string) => ({ _tag: "ClientReply" as const, requestId, outcome: { _tag: "Ok" as const } })
    expect(forwarding.relay(reply("r0"))).toBeUndefined()
    expect(forwarding.relay(reply(`r${FORWARDED_MAX}`))).toBe(`c${FORWARDED_MAX}`)
  })
})

describe("client placement in a Raft run", () => {
  it("pinned clients send every request to their own server, which forwards it; they all make progress and stay linearizable", () => {
    const result = runScenario(smallRaft({ placement: "pinned" }), { seed: 3, keepTrace: true, protocols: builtinProtocols })
    const sends = clientSends(result)
    expect(sends.length).toBeGreaterThan(0)
    for (const send of sends) {
      expect(send.to).toBe(`n${send.from.slice(1)}`)
      expect(send.request.forward).toBe(true)
    }
    // Two of the three clients are pinned to followers: their operations succeed only by forwarding.
    const succeeded = new Set(result.history!.filter((event) => event.type === "ok").map((event) => event.process))
    expect([...succeeded].sort()).toEqual([1, 2, 3])
    expect(failures(result)).toEqual([])
  })

  it("random clients send to several servers; followers of the leader by default send no forward flag", () => {
    const random = runScenario(smallRaft({ placement: "random" }), { seed: 3, keepTrace: true, protocols: builtinProtocols })
    const following = runScenario(smallRaft({}), { seed: 3, keepTrace: true, protocols: builtinProtocols })
    const targets = new Set(clientSends(random).filter((send) => send.from === "c1").map((send) => send.to))
    expect(targets.size).toBeGreaterThan(1)
    expect(clientSends(following).every((send) => send.request.forward === undefined)).toBe(true)
    expect(failures(random)).toEqual([])
  })

  it("a read-heavy mix reads most, a hot-key share of 0.9 puts most operations on the contended keys", () => {
    const result = runScenario(smallRaft({ mix: "read-heavy", hotKeyShare: 0.9 }), { seed: 5, protocols: builtinProtocols })
    const invokes = result.history!.filter((event) => event.type === "invoke")
    const reads = invokes.filter((event) => event.f === "read").length
    const hot = invokes.filter((event) => event.key === "k1" || event.key === "k2").length
    expect(reads / invokes.length).toBeGreaterThan(0.6)
    expect(hot / invokes.length).toBeGreaterThan(0.8)
  })

  it("a scenario naming an unknown placement or mix is refused, naming the field", () => {
    const build = (workload: Record<string, unknown>) => () => buildProtocol(builtinProtocols.get("raft")!, smallRaft(workload))
    expect(build({ placement: "sticky" })).toThrow(/workload\.placement/)
    expect(build({ mix: "delete-heavy" })).toThrow(/workload\.mix/)
    expect(build({ hotKeyShare: 1.5 })).toThrow(/workload\.hotKeyShare/)
  })
})

describe("the swarm draws a workload shape per seed", () => {
  it("from a stream of its own: the same seed draws the same shape, within the declared values, and the faults and knobs it drew before", () => {
    const scenario = loadScenario(RAFT)
    const shapes = builtinProtocols.get("raft")!.workloadKnobs!
    const withoutShapes = new Map([["raft", { ...builtinProtocols.get("raft")!, workloadKnobs: undefined }]])
    const draws = Array.from({ length: 40 }, (_, index) => swarmScenario(scenario, index + 1, builtinProtocols))
    for (const [index, { scenario: drawn, draw }] of draws.entries()) {
      const seed = index + 1
      const before = swarmScenario(scenario, seed, withoutShapes)
      expect(draw.workload).toEqual(swarmScenario(scenario, seed, builtinProtocols).draw.workload)
      expect({ ...draw, workload: {} }).toEqual(before.draw)
      expect(before.scenario.workload).toEqual(scenario.workload)
      for (const knob of shapes) {
        expect(knobAllows(knob, draw.workload[knob.name]), `${knob.name} = ${String(draw.workload[knob.name])}`).toBe(true)
        expect(drawn.workload[knob.name]).toBe(draw.workload[knob.name])
      }
      expect(() => buildProtocol(builtinProtocols.get("raft")!, drawn)).not.toThrow()
    }
    expect(new Set(draws.map(({ draw }) => draw.workload["placement"]))).toEqual(new Set(PLACEMENTS))
    expect(new Set(draws.map(({ draw }) => draw.workload["mix"]))).toEqual(new Set(MIX_NAMES))
  })

  it("run --swarm prints the drawn shape and runs it; replay of its report runs the recorded shape to the same hash", () => {
    // Set up: a short scenario, and a seed that draws pinned clients.
    const file = join(directory, "short.yaml")
    writeFileSync(
      file,
      "protocol: raft\nnodes: 3\nduration: 2s\nliveness: 4s\nworkload: { clients: 3, operationsPerClient: 30, thinkMs: 40 }\n"
    )
    const scenario = loadScenario(file)
    const seed = Array.from({ length: 30 }, (_, index) => index + 1).find((candidate) =>
      swarmScenario(scenario, candidate, builtinProtocols).draw.workload["placement"] === "pinned"
    )!
    const expected = runScenario(swarmScenario(scenario, seed, builtinProtocols).scenario, { seed, protocols: builtinProtocols })

    // Act
    const run = runCli(["run", file, "--seed", String(seed), "--swarm", "--json"])
    const report = JSON.parse(run.stdout) as { traceHash: string; workload: Record<string, unknown> }
    writeFileSync(join(directory, "run.json"), run.stdout)
    const replay = runCli(["replay", join(directory, "run.json")])
    const text = runCli(["run", file, "--seed", String(seed), "--swarm"])

    // Check
    expect(run.status, run.stderr).toBe(0)
    expect(report.workload).toEqual(swarmScenario(scenario, seed, builtinProtocols).draw.workload)
    expect(report.traceHash).toBe(expected.traceHash)
    expect(replay.status, replay.stdout).toBe(0)
    expect(replay.stdout).toContain(`✓ replay matches: trace hash ${expected.traceHash}`)
    expect(text.stdout).toMatch(/ {2}workload {5}placement pinned, mix \S+, hotKeyShare [\d.]+/)
  })
})

describe("shrinking returns the drawn workload shape to the scenario's own", () => {
  it("when the failure does not need it, and the step fails the same way", () => {
    // Set up: the FIFO-only broadcast bug, whose definition lets the swarm draw a workload field
    // that does not matter to it, and a seed that drew a value unlike the scenario's and fails.
    const fifo: ProtocolDefinition = {
      ...causalBroadcastProtocol("fifo-shaped", fifoOnly),
      workloadKnobs: [{ _tag: "OneOf", name: "messagesPerNode", values: [16, 20] }]
    }
    const protocols = new Map([...builtinProtocols, [fifo.name, fifo] as const])
    const base = { ...loadScenario("test/fixtures/broadcast-fifo-only.yaml"), protocol: fifo.name }
    const seed = Array.from({ length: 20 }, (_, index) => index + 1).find((candidate) =>
      !runScenario(swarmScenario(base, candidate, protocols).scenario, { seed: candidate, protocols }).ok
    )!
    const drawn = swarmScenario(base, seed, protocols).scenario
    expect(drawn.workload["messagesPerNode"]).not.toBe(base.workload["messagesPerNode"])

    // Act
    const kept: Array<{ description: string; scenario: Scenario }> = []
    const result = shrinkFailure(drawn, seed, {
      protocols,
      maxRuns: 60,
      knobDefaults: base.options,
      workloadDefaults: base.workload,
      onStep: (description, scenario) => kept.push({ description, scenario })
    })

    // Check: the shape went back to the scenario's 12 messages per node, and that run fails as the original did.
    const back = kept.find((step) => step.description === "workload messagesPerNode back to 12")
    expect(back, kept.map((step) => step.description).join("; ")).toBeDefined()
    expect(back!.scenario.workload["messagesPerNode"]).toBe(12)
    expect(failsTheSameWay(result.originalResult, result.check, runScenario(back!.scenario, { seed, protocols }))).toBe(true)
  })
})
