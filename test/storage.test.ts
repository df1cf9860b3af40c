// Simulated storage: a crash loses exactly the unsynced writes, a restart sees exactly the synced ones.
import { Effect } from "effect"
import fc from "fast-check"
import { type StorageOperation, storageModel, storageOperation } from "./fixtures/storage-operations.ts"
import { describe, expect, it } from "vitest"
import { decodeText, encodeText, type NodeProgram, Storage } from "../src/env/index.ts"
import { SimulatedDisk } from "../src/sim/disk.ts"
import { perfectNetwork } from "../src/sim/network-model.ts"
import { RandomStream } from "../src/sim/random-streams.ts"
import { Simulation } from "../src/sim/simulation.ts"

const apply = (disk: SimulatedDisk, op: StorageOperation) => {
  switch (op.kind) {
    case "write":
      return disk.write(op.file, encodeText(op.text))
    case "append":
      return disk.append(op.file, encodeText(op.text))
    case "truncate":
      return disk.truncate(op.file, op.size)
    case "remove":
      return disk.remove(op.file)
    case "sync":
      return disk.sync(op.file)
  }
}

const contents = (disk: SimulatedDisk) => new Map(disk.list().map((name) => [name, decodeText(disk.read(name)!)]))

describe("simulated disk", () => {
  it("reads see every write; after a crash exactly the synced state remains", () => {
    fc.assert(
      fc.property(fc.array(storageOperation, { maxLength: 40 }), (operations) => {
        // Set up and act: apply the operations, then crash without tearing.
        const disk = new SimulatedDisk()
        for (const op of operations) apply(disk, op)
        const expected = storageModel(operations)
        // Check: before the crash reads match the current state ...
        expect(contents(disk)).toEqual(expected.current)
        disk.crash({ tornWrite: false }, new RandomStream(1, "disk"))
        // ... and after it, exactly the durable state.
        expect(contents(disk)).toEqual(expected.durable)
      })
    )
  })

  it("a torn write keeps the synced bytes plus a non-empty prefix of the unsynced append", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), fc.string({ minLength: 2, maxLength: 20 }), fc.integer(), (synced, appended, seed) => {
        const disk = new SimulatedDisk()
        disk.append("log", encodeText(synced))
        disk.sync("log")
        disk.append("log", encodeText(appended))
        const torn = disk.crash({ tornWrite: true }, new RandomStream(seed, "disk"))
        const after = disk.read("log")!
        const full = encodeText(synced + appended)
        const syncedLength = encodeText(synced).length
        expect(torn?.file).toBe("log")
        expect(after.length).toBeGreaterThan(syncedLength)
        expect(after.length).toBeLessThanOrEqual(full.length)
        expect([...after]).toEqual([...full.slice(0, after.length)])
      })
    )
  })

  it("a whole-file write is never torn: not one that creates the file, nor one that begins with the bytes it replaces", () => {
    // Found by swarm (raft-random-faults.yaml, seed 525): a crash tore a Raft snapshot's first write,
    // which the storage contract forbids, and the server rightly refused the damaged file.
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), fc.string({ minLength: 1, maxLength: 20 }), fc.integer(), (synced, more, seed) => {
        // Set up: one file created by an unsynced write, one rewritten with its old bytes as a prefix, one written then appended.
        const disk = new SimulatedDisk()
        disk.write("created", encodeText(synced + more))
        disk.write("rewritten", encodeText(synced))
        disk.sync("rewritten")
        disk.write("rewritten", encodeText(synced + more))
        disk.write("mixed", encodeText(synced))
        disk.sync("mixed")
        disk.write("mixed", encodeText(synced))
        disk.append("mixed", encodeText(more))

        // Act
        const torn = disk.crash({ tornWrite: true }, new RandomStream(seed, "disk"))

        // Check: nothing torn; each file is exactly what was synced.
        expect(torn).toBeUndefined()
        expect(disk.read("created")).toBeUndefined()
        expect(decodeText(disk.read("rewritten")!)).toBe(synced)
        expect(decodeText(disk.read("mixed")!)).toBe(synced)
      })
    )
  })

  it("a file created by appends may be torn, as a new log's first append may", () => {
    const disk = new SimulatedDisk()
    disk.append("log", encodeText("first line\n"))
    const torn = disk.crash({ tornWrite: true }, new RandomStream(1, "disk"))
    expect(torn?.file).toBe("log")
    expect(disk.read("log")!.length).toBe(torn!.keptBytes)
  })

  it("a restarted node reads exactly what it synced before the crash", () => {
    // Set up: a node that on every start records what it reads, then writes two files, syncing one.
    const seen: Array<Record<string, string | undefined>> = []
    const program: NodeProgram = Effect.gen(function*() {
      const storage = yield* Storage
      const synced = yield* storage.read("synced")
      const unsynced = yield* storage.read("unsynced")
      seen.push({
        synced: synced === undefined ? undefined : decodeText(synced),
        unsynced: unsynced === undefined ? undefined : decodeText(unsynced)
      })
      yield* storage.write("synced", encodeText(`run ${seen.length}`))
      yield* storage.sync("synced")
      yield* storage.write("unsynced", encodeText(`run ${seen.length}`))
      yield* Effect.never
    })
    const simulation = new Simulation({ seed: 1, network: perfectNetwork(), keepTrace: false })
    simulation.addNode("n1", program)
    // Act: run, crash, restart.
    simulation.runUntil(1000)
    simulation.crash("n1")
    simulation.restart("n1")
    simulation.runUntil(2000)
    // Check: the second incarnation saw the synced write of the first, and not the unsynced one.
    expect(seen).toEqual([
      { synced: undefined, unsynced: undefined },
      { synced: "run 1", unsynced: undefined }
    ])
  })
})
