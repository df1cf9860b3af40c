// The space-time (Lamport) diagram on a canvas: lanes, outages, partitions, one arrow per message, marks (browser code, see page.ts).
/// <reference lib="dom" />
import { drawAxis, formatUs, laneHeight, laneY, typeColour, type ViewerState, xOf } from "./viewer-state.ts"

// Functions here run in the page: they may call each other and the other client files' functions
// (page.ts puts them all in one script), but must not use anything else from their modules.

/** Whether arrow `index` passes the filters and crosses the visible window. */
export function arrowVisible(state: ViewerState, index: number): boolean {
  const messages = state.data.messages
  if (!state.laneOn[messages.from[index]!] || !state.laneOn[messages.to[index]!] || !state.typeOn[messages.type[index]!]) return false
  return messages.sendUs[index]! <= state.endUs && messages.endUs[index]! >= state.startUs
}

/** Where arrow `index` starts and ends on the diagram; a message dropped at once ends halfway to its receiver. */
export function arrowEnds(state: ViewerState, index: number): [number, number, number, number] {
  const messages = state.data.messages
  const surface = state.diagram
  const x1 = xOf(state, surface, messages.sendUs[index]!)
  const y1 = laneY(state, messages.from[index]!)
  const x2 = xOf(state, surface, messages.endUs[index]!)
  const y2 = laneY(state, messages.to[index]!)
  // fate 1: dropped; when it never left (endUs = sendUs), show its direction and stop halfway.
  if (messages.fate[index] === 1 && messages.endUs[index] === messages.sendUs[index]) return [x1, y1, x2 + 6, (y1 + y2) / 2]
  return [x1, y1, x2, y2]
}

/** Draws the whole diagram for the current window and filters, and counts the arrows drawn. */
export function drawDiagram(state: ViewerState): void {
  const surface = state.diagram
  const context = surface.context
  context.clearRect(0, 0, surface.width, surface.height)
  drawLanes(state)
  drawAxis(state, surface)
  drawNetworkFaults(state)
  drawOutages(state)
  drawArrows(state)
  drawMarks(state)
}

/** Draws each node's lane and name, and shades the liveness phase. */
export function drawLanes(state: ViewerState): void {
  const surface = state.diagram
  const context = surface.context
  const height = laneHeight(state)
  const liveness = state.data.summary.livenessStartUs
  if (liveness !== null && liveness <= state.endUs) {
    const x = Math.max(surface.left, xOf(state, surface, liveness))
    context.fillStyle = "#eef8ee"
    context.fillRect(x, surface.top, surface.width - surface.right - x, state.data.lanes.length * height)
    context.fillStyle = "#2a7a2a"
    context.font = "11px sans-serif"
    context.fillText("liveness phase (faults healed)", x + 4, surface.top + 11)
  }
  context.font = "12px sans-serif"
  state.data.lanes.forEach((lane, index) => {
    const y = laneY(state, index)
    context.strokeStyle = state.laneOn[index] ? "#bbb" : "#eee"
    context.beginPath()
    context.moveTo(surface.left, y)
    context.lineTo(surface.width - surface.right, y)
    context.stroke()
    context.fillStyle = state.laneOn[index] ? "#222" : "#bbb"
    context.fillText(lane, 8, y + 4)
  })
}

/** The x range of a stretch of time clipped to the plot, or null when it lies outside the window. */
export function spanOnScreen(state: ViewerState, startUs: number, endUs: number): [number, number] | null {
  if (endUs < state.startUs || startUs > state.endUs) return null
  const surface = state.diagram
  return [Math.max(surface.left, xOf(state, surface, startUs)), Math.min(surface.width - surface.right, xOf(state, surface, endUs))]
}

/** Draws partitions and clogs as orange bands across the lanes they cut off, named above the plot. */
export function drawNetworkFaults(state: ViewerState): void {
  const context = state.diagram.context
  const height = laneHeight(state)
  for (const fault of state.data.networkFaults) {
    const span = spanOnScreen(state, fault.startUs, fault.endUs)
    if (span === null) continue
    const [x1, x2] = span
    context.fillStyle = "rgba(255, 165, 0, 0.13)"
    for (const lane of fault.lanes) context.fillRect(x1, laneY(state, lane) - height / 2, Math.max(1, x2 - x1), height)
    context.fillStyle = "#b06000"
    context.font = "10px sans-serif"
    if (x2 - x1 > 60) context.fillText(fault.text, x1 + 2, state.diagram.top - 3, x2 - x1 - 4)
  }
}

/** Draws crashes (red) and pauses (grey) on their lanes. */
export function drawOutages(state: ViewerState): void {
  const context = state.diagram.context
  const height = laneHeight(state)
  for (const outage of state.data.outages) {
    const span = spanOnScreen(state, outage.startUs, outage.endUs)
    if (span === null) continue
    context.fillStyle = outage.kind === "crash" ? "rgba(220, 30, 30, 0.28)" : "rgba(110, 110, 110, 0.3)"
    context.fillRect(span[0], laneY(state, outage.lane) - height * 0.3, Math.max(2, span[1] - span[0]), height * 0.6)
  }
}

/** One path per type, stroked once: tens of thousands of arrows draw in a few milliseconds. */
export function drawArrows(state: ViewerState): void {
  const context = state.diagram.context
  const messages = state.data.messages
  const paths = state.data.types.map(() => new Path2D())
  const dropped = new Path2D()
  const held = new Path2D()
  let drawn = 0
  for (let index = 0; index < messages.id.length; index++) {
    if (!arrowVisible(state, index)) continue
    const [x1, y1, x2, y2] = arrowEnds(state, index)
    const path = messages.fate[index] === 2 ? held : paths[messages.type[index]!]!
    path.moveTo(x1, y1)
    path.lineTo(x2, y2)
    if (messages.fate[index] === 1) {
      dropped.moveTo(x2 - 3, y2 - 3)
      dropped.lineTo(x2 + 3, y2 + 3)
      dropped.moveTo(x2 + 3, y2 - 3)
      dropped.lineTo(x2 - 3, y2 + 3)
    }
    drawn++
  }
  state.drawn = drawn
  // Zoomed out, arrows overlap: fainter lines show density instead of a solid block.
  context.globalAlpha = drawn > 4 * state.diagram.width ? 0.25 : drawn > state.diagram.width ? 0.5 : 0.9
  context.lineWidth = 1
  paths.forEach((path, type) => {
    context.strokeStyle = typeColour(state.data.types[type]!)
    context.stroke(path)
  })
  context.setLineDash([4, 3])
  context.strokeStyle = "#7a3db8"
  context.stroke(held)
  context.setLineDash([])
  context.globalAlpha = 1
  context.strokeStyle = "#d00"
  context.lineWidth = 1.5
  context.stroke(dropped)
}

/** Draws protocol events, clock faults and storage errors as diamonds on their lanes, violations as red lines across all. */
export function drawMarks(state: ViewerState): void {
  const surface = state.diagram
  const context = surface.context
  for (const mark of state.data.marks) {
    if (mark.timeUs < state.startUs || mark.timeUs > state.endUs) continue
    const x = xOf(state, surface, mark.timeUs)
    if (mark.lane < 0) {
      context.fillStyle = "#d00"
      context.fillRect(x - 1, surface.top, 2, state.data.lanes.length * laneHeight(state))
      continue
    }
    if (!state.laneOn[mark.lane]) continue
    const y = laneY(state, mark.lane)
    const big = mark.name === "becomeLeader"
    context.fillStyle = big ? "#e0a000" : mark.kind === "clock" ? "#1060d0" : mark.kind === "storage" ? "#d00" : "#555"
    const size = big ? 6 : mark.name === "apply" ? 2 : 4
    context.beginPath()
    context.moveTo(x, y - size)
    context.lineTo(x + size, y)
    context.lineTo(x, y + size)
    context.lineTo(x - size, y)
    context.fill()
  }
}

/** The arrow nearest to a point (within 6 pixels), or -1. */
export function arrowNear(state: ViewerState, x: number, y: number): number {
  const messages = state.data.messages
  let best = -1
  let bestDistance = 36
  for (let index = 0; index < messages.id.length; index++) {
    if (!arrowVisible(state, index)) continue
    const [x1, y1, x2, y2] = arrowEnds(state, index)
    if (x < Math.min(x1, x2) - 6 || x > Math.max(x1, x2) + 6) continue
    const dx = x2 - x1
    const dy = y2 - y1
    const along = Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / Math.max(1e-9, dx * dx + dy * dy)))
    const distance = (x1 + along * dx - x) ** 2 + (y1 + along * dy - y) ** 2
    if (distance < bestDistance) {
      bestDistance = distance
      best = index
    }
  }
  return best
}

/** The hover text of an arrow. */
export function arrowText(state: ViewerState, index: number): string {
  const messages = state.data.messages
  const lanes = state.data.lanes
  const fate = messages.fate[index] === 1 ? "dropped" : messages.fate[index] === 2 ? "held, then delivered" : "delivered"
  return (
    `message ${messages.id[index]}${messages.copy[index] === 1 ? " (duplicate copy)" : ""}: ` +
    `${lanes[messages.from[index]!]} → ${lanes[messages.to[index]!]}, ${state.data.types[messages.type[index]!]}\n` +
    `sent ${formatUs(messages.sendUs[index]!)}, ${fate} ${formatUs(messages.endUs[index]!)}\n${messages.text[index]}`
  )
}

/** The mark nearest to a point (within 6 pixels), or -1. */
export function markNear(state: ViewerState, x: number, y: number): number {
  const marks = state.data.marks
  for (let index = 0; index < marks.length; index++) {
    const mark = marks[index]!
    if (mark.timeUs < state.startUs || mark.timeUs > state.endUs || mark.text === "") continue
    const markY = mark.lane < 0 ? y : laneY(state, mark.lane)
    if (Math.abs(xOf(state, state.diagram, mark.timeUs) - x) <= 5 && Math.abs(markY - y) <= 6) return index
  }
  return -1
}

/** The fault (outage or network fault) under a point, as text, or "". */
export function faultTextAt(state: ViewerState, x: number, y: number): string {
  const height = laneHeight(state)
  for (const outage of state.data.outages) {
    const within = x >= xOf(state, state.diagram, outage.startUs) && x <= xOf(state, state.diagram, outage.endUs)
    if (within && Math.abs(laneY(state, outage.lane) - y) < height * 0.3) {
      return `${outage.text}: ${formatUs(outage.startUs)} to ${formatUs(outage.endUs)}`
    }
  }
  return ""
}
