// The follower role: accept the leader's log (§5.3), learn its commitIndex, install its
// snapshots (§7), and start an election when the leader goes quiet or hands over (thesis §3.10).
import { absurd, assert } from "./assert.ts"
import { campaign, tickElection } from "./candidate.ts"
import { commitTo, promotable, resetTerm, send, type RaftState } from "./raft-state.ts"
import type { AppendEntries, Heartbeat, HeartbeatResponse, InstallSnapshot, Message, NodeId, RaftRules } from "./types.ts"

/** Becomes a follower in `term`, of `leader` if known (etcd's becomeFollower). */
export function becomeFollower(raft: RaftState, term: number, leader: NodeId | null): void {
  resetTerm(raft, term)
  raft.leader = leader
  raft.role = "Follower"
  raft.step = stepFollower
  raft.tick = tickElection
}

/** Handles a message of the follower's own term. */
export function stepFollower(raft: RaftState, message: Message): void {
  switch (message._tag) {
    case "AppendEntries":
      heardFromLeader(raft, message.from)
      handleAppendEntries(raft, message)
      return
    case "Heartbeat":
      heardFromLeader(raft, message.from)
      handleHeartbeat(raft, message)
      return
    case "InstallSnapshot":
      heardFromLeader(raft, message.from)
      handleSnapshot(raft, message)
      return
    case "TimeoutNow":
      // The leader has brought this server up to date and asks it to take over at once,
      // skipping pre-vote and overriding the voters' leases (thesis §3.10).
      if (promotable(raft)) campaign(raft, "Transfer")
      return
    case "RequestVote":
      assert(false, "RequestVote is handled before the role's step function")
      return
    case "RequestVoteResponse":
    case "AppendEntriesResponse":
    case "HeartbeatResponse":
    case "InstallSnapshotResponse":
      // Answers to requests sent in an earlier role of this term; nothing to do.
      return
    default:
      absurd(message)
  }
}

/** Records contact with the term's leader, which resets the election timer (§5.2). */
function heardFromLeader(raft: RaftState, from: NodeId): void {
  // Election safety (§5.2): a term has at most one leader, so a second one is a bug.
  assert(raft.leader === null || raft.leader === from, () => `two leaders in term ${raft.term}: ${raft.leader}, ${from}`)
  raft.leader = from
  raft.electionElapsed = 0
}

/** Applies the AppendEntries receiver rules of Figure 2 and answers. */
/** Figure 2, AppendEntries receiver rule 5: commit no further than the entries the request checked. */
export const commitUpToLastNew: RaftRules["followerCommit"] = ({ leaderCommit, lastNewIndex }) => Math.min(leaderCommit, lastNewIndex)

export function handleAppendEntries(raft: RaftState, message: AppendEntries): void {
  // Everything up to commitIndex is committed and so matches every later leader's log; a
  // request that starts below it is stale and the answer is simply how far we are committed.
  if (message.prevLogIndex < raft.commitIndex) {
    sendAppendSuccess(raft, message.from, raft.commitIndex)
    return
  }
  const lastNewIndex = raft.log.maybeAppend({
    prevLogIndex: message.prevLogIndex,
    prevLogTerm: message.prevLogTerm,
    entries: message.entries,
    commitIndex: raft.commitIndex,
    appendFrom: raft.rules.appendFrom
  })
  if (lastNewIndex !== null) {
    // Only entries known to match the leader may be committed, hence the min (Figure 2, rule 5).
    commitTo(raft, raft.rules.followerCommit({ leaderCommit: message.leaderCommit, lastNewIndex, lastIndex: raft.log.lastIndex() }))
    sendAppendSuccess(raft, message.from, lastNewIndex)
    return
  }
  const conflictIndex = raft.log.findConflictByTerm(
    Math.min(message.prevLogIndex, raft.log.lastIndex()),
    message.prevLogTerm
  )
  send(raft, {
    _tag: "AppendEntriesResponse",
    from: raft.id, to: message.from, term: raft.term,
    success: false,
    matchIndex: 0,
    rejectedIndex: message.prevLogIndex,
    conflictIndex,
    conflictTerm: raft.log.term(conflictIndex) ?? 0
  })
}

function sendAppendSuccess(raft: RaftState, to: NodeId, matchIndex: number): void {
  send(raft, {
    _tag: "AppendEntriesResponse",
    from: raft.id, to: to, term: raft.term,
    success: true,
    matchIndex
  })
}

/** Learns the commit index from a heartbeat and acknowledges it (echoing any read context). */
export function handleHeartbeat(raft: RaftState, message: Heartbeat): void {
  // The leader sends min(our matchIndex, commitIndex), which we hold and which matches its log.
  commitTo(raft, message.leaderCommit)
  const response: HeartbeatResponse = message.context === undefined
    ? { _tag: "HeartbeatResponse", from: raft.id, to: message.from, term: raft.term }
    : { _tag: "HeartbeatResponse", from: raft.id, to: message.from, term: raft.term, context: message.context }
  send(raft, response)
}

/** Applies the InstallSnapshot receiver rules (§7) and answers with how far the log now matches. */
export function handleSnapshot(raft: RaftState, message: InstallSnapshot): void {
  const snapshot = message.snapshot
  const index = snapshot.lastIncludedIndex
  if (index <= raft.commitIndex) {
    // We already have everything the snapshot covers, and more.
    sendSnapshotResponse(raft, message.from, raft.commitIndex)
  } else if (raft.log.matchTerm(index, snapshot.lastIncludedTerm)) {
    // Our log already holds the snapshot's last entry, so it matches up to there and the
    // entries after it are kept (§7: "retain log entries following it").
    commitTo(raft, index)
    sendSnapshotResponse(raft, message.from, index)
  } else {
    raft.log.restore(snapshot)
    raft.commitIndex = index
    sendSnapshotResponse(raft, message.from, index)
  }
}

function sendSnapshotResponse(raft: RaftState, to: NodeId, matchIndex: number): void {
  send(raft, { _tag: "InstallSnapshotResponse", from: raft.id, to: to, term: raft.term, matchIndex })
}
