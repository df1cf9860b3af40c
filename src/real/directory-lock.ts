// One node per data directory: a lock file naming the process that holds the directory.
import { readFile, unlink, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { Effect, type Scope } from "effect"
import { StorageError } from "../env/index.ts"

/** The lock file's name; it starts with a dot, so it is never a storage file name. */
export const LOCK_FILE = ".lock"

/** Directories this process holds, so a second open in the same process is refused too. */
const heldHere = new Set<string>()

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as { code?: unknown }).code === "EPERM"
  }
}

/**
 * Takes the data directory for this process until the scope closes. Two nodes writing one
 * directory would each overwrite what the other synced, so a directory whose lock names a live
 * process (this one included) is refused. A lock left by a process that died (kill -9) is taken
 * over: that is the restart the crash contract is about. A pid reused by an unrelated process
 * after a reboot makes a false refusal, whose message says which file to remove.
 */
export const lockDirectory = (directory: string): Effect.Effect<void, StorageError, Scope.Scope> => {
  const key = resolve(directory)
  const path = join(directory, LOCK_FILE)
  const acquire = Effect.gen(function*() {
    const refuse = (reason: string) => Effect.fail(new StorageError({ file: directory, reason }))
    if (heldHere.has(key)) return yield* refuse(`data directory ${directory} is already open in this process`)
    const holder = yield* Effect.promise(() => readFile(path, "utf8").then((text) => Number.parseInt(text, 10), () => undefined))
    if (holder !== undefined && Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
      return yield* refuse(`data directory ${directory} is in use by process ${holder} (remove ${path} if that process is not a node)`)
    }
    yield* Effect.tryPromise({
      try: () => writeFile(path, `${process.pid}\n`),
      catch: (error) => new StorageError({ file: directory, reason: `cannot write lock file ${path} (${(error as Error).message})` })
    })
    heldHere.add(key)
  })
  const release = Effect.promise(async () => {
    heldHere.delete(key)
    await unlink(path).catch(() => undefined)
  })
  return Effect.acquireRelease(acquire, () => release)
}
