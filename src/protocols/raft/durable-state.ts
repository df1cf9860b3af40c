// Raft's stable storage through the env Storage service: hard state, snapshot, and an append-only log with torn-tail recovery.
import { Effect } from "effect"
import { decodeText, encodeText, Storage, Tracing } from "../../env/index.ts"
import { assert } from "./assert.ts"
import type { Entry, HardState, Ready, RestoredState, Snapshot } from "./types.ts"

const HARD_STATE_FILE = "raft-hardstate"
const SNAPSHOT_FILE = "raft-snapshot"
const LOG_FILE = "raft-log"

/** Raft's stable storage, as the server shell uses it. */
export interface DurableState {
  /** Reads everything back after a (re)start; returns what the Raft core resumes from. */
  readonly recover: Effect.Effect<{ readonly restored: RestoredState; readonly snapshot: Snapshot | undefined }, unknown, Tracing>
  /** Whether `persist` has anything to do for this Ready; most Readies of a busy cluster carry only messages. */
  readonly needsStorage: (ready: Ready) => boolean
  /** Persists what a Ready asks for, in its order, and syncs it, before any of its messages is sent. */
  readonly persist: (ready: Ready) => Effect.Effect<void, unknown>
  /** Stores a snapshot the node took itself, then drops the log entries it covers. */
  readonly compact: (snapshot: Snapshot, remaining: ReadonlyArray<Entry>) => Effect.Effect<void, unknown>
}

/**
 * The log file holds one JSON line per entry. A crash may tear the last unsynced line; recovery
 * cuts whatever follows the last complete line. `offsets[i]` is the byte offset at which the i-th
 * stored entry starts, so a truncation cuts the file at an exact entry boundary.
 */
export const makeDurableState = (storage: Storage["Service"]): DurableState => {
  let offsets: Array<number> = []
  let firstStoredIndex = 1
  let sizeBytes = 0
  // What the hard-state file holds. Only term and vote must be durable (Figure 2 lists commitIndex
  // as volatile), so a Ready whose hard state differs only in commitIndex is not written: that
  // saves a write and a sync per commit. A restart then resumes from an older commitIndex, which
  // is safe, as a lower commitIndex only makes the server learn the commit again.
  let storedTerm = 0
  let storedVote: string | null = null
  const needsHardState = (ready: Ready): boolean =>
    ready.hardState !== undefined && (ready.hardState.term !== storedTerm || ready.hardState.votedFor !== storedVote)

  const append = (entries: ReadonlyArray<Entry>): Effect.Effect<void, unknown> =>
    Effect.suspend(() => {
      const expected = firstStoredIndex + offsets.length
      assert(entries[0]!.index === expected, () => `raft log: appending ${entries[0]!.index} where ${expected} was expected`)
      let text = ""
      const lineEnds: Array<number> = []
      for (const entry of entries) {
        text += JSON.stringify(entry) + "\n"
        lineEnds.push(text.length)
      }
      const bytes = encodeText(text)
      // Offsets count bytes: the lines' own lengths when the text is all ASCII (as it is as often
      // as not), else each line's encoded length.
      const ascii = bytes.length === text.length
      const added: Array<number> = []
      let position = sizeBytes
      let lineStart = 0
      for (const lineEnd of lineEnds) {
        added.push(position)
        position += ascii ? lineEnd - lineStart : byteLength(text.slice(lineStart, lineEnd))
        lineStart = lineEnd
      }
      return Effect.map(storage.append(LOG_FILE, bytes), () => {
        for (const offset of added) offsets.push(offset)
        sizeBytes = position
      })
    })

  const truncateFrom = (index: number) =>
    Effect.gen(function*() {
      const position = index - firstStoredIndex
      if (position < 0 || position >= offsets.length) return
      const size = offsets[position]!
      yield* storage.truncate(LOG_FILE, size)
      offsets.length = position
      sizeBytes = size
    })

  const rewrite = (entries: ReadonlyArray<Entry>, firstIndex: number, options: { readonly sync: boolean }) =>
    Effect.gen(function*() {
      offsets = []
      sizeBytes = 0
      firstStoredIndex = firstIndex
      yield* storage.write(LOG_FILE, new Uint8Array(0))
      if (entries.length > 0) yield* append(entries)
      // A rewrite that changes nothing durable (a clean restart) need not be synced: the synced
      // file already holds the same bytes.
      if (options.sync) yield* storage.sync(LOG_FILE)
    })

  const recover = Effect.gen(function*() {
    const tracing = yield* Tracing
    const hardStateBytes = yield* storage.read(HARD_STATE_FILE)
    const snapshotBytes = yield* storage.read(SNAPSHOT_FILE)
    const logBytes = yield* storage.read(LOG_FILE)
    const hardState: HardState = hardStateBytes === undefined
      ? { term: 0, votedFor: null, commitIndex: 0 }
      : (JSON.parse(decodeText(hardStateBytes)) as HardState)
    storedTerm = hardState.term
    storedVote = hardState.votedFor
    const snapshot = snapshotBytes === undefined ? undefined : (JSON.parse(decodeText(snapshotBytes)) as Snapshot)
    const snapshotIndex = snapshot?.lastIncludedIndex ?? 0
    const text = logBytes === undefined ? "" : decodeText(logBytes)
    const complete = text.lastIndexOf("\n") + 1
    const entries: Array<Entry> = []
    const entryOffsets: Array<number> = []
    let compacted = 0
    let blank = 0
    let position = 0
    for (const line of text.slice(0, complete).split("\n")) {
      const offset = position
      position += byteLength(line) + 1
      if (line.length === 0) {
        blank++
        continue
      }
      const entry = JSON.parse(line) as Entry
      // Entries covered by the snapshot were compacted; a crash before the log was rewritten leaves them.
      if (entry.index <= snapshotIndex) {
        compacted++
        continue
      }
      const expected = (entries.at(-1)?.index ?? snapshotIndex) + 1
      assert(entry.index === expected, () => `raft log: entry ${entry.index} where ${expected} was expected`)
      entries.push(entry)
      entryOffsets.push(offset)
    }
    const tornBytes = byteLength(text.slice(complete))
    if (tornBytes > 0) yield* tracing.event("tornTail", { file: LOG_FILE, bytes: tornBytes })
    // The split leaves one empty piece after the last newline; any other is a stray blank line.
    if (tornBytes > 0 || compacted > 0 || blank > 1) {
      // Rewriting leaves the file holding exactly the recovered entries, so the offsets are known.
      yield* rewrite(entries, snapshotIndex + 1, { sync: true })
    } else {
      // A clean log (the usual restart) stays as it is; its offsets are where its lines start.
      offsets = entryOffsets
      firstStoredIndex = snapshotIndex + 1
      sizeBytes = logBytes === undefined ? 0 : logBytes.length
    }
    const restored: RestoredState = { hardState, ...(snapshot === undefined ? {} : { snapshot }), entries }
    return { restored, snapshot }
  })

  const needsStorage = (ready: Ready): boolean =>
    ready.snapshot !== undefined || ready.truncateFrom !== undefined || ready.entries.length > 0 || needsHardState(ready)

  // Built from plain Effects rather than a generator: this runs for every Ready that appends.
  const persist = (ready: Ready): Effect.Effect<void, unknown> =>
    Effect.suspend(() => {
      const steps: Array<Effect.Effect<void, unknown>> = []
      // The hard state goes first. A Ready may raise the term and bring entries of the new term
      // (a follower's first AppendEntries from a new leader); if the entries were synced first, a
      // crash before the hard state left a log whose last term is above the stored term, which no
      // restart accepts. The other way round, a crash only loses entries nobody was told about.
      // Its commitIndex is capped at what the log held before this Ready, since this Ready's
      // entries may not make it to disk; a lower commitIndex is safe (see needsHardState).
      const hardState = ready.hardState
      if (hardState !== undefined && needsHardState(ready)) {
        const durable = { ...hardState, commitIndex: Math.min(hardState.commitIndex, firstStoredIndex - 1 + offsets.length) }
        steps.push(storage.write(HARD_STATE_FILE, encodeText(JSON.stringify(durable))))
        steps.push(storage.sync(HARD_STATE_FILE))
        steps.push(Effect.sync(() => {
          storedTerm = hardState.term
          storedVote = hardState.votedFor
        }))
      }
      if (ready.snapshot !== undefined) {
        steps.push(storage.write(SNAPSHOT_FILE, encodeText(JSON.stringify(ready.snapshot))))
        steps.push(storage.sync(SNAPSHOT_FILE))
        steps.push(rewrite([], ready.snapshot.lastIncludedIndex + 1, { sync: true }))
      }
      if (ready.truncateFrom !== undefined) steps.push(truncateFrom(ready.truncateFrom))
      if (ready.entries.length > 0) steps.push(append(ready.entries))
      if (ready.entries.length > 0 || ready.truncateFrom !== undefined) steps.push(storage.sync(LOG_FILE))
      return steps.reduce((before, step) => Effect.andThen(before, step))
    })

  const compact = (snapshot: Snapshot, remaining: ReadonlyArray<Entry>) =>
    Effect.gen(function*() {
      yield* storage.write(SNAPSHOT_FILE, encodeText(JSON.stringify(snapshot)))
      yield* storage.sync(SNAPSHOT_FILE)
      yield* rewrite(remaining, snapshot.lastIncludedIndex + 1, { sync: true })
    })

  return { recover, needsStorage, persist, compact }
}

/** UTF-8 length of `text` without encoding it when it is plain ASCII. */
const byteLength = (text: string): number => {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encodeText(text).length
}
