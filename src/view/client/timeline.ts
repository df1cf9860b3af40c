// The client timeline on a canvas: one bar per operation from invoke to completion, the checker's witness outlined (browser code, see page.ts).
/// <reference lib="dom" />
import type { ViewOperation } from "../view-data.ts"
import { drawAxis, formatUs, type ViewerState, xOf } from "./viewer-state.ts"

// Functions here run in the page, like diagram.ts's: only each other and the other client files.

/** Height of one client's row in the timeline. */
export function processRowHeight(): number {
  return 18
}

/** Where an operation's bar lies: [x1, y, x2]; an operation that never completed runs to the end of the run. */
export function operationBar(state: ViewerState, operation: ViewOperation): [number, number, number] {
  const surface = state.timeline
  const row = state.processes.indexOf(operation.process)
  const y = surface.top + row * processRowHeight()
  const end = operation.endUs ?? state.data.summary.endUs
  return [xOf(state, surface, operation.startUs), y, Math.max(xOf(state, surface, operation.startUs) + 2, xOf(state, surface, end))]
}

/** Green for ok, orange for fail, grey for unknown (info). */
export function outcomeColour(operation: ViewOperation): string {
  switch (operation.outcome) {
    case "ok":
      return "#3a9d4a"
    case "fail":
      return "#e08a1e"
    case "info":
      return "#a8a8a8"
    default: {
      const unreachable: never = operation.outcome
      throw new Error(`unknown outcome ${String(unreachable)}`)
    }
  }
}

/** Draws every operation that crosses the visible window; the witness's operations get a thick red outline. */
export function drawTimeline(state: ViewerState): void {
  const surface = state.timeline
  const context = surface.context
  context.clearRect(0, 0, surface.width, surface.height)
  drawAxis(state, surface)
  context.font = "11px sans-serif"
  state.processes.forEach((process, row) => {
    context.fillStyle = "#222"
    context.fillText(`client ${process}`, 8, surface.top + row * processRowHeight() + 12)
  })
  const outlined: Array<[number, number, number]> = []
  for (const operation of state.data.operations) {
    const end = operation.endUs ?? state.data.summary.endUs
    if (end < state.startUs || operation.startUs > state.endUs) continue
    const [x1, y, x2] = operationBar(state, operation)
    context.fillStyle = outcomeColour(operation)
    context.fillRect(x1, y + 3, x2 - x1, processRowHeight() - 6)
    if (state.witness.has(operation.invokeIndex)) outlined.push([x1, y, x2])
  }
  context.strokeStyle = "#d00"
  context.lineWidth = 2.5
  for (const [x1, y, x2] of outlined) context.strokeRect(x1 - 1, y + 1, x2 - x1 + 2, processRowHeight() - 2)
}

/** The operation under a point, or -1. */
export function operationNear(state: ViewerState, x: number, y: number): number {
  const operations = state.data.operations
  for (let index = 0; index < operations.length; index++) {
    const [x1, rowY, x2] = operationBar(state, operations[index]!)
    if (x >= x1 - 2 && x <= x2 + 2 && y >= rowY && y <= rowY + processRowHeight()) return index
  }
  return -1
}

/** The hover text of an operation. */
export function operationText(state: ViewerState, index: number): string {
  const operation = state.data.operations[index]!
  const end = operation.endUs === null ? "never completed" : `completed ${formatUs(operation.endUs)}`
  const flagged = state.witness.has(operation.invokeIndex) ? "\npart of the linearizability checker's witness" : ""
  return `client ${operation.process}: ${operation.text}\ninvoked ${formatUs(operation.startUs)}, ${end} (history index ${operation.invokeIndex})${flagged}`
}
