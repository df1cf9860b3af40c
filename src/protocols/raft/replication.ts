// The leader's replication machinery (§5.3, §5.4.2, §7): sending AppendEntries, heartbeats and
// snapshots per follower, reacting to their answers, and advancing commitIndex.
import { absurd, assert } from "./assert.ts"
import { quorumMatchIndex } from "./configuration.ts"
import type { Progress } from "./progress.ts"
import { send, type RaftState } from "./raft-state.ts"
import type { AppendEntriesResponse, InstallSnapshotResponse, NodeId, RaftRules } from "./types.ts"

/** The leader's progress record for `id`, which must exist. */
export function progressOf(raft: RaftState, id: NodeId): Progress {
  const progress = raft.progress.get(id)
  assert(progress !== undefined, () => `no progress for ${id}`)
  return progress
}

/**
 * Sends `to` the entries from its nextIndex on, or the snapshot if they are compacted away.
 * With `sendIfEmpty` false nothing is sent when there are no new entries. Returns whether a
 * message was sent.
 */
export function sendAppend(raft: RaftState, to: NodeId, options: { sendIfEmpty: boolean }): boolean {
  const progress = progressOf(raft, to)
  if (progress.isPaused()) return false
  const lastIndex = raft.log.lastIndex()
  assert(progress.next <= lastIndex + 1, () => `next ${progress.next} of ${to} is beyond ${lastIndex + 1}`)
  const prevLogIndex = progress.next - 1
  const prevLogTerm = raft.log.term(prevLogIndex)
  if (prevLogTerm === undefined) {
    sendSnapshot(raft, to, progress)
    return true
  }
  const end = Math.min(lastIndex, prevLogIndex + raft.config.maxEntriesPerAppend)
  const entries = raft.log.slice(progress.next, end + 1)
  if (entries.length === 0 && !options.sendIfEmpty) return false
  send(raft, {
    _tag: "AppendEntries",
    from: raft.id, to: to, term: raft.term,
    prevLogIndex,
    prevLogTerm,
    entries,
    leaderCommit: raft.commitIndex
  })
  progress.sentEntries({ count: entries.length, lastIndex: end })
  return true
}

/** Sends the current snapshot to a follower that needs compacted entries (§7). */
function sendSnapshot(raft: RaftState, to: NodeId, progress: Progress): void {
  const snapshot = raft.log.snapshot()
  send(raft, { _tag: "InstallSnapshot", from: raft.id, to: to, term: raft.term, snapshot })
  progress.becomeSnapshot(snapshot.lastIncludedIndex)
}

/** Sends new entries (or an empty AppendEntries) to every follower that is not paused. */
export function broadcastAppend(raft: RaftState): void {
  for (const id of raft.progress.keys()) {
    if (id !== raft.id) sendAppend(raft, id, { sendIfEmpty: true })
  }
}

/** Sends every follower a heartbeat, tagged with a ReadIndex request to confirm if any. */
export function broadcastHeartbeat(raft: RaftState, context: string | null): void {
  for (const [id, progress] of raft.progress) {
    if (id === raft.id) continue
    // A follower is only told to commit what it is known to hold.
    const leaderCommit = Math.min(progress.match, raft.commitIndex)
    send(
      raft,
      context === null
        ? { _tag: "Heartbeat", from: raft.id, to: id, term: raft.term, leaderCommit }
        : { _tag: "Heartbeat", from: raft.id, to: id, term: raft.term, leaderCommit, context }
    )
  }
}

/**
 * The paper's commit rule: a leader commits by counting replicas only an entry of its own term
 * (§5.4.2, Figure 8). Earlier-term entries commit indirectly, with the first current-term entry.
 */
export const commitCurrentTermOnly: RaftRules["commitByCounting"] = ({ entryTerm, currentTerm }) =>
  entryTerm === currentTerm

/**
 * Advances commitIndex to the highest index a majority holds, if the commit rule allows it for
 * that entry's term (by default only the current term: §5.4.2, Figure 8). Returns whether
 * commitIndex moved.
 */
export function maybeCommit(raft: RaftState): boolean {
  const index = quorumMatchIndex(raft.log.configuration(), (voter) => raft.progress.get(voter)?.match ?? 0)
  if (index <= raft.commitIndex) return false
  const entryTerm = raft.log.term(index)
  assert(entryTerm !== undefined, () => `quorum index ${index} is not in the leader's log`)
  if (!raft.rules.commitByCounting({ entryTerm, currentTerm: raft.term })) return false
  raft.commitIndex = index
  return true
}

/**
 * Handles a follower's answer to AppendEntries. Returns whether commitIndex moved, which the
 * leader follows up on (it cannot here without a cycle of imports).
 */
export function handleAppendEntriesResponse(raft: RaftState, message: AppendEntriesResponse): boolean {
  const progress = raft.progress.get(message.from)
  if (progress === undefined) return false
  progress.recentActive = true
  if (!message.success) {
    handleRejection(raft, message, progress)
    return false
  }
  return handleAck(raft, message.from, progress, message.matchIndex)
}

function handleRejection(raft: RaftState, message: AppendEntriesResponse, progress: Progress): void {
  // The follower's hint says its log cannot match ours above conflictIndex; look in our own log
  // for the last index whose term could still match, skipping whole terms at a time.
  const hint = Math.min(message.conflictIndex ?? 0, raft.log.lastIndex())
  const matchHint = raft.log.findConflictByTerm(hint, message.conflictTerm ?? 0)
  if (!progress.maybeDecrementTo({ rejected: message.rejectedIndex ?? 0, matchHint })) return
  if (progress.state === "Replicate") progress.becomeProbe()
  sendAppend(raft, message.from, { sendIfEmpty: true })
}

/** Handles a follower's answer to InstallSnapshot. Returns whether commitIndex moved. */
export function handleSnapshotResponse(raft: RaftState, message: InstallSnapshotResponse): boolean {
  const progress = raft.progress.get(message.from)
  if (progress === undefined) return false
  progress.recentActive = true
  if (progress.state !== "Snapshot") return handleAck(raft, message.from, progress, message.matchIndex)
  progress.maybeUpdate(message.matchIndex)
  progress.becomeProbe()
  const committed = maybeCommit(raft)
  sendAppend(raft, message.from, { sendIfEmpty: true })
  return committed
}

/** Records that `from` holds our log up to `matchIndex` and keeps its pipeline full. */
function handleAck(raft: RaftState, from: NodeId, progress: Progress, matchIndex: number): boolean {
  const wasPaused = progress.isPaused()
  if (!progress.maybeUpdate(matchIndex)) return false
  switch (progress.state) {
    case "Probe":
      progress.becomeReplicate()
      break
    case "Snapshot":
      if (progress.match >= progress.pendingSnapshot) progress.becomeReplicate()
      break
    case "Replicate":
      progress.inflights.freeLE(matchIndex)
      break
    default:
      absurd(progress.state)
  }
  const committed = maybeCommit(raft)
  // A follower that was paused gets at least an empty AppendEntries now, carrying any new commit.
  if (wasPaused) sendAppend(raft, from, { sendIfEmpty: true })
  // What is left goes out when the Ready is made, with whatever else is proposed before then.
  raft.appendsDue.add(from)
  return committed
}

/**
 * Streams new entries to each follower marked due since the last Ready: each round sends entries
 * until the follower's in-flight window is full (or one probe or snapshot is out), so the loop is
 * bounded by the window (etcd's maybeSendAppend loop).
 */
export function sendDueAppends(raft: RaftState): void {
  if (raft.appendsDue.size === 0) return
  if (raft.role === "Leader") {
    for (const id of raft.appendsDue) {
      if (!raft.progress.has(id)) continue
      let rounds = 0
      while (sendAppend(raft, id, { sendIfEmpty: false })) {
        rounds++
        assert(rounds <= raft.config.maxInflightAppends + 1, "sendAppend loop exceeds the in-flight window")
      }
    }
  }
  raft.appendsDue.clear()
}

/** Handles a follower's answer to a heartbeat: it is alive, so unblock its replication. */
export function handleHeartbeatAck(raft: RaftState, from: NodeId): void {
  const progress = raft.progress.get(from)
  if (progress === undefined) return
  progress.recentActive = true
  progress.probeSent = false
  // The window may be full of messages that were lost; free one so replication can resume.
  if (progress.state === "Replicate" && progress.inflights.full()) progress.inflights.freeFirstOne()
  if (progress.match < raft.log.lastIndex()) sendAppend(raft, from, { sendIfEmpty: true })
}

/** Leader tick work for snapshots: a snapshot unanswered for an election timeout is resent. */
export function tickSnapshots(raft: RaftState): void {
  for (const [id, progress] of raft.progress) {
    if (progress.state !== "Snapshot") continue
    progress.snapshotTicks++
    if (progress.snapshotTicks < raft.config.electionTimeoutTicksMin) continue
    progress.abortSnapshot()
    sendAppend(raft, id, { sendIfEmpty: true })
  }
}
