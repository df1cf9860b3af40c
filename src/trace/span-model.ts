// What both worlds share about exported spans: the W3C traceparent form, attribute values, and which open span a protocol event belongs to.
import type { TraceAttributes, TraceParent } from "../env/index.ts"

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const ZERO_TRACE_ID = "0".repeat(32)
const ZERO_SPAN_ID = "0".repeat(16)

/** A parsed traceparent: hex trace and span ids, and whether it was sampled. */
export interface SpanContextIds {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}

/** A W3C traceparent (version 00) for a span; sampled, as every exported span is. */
export const formatTraceParent = (traceId: string, spanId: string): TraceParent => `00-${traceId}-${spanId}-01`

/**
 * Reads a traceparent; `undefined` for anything that is not version 00 with non-zero ids, which a
 * receiver then treats as no context at all (a message from a peer is input, never trusted).
 */
export const parseTraceParent = (text: unknown): SpanContextIds | undefined => {
  if (typeof text !== "string") return undefined
  const match = TRACEPARENT.exec(text)
  if (match === null || match[1] === ZERO_TRACE_ID || match[2] === ZERO_SPAN_ID) return undefined
  return { traceId: match[1]!, spanId: match[2]!, sampled: (Number.parseInt(match[3]!, 16) & 1) === 1 }
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
