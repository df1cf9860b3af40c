// The shipped Raft runs unchanged on real services: three servers on loopback, two clients outside the peer list, checked by the simulator's Raft checker.
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Fiber } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { ProtocolEvent } from "../src/check/checker.ts"
import { RaftChecker } from "../src/check/raft.ts"
import { raftClient, type RaftClientOptions } from "../src/protocols/raft/client.ts"
import { defaultRaftServerOptions, raftServer } from "../src/protocols/raft/server.ts"
import { defaultTracePath, LOOPBACK_HOST, type RealNodeConfig, runRealNode } from "../src/real/index.ts"
import { parseTraceEvents } from "../src/trace/index.ts"
import { freePorts } from "./fixtures/real-ports.ts"

const secret = Buffer.from("a cluster secret of more than sixteen bytes")
const directories: Array<string> = []

afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

describe("Raft on real nodes", () => {
  it("serves two clients linearizably, with one leader per term", async () => {
    // Set up: three servers that know each other, and two clients (c1, c2) that only know the servers.
    const root = mkdtempSync(join(tmpdir(), "faultline-real-raft-"))
    directories.push(root)
    const servers = ["n1", "n2", "n3"]
    const ports = await freePorts(3)
    const peers = Object.fromEntries(servers.map((id, index) => [id, { host: LOOPBACK_HOST, port: ports[index]! }]))
    const originUnixMs = Date.now()
    const logs: Array<string> = []
    const config = (self: string, listen: RealNodeConfig["listen"]): RealNodeConfig => ({
      self,
      listen,
      peers,
      secret,
      dataDirectory: join(root, self),
      createDataDirectory: true,
      clockOriginUnixMs: originUnixMs,
      log: (line) => logs.push(line)
    })
    const clientOptions: RaftClientOptions = {
      servers,
      keys: ["k1", "k2", "k3", "k4"],
      operations: 15,
      thinkMs: 20,
      requestTimeoutMs: 300,
      operationTimeoutMs: 5000,
      mix: { read: 2, write: 2, cas: 1, append: 2, delete: 0.5 }
    }
    // Act: run the servers, then the clients to completion, then stop the servers.
    const serverFibers = servers.map((self, index) => runRealNode(raftServer(servers, defaultRaftServerOptions), config(self, { port: ports[index]! })))
    const clientFibers = [1, 2].map((process) => runRealNode(raftClient(process, clientOptions), config(`c${process}`, undefined)))
    const clientExits = await Effect.runPromise(Effect.all(clientFibers.map(Fiber.await)))
    await Effect.runPromise(Fiber.interruptAll(serverFibers))
    // Check: the clients finished, and the merged traces satisfy every Raft rule.
    for (const exit of clientExits) expect(Exit.isSuccess(exit)).toBe(true)
    const events: Array<ProtocolEvent> = []
    for (const self of [...servers, "c1", "c2"]) {
      const parsed = parseTraceEvents(readFileSync(defaultTracePath(join(root, self)), "utf8"), self)
      if (typeof parsed === "string") throw new Error(parsed)
      events.push(...parsed)
    }
    events.sort((a, b) => a.timeUs - b.timeUs)
    const checker = new RaftChecker({ livenessBoundMs: 20_000, linearizabilityBudgetMs: 10_000 })
    checker.onLivenessStart(0)
    for (const event of events) checker.onEvent(event)
    checker.finish({ timeUs: events.at(-1)!.timeUs, up: servers })
    expect(checker.violations).toEqual([])
    expect(checker.notes).toEqual([])
    const history = events.filter((event) => event.name === "history").map((event) => event.attributes["type"])
    expect(history.filter((type) => type === "invoke")).toHaveLength(30)
    // Most operations succeed on a healthy cluster; a leader must have been elected and served them.
    expect(history.filter((type) => type === "ok").length).toBeGreaterThan(15)
    expect(events.filter((event) => event.name === "becomeLeader").length).toBeGreaterThanOrEqual(1)
    expect(logs.filter((line) => line.includes("refused"))).toEqual([])
  }, 60_000)
})
