// Whole real nodes: a protocol runs unchanged on real services, stops cleanly when interrupted, and its trace feeds the same checker.
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Fiber } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { CausalBroadcastChecker } from "../src/check/causal-broadcast.ts"
import type { ProtocolEvent } from "../src/check/checker.ts"
import { Clock, type NodeProgram, Random, StorageError, Tracing } from "../src/env/index.ts"
import { causalBroadcastNode, defaultCausalBroadcastOptions } from "../src/protocols/causal-broadcast/index.ts"
import {
  defaultTracePath,
  LOOPBACK_HOST,
  makeRealClock,
  makeRealRandom,
  type RealNodeConfig,
  runRealNode
} from "../src/real/index.ts"
import { parseTraceEvents, parseTraceFile, type TraceLine } from "../src/trace/index.ts"
import { parseKeptTrace } from "./fixtures/trace.ts"
import { perfectNetwork } from "../src/sim/network-model.ts"
import { Simulation } from "../src/sim/simulation.ts"
import { freePorts } from "./fixtures/real-ports.ts"

const secret = Buffer.from("a cluster secret of more than sixteen bytes")
const WAIT_MS = 20_000
const directories: Array<string> = []

afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

const waitFor = async (condition: () => boolean, what: string): Promise<void> => {
  const deadline = performance.now() + WAIT_MS
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, LOOPBACK_HOST, () => server.close(() => resolve(true)))
  })

describe("real nodes", () => {
  it("run causal broadcast on three nodes; interrupted, they free their ports and their traces pass the simulator's checker", async () => {
    // Set up: three nodes of the causal broadcast protocol, unchanged, on loopback.
    const root = mkdtempSync(join(tmpdir(), "faultline-real-node-"))
    directories.push(root)
    const ids = ["n1", "n2", "n3"]
    const ports = await freePorts(3)
    const peers = Object.fromEntries(ids.map((id, index) => [id, { host: LOOPBACK_HOST, port: ports[index]! }]))
    const delivered = new Map<string, number>(ids.map((id) => [id, 0]))
    const logs: Array<string> = []
    const options = { ...defaultCausalBroadcastOptions, messagesPerNode: 5, broadcastIntervalMs: 30, syncIntervalMs: 50 }
    const originUnixMs = Date.now()
    const configs: Array<RealNodeConfig> = ids.map((self, index) => ({
      self,
      listen: { host: LOOPBACK_HOST, port: ports[index]! },
      peers,
      secret,
      dataDirectory: join(root, self),
      createDataDirectory: true,
      clockOriginUnixMs: originUnixMs,
      log: (line) => logs.push(line),
      onEvent: (event) => {
        if (event.name === "deliver") delivered.set(self, delivered.get(self)! + 1)
      }
    }))
    // Act: run until every node delivered all 15 messages, then interrupt them.
    const fibers = configs.map((config) => runRealNode(causalBroadcastNode(options), config))
    await waitFor(() => ids.every((id) => delivered.get(id) === 15), "every node to deliver 15 messages")
    await Effect.runPromise(Fiber.interruptAll(fibers))
    // Check: the ports are free again, and the traces, flushed, hold every delivery.
    for (const port of ports) expect(await canListen(port)).toBe(true)
    const checker = new CausalBroadcastChecker()
    const events: Array<ProtocolEvent> = []
    for (const config of configs) {
      const parsed = parseTraceEvents(readFileSync(defaultTracePath(config.dataDirectory), "utf8"), config.self)
      if (typeof parsed === "string") throw new Error(parsed)
      expect(parsed.filter((event) => event.name === "deliver")).toHaveLength(15)
      events.push(...parsed)
    }
    // With one clock origin, the nodes' lines merge into one timeline.
    events.sort((a, b) => a.timeUs - b.timeUs)
    for (const event of events) checker.onEvent(event)
    checker.finish({ timeUs: events.at(-1)!.timeUs, up: ids })
    expect(checker.violations).toEqual([])
    expect(logs.filter((line) => line.includes("refused"))).toEqual([])
  }, 60_000)

  it("an interrupted node leaves nothing open: its process exits by itself", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures/real-node-child.ts")], { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    // A leaked socket or timer would keep the child alive; it is killed after a generous bound.
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("exit", (exitCode, exitSignal) => resolve([exitCode, exitSignal])))
    clearTimeout(killer)
    expect({ code, signal, output }).toEqual({ code: 0, signal: null, output: "stopped\n" })
  }, 60_000)

  it("writes event and span lines in exactly the simulator's format", async () => {
    const program: NodeProgram = Effect.gen(function*() {
      const tracing = yield* Tracing
      yield* tracing.event("becomeLeader", { term: 3, votes: ["n1", "n2"] })
      yield* tracing.span("persist", { entries: 2 }, Effect.void)
    })
    // The simulator's lines for the same program.
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(), keepTrace: true })
    simulation.addNode("n1", program)
    simulation.runUntil(1000)
    const simulated = parseKeptTrace(simulation.trace.lines)
    // The real node's lines.
    const root = mkdtempSync(join(tmpdir(), "faultline-real-node-"))
    directories.push(root)
    const config: RealNodeConfig = { self: "n1", peers: {}, secret, dataDirectory: root, tracePath: `${root}.trace.jsonl`, log: () => {} }
    const exit = await Effect.runPromise(Fiber.await(runRealNode(program, config)))
    expect(Exit.isSuccess(exit)).toBe(true)
    const real = parseTraceFile(readFileSync(config.tracePath!, "utf8"), config.tracePath!)
    rmSync(config.tracePath!)
    if (typeof real === "string") expect.fail(real)
    // Keys in the order each world wrote them, as well as the values.
    const shape = (line: TraceLine) => {
      const fields: Record<string, unknown> = { ...line }
      return { keys: Object.keys(fields), e: line.e, name: fields["name"], attrs: fields["attrs"] }
    }
    expect(real.filter((line) => line.e !== "start").map(shape)).toEqual(simulated.map(shape))
    expect(real[0]).toMatchObject({ e: "start", node: "n1", pid: process.pid })
  })

  it("fails to start with one error naming a data directory that does not exist", async () => {
    const missing = join(tmpdir(), `faultline-missing-${process.pid}`, "n1")
    const fiber = runRealNode(Effect.void, { self: "n1", peers: {}, secret, dataDirectory: missing, tracePath: null, log: () => {} })
    const exit = await Effect.runPromise(Fiber.await(fiber))
    expect(exit).toEqual(Exit.fail(new StorageError({ file: missing, reason: `data directory ${missing} does not exist` })))
  })

  it("the clock counts from the node's start and its timers wait at least as long as asked", async () => {
    const clock = makeRealClock().service
    const result = await Effect.runPromise(Effect.gen(function*() {
      const start = yield* clock.now
      yield* clock.sleep(50)
      const end = yield* clock.now
      return { start, end }
    }))
    expect(result.start).toBeGreaterThanOrEqual(0)
    expect(result.start).toBeLessThan(1000)
    // setTimeout may fire up to a millisecond early by performance.now(); late is fine.
    expect(result.end - result.start).toBeGreaterThanOrEqual(49)
    // An interrupted sleep ends at once, not when its timer would have fired.
    const started = performance.now()
    const fiber = Effect.runFork(clock.sleep(60_000))
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(performance.now() - started).toBeLessThan(WAIT_MS)
  })

  it("random draws stay in range and cover it", async () => {
    const random = makeRealRandom()
    const draws = await Effect.runPromise(Effect.gen(function*() {
      const doubles: Array<number> = []
      const ints: Array<number> = []
      for (let index = 0; index < 2000; index++) {
        doubles.push(yield* random.next)
        ints.push(yield* random.nextInt(7))
      }
      return { doubles, ints }
    }))
    expect(draws.doubles.every((value) => value >= 0 && value < 1)).toBe(true)
    expect(new Set(draws.ints)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6]))
    // 2,000 uniform draws: each half of [0, 1) gets far more than a quarter of them.
    expect(draws.doubles.filter((value) => value < 0.5).length).toBeGreaterThan(500)
    expect(draws.doubles.filter((value) => value >= 0.5).length).toBeGreaterThan(500)
    const bad = await Effect.runPromiseExit(random.nextInt(0))
    expect(Exit.isFailure(bad)).toBe(true)
  })

  it("Clock and Random are the services a protocol asks for", async () => {
    const root = mkdtempSync(join(tmpdir(), "faultline-real-node-"))
    directories.push(root)
    const seen: Array<number> = []
    const program: NodeProgram = Effect.gen(function*() {
      seen.push(yield* (yield* Clock).now)
      seen.push(yield* (yield* Random).next)
    })
    const exit = await Effect.runPromise(Fiber.await(runRealNode(program, { self: "n1", peers: {}, secret, dataDirectory: root, tracePath: null, log: () => {} })))
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(seen).toHaveLength(2)
  })
})
