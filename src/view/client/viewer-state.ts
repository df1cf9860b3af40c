// The viewer page's state and geometry, shared by the diagram, the timeline and the controls (browser code, see page.ts).
/// <reference lib="dom" />
import type { ViewData } from "../view-data.ts"

/** A canvas and the margins of its plot area, in CSS pixels. */
export interface Surface {
  readonly canvas: HTMLCanvasElement
  readonly context: CanvasRenderingContext2D
  width: number
  height: number
  readonly left: number
  readonly right: number
  readonly top: number
}

/** Everything the page's code shares: the data, the visible time window, the filters and the two canvases. */
export interface ViewerState {
  readonly data: ViewData
  /** The visible time window, in microseconds; the diagram and the timeline show the same one. */
  startUs: number
  endUs: number
  readonly laneOn: Array<boolean>
  readonly typeOn: Array<boolean>
  /** Arrows drawn in the last frame of the diagram (the browser test compares it with the trace). */
  drawn: number
  readonly diagram: Surface
  readonly timeline: Surface
  readonly processes: Array<number>
  readonly witness: Set<number>
}

/** The x of a time on a surface, in CSS pixels. */
export function xOf(state: ViewerState, surface: Surface, timeUs: number): number {
  const span = Math.max(1, state.endUs - state.startUs)
  return surface.left + ((timeUs - state.startUs) / span) * (surface.width - surface.left - surface.right)
}

/** The time at an x of a surface, in microseconds. */
export function timeAt(state: ViewerState, surface: Surface, x: number): number {
  const span = Math.max(1, state.endUs - state.startUs)
  return state.startUs + ((x - surface.left) / Math.max(1, surface.width - surface.left - surface.right)) * span
}

/** The height of one lane of the diagram. */
export function laneHeight(state: ViewerState): number {
  const shown = Math.max(1, state.data.lanes.length)
  return Math.max(22, Math.min(56, (state.diagram.height - state.diagram.top - 8) / shown))
}

/** The y of a lane's line in the diagram. */
export function laneY(state: ViewerState, lane: number): number {
  return state.diagram.top + (lane + 0.5) * laneHeight(state)
}

/** A colour per message type, the same for a type in every run (a hash of its name). */
export function typeColour(name: string): string {
  let hash = 0
  for (let index = 0; index < name.length; index++) hash = (hash * 31 + name.charCodeAt(index)) | 0
  return `hsl(${Math.abs(hash) % 360}, 65%, 42%)`
}

/** Sizes a canvas to its box and the screen's pixel ratio; returns the context, scaled to CSS pixels. */
export function fitSurface(surface: Surface, height: number): void {
  const ratio = window.devicePixelRatio || 1
  surface.width = surface.canvas.clientWidth
  surface.height = height
  surface.canvas.style.height = `${height}px`
  surface.canvas.width = Math.round(surface.width * ratio)
  surface.canvas.height = Math.round(height * ratio)
  surface.context.setTransform(ratio, 0, 0, ratio, 0, 0)
}

/** Microseconds as seconds with millisecond precision, for labels. */
export function formatUs(timeUs: number): string {
  return `${(timeUs / 1e6).toFixed(3)} s`
}

/** Draws the time axis along the top of a surface. */
export function drawAxis(state: ViewerState, surface: Surface): void {
  const context = surface.context
  const span = state.endUs - state.startUs
  const rough = span / 8
  const step = Math.pow(10, Math.floor(Math.log10(Math.max(1, rough))))
  const tick = rough / step >= 5 ? step * 5 : rough / step >= 2 ? step * 2 : step
  context.fillStyle = "#555"
  context.strokeStyle = "#e4e4e4"
  context.font = "11px sans-serif"
  context.lineWidth = 1
  for (let time = Math.ceil(state.startUs / tick) * tick; time <= state.endUs; time += tick) {
    const x = xOf(state, surface, time)
    context.beginPath()
    context.moveTo(x, surface.top - 4)
    context.lineTo(x, surface.height)
    context.stroke()
    context.fillText(formatUs(time), x + 2, 11)
  }
}
