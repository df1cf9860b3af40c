// The viewer page's entry: reads the embedded data, builds the state, wires zoom, pan, filters and hover (browser code, see page.ts).
/// <reference lib="dom" />
import type { ViewData } from "../view-data.ts"
import { arrowEnds, arrowNear, arrowText, drawDiagram, faultTextAt, markNear } from "./diagram.ts"
import { renderFilters, renderSummary, renderWitness } from "./panels.ts"
import { drawTimeline, operationNear, operationText, processRowHeight } from "./timeline.ts"
import { fitSurface, laneHeight, type Surface, timeAt, type ViewerState } from "./viewer-state.ts"

// Functions here run in the page, like diagram.ts's: only each other and the other client files.

/** The surface of the canvas with id `id`, with `left` pixels kept for lane names. */
export function surfaceOf(id: string, left: number): Surface {
  const canvas = document.getElementById(id) as HTMLCanvasElement
  return { canvas, context: canvas.getContext("2d")!, width: 0, height: 0, left, right: 12, top: 22 }
}

/** Redraws both canvases, sized to the window. */
export function redraw(state: ViewerState): void {
  fitSurface(state.diagram, state.diagram.height)
  drawDiagram(state)
  fitSurface(state.timeline, state.timeline.height)
  drawTimeline(state)
  const from = document.getElementById("from") as HTMLInputElement
  const to = document.getElementById("to") as HTMLInputElement
  from.value = (state.startUs / 1000).toFixed(1)
  to.value = (state.endUs / 1000).toFixed(1)
}

/** Reads the page's embedded data: JSON, gzip-compressed and base64-encoded (a tenth of the size), unpacked by the browser itself. */
export async function readViewData(): Promise<ViewData> {
  const packed = atob(document.getElementById("view-data")!.textContent!.trim())
  const bytes = new Uint8Array(packed.length)
  for (let index = 0; index < packed.length; index++) bytes[index] = packed.charCodeAt(index)
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))
  return JSON.parse(await new Response(stream).text()) as ViewData
}

/** Starts the viewer on the page's embedded data. */
export async function startViewer(): Promise<void> {
  const data = await readViewData()
  const processes = [...new Set(data.operations.map((operation) => operation.process))].sort((left, right) => left - right)
  const state: ViewerState = {
    data,
    startUs: 0,
    endUs: Math.max(1, data.summary.endUs),
    laneOn: data.lanes.map(() => true),
    typeOn: data.types.map(() => true),
    drawn: 0,
    diagram: surfaceOf("diagram", 60),
    timeline: surfaceOf("timeline", 60),
    processes,
    witness: new Set(data.witness?.invokeIndices ?? [])
  }
  state.diagram.height = Math.round(state.diagram.top + 8 + data.lanes.length * Math.min(56, Math.max(22, 440 / Math.max(1, data.lanes.length))))
  state.timeline.height = state.timeline.top + Math.max(1, processes.length) * processRowHeight() + 8
  if (processes.length === 0) document.getElementById("timeline-section")!.style.display = "none"
  renderSummary(state, document.getElementById("summary")!)
  renderFilters(state, document.getElementById("filters")!, () => redraw(state))
  renderWitness(state, document.getElementById("witness")!)
  wireControls(state)
  redraw(state)
  exposeForTests(state)
}

/** Zooms the window by `factor` around the time `centreUs`, kept within the run. */
export function zoomAround(state: ViewerState, centreUs: number, factor: number): void {
  const total = Math.max(1, state.data.summary.endUs)
  const span = Math.min(total, Math.max(100, (state.endUs - state.startUs) * factor))
  const share = (centreUs - state.startUs) / Math.max(1, state.endUs - state.startUs)
  state.startUs = Math.max(0, Math.min(total - span, centreUs - share * span))
  state.endUs = state.startUs + span
  redraw(state)
}

/** Wheel zoom, drag pan, hover, double-click and the time window's inputs, on both canvases. */
export function wireControls(state: ViewerState): void {
  for (const surface of [state.diagram, state.timeline]) {
    const canvas = surface.canvas
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault()
      zoomAround(state, timeAt(state, surface, event.offsetX), event.deltaY > 0 ? 1.25 : 0.8)
    })
    let dragX: number | null = null
    canvas.addEventListener("mousedown", (event) => (dragX = event.offsetX))
    window.addEventListener("mouseup", () => (dragX = null))
    canvas.addEventListener("mousemove", (event) => {
      if (dragX !== null && event.buttons === 1) {
        const shift = timeAt(state, surface, dragX) - timeAt(state, surface, event.offsetX)
        dragX = event.offsetX
        const span = state.endUs - state.startUs
        state.startUs = Math.max(0, Math.min(state.data.summary.endUs - span, state.startUs + shift))
        state.endUs = state.startUs + span
        redraw(state)
        return
      }
      showTooltip(state, surface, event)
    })
    canvas.addEventListener("mouseleave", () => (document.getElementById("tooltip")!.style.display = "none"))
    canvas.addEventListener("dblclick", () => resetWindow(state))
  }
  document.getElementById("reset")!.addEventListener("click", () => resetWindow(state))
  document.getElementById("apply")!.addEventListener("click", () => {
    const from = Number((document.getElementById("from") as HTMLInputElement).value) * 1000
    const to = Number((document.getElementById("to") as HTMLInputElement).value) * 1000
    if (Number.isFinite(from) && Number.isFinite(to) && to > from) {
      state.startUs = Math.max(0, from)
      state.endUs = Math.min(state.data.summary.endUs, to)
      redraw(state)
    }
  })
  window.addEventListener("resize", () => redraw(state))
}

/** Shows the whole run again. */
export function resetWindow(state: ViewerState): void {
  state.startUs = 0
  state.endUs = Math.max(1, state.data.summary.endUs)
  redraw(state)
}

/** What is under the pointer, in words: an arrow, a mark or a fault on the diagram, an operation on the timeline. */
export function textAt(state: ViewerState, surface: Surface, x: number, y: number): string {
  if (surface === state.timeline) {
    const operation = operationNear(state, x, y)
    return operation < 0 ? "" : operationText(state, operation)
  }
  const mark = markNear(state, x, y)
  if (mark >= 0) return state.data.marks[mark]!.text
  const arrow = arrowNear(state, x, y)
  if (arrow >= 0) return arrowText(state, arrow)
  return faultTextAt(state, x, y)
}

/** Shows what is under the pointer beside it, or hides the tooltip when nothing is. */
export function showTooltip(state: ViewerState, surface: Surface, event: MouseEvent): void {
  const tooltip = document.getElementById("tooltip")!
  const text = textAt(state, surface, event.offsetX, event.offsetY)
  if (text === "") {
    tooltip.style.display = "none"
    return
  }
  tooltip.textContent = text
  tooltip.style.display = "block"
  tooltip.style.left = `${Math.min(event.pageX + 14, window.innerWidth + window.scrollX - 460)}px`
  tooltip.style.top = `${event.pageY + 14}px`
}

/** Hooks for the browser test: counts, where an arrow is on screen, and the outlined operations. */
export function exposeForTests(state: ViewerState): void {
  const hooks = {
    firstPaintMs: performance.now(),
    arrows: state.data.messages.id.length,
    drawn: () => state.drawn,
    /** Page coordinates of a point on arrow `index`, a third of the way along (away from its ends, where arrows meet). */
    pointOn: (index: number) => {
      const [x1, y1, x2, y2] = arrowEnds(state, index)
      const box = state.diagram.canvas.getBoundingClientRect()
      return { x: box.left + window.scrollX + x1 + (x2 - x1) / 3, y: box.top + window.scrollY + y1 + (y2 - y1) / 3 }
    },
    laneHeight: () => laneHeight(state),
    /** The first arrow of message type `type` sent after `timeUs`, or -1 (for pictures that hover over one). */
    arrowAfter: (timeUs: number, type: string) => {
      const messages = state.data.messages
      const wanted = state.data.types.indexOf(type)
      return messages.id.findIndex((_, index) => messages.type[index] === wanted && messages.sendUs[index]! > timeUs)
    },
    zoom: (startUs: number, endUs: number) => {
      state.startUs = startUs
      state.endUs = endUs
      redraw(state)
    },
    outlined: () => state.data.operations.filter((operation) => state.witness.has(operation.invokeIndex))
  }
  ;(window as unknown as { faultline: typeof hooks }).faultline = hooks
}
