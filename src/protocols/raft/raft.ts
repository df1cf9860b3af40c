// The Raft core's public face (etcd's RawNode): a pure, synchronous state machine driven by
// tick/step/propose and drained through ready/advance. No clocks, sockets, disks or randomness
// of its own; the shell supplies all of those.
import { assert } from "./assert.ts"
import { campaign } from "./candidate.ts"
import { emptyConfiguration, makeConfiguration } from "./configuration.ts"
import { becomeFollower, commitUpToLastNew } from "./follower.ts"
import { propose, readIndex, transferLeadership } from "./leader.ts"
import { appendFromFirstConflict, RaftLog, upToDateLog } from "./log.ts"
import { inLease, promotable, send, type RaftState } from "./raft-state.ts"
import { ReadIndexQueue } from "./read-index.ts"
import { advanceReady, hasReady, makeReady, type ReadyTracker } from "./ready.ts"
import { commitCurrentTermOnly } from "./replication.ts"
import type {
  Command,
  ConfigChange,
  Configuration,
  Entry,
  JsonValue,
  Message,
  NodeId,
  ProposeResult,
  RaftConfig,
  RaftRules,
  Ready,
  ReadIndexResult,
  RequestVote,
  RestoredState,
  Role,
  Snapshot,
  TransferResult
} from "./types.ts"

/** The most ReadIndex requests a leader holds at once before answering `Busy`. */
export const maxPendingReads = 4096

/** The replication state of one follower, as the leader sees it (for tests and checkers). */
export interface ProgressView {
  readonly match: number
  readonly next: number
  readonly state: "Probe" | "Replicate" | "Snapshot"
}

/**
 * One Raft server. Inputs change its state; `ready()` returns what must be persisted, sent and
 * applied (in that order); `advance()` acknowledges it. All methods are synchronous and
 * deterministic given the injected `randomInt`.
 */
export interface Raft {
  readonly id: NodeId
  /** Advances the logical clock by one tick (election and heartbeat timers count ticks). */
  tick(): void
  /** Handles a message from another server; it must be addressed to this one. */
  step(message: Message): void
  /** Appends a command to the log if this server leads. */
  propose(command: Command): ProposeResult
  /** Proposes a single-server membership change (thesis §4.1). */
  proposeConfigChange(change: ConfigChange): ProposeResult
  /** Starts a linearizable read; its ReadState appears in a later Ready (thesis §6.4). */
  readIndex(requestId: string): ReadIndexResult
  /** Hands leadership to `target` once it is up to date (thesis §3.10). */
  transferLeadership(target: NodeId): TransferResult
  /** Starts an election now, as if the election timeout had elapsed (for tests and operators). */
  campaign(): void
  /**
   * Compacts the log up to `index` (at most appliedIndex), given the state machine's data as of
   * that index. Returns the snapshot, which the shell persists before dropping its entries.
   */
  reportSnapshotTaken(index: number, data: JsonValue): Snapshot
  /** Whether `ready()` has anything to hand over. */
  hasReady(): boolean
  /** Hands over pending work; call `advance` with the result before calling `ready` again. */
  ready(): Ready
  /** Confirms that everything in `ready` was persisted, sent and applied. */
  advance(ready: Ready): void

  readonly role: Role
  readonly term: number
  readonly votedFor: NodeId | null
  readonly leader: NodeId | null
  readonly commitIndex: number
  /** The last index handed out for applying and acknowledged by `advance`. */
  readonly appliedIndex: number
  /** The latest configuration in the log, committed or not. */
  readonly configuration: Configuration
  readonly firstIndex: number
  readonly lastIndex: number
  /** The entries with indices in [from, to); they must not be compacted. */
  entries(from: number, to: number): Entry[]
  /** The term of entry `index`, or undefined if compacted or beyond the end. */
  termAt(index: number): number | undefined
  /** The snapshot the log starts after. */
  snapshot(): Snapshot
  /** Leader only: the replication progress of each voter. */
  progress(): ReadonlyMap<NodeId, ProgressView>
}

/** The paper's rules, in force unless a test replaces some through `RaftConfig.rules`. */
export const defaultRaftRules: RaftRules = {
  commitByCounting: commitCurrentTermOnly,
  appendFrom: appendFromFirstConflict,
  voteForLog: upToDateLog,
  confirmReadsWithQuorum: true,
  followerCommit: commitUpToLastNew
}

/** The snapshot every log starts from before any real one: index 0, no voters, no data. */
const baseSnapshot: Snapshot = {
  lastIncludedIndex: 0,
  lastIncludedTerm: 0,
  configuration: emptyConfiguration,
  data: null
}

function validateConfig(config: RaftConfig): void {
  assert(config.electionTimeoutTicksMin >= 1, "electionTimeoutTicksMin must be at least 1")
  assert(
    config.electionTimeoutTicksMax > config.electionTimeoutTicksMin,
    "electionTimeoutTicksMax must exceed electionTimeoutTicksMin (the range is [min, max))"
  )
  assert(config.heartbeatTicks >= 1, "heartbeatTicks must be at least 1")
  assert(config.heartbeatTicks < config.electionTimeoutTicksMin, "heartbeatTicks must be below the election timeout")
  assert(config.maxEntriesPerAppend >= 1, "maxEntriesPerAppend must be at least 1")
  assert(config.maxInflightAppends >= 1, "maxInflightAppends must be at least 1")
  assert(config.peers.length === 0 || config.peers.includes(config.id), "peers must include id")
}

/**
 * A founding server's log starts with one committed AddNode entry (term 0) per bootstrap voter,
 * the same on every founder, as etcd's StartNode does. The configuration thus lives in the log:
 * a server that joins later with an empty log rebuilds it from the leader's entries or snapshot.
 */
function bootstrapEntries(peers: ReadonlyArray<NodeId>): Entry[] {
  return makeConfiguration(peers).voters.map((node, position) => ({
    term: 0,
    index: position + 1,
    command: { _tag: "ConfigChange", change: { _tag: "AddNode", node } }
  }))
}

function isEmptyStorage(restored: RestoredState | undefined): boolean {
  return restored === undefined || (restored.snapshot === undefined && restored.entries.length === 0)
}

/**
 * Creates a Raft server. Without `restored` (or with empty storage) it bootstraps from
 * `config.peers`; otherwise it resumes from what the shell recovered after a crash, as a follower
 * with the same term, vote and log.
 */
export function newRaft(config: RaftConfig, restored?: RestoredState): Raft {
  validateConfig(config)
  const fresh = isEmptyStorage(restored)
  const snapshot = restored?.snapshot ?? baseSnapshot
  const entries = fresh ? bootstrapEntries(config.peers) : (restored?.entries ?? [])
  const log = new RaftLog({ snapshot, entries, persisted: !fresh })
  const committed = fresh ? entries.length : (restored?.hardState.commitIndex ?? 0)
  const commitIndex = Math.max(committed, snapshot.lastIncludedIndex)
  assert(commitIndex <= log.lastIndex(), () => `restored commitIndex ${commitIndex} is beyond the log`)
  const term = restored?.hardState.term ?? 0
  const votedFor = restored?.hardState.votedFor ?? null
  assert(term >= log.lastTerm(), () => `restored term ${term} is below the log's last term ${log.lastTerm()}`)
  const raft: RaftState = {
    id: config.id,
    config,
    rules: { ...defaultRaftRules, ...config.rules },
    term,
    votedFor,
    leader: null,
    role: "Follower",
    commitIndex,
    appliedIndex: snapshot.lastIncludedIndex,
    log,
    electionElapsed: 0,
    heartbeatElapsed: 0,
    randomizedElectionTimeout: config.electionTimeoutTicksMin,
    votes: new Map(),
    progress: new Map(),
    leadTransferee: null,
    reads: new ReadIndexQueue(maxPendingReads),
    appendsDue: new Set(),
    messages: [],
    readStates: [],
    step: () => undefined,
    tick: () => undefined
  }
  becomeFollower(raft, term, null)
  const tracker: ReadyTracker = {
    previousHardState: { term, votedFor, commitIndex: fresh ? 0 : committed },
    previousSoftState: { leader: null, role: "Follower" },
    outstanding: null
  }
  return new RaftNode(raft, tracker)
}

/**
 * Reconciles the message's term with ours, then hands it to the vote handler or to the current
 * role (etcd's Step). Messages from older terms are dropped, except where an answer helps the
 * sender catch up.
 */
function stepMessage(raft: RaftState, message: Message): void {
  assert(message.to === raft.id, () => `${raft.id} received a message for ${message.to}`)
  if (message.term > raft.term) {
    if (ignoreForLease(raft, message)) return
    if (!keepsTermOnHigher(message)) {
      const fromLeader = message._tag === "AppendEntries" || message._tag === "Heartbeat" || message._tag === "InstallSnapshot"
      becomeFollower(raft, message.term, fromLeader ? message.from : null)
    }
  } else if (message.term < raft.term) {
    answerStaleTerm(raft, message)
    return
  }
  if (message._tag === "RequestVote") handleRequestVote(raft, message)
  else raft.step(raft, message)
}

/**
 * Whether to drop a RequestVote because this server heard from a leader within the election
 * timeout. Pre-votes always respect the lease (thesis §9.6); real votes do when check-quorum is
 * on (thesis §4.2.3). A leadership transfer overrides it, since the leader itself asked.
 */
function ignoreForLease(raft: RaftState, message: Message): boolean {
  if (message._tag !== "RequestVote" || message.leadershipTransfer) return false
  return (message.preVote || raft.config.checkQuorum) && inLease(raft)
}

/**
 * A pre-vote request or a granted pre-vote response carries a term nobody has adopted yet, so
 * it must not move ours. A rejected pre-vote carries the rejecter's real term, which does.
 */
function keepsTermOnHigher(message: Message): boolean {
  if (message._tag === "RequestVote") return message.preVote
  if (message._tag === "RequestVoteResponse") return message.preVote && message.voteGranted
  return false
}

function answerStaleTerm(raft: RaftState, message: Message): void {
  const fromLeader = message._tag === "AppendEntries" || message._tag === "Heartbeat"
  if (fromLeader && (raft.config.checkQuorum || raft.config.preVote)) {
    // With pre-vote or leases, a server whose term grew while it was cut off cannot win an
    // election to bring the cluster up to its term, and the stale leader's messages are
    // ignored; answering with our term makes that leader step down so a new election can run.
    send(raft, {
      _tag: "AppendEntriesResponse",
      from: raft.id,
      to: message.from,
      term: raft.term,
      success: false,
      matchIndex: 0
    })
  } else if (message._tag === "RequestVote" && message.preVote) {
    // Telling a pre-candidate our term lets it catch up instead of polling forever.
    send(raft, {
      _tag: "RequestVoteResponse",
      from: raft.id,
      to: message.from,
      term: raft.term,
      preVote: true,
      voteGranted: false
    })
  }
}

/**
 * The RequestVote receiver rules (§5.2, §5.4.1): at most one vote per term, and only for a
 * candidate whose log is at least as up-to-date as ours. A pre-vote for a later term is granted
 * on the log check alone and records nothing.
 */
function handleRequestVote(raft: RaftState, message: RequestVote): void {
  const canVote =
    raft.votedFor === message.from ||
    (raft.votedFor === null && raft.leader === null) ||
    (message.preVote && message.term > raft.term)
  const granted = canVote && raft.rules.voteForLog({
    candidateLastIndex: message.lastLogIndex,
    candidateLastTerm: message.lastLogTerm,
    lastIndex: raft.log.lastIndex(),
    lastTerm: raft.log.lastTerm()
  })
  send(raft, {
    _tag: "RequestVoteResponse",
    from: raft.id,
    to: message.from,
    term: granted ? message.term : raft.term,
    preVote: message.preVote,
    voteGranted: granted
  })
  if (granted && !message.preVote) {
    // Granting a vote resets the election timer (Figure 2, Followers).
    raft.electionElapsed = 0
    raft.votedFor = message.from
  }
}

class RaftNode implements Raft {
  constructor(
    private readonly raft: RaftState,
    private readonly tracker: ReadyTracker
  ) {}

  get id(): NodeId {
    return this.raft.id
  }

  tick(): void {
    this.raft.tick(this.raft)
  }

  step(message: Message): void {
    stepMessage(this.raft, message)
  }

  propose(command: Command): ProposeResult {
    return propose(this.raft, command)
  }

  proposeConfigChange(change: ConfigChange): ProposeResult {
    return propose(this.raft, { _tag: "ConfigChange", change })
  }

  readIndex(requestId: string): ReadIndexResult {
    return readIndex(this.raft, requestId)
  }

  transferLeadership(target: NodeId): TransferResult {
    return transferLeadership(this.raft, target)
  }

  campaign(): void {
    if (this.raft.role === "Leader" || !promotable(this.raft)) return
    campaign(this.raft, this.raft.config.preVote ? "PreElection" : "Election")
  }

  reportSnapshotTaken(index: number, data: JsonValue): Snapshot {
    const log = this.raft.log
    assert(index <= this.raft.appliedIndex, () => `snapshot ${index} is beyond appliedIndex ${this.raft.appliedIndex}`)
    if (index === log.snapshotIndex()) return log.snapshot()
    const term = log.term(index)
    assert(term !== undefined, () => `snapshot index ${index} is not in the log`)
    const snapshot: Snapshot = {
      lastIncludedIndex: index,
      lastIncludedTerm: term,
      configuration: log.configurationAt(index),
      data
    }
    log.compact(snapshot)
    return snapshot
  }

  hasReady(): boolean {
    return hasReady(this.raft, this.tracker)
  }

  ready(): Ready {
    return makeReady(this.raft, this.tracker)
  }

  advance(ready: Ready): void {
    advanceReady(this.raft, this.tracker, ready)
  }

  get role(): Role {
    return this.raft.role
  }

  get term(): number {
    return this.raft.term
  }

  get votedFor(): NodeId | null {
    return this.raft.votedFor
  }

  get leader(): NodeId | null {
    return this.raft.leader
  }

  get commitIndex(): number {
    return this.raft.commitIndex
  }

  get appliedIndex(): number {
    return this.raft.appliedIndex
  }

  get configuration(): Configuration {
    return this.raft.log.configuration()
  }

  get firstIndex(): number {
    return this.raft.log.firstIndex()
  }

  get lastIndex(): number {
    return this.raft.log.lastIndex()
  }

  entries(from: number, to: number): Entry[] {
    return this.raft.log.slice(from, to)
  }

  termAt(index: number): number | undefined {
    return this.raft.log.term(index)
  }

  snapshot(): Snapshot {
    return this.raft.log.snapshot()
  }

  progress(): ReadonlyMap<NodeId, ProgressView> {
    const views = new Map<NodeId, ProgressView>()
    for (const [id, progress] of this.raft.progress) {
      views.set(id, { match: progress.match, next: progress.next, state: progress.state })
    }
    return views
  }
}
