// Collecting the core's output into a Ready and acknowledging it (etcd's RawNode.Ready and
// Advance): what to persist, then what to send, then what to apply.
import { assert } from "./assert.ts"
import { leaderPersisted } from "./leader.ts"
import { sendDueAppends } from "./replication.ts"
import type { RaftState } from "./raft-state.ts"
import type { Entry, HardState, Ready, SoftState } from "./types.ts"

/** What the shell has acknowledged so far, to report only changes. */
export interface ReadyTracker {
  previousHardState: HardState
  previousSoftState: SoftState
  /** The Ready handed out and not yet advanced; only one may be outstanding. */
  outstanding: Ready | null
}

function hardStateOf(raft: RaftState): HardState {
  return { term: raft.term, votedFor: raft.votedFor, commitIndex: raft.commitIndex }
}

function softStateOf(raft: RaftState): SoftState {
  return { leader: raft.leader, role: raft.role }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role
}

/** The first committed index not yet handed out for applying. */
function firstUnapplied(raft: RaftState): number {
  // A snapshot still to be installed replaces the state machine up to its index.
  const snapshotIndex = raft.log.unstableSnapshot()?.lastIncludedIndex ?? 0
  return Math.max(raft.appliedIndex, snapshotIndex) + 1
}

/** The committed entries not yet handed out for applying. */
function committedEntries(raft: RaftState): Entry[] {
  const from = firstUnapplied(raft)
  if (from > raft.commitIndex) return []
  return raft.log.slice(from, raft.commitIndex + 1)
}

/** Whether `makeReady` would return anything. It runs after every input, so it allocates nothing. */
export function hasReady(raft: RaftState, tracker: ReadyTracker): boolean {
  const hard = tracker.previousHardState
  const soft = tracker.previousSoftState
  return (
    raft.messages.length > 0 ||
    raft.appendsDue.size > 0 ||
    raft.log.stableIndex() < raft.log.lastIndex() ||
    raft.readStates.length > 0 ||
    raft.log.unstableSnapshot() !== null ||
    raft.term !== hard.term ||
    raft.votedFor !== hard.votedFor ||
    raft.commitIndex !== hard.commitIndex ||
    raft.leader !== soft.leader ||
    raft.role !== soft.role ||
    firstUnapplied(raft) <= raft.commitIndex
  )
}

/**
 * Collects the pending output. Messages and read states are handed over (and forgotten here);
 * entries, snapshot and state changes stay pending until `advance` confirms them.
 */
export function makeReady(raft: RaftState, tracker: ReadyTracker): Ready {
  assert(tracker.outstanding === null, "ready() called again before advance() of the previous Ready")
  sendDueAppends(raft)
  const hardState = hardStateOf(raft)
  const softState = softStateOf(raft)
  const snapshot = raft.log.unstableSnapshot()
  // Every field is present, undefined when unchanged, so that every Ready has one shape: with the
  // optional fields added only when set, the shell's reads of a Ready met up to sixteen shapes and
  // went megamorphic, each several times slower.
  const ready: Ready = {
    hardState: sameHardState(hardState, tracker.previousHardState) ? undefined : hardState,
    softState: sameSoftState(softState, tracker.previousSoftState) ? undefined : softState,
    snapshot: snapshot === null ? undefined : snapshot,
    truncateFrom: raft.log.truncateFrom(),
    entries: raft.log.unstableEntries(),
    messages: raft.messages,
    committedEntries: committedEntries(raft),
    readStates: raft.readStates
  }
  raft.messages = []
  raft.readStates = []
  tracker.outstanding = ready
  return ready
}

/** Records that the shell persisted, sent and applied everything in `ready`. */
export function advanceReady(raft: RaftState, tracker: ReadyTracker, ready: Ready): void {
  assert(tracker.outstanding === ready, "advance() must be given the Ready last returned by ready()")
  tracker.outstanding = null
  if (ready.hardState !== undefined) tracker.previousHardState = ready.hardState
  if (ready.softState !== undefined) tracker.previousSoftState = ready.softState
  raft.log.persisted({ snapshot: ready.snapshot, entries: ready.entries })
  if (ready.snapshot !== undefined) {
    raft.appliedIndex = Math.max(raft.appliedIndex, ready.snapshot.lastIncludedIndex)
  }
  // at(-1) rather than [length - 1]: on an empty array (most Readies apply nothing) that reads key
  // -1, which V8 looks up as a named property through a megamorphic stub, about ten times slower.
  // Under callgrind such reads here and in the log cost 78 M instructions in 3 rounds of the
  // standard scenario.
  const lastApplied = ready.committedEntries.at(-1)
  if (lastApplied !== undefined) {
    assert(lastApplied.index <= raft.commitIndex, "applied an entry beyond commitIndex")
    raft.appliedIndex = Math.max(raft.appliedIndex, lastApplied.index)
  }
  if (raft.role === "Leader") leaderPersisted(raft)
}
