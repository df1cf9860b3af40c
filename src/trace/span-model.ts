// What both worlds share about exported spans: the W3C traceparent form, attribute values, and which open span a protocol event belongs to.
import type { TraceAttributes, TraceParent } from "../env/index.ts"

/** The length of a version-00 traceparent: `00-` + 32 + `-` + 16 + `-` + 2. */
const TRACEPARENT_LENGTH = 55

/** A parsed traceparent: hex trace and span ids, and whether it was sampled. */
export interface SpanContextIds {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}

/** A W3C traceparent (version 00) for a span; sampled, as every exported span is. */
export const formatTraceParent = (traceId: string, spanId: string): TraceParent => `00-${traceId}-${spanId}-01`

/** What `text[from, to)` holds: lowercase hex as W3C Trace Context requires (all zeros or not), or anything else. */
const hexDigits = (text: string, from: number, to: number): "zero" | "nonzero" | "invalid" => {
  let zero = true
  for (let index = from; index < to; index++) {
    const code = text.charCodeAt(index)
    // 0-9 and a-f only.
    if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102))) return "invalid"
    if (code !== 48) zero = false
  }
  return zero ? "zero" : "nonzero"
}

/**
 * Whether `text` is a traceparent Faultline takes: version 00, lowercase hex, non-zero ids. Checked
 * character by character, allocating nothing: every traced message and every span with a parent
 * comes through here.
 */
export const isTraceParent = (text: unknown): text is TraceParent => {
  if (typeof text !== "string" || text.length !== TRACEPARENT_LENGTH) return false
  if (text.charCodeAt(0) !== 48 || text.charCodeAt(1) !== 48 || text[2] !== "-" || text[35] !== "-" || text[52] !== "-") return false
  return hexDigits(text, 53, 55) !== "invalid" && hexDigits(text, 3, 35) === "nonzero" && hexDigits(text, 36, 52) === "nonzero"
}

/**
 * Reads a traceparent; `undefined` for anything that is not version 00 with non-zero ids, which a
 * receiver then treats as no context at all (a message from a peer is input, never trusted).
 */
export const parseTraceParent = (text: unknown): SpanContextIds | undefined => {
  if (!isTraceParent(text)) return undefined
  return { traceId: text.slice(3, 35), spanId: text.slice(36, 52), sampled: (Number.parseInt(text.slice(53), 16) & 1) === 1 }
}

/**
 * An attribute value as OpenTelemetry takes it: strings, numbers and booleans as they are,
 * anything else (null, lists, objects) as its JSON text. Both worlds convert through this, so a
 * span's attributes read the same from the simulator and from a real node.
 */
export const spanAttributeValue = (value: unknown): string | number | boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) ? value : String(value)
    default:
      return JSON.stringify(value) ?? String(value)
  }
}

/** Every attribute of `attributes` converted by {@link spanAttributeValue}, in their order. */
export const spanAttributes = (attributes: TraceAttributes): Record<string, string | number | boolean> => {
  const converted: Record<string, string | number | boolean> = {}
  for (const key in attributes) converted[key] = spanAttributeValue(attributes[key])
  return converted
}

/**
 * A node's open spans, oldest first: a protocol event becomes an event of the innermost one (the
 * last started that has not ended). Bounded: a span that is never ended (its node stopped
 * leading, a reply never came) is forgotten once `capacity` newer ones are open.
 */
export class OpenSpans<S> {
  private readonly open: Array<S> = []

  constructor(private readonly capacity = 1024) {}

  add(span: S): void {
    if (this.open.length >= this.capacity) this.open.shift()
    this.open.push(span)
  }

  remove(span: S): void {
    // Spans mostly end in the order they started, or last first: search from either end is short.
    const index = this.open.lastIndexOf(span)
    if (index >= 0) this.open.splice(index, 1)
  }

  innermost(): S | undefined {
    return this.open.at(-1)
  }
}
