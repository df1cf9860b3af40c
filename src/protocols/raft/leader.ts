// The leader role: taking proposals, heartbeats and check-quorum, membership changes (thesis
// §4.1), leadership transfer (thesis §3.10) and linearizable reads (thesis §6.4).
import { absurd, assert } from "./assert.ts"
import { applyConfigChange, hasQuorum, isVoter } from "./configuration.ts"
import { becomeFollower } from "./follower.ts"
import { Progress } from "./progress.ts"
import { committedEntryInCurrentTerm, resetTerm, send, type RaftState } from "./raft-state.ts"
import {
  broadcastAppend,
  broadcastHeartbeat,
  handleAppendEntriesResponse,
  handleHeartbeatAck,
  handleSnapshotResponse,
  maybeCommit,
  progressOf,
  sendAppend,
  tickSnapshots
} from "./replication.ts"
import type {
  Command,
  ConfigChange,
  Entry,
  Message,
  NodeId,
  ProposeRejection,
  ProposeResult,
  ReadIndexResult,
  TransferResult
} from "./types.ts"
import { isConfigChange } from "./types.ts"

/**
 * Becomes the leader of the current term: every follower is probed from the end of our log,
 * and a Noop of the new term is appended so that earlier entries can commit through it (§5.4.2)
 * and reads can be served once it commits (thesis §6.4).
 */
export function becomeLeader(raft: RaftState): void {
  assert(raft.role === "Candidate", () => `only a candidate can become leader, not a ${raft.role}`)
  resetTerm(raft, raft.term)
  raft.leader = raft.id
  raft.role = "Leader"
  raft.step = stepLeader
  raft.tick = tickHeartbeat
  syncProgress(raft, { recentActive: false })
  const self = progressOf(raft, raft.id)
  self.maybeUpdate(raft.log.stableIndex())
  self.recentActive = true
  appendEntry(raft, { _tag: "Noop" })
  broadcastAppend(raft)
}

/** Handles a message of the leader's own term. */
export function stepLeader(raft: RaftState, message: Message): void {
  switch (message._tag) {
    case "AppendEntriesResponse":
      if (handleAppendEntriesResponse(raft, message)) afterCommit(raft)
      maybeSendTimeoutNow(raft, message.from)
      return
    case "InstallSnapshotResponse":
      if (handleSnapshotResponse(raft, message)) afterCommit(raft)
      maybeSendTimeoutNow(raft, message.from)
      return
    case "HeartbeatResponse":
      handleHeartbeatAck(raft, message.from)
      if (message.context !== undefined) confirmRead(raft, message.context, message.from)
      return
    case "AppendEntries":
    case "Heartbeat":
    case "InstallSnapshot":
      assert(false, () => `two leaders in term ${raft.term}: ${raft.id}, ${message.from}`)
      return
    case "RequestVote":
      assert(false, "RequestVote is handled before the role's step function")
      return
    case "RequestVoteResponse":
    case "TimeoutNow":
      // Late votes from the election we already won; TimeoutNow only comes from a leader.
      return
    default:
      absurd(message)
  }
}

/**
 * The leader's clock: heartbeats every `heartbeatTicks`, and once per election timeout the
 * check-quorum (thesis §6.2: step down if a majority has not answered since the last check) and
 * the end of any leadership transfer that did not finish in time (thesis §3.10).
 */
export function tickHeartbeat(raft: RaftState): void {
  raft.heartbeatElapsed++
  raft.electionElapsed++
  tickSnapshots(raft)
  if (raft.electionElapsed >= raft.config.electionTimeoutTicksMin) {
    raft.electionElapsed = 0
    if (raft.config.checkQuorum && !checkQuorumActive(raft)) {
      becomeFollower(raft, raft.term, null)
      return
    }
    raft.leadTransferee = null
  }
  if (raft.heartbeatElapsed >= raft.config.heartbeatTicks) {
    raft.heartbeatElapsed = 0
    broadcastHeartbeat(raft, raft.reads.lastPending())
  }
}

/** Whether a majority answered since the last check; starts the next round either way. */
function checkQuorumActive(raft: RaftState): boolean {
  const active = hasQuorum(
    raft.log.configuration(),
    (voter) => voter === raft.id || raft.progress.get(voter)?.recentActive === true
  )
  for (const [id, progress] of raft.progress) progress.recentActive = id === raft.id
  return active
}

/** Appends a proposal to the leader's log and replicates it. */
export function propose(raft: RaftState, command: Command): ProposeResult {
  if (raft.role !== "Leader") return { _tag: "NotLeader", leaderHint: raft.leader }
  // During a transfer new entries would only delay the target's catching up (thesis §3.10).
  if (raft.leadTransferee !== null) return { _tag: "Rejected", reason: "TransferInProgress" }
  if (isConfigChange(command)) {
    const reason = configChangeRejection(raft, command.change)
    if (reason !== null) return { _tag: "Rejected", reason }
  }
  const entry = appendEntry(raft, command)
  // Sent with the next Ready (see sendDueAppends), together with the proposals stepped before it.
  for (const id of raft.progress.keys()) if (id !== raft.id) raft.appendsDue.add(id)
  // Removing a voter can shrink the quorum enough to commit what is already replicated.
  if (isConfigChange(command) && maybeCommit(raft)) afterCommit(raft)
  return { _tag: "Accepted", index: entry.index, term: entry.term }
}

/** Why a membership change may not start now (thesis §4.1), or null if it may. */
function configChangeRejection(raft: RaftState, change: ConfigChange): ProposeRejection | null {
  // One change at a time: the next may start only once the previous one is committed.
  if (raft.log.lastConfigurationIndex() > raft.commitIndex) return "ConfigChangeInProgress"
  // Ongaro's fix to single-server changes: a leader must commit an entry of its own term first,
  // or a change from a previous term's leader could still be overwritten.
  if (!committedEntryInCurrentTerm(raft)) return "NoCommitInTerm"
  const current = raft.log.configuration()
  const next = applyConfigChange(current, change)
  if (next.voters.length === current.voters.length) return "NoChange"
  if (next.voters.length === 0) return "LastVoter"
  return null
}

function appendEntry(raft: RaftState, command: Command): Entry {
  const entry: Entry = { term: raft.term, index: raft.log.lastIndex() + 1, command }
  raft.log.append([entry])
  if (isConfigChange(command)) syncProgress(raft, { recentActive: true })
  return entry
}

/**
 * Makes the progress records match the latest configuration. A new voter starts as active, so
 * that it gets a full check-quorum round to answer before it counts as silent.
 */
function syncProgress(raft: RaftState, options: { recentActive: boolean }): void {
  const voters = raft.log.configuration().voters
  for (const voter of voters) {
    if (raft.progress.has(voter)) continue
    const progress = new Progress({
      next: raft.log.lastIndex() + 1,
      maxInflightAppends: raft.config.maxInflightAppends
    })
    progress.recentActive = options.recentActive
    raft.progress.set(voter, progress)
  }
  for (const id of [...raft.progress.keys()]) {
    if (voters.includes(id)) continue
    raft.progress.delete(id)
    if (raft.leadTransferee === id) raft.leadTransferee = null
  }
}

/**
 * Follow-up once commitIndex moved: serve reads, maybe step down. The followers are not sent a
 * round of their own: they learn the new commitIndex from the next AppendEntries or heartbeat, as
 * §5.3 has it ("it includes that index in future AppendEntries RPCs (including heartbeats) so that
 * the other servers eventually find out"). etcd broadcasts an append here instead, which costs
 * every write a second round of messages to every follower.
 */
function afterCommit(raft: RaftState): void {
  assert(committedEntryInCurrentTerm(raft), "a leader only commits entries of its own term")
  const waiting = raft.reads.takeWaitingForCommit()
  if (waiting.length > 0) startReads(raft, waiting)
  // A leader removed from the configuration manages the cluster until the removal commits,
  // then steps down (thesis §4.2.2); it is no longer promotable, so it will not campaign.
  if (!isVoter(raft.log.configuration(), raft.id) && raft.commitIndex >= raft.log.lastConfigurationIndex()) {
    becomeFollower(raft, raft.term, null)
  }
}

/** The leader's own entries are on stable storage up to the log's stable index. */
export function leaderPersisted(raft: RaftState): void {
  const self = raft.progress.get(raft.id)
  if (self === undefined) return
  if (self.maybeUpdate(raft.log.stableIndex()) && maybeCommit(raft)) afterCommit(raft)
}

/** Starts a linearizable read (thesis §6.4). */
export function readIndex(raft: RaftState, requestId: string): ReadIndexResult {
  if (raft.role !== "Leader") return { _tag: "NotLeader", leaderHint: raft.leader }
  assert(!raft.reads.has(requestId), () => `read ${requestId} is already pending`)
  if (raft.reads.isFull()) return { _tag: "Busy" }
  // Until an entry of this term commits, our commitIndex may lag the previous leader's.
  if (committedEntryInCurrentTerm(raft)) startReads(raft, [requestId])
  else raft.reads.waitForCommit(requestId)
  return { _tag: "Accepted" }
}

/**
 * Records commitIndex for each request and confirms leadership with one heartbeat round; the
 * newest request's confirmation releases all of them.
 */
function startReads(raft: RaftState, requestIds: ReadonlyArray<string>): void {
  for (const requestId of requestIds) raft.reads.add({ requestId, index: raft.commitIndex, self: raft.id })
  const last = requestIds[requestIds.length - 1]
  assert(last !== undefined, "startReads needs a request")
  if (!raft.rules.confirmReadsWithQuorum || hasQuorum(raft.log.configuration(), (voter) => voter === raft.id)) {
    raft.readStates.push(...raft.reads.release(last))
    return
  }
  broadcastHeartbeat(raft, last)
}

function confirmRead(raft: RaftState, requestId: string, from: NodeId): void {
  const acks = raft.reads.recordAck({ requestId, from })
  if (acks === undefined) return
  if (hasQuorum(raft.log.configuration(), (voter) => acks.has(voter))) {
    raft.readStates.push(...raft.reads.release(requestId))
  }
}

/** Starts handing leadership to `target` (thesis §3.10). */
export function transferLeadership(raft: RaftState, target: NodeId): TransferResult {
  if (raft.role !== "Leader") return { _tag: "NotLeader", leaderHint: raft.leader }
  if (target === raft.id) return { _tag: "Accepted" }
  if (!isVoter(raft.log.configuration(), target)) return { _tag: "Rejected", reason: "NotVoter" }
  if (raft.leadTransferee === target) return { _tag: "Accepted" }
  raft.leadTransferee = target
  // The transfer gets one election timeout to finish; tickHeartbeat abandons it after that.
  raft.electionElapsed = 0
  if (progressOf(raft, target).match === raft.log.lastIndex()) sendTimeoutNow(raft, target)
  else sendAppend(raft, target, { sendIfEmpty: true })
  return { _tag: "Accepted" }
}

function maybeSendTimeoutNow(raft: RaftState, from: NodeId): void {
  if (raft.role !== "Leader" || raft.leadTransferee !== from) return
  if (progressOf(raft, from).match === raft.log.lastIndex()) sendTimeoutNow(raft, from)
}

function sendTimeoutNow(raft: RaftState, to: NodeId): void {
  send(raft, { _tag: "TimeoutNow", from: raft.id, to, term: raft.term })
}
