// The candidate and pre-candidate roles: the election timer (§5.2), pre-vote (thesis §9.6),
// collecting votes, and what to do on winning or losing.
import { absurd, assert } from "./assert.ts"
import { voteResult } from "./configuration.ts"
import { becomeFollower, stepFollower } from "./follower.ts"
import { becomeLeader } from "./leader.ts"
import { promotable, randomizeElectionTimeout, resetTerm, send, type RaftState } from "./raft-state.ts"
import type { Message } from "./types.ts"

/**
 * Why an election starts: `PreElection` polls without changing the term; `Election` is a real
 * one; `Transfer` is a real one started by TimeoutNow, which voters honour despite their lease.
 */
export type CampaignKind = "PreElection" | "Election" | "Transfer"

/**
 * The follower's and candidate's clock: after a randomized election timeout without hearing from
 * a leader or granting a vote, start an election (§5.2).
 */
export function tickElection(raft: RaftState): void {
  raft.electionElapsed++
  // A server outside its own configuration (removed, or not yet added) must not disrupt the
  // cluster with elections it could not legitimately win. Its timer keeps running, so that its
  // lease on a silent leader still expires.
  if (!promotable(raft) || raft.electionElapsed < raft.randomizedElectionTimeout) return
  raft.electionElapsed = 0
  campaign(raft, raft.config.preVote ? "PreElection" : "Election")
}

/** Becomes a pre-candidate: same term, no vote cast, just asking whether an election could win. */
function becomePreCandidate(raft: RaftState): void {
  assert(raft.role !== "Leader", "a leader cannot become a pre-candidate")
  raft.votes.clear()
  raft.leader = null
  raft.electionElapsed = 0
  randomizeElectionTimeout(raft)
  raft.role = "PreCandidate"
  raft.step = stepCandidate
  raft.tick = tickElection
}

/** Becomes a candidate: a new term, voting for itself (§5.2). */
function becomeCandidate(raft: RaftState): void {
  assert(raft.role !== "Leader", "a leader cannot become a candidate")
  resetTerm(raft, raft.term + 1)
  raft.votedFor = raft.id
  raft.role = "Candidate"
  raft.step = stepCandidate
  raft.tick = tickElection
}

/** Starts an election of the given kind and asks every other voter for its vote. */
export function campaign(raft: RaftState, kind: CampaignKind): void {
  assert(promotable(raft), () => `${raft.id} is not a voter and cannot campaign`)
  const preVote = kind === "PreElection"
  if (preVote) becomePreCandidate(raft)
  else becomeCandidate(raft)
  // A pre-vote asks about the term the candidate would move to, without moving there.
  const term = preVote ? raft.term + 1 : raft.term
  if (recordVote(raft, raft.id, true)) return
  for (const voter of raft.log.configuration().voters) {
    if (voter === raft.id) continue
    send(raft, {
      _tag: "RequestVote",
      from: raft.id,
      to: voter,
      term,
      preVote,
      lastLogIndex: raft.log.lastIndex(),
      lastLogTerm: raft.log.lastTerm(),
      leadershipTransfer: kind === "Transfer"
    })
  }
}

/** Handles a message of the candidate's own term. */
export function stepCandidate(raft: RaftState, message: Message): void {
  switch (message._tag) {
    case "AppendEntries":
    case "Heartbeat":
    case "InstallSnapshot":
      // Another server won this term's election (§5.2); follow it.
      becomeFollower(raft, message.term, message.from)
      stepFollower(raft, message)
      return
    case "RequestVoteResponse":
      // A response from the other phase (pre-vote versus vote) belongs to an older election.
      if (message.preVote !== (raft.role === "PreCandidate")) return
      recordVote(raft, message.from, message.voteGranted)
      return
    case "RequestVote":
      assert(false, "RequestVote is handled before the role's step function")
      return
    case "TimeoutNow":
    case "AppendEntriesResponse":
    case "HeartbeatResponse":
    case "InstallSnapshotResponse":
      // Candidates neither transfer leadership nor replicate; these are stale.
      return
    default:
      absurd(message)
  }
}

/**
 * Records one voter's answer and acts on the outcome. Returns true once the election is over
 * (won or lost), so that a one-voter cluster wins without sending anything.
 */
function recordVote(raft: RaftState, voter: string, granted: boolean): boolean {
  // Only the first answer of each voter counts; a duplicate cannot change its mind.
  if (!raft.votes.has(voter)) raft.votes.set(voter, granted)
  const result = voteResult(raft.log.configuration(), raft.votes)
  switch (result) {
    case "Won":
      if (raft.role === "PreCandidate") campaign(raft, "Election")
      else becomeLeader(raft)
      return true
    case "Lost":
      becomeFollower(raft, raft.term, null)
      return true
    case "Pending":
      return false
    default:
      return absurd(result)
  }
}
