// Durable storage as a node sees it: named byte files whose writes survive a crash only once synced.
import { Context, Data, type Effect } from "effect"

/** A failure of the disk (an environment failure, not a protocol rejection). */
export class StorageError extends Data.TaggedError("StorageError")<{
  readonly file: string
  readonly reason: string
}> {}

/**
 * A storage file whose content cannot be trusted: a line whose checksum does not match, that is
 * not in the expected format, or whose data makes no sense where it stands. Bad input from the
 * disk, not a programmer error: the node refuses to start, and nothing is cut or rewritten, since
 * the damaged file may hold what a peer or a client was told is stored here. The contract below
 * never tears a whole-file write, so a protocol that finds such a file unreadable must report it
 * with this error rather than skip it. Hosts report it as a refusal to start (`faultline node`
 * exits 2 with its message).
 */
export class StorageCorruption extends Data.TaggedError("StorageCorruption")<{
  /** The storage file's name, e.g. `raft-log`. */
  readonly file: string
  /** The damaged line, counting from 1 (a file written whole as one JSON value has one line). */
  readonly line: number
  /** What is wrong with the line, e.g. `checksum mismatch (stored 1a2b3c4d, computed 5e6f7a8b)`. */
  readonly reason: string
}> {
  override get message(): string {
    return `${this.file} line ${this.line}: ${this.reason} (the file is damaged; restore it, or remove this node's data so it rejoins from its peers)`
  }
}

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
  /**
   * True when no operation ever waits: each one finishes (or fails) in the step that runs it, as in
   * the simulator without sync latency. A caller may then run storage work where it would
   * otherwise hand it to a fiber of its own, knowing that nothing can arrive in between. A real
   * disk never says so.
   */
  readonly neverWaits?: boolean
}>()("faultline/Storage") {}
