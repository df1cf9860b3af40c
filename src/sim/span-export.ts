// Exported spans of a simulated run: OpenTelemetry spans on simulated time, with ids drawn from the seed, written as OTLP JSON.
import type { NodeId, OpenSpan, SpanKind, SpanOptions, Spans, TraceAttributes, TraceParent } from "../env/index.ts"
import { isTraceParent, OpenSpans, spanAttributeValue } from "../trace/index.ts"
import { JsonBytes } from "./json-bytes.ts"
import { RandomStream } from "./random-streams.ts"

/** The resource every span of a run shares besides its node: what OTLP calls resource attributes. */
export interface SpanExportResource {
  readonly cluster: string
  readonly protocol: string
  readonly seed: number
}

/** OTLP's span kinds, by their number in the protocol. */
const SPAN_KIND: Readonly<Record<SpanKind, number>> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

/** Where the ids sit in a traceparent, `00-<trace id>-<span id>-01`. */
const TRACE_ID_FROM = 3
const TRACE_ID_TO = 35
const SPAN_ID_FROM = 36
const SPAN_ID_TO = 52

/** The character codes of lowercase hex digits, by value. */
const HEX_CODES = Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0))

interface SpanEvent {
  readonly timeUs: number
  readonly name: string
  readonly attributes: TraceAttributes
}

/**
 * A span while it is open. Its ids live in its traceparent only (the OTLP JSON copies them out
 * of it), and once it ends it is written as bytes and dropped; see `json-bytes.ts` for why.
 * `event` and `end` are methods, as OpenTelemetry's are: call them on the span.
 */
class SimulatedSpan implements OpenSpan {
  events: Array<SpanEvent> | undefined
  ended = false

  constructor(
    private readonly recorder: NodeRecorder,
    readonly traceparent: TraceParent,
    /** The parent's traceparent, already checked. */
    readonly parent: TraceParent | undefined,
    readonly name: string,
    readonly kind: SpanKind,
    readonly startUs: number,
    readonly attributes: TraceAttributes,
    /** Linked spans' traceparents, already checked. */
    readonly links: ReadonlyArray<TraceParent>
  ) {}

  event(name: string, attributes: TraceAttributes): void {
    if (!this.ended) (this.events ??= []).push({ timeUs: this.recorder.nowUs(), name, attributes })
  }

  end(outcome: "ok" | "error" = "ok"): void {
    this.recorder.end(this, outcome)
  }
}

/** The spans of one node incarnation: what its Tracing service hands its program, plus what the service itself needs. */
export interface NodeSpans extends Spans {
  /** Starts a span that is active until it ends: the node's protocol events are added to it (see `Tracing.span`). */
  readonly startActive: (name: string, attributes: TraceAttributes) => OpenSpan
  /** Adds a protocol event to the node's innermost active span, if any. */
  readonly event: (name: string, attributes: TraceAttributes) => void
}

/** Writes one attribute value as OTLP JSON's AnyValue. */
const writeValue = (out: JsonBytes, value: string | number | boolean): void => {
  switch (typeof value) {
    case "string":
      out.ascii(`{"stringValue":`)
      out.string(value)
      return out.ascii("}")
    case "boolean":
      return out.ascii(value ? `{"boolValue":true}` : `{"boolValue":false}`)
    case "number":
      // As the OpenTelemetry SDK's own OTLP JSON does: integers as int64 (decimal text), others as
      // doubles. spanAttributeValue turned non-finite numbers into text, so String is JSON here.
      if (!Number.isSafeInteger(value)) return out.ascii(`{"doubleValue":${value}}`)
      out.ascii(`{"intValue":"`)
      out.integer(value)
      return out.ascii(`"}`)
    default: {
      const unreachable: never = value
      throw new Error(`unknown attribute value ${String(unreachable)}`)
    }
  }
}

/** Writes attributes as an OTLP JSON list of KeyValue. */
const writeAttributes = (out: JsonBytes, attributes: TraceAttributes): void => {
  out.ascii("[")
  let first = true
  for (const key in attributes) {
    out.ascii(first ? `{"key":` : `,{"key":`)
    first = false
    out.string(key)
    out.ascii(`,"value":`)
    writeValue(out, spanAttributeValue(attributes[key]))
    out.ascii("}")
  }
  out.ascii("]")
}

/**
 * Writes simulated microseconds as OTLP's nanoseconds since the Unix epoch (JSON text, in quotes):
 * the run starts at `originUnixMs`. Whole microseconds since the epoch fit a double exactly until
 * the year 2255; past that (or before 1970) the sum is taken in BigInt.
 */
const writeUnixNano = (out: JsonBytes, originUnixMs: number, timeUs: number): void => {
  const unixUs = originUnixMs * 1000 + Math.round(timeUs)
  out.ascii(`"`)
  if (Number.isSafeInteger(unixUs) && unixUs > 0) {
    out.integer(unixUs)
    out.ascii(`000"`)
  } else {
    out.ascii(`${BigInt(originUnixMs) * 1_000_000n + BigInt(Math.round(timeUs)) * 1000n}"`)
  }
}

/** The spans of one node incarnation, and where they go when they end. */
class NodeRecorder {
  readonly active = new OpenSpans<SimulatedSpan>()

  constructor(
    private readonly spanExport: SpanExport,
    private readonly node: NodeId,
    readonly nowUs: () => number,
    private readonly alive: () => boolean
  ) {}

  end(span: SimulatedSpan, outcome: "ok" | "error"): void {
    // A crashed incarnation's spans never end, as a killed process's spans are never exported.
    if (span.ended || !this.alive()) return
    span.ended = true
    this.active.remove(span)
    this.spanExport.record(this.node, span, this.nowUs(), outcome)
  }
}

/**
 * Collects the spans of one run. Ids come from a random stream of their own (`otlp`), which no
 * other part of the run draws from, and spans are recorded only when an export was asked for, so
 * exporting changes neither the run nor its trace hash; the same seed gives the same bytes.
 */
export class SpanExport {
  private readonly random: RandomStream
  /** Ended spans per node as OTLP JSON, comma-separated; nodes in the order they first ended a span. */
  private readonly ended = new Map<NodeId, JsonBytes>()
  private spanTotal = 0
  private readonly traceIds = new Set<string>()
  /** A traceparent being drawn, as character codes: `00-`, the ids, `-01` (sampled). */
  private readonly codes = Array.from("00-00000000000000000000000000000000-0000000000000000-01", (character) => character.charCodeAt(0))

  constructor(
    private readonly resource: SpanExportResource,
    private readonly originUnixMs = 0
  ) {
    this.random = new RandomStream(resource.seed, "otlp")
  }

  /** Spans of one node incarnation, stamped with `nowUs` (simulated time); `alive` is false once the incarnation ended. */
  forNode(node: NodeId, nowUs: () => number, alive: () => boolean): NodeSpans {
    const recorder = new NodeRecorder(this, node, nowUs, alive)
    const start = (name: string, attributes: TraceAttributes, options?: SpanOptions): SimulatedSpan => {
      const parent = isTraceParent(options?.parent) ? options.parent : undefined
      const traceparent = this.drawTraceParent(parent)
      return new SimulatedSpan(recorder, traceparent, parent, name, options?.kind ?? "internal", nowUs(), attributes, checkedLinks(options?.links))
    }
    return {
      enabled: true,
      start,
      startActive: (name, attributes) => {
        const span = start(name, attributes, { parent: recorder.active.innermost()?.traceparent })
        recorder.active.add(span)
        return span
      },
      event: (name, attributes) => recorder.active.innermost()?.event(name, attributes)
    }
  }

  /** Spans ended so far. */
  get spans(): number {
    return this.spanTotal
  }

  /** Distinct traces among them. */
  get traces(): number {
    return this.traceIds.size
  }

  /** The run's spans as one OTLP/JSON `ExportTraceServiceRequest`, one resource per node. */
  toOtlpJson(): string {
    const { cluster, protocol, seed } = this.resource
    let spanBytes = 0
    for (const spans of this.ended.values()) spanBytes += spans.length
    const out = new JsonBytes(spanBytes + 1024 * (this.ended.size + 1))
    out.ascii(`{"resourceSpans":[`)
    let first = true
    for (const [node, spans] of this.ended) {
      out.ascii(first ? `{"resource":{"attributes":` : `,{"resource":{"attributes":`)
      first = false
      writeAttributes(out, { "service.name": node, "faultline.cluster": cluster, "faultline.protocol": protocol, "faultline.seed": seed })
      out.ascii(`},"scopeSpans":[{"scope":{"name":"faultline"},"spans":[`)
      out.bytes(spans)
      out.ascii(`]}]}`)
    }
    out.ascii(`]}`)
    return out.toString()
  }

  /** Writes an ended span to its node's OTLP JSON. */
  record(node: NodeId, span: SimulatedSpan, endUs: number, outcome: "ok" | "error"): void {
    let out = this.ended.get(node)
    if (out === undefined) {
      out = new JsonBytes()
      this.ended.set(node, out)
    }
    if (out.length > 0) out.ascii(",")
    this.writeSpan(out, span, endUs, outcome)
    this.spanTotal++
    this.traceIds.add(span.traceparent.slice(TRACE_ID_FROM, TRACE_ID_TO))
  }

  /** A span as OTLP JSON, its fields in the order earlier versions wrote them (the bytes of a seed's export stay the same). */
  private writeSpan(out: JsonBytes, span: SimulatedSpan, endUs: number, outcome: "ok" | "error"): void {
    out.ascii(`{"traceId":"`)
    out.asciiSlice(span.traceparent, TRACE_ID_FROM, TRACE_ID_TO)
    out.ascii(`","spanId":"`)
    out.asciiSlice(span.traceparent, SPAN_ID_FROM, SPAN_ID_TO)
    if (span.parent !== undefined) {
      out.ascii(`","parentSpanId":"`)
      out.asciiSlice(span.parent, SPAN_ID_FROM, SPAN_ID_TO)
    }
    out.ascii(`","name":`)
    out.string(span.name)
    out.ascii(`,"kind":${SPAN_KIND[span.kind]},"startTimeUnixNano":`)
    writeUnixNano(out, this.originUnixMs, span.startUs)
    out.ascii(`,"endTimeUnixNano":`)
    writeUnixNano(out, this.originUnixMs, endUs)
    out.ascii(`,"attributes":`)
    writeAttributes(out, span.attributes)
    out.ascii(`,"events":[`)
    const events = span.events ?? NO_EVENTS
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!
      out.ascii(index === 0 ? `{"timeUnixNano":` : `,{"timeUnixNano":`)
      writeUnixNano(out, this.originUnixMs, event.timeUs)
      out.ascii(`,"name":`)
      out.string(event.name)
      out.ascii(`,"attributes":`)
      writeAttributes(out, event.attributes)
      out.ascii("}")
    }
    out.ascii(`],"links":[`)
    for (let index = 0; index < span.links.length; index++) {
      const link = span.links[index]!
      out.ascii(index === 0 ? `{"traceId":"` : `,{"traceId":"`)
      out.asciiSlice(link, TRACE_ID_FROM, TRACE_ID_TO)
      out.ascii(`","spanId":"`)
      out.asciiSlice(link, SPAN_ID_FROM, SPAN_ID_TO)
      out.ascii(`"}`)
    }
    // OTLP status codes: unset (an empty status) for a span that ended well, 2 (error) for one that did not.
    out.ascii(outcome === "error" ? `],"status":{"code":2}}` : `],"status":{}}`)
  }

  /**
   * A new span's traceparent: its parent's trace id, or a new one, and a new span id, drawn from
   * the stream as `words` 32-bit words each (4 for a trace id, 2 for a span id; never all zero)
   * and written as hex into one string at once, with no pieces to join.
   */
  private drawTraceParent(parent: TraceParent | undefined): TraceParent {
    const codes = this.codes
    if (parent === undefined) this.drawHex(TRACE_ID_FROM, 4)
    else for (let index = TRACE_ID_FROM; index < TRACE_ID_TO; index++) codes[index] = parent.charCodeAt(index)
    this.drawHex(SPAN_ID_FROM, 2)
    return String.fromCharCode(...codes)
  }

  private drawHex(from: number, words: number): void {
    let zero = true
    for (let index = 0; index < words; index++) {
      let word = this.random.nextInt(2 ** 32)
      if (word !== 0) zero = false
      for (let digit = 7; digit >= 0; digit--) {
        this.codes[from + index * 8 + digit] = HEX_CODES[word % 16]!
        word = Math.floor(word / 16)
      }
    }
    if (zero) this.drawHex(from, words)
  }
}

const NO_LINKS: ReadonlyArray<TraceParent> = []
const NO_EVENTS: ReadonlyArray<SpanEvent> = []

/** The well-formed traceparents among `links`. */
const checkedLinks = (links: ReadonlyArray<TraceParent> | undefined): ReadonlyArray<TraceParent> => {
  if (links === undefined || links.length === 0) return NO_LINKS
  return links.filter((link) => isTraceParent(link))
}
