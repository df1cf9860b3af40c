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

/** 1 for the character codes of lowercase hex digits (0-9, a-f), as W3C Trace Context requires; 0 for any other below 128. */
const HEX_CODE = new Uint8Array(128)
for (const digit of "0123456789abcdef") HEX_CODE[digit.charCodeAt(0)] = 1

/** Whether `text[from, to)` is lowercase hex with at least one digit other than 0 (an all-zero id is invalid). */
const nonZeroHex = (text: string, from: number, to: number): boolean => {
  let zero = true
  for (let index = from; index < to; index++) {
    const code = text.charCodeAt(index)
    // A code of 128 or more reads undefined from the table: not hex either.
    if (HEX_CODE[code] !== 1) return false
    if (code !== 48) zero = false
  }
  return !zero
}

/** The code of `-`, which separates a traceparent's fields. */
const DASH = 45

/**
 * Whether `text` is a traceparent Faultline takes: version 00, lowercase hex, non-zero ids. Checked
 * code by code against a table, allocating nothing: every traced message and every span with a
 * parent comes through here.
 */
export const isTraceParent = (text: unknown): text is TraceParent => {
  if (typeof text !== "string" || text.length !== TRACEPARENT_LENGTH) return false
  if (text.charCodeAt(0) !== 48 || text.charCodeAt(1) !== 48) return false
  if (text.charCodeAt(2) !== DASH || text.charCodeAt(35) !== DASH || text.charCodeAt(52) !== DASH) return false
  // The flags byte may be all zero (not sampled); the ids may not.
  return HEX_CODE[text.charCodeAt(53)] === 1 && HEX_CODE[text.charCodeAt(54)] === 1 && nonZeroHex(text, 3, 35) && nonZeroHex(text, 36, 52)
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
    // Every protocol event of a node that exports spans asks, and mostly none is open: then the
    // index would be -1, which is no array index but a property name, and V8 looks it up the slow
    // way (about 825 instructions). Checking the length first costs nothing.
    const count = this.open.length
    return count === 0 ? undefined : this.open[count - 1]
  }
}
