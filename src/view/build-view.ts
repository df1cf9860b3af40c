// Builds the viewer's data from a run just made (`run --view`) or from a trace file (`faultline view`).
import type { HistoryEvent } from "../check/history.ts"
import type { TraceLine } from "../trace/index.ts"
import { historyFromTrace, historyView } from "./history-view.ts"
import { traceView, type TraceView } from "./trace-view.ts"
import { MessageFate, type ViewCheck, type ViewData } from "./view-data.ts"

/** What a view knows beyond the trace when it is made from a run. */
export interface RunContext {
  readonly title: string
  readonly checks: ReadonlyArray<ViewCheck>
  readonly notes: ReadonlyArray<string>
  readonly replay: string
  readonly traceHash: string
  /** The scenario file's text. */
  readonly parameters: string | null
  readonly history: ReadonlyArray<HistoryEvent> | undefined
}

/** The linearizability witness is searched again for the view; this bounds it, as the run's own check is bounded. */
const WITNESS_BUDGET_MS = 10_000

const messageCounts = (view: TraceView): Record<string, number> => {
  const columns = view.messages
  let copies = 0
  let dropped = 0
  let held = 0
  for (let index = 0; index < columns.id.length; index++) {
    copies += columns.copy[index]!
    if (columns.fate[index] === MessageFate.dropped) dropped++
    if (columns.fate[index] === MessageFate.held) held++
  }
  return { sent: columns.id.length - copies, duplicated: copies, dropped, held, arrows: columns.id.length }
}

/**
 * The view of `lines`, a run's whole trace. `context` adds what only the run knows (every check,
 * the replay command, the scenario); without it the summary shows what the trace records.
 */
export const buildView = (lines: ReadonlyArray<TraceLine>, context: RunContext | undefined, source: string): ViewData => {
  const view = traceView(lines)
  const violations = lines.flatMap((line) => (line.e === "violation" ? [{ check: line.check, timeUs: line.t, message: line.message }] : []))
  const violated = [...new Set(violations.map((violation) => violation.check))]
  const history = context?.history ?? historyFromTrace(lines)
  const timeline = historyView(history, { failed: violated.includes("linearizability"), timeBudgetMs: WITNESS_BUDGET_MS })
  const run = view.run ?? { protocol: "unknown", seed: 0, nodes: view.lanes.length }
  return {
    summary: {
      title: context?.title ?? `${run.protocol}, seed ${run.seed} (${source})`,
      protocol: run.protocol,
      seed: run.seed,
      nodes: run.nodes,
      endUs: view.endUs,
      livenessStartUs: view.livenessStartUs,
      checks: context === undefined ? violated.map((name) => ({ name, ok: false })) : [...context.checks],
      checksComplete: context !== undefined,
      violations,
      notes: [...(context?.notes ?? []), ...(timeline.problem === null ? [] : [timeline.problem])],
      replay: context?.replay ?? null,
      traceHash: context?.traceHash ?? null,
      parameters: context?.parameters ?? null,
      counts: messageCounts(view)
    },
    lanes: view.lanes,
    types: view.types,
    messages: view.messages,
    outages: view.outages,
    networkFaults: view.networkFaults,
    marks: view.marks,
    operations: timeline.operations,
    witness: timeline.witness
  }
}
