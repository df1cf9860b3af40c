// The in-memory Raft log: a snapshot offset, the entries after it, the configurations the log
// implies, and how much of it the shell has made durable (like etcd's raftLog plus unstable).
import { assert } from "./assert.ts"
import { applyConfigChange } from "./configuration.ts"
import { type Configuration, type Entry, isConfigChange, type RaftRules, type Snapshot } from "./types.ts"

interface ConfigurationAt {
  readonly index: number
  readonly configuration: Configuration
}

/**
 * The paper's append rule (Figure 2, AppendEntries receiver rule 3): write from the first entry
 * that conflicts with ours (same index, different term), and keep the log when none does.
 */
/** The paper's election restriction (§5.4.1): a later last term wins, and with equal terms the longer log. */
export const upToDateLog: RaftRules["voteForLog"] = ({ candidateLastIndex, candidateLastTerm, lastIndex, lastTerm }) =>
  candidateLastTerm > lastTerm || (candidateLastTerm === lastTerm && candidateLastIndex >= lastIndex)

export const appendFromFirstConflict: RaftRules["appendFrom"] = ({ entries, termAt }) =>
  entries.find((entry) => termAt(entry.index) !== entry.term)?.index ?? null

/**
 * The log of one server. Entries live in memory after `snapshot`; the log also remembers which
 * prefix is on stable storage, so that `Ready` can hand over exactly the entries (and the
 * truncation) still to be persisted.
 */
export class RaftLog {
  private snapshotValue: Snapshot
  private entries: Entry[] = []
  /** The configuration after each configuration entry, oldest first; the first is the snapshot's. */
  private configurations: ConfigurationAt[]
  /** The last index whose entry is on stable storage and still part of this log. */
  private stableIndexValue: number
  /** The last index stable storage holds; above `stableIndexValue` only after a truncation. */
  private storageLastIndex: number
  /** A snapshot received from the leader and not yet persisted. */
  private unstableSnapshotValue: Snapshot | null = null

  /**
   * Creates a log that starts after `snapshot` and holds `entries`. With `persisted` the entries
   * are already on stable storage (a restart); otherwise they are handed to the next Ready.
   */
  constructor(options: { snapshot: Snapshot; entries: ReadonlyArray<Entry>; persisted: boolean }) {
    this.snapshotValue = options.snapshot
    this.configurations = [{ index: options.snapshot.lastIncludedIndex, configuration: options.snapshot.configuration }]
    this.stableIndexValue = options.snapshot.lastIncludedIndex
    this.storageLastIndex = options.snapshot.lastIncludedIndex
    this.append(options.entries)
    if (options.persisted) {
      this.stableIndexValue = this.lastIndex()
      this.storageLastIndex = this.lastIndex()
    }
  }

  /** The snapshot the log starts after. */
  snapshot(): Snapshot {
    return this.snapshotValue
  }

  /** The index of the snapshot's last entry; the log holds no entries at or below it. */
  snapshotIndex(): number {
    return this.snapshotValue.lastIncludedIndex
  }

  /** The index of the first entry held in memory (one past the snapshot). */
  firstIndex(): number {
    return this.snapshotIndex() + 1
  }

  /** The index of the last entry, or the snapshot's index when there are no entries. */
  lastIndex(): number {
    return this.snapshotIndex() + this.entries.length
  }

  /** The term of the last entry (or of the snapshot). */
  lastTerm(): number {
    const term = this.term(this.lastIndex())
    assert(term !== undefined, "the last index always has a term")
    return term
  }

  /** The term of entry `index`, or `undefined` if it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex()) return this.snapshotValue.lastIncludedTerm
    return this.entries[index - this.firstIndex()]?.term
  }

  /** Whether the log holds an entry at `index` with `term` (§5.3's consistency check). */
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** The entry at `index`; it must be in memory. */
  entry(index: number): Entry {
    const entry = this.entries[index - this.firstIndex()]
    assert(entry !== undefined, () => `entry ${index} is not in the log [${this.firstIndex()}, ${this.lastIndex()}]`)
    return entry
  }

  /** The entries with indices in [from, to). */
  slice(from: number, to: number): Entry[] {
    assert(from >= this.firstIndex(), () => `slice from ${from} is below the first index ${this.firstIndex()}`)
    assert(to <= this.lastIndex() + 1, () => `slice to ${to} is beyond the last index ${this.lastIndex()}`)
    assert(from <= to, () => `slice [${from}, ${to}) is inverted`)
    return this.entries.slice(from - this.firstIndex(), to - this.firstIndex())
  }

  /** Appends entries that follow the last one directly (a leader's own proposals). */
  append(entries: ReadonlyArray<Entry>): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, () => `entry ${entry.index} does not follow ${this.lastIndex()}`)
      assert(entry.term >= this.lastTerm(), () => `entry ${entry.index} has term ${entry.term} < ${this.lastTerm()}`)
      this.entries.push(entry)
      this.noteConfiguration(entry)
    }
  }

  /**
   * The follower's side of AppendEntries (§5.3). Returns the index of the last new entry if the
   * log matches at (`prevLogIndex`, `prevLogTerm`), else null. Which entries are rewritten is
   * `appendFrom`'s decision: with the paper's rule (`appendFromFirstConflict`) entries already
   * present with the same term are kept and only a real conflict truncates, so a stale or
   * duplicated request can never remove entries the follower has acknowledged.
   */
  maybeAppend(options: {
    prevLogIndex: number
    prevLogTerm: number
    entries: ReadonlyArray<Entry>
    commitIndex: number
    appendFrom: RaftRules["appendFrom"]
  }): number | null {
    if (!this.matchTerm(options.prevLogIndex, options.prevLogTerm)) return null
    const lastNewIndex = options.prevLogIndex + options.entries.length
    const from = options.appendFrom({ entries: options.entries, termAt: (index) => this.term(index) })
    if (from === null) return lastNewIndex
    assert(from > options.prevLogIndex, () => `append from ${from} is at or below prevLogIndex ${options.prevLogIndex}`)
    assert(from <= lastNewIndex, () => `append from ${from} is beyond the request's last entry ${lastNewIndex}`)
    assert(from > options.commitIndex, () => `append from ${from} would remove committed entries`)
    this.truncateAndAppend(options.entries.slice(from - options.prevLogIndex - 1))
    return lastNewIndex
  }

  /** Removes every entry from `entries[0].index` on, then appends `entries`. */
  private truncateAndAppend(entries: ReadonlyArray<Entry>): void {
    const first = entries[0]
    assert(first !== undefined, "truncateAndAppend needs entries")
    assert(first.index >= this.firstIndex(), () => `cannot overwrite compacted entry ${first.index}`)
    assert(first.index <= this.lastIndex() + 1, () => `entry ${first.index} leaves a gap after ${this.lastIndex()}`)
    if (first.index <= this.lastIndex()) {
      this.entries.length = first.index - this.firstIndex()
      this.configurations = this.configurations.filter((at) => at.index < first.index)
      this.stableIndexValue = Math.min(this.stableIndexValue, first.index - 1)
    }
    this.append(entries)
  }

  /**
   * The largest index at or below `index` whose term is <= `term`, or the snapshot's index if
   * every held entry is newer. Used on both sides of the fast back-off (etcd's
   * findConflictByTerm): entries between the result and `index` cannot match a log whose entry
   * at `index` has `term`, because terms only grow along a log.
   */
  findConflictByTerm(index: number, term: number): number {
    assert(index <= this.lastIndex(), () => `findConflictByTerm(${index}) beyond the last index ${this.lastIndex()}`)
    if (index < this.snapshotIndex()) return index
    let candidate = index
    while (candidate > this.snapshotIndex() && (this.term(candidate) ?? 0) > term) candidate--
    return candidate
  }

  /** The configuration after the last entry (thesis §4.1: a change counts once appended). */
  configuration(): Configuration {
    const last = this.configurations[this.configurations.length - 1]
    assert(last !== undefined, "there is always a base configuration")
    return last.configuration
  }

  /** The configuration in force at `index` (the latest one at or before it). */
  configurationAt(index: number): Configuration {
    assert(index >= this.snapshotIndex(), () => `configuration at compacted index ${index}`)
    let found: Configuration | undefined
    for (const at of this.configurations) if (at.index <= index) found = at.configuration
    assert(found !== undefined, () => `no configuration at ${index}`)
    return found
  }

  /** The index of the latest configuration entry (or of the snapshot, which carries one). */
  lastConfigurationIndex(): number {
    const last = this.configurations[this.configurations.length - 1]
    assert(last !== undefined, "there is always a base configuration")
    return last.index
  }

  /** Discards the entries covered by `snapshot`, which the shell made from applied state. */
  compact(snapshot: Snapshot): void {
    const index = snapshot.lastIncludedIndex
    assert(index > this.snapshotIndex(), () => `snapshot ${index} is not newer than ${this.snapshotIndex()}`)
    assert(index <= this.stableIndexValue, () => `cannot compact unpersisted entry ${index}`)
    assert(this.matchTerm(index, snapshot.lastIncludedTerm), () => `snapshot term differs from entry ${index}`)
    const later = this.configurations.filter((at) => at.index > index)
    this.entries = this.entries.slice(index - this.snapshotIndex())
    this.snapshotValue = snapshot
    this.configurations = [{ index, configuration: snapshot.configuration }, ...later]
  }

  /** Replaces the whole log with a snapshot received from the leader (§7). */
  restore(snapshot: Snapshot): void {
    this.entries = []
    this.snapshotValue = snapshot
    this.unstableSnapshotValue = snapshot
    this.configurations = [{ index: snapshot.lastIncludedIndex, configuration: snapshot.configuration }]
    this.stableIndexValue = snapshot.lastIncludedIndex
    this.storageLastIndex = snapshot.lastIncludedIndex
  }

  /** The last index on stable storage; a leader counts only this much for itself. */
  stableIndex(): number {
    return this.stableIndexValue
  }

  /** The snapshot still to be persisted, if any. */
  unstableSnapshot(): Snapshot | null {
    return this.unstableSnapshotValue
  }

  /** The entries still to be persisted. */
  unstableEntries(): Entry[] {
    return this.slice(this.stableIndexValue + 1, this.lastIndex() + 1)
  }

  /** The first stored index the shell must delete before appending, if a conflict removed some. */
  truncateFrom(): number | undefined {
    if (this.storageLastIndex <= this.stableIndexValue) return undefined
    assert(this.lastIndex() > this.stableIndexValue, "a truncation is always followed by new entries")
    return this.stableIndexValue + 1
  }

  /**
   * Records that the shell persisted a Ready: its snapshot, then `entries`. An entry that was
   * replaced meanwhile no longer matches by term, so it does not count as stable.
   */
  persisted(options: { snapshot: Snapshot | undefined; entries: ReadonlyArray<Entry> }): void {
    if (options.snapshot !== undefined) {
      if (this.unstableSnapshotValue === options.snapshot) this.unstableSnapshotValue = null
      this.storageLastIndex = options.snapshot.lastIncludedIndex
    }
    // at(-1): [length - 1] of an empty array is a slow megamorphic read of key -1 (see advanceReady).
    const last = options.entries.at(-1)
    if (last === undefined) return
    this.storageLastIndex = last.index
    if (this.matchTerm(last.index, last.term)) {
      this.stableIndexValue = Math.max(this.stableIndexValue, last.index)
    }
  }

  private noteConfiguration(entry: Entry): void {
    if (!isConfigChange(entry.command)) return
    const configuration = applyConfigChange(this.configuration(), entry.command.change)
    this.configurations.push({ index: entry.index, configuration })
  }
}
