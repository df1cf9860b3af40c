// Real storage keeps the simulator's crash contract: after kill -9, exactly the synced content is on disk.
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { freshDirectories } from "./fixtures/fresh-directories.ts"
import { type StorageOperation, storageModel, storageOperation } from "./fixtures/storage-operations.ts"
import { decodeText, encodeText, Storage, StorageError } from "../src/env/index.ts"
import { makeRealStorage } from "../src/real/storage.ts"

const freshDirectory = freshDirectories("faultline-real-storage")

/** Every listed file and its text. */
const contents = (storage: Storage["Service"]) =>
  Effect.gen(function*() {
    const result = new Map<string, string>()
    for (const name of yield* storage.list) result.set(name, decodeText((yield* storage.read(name))!))
    return result
  })

const apply = (storage: Storage["Service"], op: StorageOperation) => {
  switch (op.kind) {
    case "write":
      return storage.write(op.file, encodeText(op.text))
    case "append":
      return storage.append(op.file, encodeText(op.text))
    case "truncate":
      return storage.truncate(op.file, op.size)
    case "remove":
      return storage.remove(op.file)
    case "sync":
      return storage.sync(op.file)
  }
}

/** Runs a child that syncs some changes and makes more, kills it with SIGKILL once it says so, and waits for it to exit. */
const runAndKill = (directory: string) =>
  new Promise<NodeJS.Signals | null>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures/real-storage-child.ts"), directory], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) child.kill("SIGKILL")
    })
    child.on("error", reject)
    child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve(signal) : reject(new Error(`child exited with ${code}: ${stderr}`))))
  })

describe("real storage", () => {
  it("after kill -9, every synced change is on disk and no unsynced one is", async () => {
    // Set up and act: the child syncs a log, a state file and a removal, changes all of them again
    // without syncing, and is killed.
    const directory = freshDirectory()
    expect(await runAndKill(directory)).toBe("SIGKILL")
    // Check: a fresh storage on the directory reads exactly what was synced.
    const found = await Effect.runPromise(Effect.scoped(Effect.flatMap(makeRealStorage({ directory }), contents)))
    const log = Array.from({ length: 200 }, (_, index) => `entry ${index}\n`).join("")
    expect(found).toEqual(new Map([["kept", "kept"], ["log", log], ["state", "second, synced"]]))
    // The dead child's lock was taken over, and released again when the scope closed.
    expect(readdirSync(directory).sort()).toEqual(["kept", "log", "state"])
  }, 30_000)

  it("matches the contract's model for any operations: reads see every change, a reopen only the synced ones", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(storageOperation, { maxLength: 30 }), async (operations) => {
        const directory = freshDirectory()
        const expected = storageModel(operations)
        const before = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const storage = yield* makeRealStorage({ directory })
          for (const op of operations) yield* apply(storage, op)
          return yield* contents(storage)
        })))
        // Closing without syncing and reopening is what a restart after kill -9 sees: pending changes lived only in memory.
        const after = await Effect.runPromise(Effect.scoped(Effect.flatMap(makeRealStorage({ directory }), contents)))
        expect(before).toEqual(expected.current)
        expect(after).toEqual(expected.durable)
        rmSync(directory, { recursive: true, force: true })
      }),
      { numRuns: 60 }
    )
  }, 60_000)

  it("refuses a data directory another live process or this one holds, and releases it on close", async () => {
    const directory = freshDirectory()
    const twice = await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
      yield* makeRealStorage({ directory })
      yield* makeRealStorage({ directory })
    })))
    expect(twice).toEqual(Exit.fail(new StorageError({ file: directory, reason: `data directory ${directory} is already open in this process` })))
    // The parent of this test process is alive; a lock naming it is refused.
    writeFileSync(join(directory, ".lock"), `${process.ppid}\n`)
    const held = await Effect.runPromiseExit(Effect.scoped(makeRealStorage({ directory })))
    expect(JSON.stringify(held)).toContain(`is in use by process ${process.ppid}`)
    rmSync(join(directory, ".lock"))
    // Released on close, the directory opens again.
    await Effect.runPromise(Effect.scoped(makeRealStorage({ directory })))
    await Effect.runPromise(Effect.scoped(makeRealStorage({ directory })))
    expect(readdirSync(directory)).toEqual([])
  })

  it("ignores and removes temporary files a crash left behind, torn or garbage", async () => {
    const directory = freshDirectory()
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const storage = yield* makeRealStorage({ directory })
      yield* storage.write("state", encodeText("synced"))
      yield* storage.sync("state")
    })))
    // A rename-path sync of "state" that died before its rename, and one of a file never created.
    writeFileSync(join(directory, ".state.tmp"), "torn new cont")
    writeFileSync(join(directory, ".other.tmp"), Buffer.from([0xff, 0x00, 0x13]))
    const found = await Effect.runPromise(Effect.scoped(Effect.flatMap(makeRealStorage({ directory }), contents)))
    expect(found).toEqual(new Map([["state", "synced"]]))
    expect(readdirSync(directory)).toEqual(["state"])
  })

  it("reports a file shortened behind its back as a StorageError, not a crash", async () => {
    const directory = freshDirectory()
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
      const storage = yield* makeRealStorage({ directory })
      yield* storage.write("log", encodeText("0123456789"))
      yield* storage.sync("log")
      truncateSync(join(directory, "log"), 3)
      yield* storage.append("log", encodeText("x"))
      return yield* storage.read("log")
    })))
    expect(exit).toEqual(Exit.fail(new StorageError({ file: "log", reason: "has 3 bytes on disk but 10 were synced: changed outside this node" })))
  })

  it("rejects file names that could leave the data directory or clash with temporary files", async () => {
    const directory = freshDirectory()
    for (const name of ["../escape", "a/b", ".hidden", "", "..", "x".repeat(129), "a\0b"]) {
      const exit = await Effect.runPromiseExit(Effect.scoped(Effect.flatMap(makeRealStorage({ directory }), (storage) => storage.write(name, encodeText("x")))))
      expect(exit).toEqual(Exit.fail(new StorageError({ file: name, reason: "invalid file name: use letters, digits, _ - . (not first), at most 128" })))
    }
    expect(readdirSync(directory)).toEqual([])
  })

  it("names a data directory that does not exist or is not a directory, in one line", async () => {
    const directory = freshDirectory()
    const missing = join(directory, "missing")
    const missingExit = await Effect.runPromiseExit(Effect.scoped(makeRealStorage({ directory: missing })))
    expect(missingExit).toEqual(Exit.fail(new StorageError({ file: missing, reason: `data directory ${missing} does not exist` })))
    const notDirectory = join(directory, "plain-file")
    writeFileSync(notDirectory, "")
    const notDirectoryExit = await Effect.runPromiseExit(Effect.scoped(makeRealStorage({ directory: notDirectory })))
    expect(notDirectoryExit).toEqual(Exit.fail(new StorageError({ file: notDirectory, reason: `data directory ${notDirectory} is not a directory` })))
    const underFile = join(notDirectory, "data")
    const underFileExit = await Effect.runPromiseExit(Effect.scoped(makeRealStorage({ directory: underFile, createDirectory: true })))
    expect(Exit.isFailure(underFileExit)).toBe(true)
    expect(JSON.stringify(underFileExit)).toContain(`creating data directory ${underFile} failed (ENOTDIR`)
    // Asked to, storage creates a missing directory.
    const created = await Effect.runPromise(Effect.scoped(Effect.flatMap(makeRealStorage({ directory: missing, createDirectory: true }), (storage) => storage.list)))
    expect(created).toEqual([])
  })

  it("names a data directory that is not writable", async () => {
    // Set up: a directory no one may write to. Permission bits do not stop root, so as root (CI,
    // these machines) the directory is made immutable instead, which stops root too.
    const directory = freshDirectory()
    const readOnly = join(directory, "read-only")
    mkdirSync(readOnly, { mode: 0o500 })
    const asRoot = process.getuid?.() === 0
    if (asRoot) expect(spawnSync("chattr", ["+i", readOnly]).status, "chattr +i").toBe(0)
    try {
      // Act.
      const exit = await Effect.runPromiseExit(Effect.scoped(makeRealStorage({ directory: readOnly })))
      // Check: the message names the directory and the reason.
      expect(JSON.stringify(exit)).toMatch(new RegExp(`data directory ${readOnly} is not writable \\((EACCES|EPERM)`))
    } finally {
      if (asRoot) spawnSync("chattr", ["-i", readOnly])
    }
  })
})
