// One node's Storage service in the simulator: its simulated disk, with injected errors and sync latency.
import { Effect } from "effect"
import { Storage, StorageError } from "../env/index.ts"
import type { SimulatedDisk } from "./disk.ts"
import { drawLatencyUs, type LatencyDistribution } from "./network-model.ts"
import type { RandomStream } from "./random-streams.ts"

/** What a node incarnation's storage needs from the simulator. */
export interface NodeStorageHost {
  readonly disk: SimulatedDisk
  /** The run's disk stream: injected errors and sync latencies are drawn from it. */
  readonly random: RandomStream
  /** Probability that a write, append, truncate, remove or sync fails with a StorageError. */
  readonly writeErrorRate: number
  /** How long a sync takes; none means instant. */
  readonly syncLatency: LatencyDistribution | undefined
  /** Whether the incarnation still runs; a crashed one's storage calls never return. */
  readonly alive: () => boolean
  readonly sleep: (durationMs: number) => Effect.Effect<void>
  /** Called after each successful sync and each injected error, for the trace and the stats. */
  readonly onSync: (file: string) => void
  readonly onInjectedError: (file: string, operation: string) => void
}

/** The Storage service of one node incarnation. */
export const nodeStorage = (host: NodeStorageHost): Storage["Service"] => {
  const guarded = <A>(file: string, operation: string, run: () => A): Effect.Effect<A, StorageError> =>
    Effect.suspend(() => {
      if (!host.alive()) return Effect.never
      if (operation !== "read" && operation !== "list" && host.random.chance(host.writeErrorRate)) {
        host.onInjectedError(file, operation)
        return Effect.fail(new StorageError({ file, reason: `injected ${operation} error` }))
      }
      return Effect.succeed(run())
    })
  const disk = host.disk
  const syncLatency = host.syncLatency
  return Storage.of({
    neverWaits: syncLatency === undefined,
    read: (file) => guarded(file, "read", () => disk.read(file)),
    write: (file, data) => guarded(file, "write", () => disk.write(file, data)),
    append: (file, data) => guarded(file, "append", () => disk.append(file, data)),
    truncate: (file, size) => guarded(file, "truncate", () => disk.truncate(file, size)),
    remove: (file) => guarded(file, "remove", () => disk.remove(file)),
    list: guarded("*", "list", () => disk.list()),
    sync: (file) => {
      const doSync = guarded(file, "sync", () => {
        disk.sync(file)
        host.onSync(file)
      })
      if (syncLatency === undefined) return doSync
      return Effect.flatMap(
        Effect.suspend(() => host.sleep(drawLatencyUs(syncLatency, host.random) / 1000)),
        () => doSync
      )
    }
  })
}
