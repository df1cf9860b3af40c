// The mutable state of one Raft server and the small helpers every role shares. Internal to the
// core: the shell sees it only through the `Raft` object in raft.ts.
import { assert } from "./assert.ts"
import { isVoter } from "./configuration.ts"
import type { RaftLog } from "./log.ts"
import type { Progress } from "./progress.ts"
import type { ReadIndexQueue } from "./read-index.ts"
import type { Message, NodeId, RaftConfig, RaftRules, ReadState, Role } from "./types.ts"

/** Handles a message whose term has already been reconciled with the server's (etcd's stepFunc). */
export type StepFunction = (raft: RaftState, message: Message) => void

/** Advances the role's logical clock by one tick. */
export type TickFunction = (raft: RaftState) => void

/** Everything one server knows. Roles swap `step` and `tick`, as etcd's become* functions do. */
export interface RaftState {
  readonly id: NodeId
  readonly config: RaftConfig
  /** The rules in force: the paper's, unless a test replaced some through `config.rules`. */
  readonly rules: RaftRules
  /** Persistent (Figure 2): the latest term this server has seen. */
  term: number
  /** Persistent (Figure 2): the candidate that received this server's vote in `term`. */
  votedFor: NodeId | null
  /** The leader of `term`, once known. */
  leader: NodeId | null
  role: Role
  /** The highest index known to be committed. */
  commitIndex: number
  /** The highest index handed to the shell to apply (and acknowledged with advance). */
  appliedIndex: number
  readonly log: RaftLog
  /** Ticks since the last election timeout reset (or, at a leader, since the last quorum check). */
  electionElapsed: number
  /** Leader only: ticks since the last heartbeat broadcast. */
  heartbeatElapsed: number
  /** This term's election timeout, drawn from [min, max). */
  randomizedElectionTimeout: number
  /** Candidate only: the votes received in this (pre-)election. */
  readonly votes: Map<NodeId, boolean>
  /** Leader only: each voter's replication progress, including the leader's own. */
  readonly progress: Map<NodeId, Progress>
  /** Leader only: the target of a leadership transfer in progress. */
  leadTransferee: NodeId | null
  /** Leader only: linearizable reads awaiting confirmation. */
  readonly reads: ReadIndexQueue
  /**
   * Leader only: followers to stream new entries to when the next Ready is made, as far as their
   * in-flight windows take. Proposals and acknowledgements only mark followers here; sending at
   * Ready time means that the proposals and answers stepped between two Readies (a burst of client
   * writes) leave in one AppendEntries per follower rather than one per proposal. It changes no
   * timing: messages leave with the Ready either way.
   */
  readonly appendsDue: Set<NodeId>
  /** Messages to hand to the next Ready. */
  messages: Message[]
  /** Confirmed reads to hand to the next Ready. */
  readStates: ReadState[]
  step: StepFunction
  tick: TickFunction
}

/** Queues `message` for the next Ready. */
export function send(raft: RaftState, message: Message): void {
  assert(message.from === raft.id, () => `message from ${message.from} sent by ${raft.id}`)
  assert(message.to !== raft.id, () => `${raft.id} must not send ${message._tag} to itself`)
  raft.messages.push(message)
}

/** Draws a fresh election timeout from [min, max) with the injected randomness. */
export function randomizeElectionTimeout(raft: RaftState): void {
  const span = raft.config.electionTimeoutTicksMax - raft.config.electionTimeoutTicksMin
  const offset = raft.config.randomInt(span)
  assert(Number.isInteger(offset) && offset >= 0 && offset < span, () => `randomInt(${span}) returned ${offset}`)
  raft.randomizedElectionTimeout = raft.config.electionTimeoutTicksMin + offset
}

/**
 * Moves to `term` (forgetting the vote if the term changes) and clears everything that belongs
 * to the previous role: timers, votes, replication progress, a transfer, pending reads.
 */
export function resetTerm(raft: RaftState, term: number): void {
  assert(term >= raft.term, () => `term must not go back from ${raft.term} to ${term}`)
  if (term !== raft.term) {
    raft.term = term
    raft.votedFor = null
  }
  raft.leader = null
  raft.electionElapsed = 0
  raft.heartbeatElapsed = 0
  randomizeElectionTimeout(raft)
  raft.votes.clear()
  raft.progress.clear()
  raft.leadTransferee = null
  raft.reads.clear()
}

/** Whether this server may campaign: only voters of its current configuration may. */
export function promotable(raft: RaftState): boolean {
  return isVoter(raft.log.configuration(), raft.id)
}

/** Raises commitIndex to `index` if that is higher; commitment never goes back. */
export function commitTo(raft: RaftState, index: number): void {
  if (index <= raft.commitIndex) return
  assert(index <= raft.log.lastIndex(), () => `commit ${index} is beyond the last index ${raft.log.lastIndex()}`)
  raft.commitIndex = index
}

/** Whether the leader has committed an entry of its own term (thesis §6.4, §4.1 bug fix). */
export function committedEntryInCurrentTerm(raft: RaftState): boolean {
  return raft.log.term(raft.commitIndex) === raft.term
}

/**
 * Whether the server heard from a leader within the minimum election timeout. Such a server
 * keeps its leader's lease: it refuses to help depose it (thesis §4.2.3 and §9.6).
 */
export function inLease(raft: RaftState): boolean {
  return raft.leader !== null && raft.electionElapsed < raft.config.electionTimeoutTicksMin
}
