// The client timeline's data: the clients' history as operations, and the linearizability checker's witness when it fails.
import { RaftChecker, notLinearizableMessage } from "../check/raft.ts"
import { type HistoryEvent, type Operation, operationsFromEvents } from "../check/history.ts"
import { checkLinearizability } from "../check/linearizability.ts"
import type { TraceLine } from "../trace/index.ts"
import type { ViewOperation, Witness } from "./view-data.ts"

/**
 * The clients' history as a trace has it: its `history` events, read by the Raft checker's own
 * code, so the history is the one the checker judged.
 */
export const historyFromTrace = (lines: ReadonlyArray<TraceLine>): Array<HistoryEvent> => {
  const checker = new RaftChecker({ livenessBoundMs: 1, linearizabilityBudgetMs: 1 })
  for (const line of lines) {
    if (line.e === "event" && line.name === "history") checker.onEvent({ timeUs: line.t, node: line.node, name: line.name, attributes: line.attrs })
  }
  return checker.history
}

const describe = (operation: Operation): string => {
  switch (operation._tag) {
    case "Read":
      return `read ${operation.key}${operation.outcome === "ok" ? ` → ${JSON.stringify(operation.value)}` : ""}`
    case "Write":
    case "Append":
      return `${operation._tag.toLowerCase()} ${operation.key} ${JSON.stringify(operation.value)}`
    case "Cas":
      return `cas ${operation.key} ${JSON.stringify(operation.expected)} → ${JSON.stringify(operation.newValue)}`
    case "Delete":
      return `delete ${operation.key}`
    default: {
      const unreachable: never = operation
      throw new Error(`unknown operation ${JSON.stringify(unreachable)}`)
    }
  }
}

const toViewOperation = (operation: Operation): ViewOperation => ({
  process: operation.process,
  f: operation._tag.toLowerCase(),
  key: operation.key,
  outcome: operation.outcome,
  startUs: operation.callTimeNs / 1000,
  endUs: Number.isFinite(operation.returnTimeNs) ? operation.returnTimeNs / 1000 : null,
  invokeIndex: operation.invokeIndex,
  text: `${describe(operation)}: ${operation.outcome}`
})

/** The history's operations for the timeline, and, when `failed`, the checker's witness (a run it found not linearizable). */
export const historyView = (
  history: ReadonlyArray<HistoryEvent>,
  options: { readonly failed: boolean; readonly timeBudgetMs: number }
): { operations: Array<ViewOperation>; witness: Witness | null; problem: string | null } => {
  const parsed = operationsFromEvents(history, "history")
  if (parsed._tag === "ParseError") return { operations: [], witness: null, problem: parsed.message }
  const operations = parsed.operations.map(toViewOperation)
  if (!options.failed) return { operations, witness: null, problem: null }
  // The same search on the same operations as the run's checker, so the witness is the one it printed.
  const result = checkLinearizability(parsed.operations, { timeBudgetMs: options.timeBudgetMs })
  switch (result._tag) {
    case "NotLinearizable":
      return {
        operations,
        witness: { key: result.key, invokeIndices: result.operations.map((operation) => operation.invokeIndex), message: notLinearizableMessage(result) },
        problem: null
      }
    case "Linearizable":
      return { operations, witness: null, problem: "the history checks as linearizable here, though the run reported otherwise" }
    case "Unknown":
      return { operations, witness: null, problem: `linearizability unknown here: ${result.reason}` }
    default: {
      const unreachable: never = result
      throw new Error(`unknown result ${JSON.stringify(unreachable)}`)
    }
  }
}
