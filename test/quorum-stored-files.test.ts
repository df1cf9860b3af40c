// A quorum node reads its files back after a restart, and a damaged one makes it refuse to start,
// naming the file: whole-file writes are never torn, so an unreadable file is damage, and skipping it
// would forget acknowledged values or restart request ids at incarnation 1.
import { Cause, Effect, Exit, Layer, Result } from "effect"
import { describe, expect, it } from "vitest"
import { Clock, disabledSpans, encodeText, Network, Storage, StorageCorruption, Tracing } from "../src/env/index.ts"
import { makePlacement } from "../src/protocols/hashring/index.ts"
import { empty, put } from "../src/protocols/quorum/index.ts"
import type { KeyState } from "../src/protocols/quorum-store/messages.ts"
import { quorumNode } from "../src/protocols/quorum-store/node.ts"
import { readDisk } from "../src/protocols/quorum-store/stored-files.ts"
import { SimulatedDisk } from "../src/sim/disk.ts"
import { storageOf } from "./fixtures/disk-storage.ts"
import { quorumConfig } from "./fixtures/quorum-config.ts"

const ADVICE = "(the file is damaged; restore it, or remove this node's data so it rejoins from its peers)"

const placement = makePlacement({ strategy: "consistent", nodes: ["n1", "n2", "n3"].map((id) => ({ id, weight: 1 })) })
const config = (self: string) => quorumConfig(self, placement)

const written: KeyState = put(empty(), {}, { value: "hello", timestampMs: 5 }, "n1")

/** A disk as a node that ran a while leaves it: every kind of file, synced. */
const healthyDisk = (): SimulatedDisk => {
  const disk = new SimulatedDisk()
  const files: Record<string, unknown> = {
    "incarnation.json": { incarnation: 3 },
    "membership.json": { epoch: 1, nodes: ["n1", "n2", "n3"] },
    "store-k1.json": { set: written, recentPuts: ["c1:1"] },
    "hints-k2.json": { n2: written },
    "puts-k3.json": { recentPuts: ["c2:4:1"] }
  }
  for (const [file, content] of Object.entries(files)) {
    disk.write(file, encodeText(JSON.stringify(content)))
    disk.sync(file)
  }
  return disk
}

/** `disk` with `file` replaced by `text`, synced: damage done while the node was down. */
const damage = (disk: SimulatedDisk, file: string, text: string): SimulatedDisk => {
  disk.write(file, encodeText(text))
  disk.sync(file)
  return disk
}

const silentTracing = Tracing.of({ event: () => Effect.void, span: (_name, _attributes, effect) => effect, spans: disabledSpans })

/**
 * Starts quorum node n1 on `disk`. Only recovery is reached when it fails, so the network and clock
 * are bare stand-ins: a node that got past recovery would fail on them, which the tests would see.
 */
const startNode = (disk: SimulatedDisk): Exit.Exit<void, unknown> =>
  Effect.runSyncExit(
    Effect.provide(
      quorumNode(config),
      Layer.mergeAll(
        Layer.succeed(Storage, storageOf(disk)),
        Layer.succeed(Tracing, silentTracing),
        Layer.succeed(Network, { self: "n1" } as unknown as Network["Service"]),
        Layer.succeed(Clock, {} as unknown as Clock["Service"]),
      )
    ) as Effect.Effect<void, unknown>
  )

/** The error reading `disk` back fails with; fails the test when it succeeds. */
const readError = (disk: SimulatedDisk): StorageCorruption => {
  const result = Effect.runSync(Effect.result(Effect.provideService(readDisk, Storage, storageOf(disk))))
  if (Result.isSuccess(result)) throw new Error("the damaged disk was read back without an error")
  expect(result.failure).toBeInstanceOf(StorageCorruption)
  return result.failure as StorageCorruption
}

describe("a quorum node's files after a restart", () => {
  it("a healthy disk is read back whole: store, hints, answered Puts, membership and incarnation", () => {
    const recovered = Effect.runSync(Effect.provideService(readDisk, Storage, storageOf(healthyDisk())))
    expect(recovered.incarnation).toBe(3)
    expect(recovered.membership).toEqual({ epoch: 1, nodes: ["n1", "n2", "n3"] })
    expect(recovered.store.get("k1")).toEqual({ set: written, recentPuts: ["c1:1"] })
    expect(recovered.hints.get("k2")?.get("n2")).toEqual(written)
    expect(recovered.puts?.get("k3")).toEqual(["c2:4:1"])
  })

  it("a garbage incarnation.json: the node refuses to start with a StorageCorruption naming it, and the file is left as it was", () => {
    // Set up: the incarnation file is not JSON.
    const disk = damage(healthyDisk(), "incarnation.json", "\u0000\u0017garbage")
    const before = disk.read("incarnation.json")!
    // Act.
    const exit = startNode(disk)
    // Check: the node failed (not a defect) with the file's name, line 1 and what to do.
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(error).toBeInstanceOf(StorageCorruption)
    expect(error).toMatchObject({ _tag: "StorageCorruption", file: "incarnation.json", line: 1, reason: "not JSON" })
    expect((error as StorageCorruption).message).toBe(`incarnation.json line 1: not JSON ${ADVICE}`)
    expect(disk.read("incarnation.json")).toEqual(before)
    expect(disk.list()).toEqual(healthyDisk().list())
  })

  it("a store file of the wrong shape: the node refuses to start naming it, and no file is written", () => {
    const disk = damage(healthyDisk(), "store-k1.json", JSON.stringify({ set: { context: {}, siblings: [{ value: "hello" }] }, recentPuts: [] }))
    const before = disk.read("store-k1.json")!
    const exit = startNode(disk)
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(error).toBeInstanceOf(StorageCorruption)
    expect(error).toMatchObject({ file: "store-k1.json", line: 1, reason: "set.siblings[0] is not a sibling (a version and a value)" })
    expect(disk.read("store-k1.json")).toEqual(before)
    // The incarnation was not moved on: recovery failed before it persisted anything.
    expect(JSON.parse(new TextDecoder().decode(disk.read("incarnation.json")!))).toEqual({ incarnation: 3 })
  })

  it.each([
    ["incarnation.json", "", "not JSON"],
    ["incarnation.json", '{"incarnation":0}', "incarnation is not a positive integer"],
    ["incarnation.json", '{"incarnation":"3"}', "incarnation is not a positive integer"],
    ["incarnation.json", "null", "incarnation is not a positive integer"],
    ["membership.json", '{"epoch":1.5,"nodes":["n1"]}', "epoch is not a non-negative integer"],
    ["membership.json", '{"epoch":2,"nodes":["n1",7]}', "nodes is not a list of node ids"],
    ["store-k1.json", '{"set":{"context":{},"siblings":[]}}', "recentPuts is not a list of request ids"],
    ["store-k1.json", '{"set":{"context":{"n1":-1},"siblings":[]},"recentPuts":[]}', "set.context is not a vector clock (node ids to counts)"],
    ["store-k1.json", '{"recentPuts":[]}', "set is not a key's state (a context and siblings)"],
    ["store-k1.json", "[]", "not a key's store file (a set and recentPuts)"],
    ["hints-k2.json", '{"n2":{"context":{}}}', "the hint for n2 is not a key's state (a context and siblings)"],
    ["hints-k2.json", '"n2"', "not a hints file (owner ids to key states)"],
    ["puts-k3.json", '{"recentPuts":[4]}', "recentPuts is not a list of request ids"],
    ["puts-k3.json", "[]", "recentPuts is not a list of request ids"],
    ["store-%E0.json", '{"set":{"context":{},"siblings":[]},"recentPuts":[]}', "its name does not encode a key"]
  ])("%s holding %s is refused: %s", (file, text, reason) => {
    const corruption = readError(damage(healthyDisk(), file, text))
    expect(corruption).toMatchObject({ file, line: 1, reason })
  })

  it("a store file whose sibling lost its dot's counter is refused, naming the sibling", () => {
    const broken = { ...written, siblings: [{ ...written.siblings[0]!, version: { dot: { node: "n1" }, past: {} } }] }
    const corruption = readError(damage(healthyDisk(), "store-k1.json", JSON.stringify({ set: broken, recentPuts: [] })))
    expect(corruption.reason).toBe("set.siblings[0] has no dot (a node id and a positive counter)")
  })
})
