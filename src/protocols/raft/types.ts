// The data that crosses the boundary of the Raft core: log entries, commands, wire messages,
// and the Ready batch the shell persists and sends. Everything here is plain JSON data.
import type { JsonValue } from "../../env/json.ts"

/** A server's identity. Opaque to the core; the shell maps it to an address. */
export type NodeId = string

/** Any value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type { JsonValue }

/** An operation of the key-value state machine carried inside a `Kv` command. */
export type KvOperation =
  | { readonly _tag: "Get"; readonly key: string }
  | { readonly _tag: "Put"; readonly key: string; readonly value: JsonValue }
  | { readonly _tag: "Delete"; readonly key: string }
  | {
      readonly _tag: "Cas"
      readonly key: string
      /** The value the key must hold for the swap to happen; `null` means "absent". */
      readonly expected: JsonValue | null
      readonly value: JsonValue
    }
  | { readonly _tag: "Append"; readonly key: string; readonly value: JsonValue }

/**
 * A single-server membership change (thesis §4.1). It takes effect on a server as soon as the
 * entry is in its log, committed or not, and a leader allows only one uncommitted change.
 */
export type ConfigChange =
  | { readonly _tag: "AddNode"; readonly node: NodeId }
  | { readonly _tag: "RemoveNode"; readonly node: NodeId }

/**
 * A command of the application the log replicates. Opaque to the core, which only orders it: any
 * JSON object tagged with a name of the application's own (not `Noop` or `ConfigChange`). The
 * key-value store's is `KvCommand` (state-machine.ts).
 */
export interface ApplicationCommand {
  readonly _tag: string
  readonly [field: string]: unknown
}

/** A leader's empty entry of its new term. */
export interface NoopCommand {
  readonly _tag: "Noop"
}

/** A membership change, which the core applies itself. */
export interface ConfigChangeCommand {
  readonly _tag: "ConfigChange"
  readonly change: ConfigChange
}

/** What a log entry asks: nothing (a new leader's entry), a membership change, or the application's command. */
export type Command = NoopCommand | ConfigChangeCommand | ApplicationCommand

/** Whether a command is a membership change (an application's tag never is `ConfigChange`). */
export const isConfigChange = (command: Command): command is ConfigChangeCommand => command._tag === "ConfigChange"

/** One slot of the replicated log. */
export interface Entry {
  readonly term: number
  readonly index: number
  readonly command: Command
}

/** The set of servers whose votes count. Kept sorted so that equal configurations compare equal. */
export interface Configuration {
  readonly voters: ReadonlyArray<NodeId>
}

/** A compacted prefix of the log: the state machine's data as of `lastIncludedIndex`. */
export interface Snapshot {
  readonly lastIncludedIndex: number
  readonly lastIncludedTerm: number
  /** The configuration in force at `lastIncludedIndex` (the latest one at or before it). */
  readonly configuration: Configuration
  /** Opaque to the core; produced and consumed by the state machine. */
  readonly data: JsonValue
}

interface Envelope {
  readonly from: NodeId
  readonly to: NodeId
  readonly term: number
}

/**
 * RequestVote (§5.2) and its pre-vote variant (thesis §9.6). A pre-vote carries the term the
 * sender *would* use (its term + 1) without having adopted it.
 */
export interface RequestVote extends Envelope {
  readonly _tag: "RequestVote"
  readonly preVote: boolean
  readonly lastLogIndex: number
  readonly lastLogTerm: number
  /** Set when the election was triggered by TimeoutNow; voters then ignore their leader lease. */
  readonly leadershipTransfer: boolean
}

/** The answer to a RequestVote; `preVote` echoes the request's flag. */
export interface RequestVoteResponse extends Envelope {
  readonly _tag: "RequestVoteResponse"
  readonly preVote: boolean
  readonly voteGranted: boolean
}

/** AppendEntries (§5.3). An empty `entries` still checks log matching and carries the commit. */
export interface AppendEntries extends Envelope {
  readonly _tag: "AppendEntries"
  readonly prevLogIndex: number
  readonly prevLogTerm: number
  readonly entries: ReadonlyArray<Entry>
  readonly leaderCommit: number
}

/**
 * The answer to AppendEntries. On success `matchIndex` is the last index known to match the
 * leader, and nothing else is sent. A rejection may carry a back-off hint in the style of etcd's
 * rejectHint: `rejectedIndex` is the request's prevLogIndex, `conflictIndex` is the largest index
 * in the follower's log at or below the rejected one whose term is <= the leader's prevLogTerm,
 * and `conflictTerm` is that entry's term, so the leader can skip a whole term per round trip.
 * Absent hint fields read as zero.
 */
export interface AppendEntriesResponse extends Envelope {
  readonly _tag: "AppendEntriesResponse"
  readonly success: boolean
  readonly matchIndex: number
  readonly rejectedIndex?: number
  readonly conflictIndex?: number
  readonly conflictTerm?: number
}

/**
 * A leader's heartbeat, kept apart from AppendEntries as in etcd so that a heartbeat never fails
 * a log-matching check. `leaderCommit` is min(follower's matchIndex, commitIndex), which the
 * follower is known to hold. `context`, when present, is the ReadIndex request being confirmed.
 */
export interface Heartbeat extends Envelope {
  readonly _tag: "Heartbeat"
  readonly leaderCommit: number
  readonly context?: string
}

/** The answer to a Heartbeat; echoes `context` so the leader can count ReadIndex acks. */
export interface HeartbeatResponse extends Envelope {
  readonly _tag: "HeartbeatResponse"
  readonly context?: string
}

/** InstallSnapshot (§7), sent whole: the core's snapshots are plain JSON values. */
export interface InstallSnapshot extends Envelope {
  readonly _tag: "InstallSnapshot"
  readonly snapshot: Snapshot
}

/** The answer to InstallSnapshot: the last index the follower now knows to match. */
export interface InstallSnapshotResponse extends Envelope {
  readonly _tag: "InstallSnapshotResponse"
  readonly matchIndex: number
}

/** Leadership transfer (thesis §3.10): the target starts an election at once. */
export interface TimeoutNow extends Envelope {
  readonly _tag: "TimeoutNow"
}

/** Every message the core sends or receives. */
export type Message =
  | RequestVote
  | RequestVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow

/** The role a server plays; `PreCandidate` is a candidate still polling pre-votes. */
export type Role = "Follower" | "PreCandidate" | "Candidate" | "Leader"

/** The state that must be on stable storage before any message of the same Ready is sent. */
export interface HardState {
  readonly term: number
  readonly votedFor: NodeId | null
  readonly commitIndex: number
}

/** Volatile state worth reporting when it changes (for logs, metrics and request routing). */
export interface SoftState {
  readonly leader: NodeId | null
  readonly role: Role
}

/** A linearizable read that may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly requestId: string
  readonly index: number
}

/**
 * One batch of work for the shell, in the order it must be done:
 * 1. persist `snapshot` (replacing the stored one and discarding every stored entry), then
 *    remove stored entries with index >= `truncateFrom`, append `entries`, store `hardState`,
 *    and sync;
 * 2. send `messages`;
 * 3. restore the state machine from `snapshot` if present, then apply `committedEntries` in
 *    order, and serve each of `readStates` once the applied index reaches its `index`;
 * 4. call `advance` with this same object.
 */
export interface Ready {
  readonly hardState?: HardState | undefined
  readonly softState?: SoftState | undefined
  readonly snapshot?: Snapshot | undefined
  readonly truncateFrom?: number | undefined
  readonly entries: ReadonlyArray<Entry>
  readonly messages: ReadonlyArray<Message>
  readonly committedEntries: ReadonlyArray<Entry>
  readonly readStates: ReadonlyArray<ReadState>
}

/**
 * Decisions of the core, named so that a test can swap one out and plant a classic bug in a
 * variant of the protocol (test/fixtures/raft-bugs.ts) without the buggy code living in src. The
 * defaults (`defaultRaftRules` in raft.ts) are the paper's rules; shipped code never replaces them.
 */
export interface RaftRules {
  /**
   * Whether a leader in `currentTerm` may commit an entry of `entryTerm` because a majority holds
   * it. The paper's rule: only an entry of the current term; earlier entries then commit with it,
   * never by counting their own replicas (§5.4.2, Figure 8).
   */
  readonly commitByCounting: (options: { readonly entryTerm: number; readonly currentTerm: number }) => boolean
  /**
   * Where a follower whose log matches an AppendEntries at its prevLogIndex starts writing the
   * request's `entries`: its log loses every entry from that index on and gains the request's
   * entries from that index on. It must be the index of one of `entries`, or null to keep the log
   * as it is. `termAt` gives the term of the follower's own entry at an index. The paper's rule:
   * the first entry whose term differs from the follower's, since only a real conflict may remove
   * entries; a stale or duplicated request whose entries all match removes nothing (Figure 2,
   * AppendEntries receiver rules 3 and 4).
   */
  readonly appendFrom: (options: {
    readonly entries: ReadonlyArray<Entry>
    readonly termAt: (index: number) => number | undefined
  }) => number | null
  /**
   * Whether a voter grants its vote (or pre-vote) to a candidate whose log ends at
   * `candidateLastIndex`/`candidateLastTerm`, its own log ending at `lastIndex`/`lastTerm`. The
   * paper's election restriction: only if the candidate's log is at least as up-to-date (a later
   * last term, or the same last term and at least as long), so every leader holds every committed
   * entry (§5.4.1).
   */
  readonly voteForLog: (options: {
    readonly candidateLastIndex: number
    readonly candidateLastTerm: number
    readonly lastIndex: number
    readonly lastTerm: number
  }) => boolean
  /**
   * Whether a leader confirms its leadership with a heartbeat round acknowledged by a majority
   * before it serves a read at the commitIndex it recorded. The paper's rule: always, since a
   * leader deposed by a partition does not know it yet and would serve stale data (thesis §6.4).
   */
  readonly confirmReadsWithQuorum: boolean
  /**
   * The commitIndex a follower takes from an AppendEntries that matched, given the leader's
   * `leaderCommit`, the index of the last entry the request carried or matched (`lastNewIndex`) and
   * the follower's `lastIndex`. The paper's rule: min(leaderCommit, lastNewIndex), since entries
   * past what the request checked may still conflict with the leader's (Figure 2, rule 5).
   */
  readonly followerCommit: (options: { readonly leaderCommit: number; readonly lastNewIndex: number; readonly lastIndex: number }) => number
}

/** Static parameters of a Raft server. */
export interface RaftConfig {
  readonly id: NodeId
  /**
   * The bootstrap voters, including `id`, identical on every founding server. A server that
   * joins an existing cluster later passes `[]` and learns the configuration from the leader.
   * Ignored when restoring from storage.
   */
  readonly peers: ReadonlyArray<NodeId>
  /** Election timeouts are drawn from [min, max); min is also the lease and check-quorum span. */
  readonly electionTimeoutTicksMin: number
  readonly electionTimeoutTicksMax: number
  readonly heartbeatTicks: number
  readonly preVote: boolean
  readonly checkQuorum: boolean
  readonly maxEntriesPerAppend: number
  readonly maxInflightAppends: number
  /** Returns an integer in [0, bound). Injected so that the core stays deterministic. */
  readonly randomInt: (bound: number) => number
  /** A test seam: replaces some of the core's rules (see RaftRules). Shipped code never sets it. */
  readonly rules?: Partial<RaftRules>
}

/** What the shell recovered from stable storage after a restart. */
export interface RestoredState {
  readonly hardState: {
    readonly term: number
    readonly votedFor: NodeId | null
    readonly commitIndex?: number
  }
  readonly snapshot?: Snapshot
  /** Contiguous entries starting right after the snapshot (or at index 1 without one). */
  readonly entries: ReadonlyArray<Entry>
}

/** The outcome of `propose` or `proposeConfigChange`. Rejections are data, not errors. */
export type ProposeResult =
  | { readonly _tag: "Accepted"; readonly index: number; readonly term: number }
  | { readonly _tag: "NotLeader"; readonly leaderHint: NodeId | null }
  | { readonly _tag: "Rejected"; readonly reason: ProposeRejection }

/** Why a leader refused a proposal it could otherwise have taken. */
export type ProposeRejection =
  /** A leadership transfer is under way (thesis §3.10); retry at the new leader. */
  | "TransferInProgress"
  /** Another membership change is still uncommitted (thesis §4.1). */
  | "ConfigChangeInProgress"
  /** The leader has not committed an entry of its own term yet (the §4.1 bug fix). */
  | "NoCommitInTerm"
  /** AddNode for a voter, or RemoveNode for a non-voter. */
  | "NoChange"
  /** The change would leave the cluster without voters. */
  | "LastVoter"

/** The outcome of `readIndex`. */
export type ReadIndexResult =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "NotLeader"; readonly leaderHint: NodeId | null }
  /** Too many reads are waiting for confirmation; retry later. */
  | { readonly _tag: "Busy" }

/** The outcome of `transferLeadership`. */
export type TransferResult =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "NotLeader"; readonly leaderHint: NodeId | null }
  | { readonly _tag: "Rejected"; readonly reason: "NotVoter" }
