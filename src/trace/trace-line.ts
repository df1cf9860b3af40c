// The trace line schema: one union for every JSON line the simulator and real nodes write, and every reader reads.
import type { NodeId, TraceAttributes } from "../env/index.ts"

/**
 * Fields every line has. `t` is microseconds: simulated time since the run began in the
 * simulator, the node's own clock on a real node (see src/real/clock.ts). `e` says which kind
 * of line it is; it is the union's tag. (It is `e` and not `_tag` because it is the file
 * format's key, written on every line, and a short key keeps traces small.)
 */
interface Line<Kind extends string> {
  readonly t: number
  readonly e: Kind
}

// ------------------------------------------------------------------ the run (simulator only)

/** The first line of a simulated run: which protocol, seed and cluster size. */
export interface RunLine extends Line<"run"> {
  readonly protocol: string
  readonly seed: number
  readonly nodes: number
}

/** A phase change: the faults are healed and the liveness phase starts. */
export interface PhaseLine extends Line<"phase"> {
  readonly phase: "liveness"
}

/** A broken rule, as the run's checks found it. */
export interface ViolationLine extends Line<"violation"> {
  readonly check: string
  readonly message: string
}

/** A fault the simulator injected or healed. */
export interface FaultLine extends Line<"fault"> {
  readonly fault: TraceFault
}

/**
 * A fault as the trace records it. `Crash` carries what a torn write kept; the clock faults
 * carry the change made (`offsetMs`, `deltaMs`, `drift`).
 */
export type TraceFault =
  | { readonly _tag: "Partition"; readonly groups: ReadonlyArray<ReadonlyArray<NodeId>> }
  | { readonly _tag: "PartitionOneWay"; readonly from: ReadonlyArray<NodeId>; readonly to: ReadonlyArray<NodeId> }
  | { readonly _tag: "Heal" }
  | { readonly _tag: "Crash"; readonly node: NodeId; readonly torn?: TornWrite }
  | { readonly _tag: "Restart"; readonly node: NodeId }
  | { readonly _tag: "Pause"; readonly node: NodeId }
  | { readonly _tag: "Resume"; readonly node: NodeId }
  | { readonly _tag: "Clog"; readonly from: NodeId; readonly to: NodeId }
  | { readonly _tag: "Unclog"; readonly from: NodeId; readonly to: NodeId }
  | { readonly _tag: "ClockOffset"; readonly node: NodeId; readonly offsetMs: number }
  | { readonly _tag: "ClockStep"; readonly node: NodeId; readonly deltaMs: number }
  | { readonly _tag: "ClockDrift"; readonly node: NodeId; readonly drift: number }
  | { readonly _tag: "ClockReset"; readonly node: NodeId }
  /** Every link's loss, latency and the like back to the scenario's own, for the liveness phase of a swarm run. */
  | { readonly _tag: "NetworkReset" }

/** What a crash kept of an unsynced append: a prefix of `keptBytes` bytes of `file`. */
export interface TornWrite {
  readonly file: string
  readonly keptBytes: number
}

// ------------------------------------------------------------------ messages (simulator)

/**
 * A message sent. `id` names the message in the lines that follow. `at` is when it will arrive;
 * without it, a `drop` line follows at once. `msg` is the message, as JSON.
 */
export interface SendLine extends Line<"send"> {
  readonly id: number
  readonly from: NodeId
  readonly to: NodeId
  readonly at?: number
  readonly msg: unknown
}

/** The network duplicated message `id`; the copy arrives at `at`. */
export interface DuplicateLine extends Line<"duplicate"> {
  readonly id: number
  readonly at: number
}

/** A clogged link held message `id` back; a `deliver` line says when it arrives. */
export interface HoldLine extends Line<"hold"> {
  readonly id: number
}

/** A held message arrived, later than its send line said. */
export interface DeliverLine extends Line<"deliver"> {
  readonly id: number
  readonly to: NodeId
}

/** Why a message was lost: on the way (`loss`, `partition`, `unknown-node`) or on arrival (`down`, `mailbox-full`). */
export type DropReason = "loss" | "partition" | "unknown-node" | "down" | "mailbox-full"

/** Message `id` was lost. */
export interface DropLine extends Line<"drop"> {
  readonly id: number
  readonly reason: DropReason
}

// ------------------------------------------------------------------ a node's environment (simulator)

/** A timer of `node` fired. */
export interface TimerLine extends Line<"timer"> {
  readonly node: NodeId
}

/** `node` synced `file`: what it wrote to it is durable from now on. */
export interface SyncLine extends Line<"sync"> {
  readonly node: NodeId
  readonly file: string
}

/** The simulated disk failed a storage `operation` (write, append, sync…) of `node` on `file`. */
export interface DiskErrorLine extends Line<"disk-error"> {
  readonly node: NodeId
  readonly file: string
  readonly operation: string
}

// ------------------------------------------------------------------ Tracing (both worlds)

/** A protocol event (`Tracing.event`): what the checkers read. */
export interface EventLine extends Line<"event"> {
  readonly node: NodeId
  readonly name: string
  readonly attrs: TraceAttributes
}

/**
 * A span opened (`Tracing.span`). `span` numbers the node's spans, from 1 in each incarnation's
 * tracer; `localMs` is the node's own clock, which a fault may have set apart from `t`.
 */
export interface SpanStartLine extends Line<"span-start"> {
  readonly node: NodeId
  readonly span: number
  readonly name: string
  readonly attrs: TraceAttributes
  readonly localMs: number
}

/** A span closed: its effect succeeded (`ok`) or failed or was interrupted (`error`). */
export interface SpanEndLine extends Line<"span-end"> {
  readonly node: NodeId
  readonly span: number
  readonly outcome: "ok" | "error"
  readonly localMs: number
}

// ------------------------------------------------------------------ real nodes

/** A real node started (each incarnation appends to the same file): its process id and wall-clock start. */
export interface StartLine extends Line<"start"> {
  readonly node: NodeId
  readonly pid: number
  readonly unixMs: number
}

/** What a real node's network logged: a connection made, refused or lost. */
export interface ConnectionLine extends Line<"connection"> {
  readonly node: NodeId
  readonly kind: "Connected" | "Refused" | "Lost"
  readonly peer: NodeId | null
  readonly address: string
  readonly direction: "outbound" | "inbound"
  readonly reason: string | null
}

/**
 * One line of a trace (JSON Lines). Simulated runs and real nodes write the same kinds for the
 * same things (`event`, `span-start`, `span-end`), so a checker, an exporter or a viewer reads
 * both alike. Lines of one node carry `node`; message lines carry `from` and `to` and are tied
 * together by `id`; protocol events and spans carry `attrs`.
 */
export type TraceLine =
  | RunLine
  | PhaseLine
  | ViolationLine
  | FaultLine
  | SendLine
  | DuplicateLine
  | HoldLine
  | DeliverLine
  | DropLine
  | TimerLine
  | SyncLine
  | DiskErrorLine
  | EventLine
  | SpanStartLine
  | SpanEndLine
  | StartLine
  | ConnectionLine

/** The kinds of line, as `e` spells them. */
export type TraceLineKind = TraceLine["e"]
