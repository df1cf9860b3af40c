// Durable storage as a node sees it: named byte files whose writes survive a crash only once synced.
import { Context, Data, type Effect } from "effect"

/** A failure of the disk (an environment failure, not a protocol rejection). */
export class StorageError extends Data.TaggedError("StorageError")<{
  readonly file: string
  readonly reason: string
}> {}

/**
 * The storage service: a flat namespace of files holding bytes. `write`, `append` and `truncate`
 * change what `read` returns at once, but only `sync` makes the change durable: a crash loses every
 * change to a file since its last sync, and may tear the last unsynced append (keep a prefix of it).
 * Creating and removing a file are durable once that file is synced. Truncating a file that does
 * not exist does nothing; truncating to a size at or above the file's size does nothing either.
 */
export class Storage extends Context.Service<Storage, {
  readonly read: (file: string) => Effect.Effect<Uint8Array | undefined, StorageError>
  readonly write: (file: string, data: Uint8Array) => Effect.Effect<void, StorageError>
  readonly append: (file: string, data: Uint8Array) => Effect.Effect<void, StorageError>
  readonly truncate: (file: string, size: number) => Effect.Effect<void, StorageError>
  readonly remove: (file: string) => Effect.Effect<void, StorageError>
  /** Makes every change to `file` durable. */
  readonly sync: (file: string) => Effect.Effect<void, StorageError>
  /** The names of the files that exist now, sorted. */
  readonly list: Effect.Effect<ReadonlyArray<string>, StorageError>
}>()("faultline/Storage") {}
