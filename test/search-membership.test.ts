// Shard movement in the sharded search: which shards move on a join or leave, how clients route during a move,
// the shipped join scenario, and a property: across moves under generated faults no acknowledged insert is lost,
// every answer is complete or flagged partial, and once healed every final replica holds every acknowledged insert.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ScenarioError } from "../src/definition/index.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { makeShardMap, replicasOf, Routing, searchProtocol, shardMoves, withMembers } from "../src/protocols/search/index.ts"
import { ReleasedShards } from "../src/protocols/search/released-shards.ts"
import { faultScheduleArbitrary } from "../src/sim/arbitraries.ts"
import { runScenario, type RunResult } from "../src/sim/run.ts"
import { loadScenario, scenarioFromObject, serverIds } from "../src/sim/scenario.ts"

const failed = (result: RunResult) => result.checks.filter((check) => !check.ok).map((check) => `${check.name}: ${check.violations[0]?.message}`)

interface TraceEvent {
  readonly t: number
  readonly node: string
  readonly name: string
  readonly attrs: Record<string, unknown>
}

const eventsOf = (result: RunResult): Array<TraceEvent> =>
  (result.traceLines ?? []).map((line) => JSON.parse(line) as { e: string } & TraceEvent).filter((line) => line.e === "event")

/** The ids each node holds of each shard at the end: its `stored` entries, cut back at each `recover` to what was recovered. */
const holdings = (events: ReadonlyArray<TraceEvent>): Map<string, Array<number>> => {
  const logs = new Map<string, Array<number>>()
  for (const event of events) {
    const key = `${event.node}/${String(event.attrs["shard"])}`
    if (event.name === "stored") {
      const log = logs.get(key) ?? []
      log[event.attrs["position"] as number] = event.attrs["id"] as number
      logs.set(key, log)
    } else if (event.name === "recover") {
      const log = logs.get(key) ?? []
      log.length = Math.min(log.length, event.attrs["entries"] as number)
      logs.set(key, log)
    }
  }
  return logs
}

describe("shard moves", () => {
  const before = makeShardMap({ shards: 4, nodes: serverIds(4), replicationFactor: 3 })

  it("a join moves only the shards whose replicas change, each to its new owner from a node that held it", () => {
    // Reference: Dynamo §4.9 — a joining node takes over ranges, and the nodes that no longer own them hand them over.
    const after = withMembers(before, serverIds(5))
    const moves = shardMoves(before, after)
    expect(moves.length).toBeGreaterThan(0)
    for (const shard of before.shards) {
      const move = moves.find((candidate) => candidate.shard === shard)
      if (move === undefined) {
        expect(replicasOf(after, shard)).toEqual(replicasOf(before, shard))
        continue
      }
      expect(move.after).toEqual(replicasOf(after, shard))
      expect(move.transfers.map((transfer) => transfer.to)).toEqual(move.after.filter((node) => !move.before.includes(node)))
      for (const transfer of move.transfers) expect(move.before).toContain(transfer.from)
    }
  })

  it("a leave hands every shard of the leaving node to a node that did not hold it", () => {
    const after = withMembers(before, ["n1", "n3", "n4"])
    const moves = shardMoves(before, after)
    const held = before.shards.filter((shard) => replicasOf(before, shard).includes("n2"))
    expect(moves.map((move) => move.shard).sort()).toEqual(held)
    for (const move of moves) {
      expect(move.after).not.toContain("n2")
      expect(move.transfers).toHaveLength(1)
      expect(move.before).not.toContain(move.transfers[0]!.to)
    }
  })
})

describe("routing during a move", () => {
  it("writes go to old and new replicas, count at the old ones, and queries stay on the old ones until every new owner is ready", () => {
    // Set up: a client's routing, told of n5's join.
    const routing = new Routing(makeShardMap({ shards: 4, nodes: serverIds(4), replicationFactor: 3 }))
    const moves = routing.adopt(1, serverIds(5))
    const move = moves[0]!
    // Check: during the move.
    expect(routing.isMoving(move.shard)).toBe(true)
    expect(new Set(routing.writeTargets(move.shard))).toEqual(new Set([...move.before, ...move.after]))
    expect(routing.quorumOf(move.shard)).toEqual(move.before)
    expect(routing.queryReplicas(move.shard)).toEqual(move.before)
    // Act: a stale epoch, and a node that gains nothing, say ready; then the new owner does.
    expect(routing.onReady(0, move.shard, "n5")).toBe(false)
    expect(routing.onReady(1, move.shard, move.before[0]!)).toBe(false)
    expect(routing.isMoving(move.shard)).toBe(true)
    expect(routing.onReady(1, move.shard, move.transfers[0]!.to)).toBe(move.transfers.length === 1)
    // Check: taken over.
    expect(routing.queryReplicas(move.shard)).toEqual(move.after)
    expect(routing.quorumOf(move.shard)).toEqual(move.after)
    expect(routing.adopt(1, serverIds(5))).toEqual([])
  })
})

describe("released shards", () => {
  it("a released shard lingers while asked for, is unloaded after the linger unused, and is loaded again when asked for or held again", () => {
    // Set up: a replica holding s0 and s1 adopts a membership that moves s0 away (linger 100 ms).
    const released = new ReleasedShards(100)
    expect(released.any).toBe(false)
    const adopted = released.adopt(["s1"], ["s0", "s1"])
    expect(adopted).toEqual({ releasing: ["s0"], reload: [] })
    released.released(adopted.releasing, 1000)
    // Act and check: asked for at 1050, so still in use at 1120; unused since then, due at 1150.
    expect(released.touch("s0")).toBe(false)
    expect(released.touch("s1")).toBe(false)
    expect(released.idle(1050)).toEqual([])
    expect(released.idle(1120)).toEqual([])
    expect(released.idle(1150)).toEqual(["s0"])
    released.unload("s0")
    expect(released.isUnloaded("s0")).toBe(true)
    expect(released.idle(5000)).toEqual([])
    // A late message for it loads it again, and its linger starts over.
    expect(released.touch("s0")).toBe(true)
    released.reloaded("s0", false, 6000)
    expect(released.isUnloaded("s0")).toBe(false)
    expect(released.idle(6000)).toEqual([])
    expect(released.idle(6100)).toEqual(["s0"])
    released.unload("s0")
    // A membership that gives it back asks for it to be loaded; once held it never lingers.
    expect(released.adopt(["s0", "s1"], ["s1"])).toEqual({ releasing: [], reload: ["s0"] })
    released.reloaded("s0", true, 7000)
    expect(released.any).toBe(false)
    expect(released.idle(99_000)).toEqual([])
  })
})

describe("scenarios/search-node-join.yaml", () => {
  it("n5 copies the shards it gains (one source crashes mid-copy), clients take them over, and every check holds", () => {
    // Half the vectors and queries, spaced so they still run from before the join (1 s) to after the last takeover (about 1.9 s).
    const scenario = loadScenario("scenarios/search-node-join.yaml")
    const result = runScenario({ ...scenario, workload: { ...scenario.workload, vectors: 600, queriesPerClient: 30, thinkMs: 60 } }, { seed: 1, protocols: builtinProtocols, keepTrace: true })
    expect(failed(result)).toEqual([])
    const events = eventsOf(result)
    const copied = events.filter((event) => event.name === "shardCopy").map((event) => event.attrs["shard"])
    const ready = events.filter((event) => event.name === "shardReady").map((event) => event.attrs["shard"])
    const takeovers = events.filter((event) => event.name === "shardTakeover")
    expect(copied.length).toBeGreaterThan(0)
    expect([...ready].sort()).toEqual([...copied].sort())
    expect(takeovers).toHaveLength(copied.length * 2)
    // The copy from n2 stalls while n2 is down (1.02 s to 1.8 s) and completes only after it is back.
    const fromN2 = events.find((event) => event.name === "shardCopy" && event.attrs["source"] === "n2")!
    const readyFromN2 = events.find((event) => event.name === "shardReady" && event.attrs["shard"] === fromN2.attrs["shard"])
    expect(readyFromN2?.t).toBeGreaterThan(1_800_000)
    // The nodes that gave shards up unload them once no one has asked for them for a while, after every client took
    // them over, and serve them no more; no other shard is unloaded.
    const map = makeShardMap({ shards: 4, nodes: serverIds(4), replicationFactor: 3 })
    const givenUp = shardMoves(map, withMembers(map, serverIds(5)))
      .flatMap((move) => move.before.filter((node) => !move.after.includes(node)).map((node) => `${node}/${move.shard}`))
    const unloads = events.filter((event) => event.name === "shardUnloaded")
    expect(unloads.map((event) => `${event.node}/${String(event.attrs["shard"])}`).sort()).toEqual(givenUp.sort())
    for (const unload of unloads) {
      const shard = unload.attrs["shard"]
      expect(unload.t).toBeGreaterThan(Math.max(...takeovers.filter((event) => event.attrs["shard"] === shard).map((event) => event.t)))
      expect(events.filter((event) => event.name === "served" && event.node === unload.node && event.attrs["shard"] === shard && event.t > unload.t)).toEqual([])
    }
    expect(result.notes.find((note) => note.startsWith("search:"))).toMatch(/recall@10 (0\.9[5-9]|1\.0)/)
  })
})

describe("a shard given up and given back", () => {
  it("is loaded again from its log when a later membership gives it back, and loses nothing", () => {
    // Set up: n5 joins and leaves again, long enough after for the nodes that gave shards up to have unloaded them.
    const scenario = scenarioFromObject({
      protocol: "search",
      nodes: 5,
      duration: 3000,
      liveness: 500,
      options: { shards: 4, replicationFactor: 3, writeQuorum: 2, initialNodes: 4 },
      workload: { vectors: 300, clients: 2, queriesPerClient: 30, thinkMs: 50, membership: [{ at: 300, join: "n5" }, { at: 2000, leave: "n5" }] },
      network: { latency: { distribution: "uniform", minMs: 1, maxMs: 4 } }
    })
    // Act.
    const result = runScenario(scenario, { seed: 3, protocols: builtinProtocols, keepTrace: true })
    // Check: every check holds; each node unloaded what it gave up before the leave and loaded it again after it.
    expect(failed(result)).toEqual([])
    const events = eventsOf(result)
    const named = (name: string) => events.filter((event) => event.name === name).map((event) => `${event.node}/${String(event.attrs["shard"])}`)
    const unloadedBeforeLeave = events.filter((event) => event.name === "shardUnloaded" && event.t < 2_000_000)
    expect(unloadedBeforeLeave.length).toBeGreaterThan(0)
    expect(named("shardReloaded").sort()).toEqual(unloadedBeforeLeave.map((event) => `${event.node}/${String(event.attrs["shard"])}`).sort())
    // The reloaded replicas hold every acknowledged insert of their shard, as the ones that never left do.
    const held = holdings(events)
    const acked = events.filter((event) => event.name === "ok" && event.attrs["op"] === "insert")
    const deleted = new Set(events.filter((event) => event.name === "invoke" && event.attrs["op"] === "delete").map((event) => event.attrs["id"]))
    for (const key of named("shardReloaded")) {
      const shard = key.split("/")[1]
      const expected = acked.filter((event) => event.attrs["shard"] === shard && !deleted.has(event.attrs["id"])).map((event) => event.attrs["id"] as number)
      expect(expected.length).toBeGreaterThan(0)
      expect(expected.filter((id) => !(held.get(key) ?? []).includes(id)), key).toEqual([])
    }
  })
})

/** A move under faults: a join of n5 or a leave of n2 at a generated time. */
const moveCase = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  atMs: fc.integer({ min: 0, max: 1200 }),
  step: fc.constantFrom<{ join: string } | { leave: string }>({ join: "n5" }, { leave: "n2" }),
  faults: faultScheduleArbitrary({ nodes: serverIds(5), durationMs: 1800, maxFaults: 5 })
})

/** Runs one move case; the safety checks must hold, and once healed each final replica must hold each acknowledged insert. */
const checkMove = ({ seed, atMs, step, faults }: typeof moveCase extends fc.Arbitrary<infer A> ? A : never): void => {
  const joining = "join" in step
  const scenario = {
    ...scenarioFromObject({
      protocol: "search",
      nodes: 5,
      duration: 2000,
      liveness: 2500,
      options: { shards: 4, replicationFactor: 3, writeQuorum: 2, initialNodes: joining ? 4 : 5 },
      workload: { vectors: 400, clients: 2, writeWindow: 8, queriesPerClient: 10, membership: [{ at: atMs, ...step }] },
      network: { latency: { distribution: "uniform", minMs: 1, maxMs: 4 } },
      disk: { syncLatency: { distribution: "uniform", minMs: 1, maxMs: 5 } }
    }),
    scheduled: faults
  }
  const result = runScenario(scenario, { seed, protocols: builtinProtocols, keepTrace: true })
  const safety = ["node-failed", "acked-durable", "no-lost-insert", "partial-flagged", "no-duplicates"]
  const broken = result.checks.filter((check) => safety.includes(check.name) && !check.ok)
  expect(broken.map((check) => check.violations[0]?.message), `simulation seed ${seed}`).toEqual([])
  // Every write is retried until each of its replicas has it, so by the end the new owners hold what was acknowledged.
  const events = eventsOf(result)
  const acked = events.filter((event) => event.name === "ok" && event.attrs["op"] === "insert")
  const deleted = new Set(events.filter((event) => event.name === "invoke" && event.attrs["op"] === "delete").map((event) => event.attrs["id"]))
  const final = withMembers(makeShardMap({ shards: 4, nodes: serverIds(5), replicationFactor: 3 }), joining ? serverIds(5) : ["n1", "n3", "n4", "n5"])
  const held = holdings(events)
  const missing = acked.filter((event) => !deleted.has(event.attrs["id"])).flatMap((event) => {
    const shard = String(event.attrs["shard"])
    return replicasOf(final, shard).filter((node) => !(held.get(`${node}/${shard}`) ?? []).includes(event.attrs["id"] as number))
      .map((node) => `${node} lacks ${String(event.attrs["id"])} of ${shard}`)
  })
  expect(missing.slice(0, 5), `simulation seed ${seed}, ${JSON.stringify(step)} at ${atMs} ms`).toEqual([])
}

describe("property: shard moves lose nothing acknowledged", () => {
  it("holds for a join or a leave at a generated time under generated fault schedules", () => {
    fc.assert(fc.property(moveCase, checkMove), { numRuns: 5 })
  })
})

describe("search membership input", () => {
  it("names the step that would leave fewer nodes than the replication factor", () => {
    const build = () => searchProtocol().build({
      file: "s.yaml", protocol: "search", nodes: 5,
      options: { replicationFactor: 3, initialNodes: 4 },
      workload: { membership: [{ at: "1s", leave: "n1" }, { at: "2s", leave: "n2" }] }
    })
    expect(build).toThrow(new ScenarioError("s.yaml: workload.membership[1].leave: the ring would keep 2 nodes, fewer than options.replicationFactor (3)"))
  })
})
