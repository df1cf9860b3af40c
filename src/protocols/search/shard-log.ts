// A shard replica's durable insert log: one JSON line per insert or delete, in the order the replica applied them.
import { Effect } from "effect"
import { decodeText, encodeText, Storage, Tracing } from "../../env/index.ts"
import { assert } from "../assert.ts"

/** One log entry. The log, not an index snapshot, is the durable truth (see README: hnswlib writes snapshots only to file paths). */
export type LogEntry =
  | { readonly op: "insert"; readonly id: number; readonly vector: ReadonlyArray<number> }
  | { readonly op: "delete"; readonly id: number }

export const logFile = (shard: string): string => `shard-${shard}.log`

const parseEntry = (line: string): LogEntry => {
  const entry = JSON.parse(line) as LogEntry
  assert(entry.op === "insert" || entry.op === "delete", () => `log entry ${line.slice(0, 40)} has no op`)
  assert(Number.isSafeInteger(entry.id), () => `log entry ${line.slice(0, 40)} has no id`)
  return entry
}

/** Reads a file of JSON lines back in order; a last line without its newline is a torn write, cut off and synced away. */
const readLines = (file: string) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const bytes = yield* storage.read(file)
    if (bytes === undefined) return []
    const text = decodeText(bytes)
    const complete = text.lastIndexOf("\n") + 1
    if (complete < text.length) {
      const tracing = yield* Tracing
      yield* tracing.event("tornTail", { file, bytes: text.length - complete })
      yield* storage.truncate(file, encodeText(text.slice(0, complete)).length)
      yield* storage.sync(file)
    }
    return text.slice(0, complete).split("\n").filter((line) => line.length > 0)
  })

/** Reads `shard`'s log back in order (see readLines for a torn tail). */
export const readLog = (shard: string) => Effect.map(readLines(logFile(shard)), (lines) => lines.map(parseEntry))

/** Appends `entries` to `shard`'s log (not yet durable: the caller syncs). */
export const appendLog = (shard: string, entries: ReadonlyArray<LogEntry>) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    yield* storage.append(logFile(shard), encodeText(entries.map((entry) => JSON.stringify(entry) + "\n").join("")))
  })

export const syncLog = (shard: string) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    yield* storage.sync(logFile(shard))
  })

/** A membership change a replica adopted: kept so that after a restart it still holds, and copies, the shards it gained. */
export interface MembershipEntry {
  readonly epoch: number
  readonly nodes: ReadonlyArray<string>
}

const MEMBERSHIP_FILE = "membership.log"

/** The membership changes adopted so far, oldest first. */
export const readMemberships = Effect.map(readLines(MEMBERSHIP_FILE), (lines) =>
  lines.map((line) => {
    const entry = JSON.parse(line) as MembershipEntry
    assert(Number.isSafeInteger(entry.epoch) && Array.isArray(entry.nodes), () => `membership entry ${line.slice(0, 40)} is malformed`)
    return entry
  }))

/** Appends and syncs one adopted membership change. */
export const appendMembership = (entry: MembershipEntry) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    yield* storage.append(MEMBERSHIP_FILE, encodeText(JSON.stringify(entry) + "\n"))
    yield* storage.sync(MEMBERSHIP_FILE)
  })
