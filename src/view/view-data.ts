// What the viewer page receives: a run's messages, faults, marks and operations, in a compact, column-wise JSON shape.

/**
 * Messages as columns (one array per field, one index per arrow), since a run has tens of
 * thousands of them and columns of numbers keep the page small and quick to parse. A duplicate
 * copy is an arrow of its own, with the `id` of the message it copies.
 */
export interface MessageColumns {
  readonly id: Array<number>
  readonly from: Array<number>
  readonly to: Array<number>
  /** When it was sent, in microseconds. */
  readonly sendUs: Array<number>
  /** When it arrived, was dropped on arrival, or (dropped at once) when it was sent. */
  readonly endUs: Array<number>
  /** Index into {@link ViewData.types}. */
  readonly type: Array<number>
  /** 0 delivered, 1 dropped, 2 held by a clog then delivered; see {@link MessageFate}. */
  readonly fate: Array<number>
  /** 1 for a copy the network made (a `duplicate` line), 0 otherwise. */
  readonly copy: Array<number>
  /** The message as JSON, cut to {@link MESSAGE_TEXT_MAX} characters, and a drop's reason. */
  readonly text: Array<string>
}

/** A message's fate, as the `fate` column codes it. */
export const MessageFate = { delivered: 0, dropped: 1, held: 2 } as const

/** Hover text longer than this is cut: the page stays a few MB for a 20-second Raft run. */
export const MESSAGE_TEXT_MAX = 240

/** A stretch of time a lane was down (`crash` until restart, `pause` until resume). */
export interface Outage {
  readonly lane: number
  readonly kind: "crash" | "pause"
  readonly startUs: number
  readonly endUs: number
  readonly text: string
}

/** A network fault that lasts until healed: a partition, a one-way partition or a clogged link. */
export interface NetworkFault {
  readonly startUs: number
  readonly endUs: number
  /** The lanes it cuts off or slows; all of them for a partition. */
  readonly lanes: Array<number>
  readonly text: string
}

/** A point on a lane: a protocol event (becomeLeader, apply), a clock fault, a violation. */
export interface Mark {
  readonly lane: number
  readonly timeUs: number
  readonly kind: "event" | "clock" | "violation" | "storage"
  readonly name: string
  readonly text: string
}

/** One client operation, from invoke to completion (`endUs` null: it never completed). */
export interface ViewOperation {
  readonly process: number
  readonly f: string
  readonly key: string
  readonly outcome: "ok" | "fail" | "info"
  readonly startUs: number
  readonly endUs: number | null
  readonly invokeIndex: number
  readonly text: string
}

/** The linearizability checker's witness: the operations that have no valid order, and why. */
export interface Witness {
  readonly key: string
  /** The witness operations' invoke indices in the history (matches {@link ViewOperation.invokeIndex}). */
  readonly invokeIndices: Array<number>
  /** The checker's violation message, as `faultline run` prints it. */
  readonly message: string
}

/** A check and whether it held; `null` ok means the trace alone cannot tell. */
export interface ViewCheck {
  readonly name: string
  readonly ok: boolean
}

/** The summary panel: what ran, what was checked, and how to replay it. */
export interface ViewSummary {
  readonly title: string
  readonly protocol: string
  readonly seed: number
  readonly nodes: number
  readonly endUs: number
  readonly livenessStartUs: number | null
  /** Every check of the run when the view was made from a run; from a trace, the violated ones only. */
  readonly checks: Array<ViewCheck>
  readonly checksComplete: boolean
  readonly violations: Array<{ readonly check: string; readonly timeUs: number; readonly message: string }>
  readonly notes: Array<string>
  readonly replay: string | null
  readonly traceHash: string | null
  readonly parameters: string | null
  readonly counts: Readonly<Record<string, number>>
}

/** Everything the page draws. */
export interface ViewData {
  readonly summary: ViewSummary
  readonly lanes: Array<string>
  readonly types: Array<string>
  readonly messages: MessageColumns
  readonly outages: Array<Outage>
  readonly networkFaults: Array<NetworkFault>
  readonly marks: Array<Mark>
  readonly operations: Array<ViewOperation>
  readonly witness: Witness | null
}
