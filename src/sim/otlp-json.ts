// The OTLP JSON of a simulated run's spans: each span written into its node's bytes as it ends, the request put together at the run's end.
//
// A span's JSON is written the moment it ends, and nothing of it is kept but bytes: a run ends
// thousands of spans, and keeping each as objects (its traceparent, its attributes, its events)
// until the end made every young collection copy them and promoted them all to the old
// generation, which cost more than writing them. Empty fields are left out (`events`, `links`,
// an unset `status`), as OTLP/JSON's protobuf mapping allows and the SDK's own exporters do for
// defaults: about 36 bytes less a span.
import type { NodeId, SpanKind, TraceAttributes, TraceParent } from "../env/index.ts"
import { spanAttributeValue } from "../trace/index.ts"
import { JsonBytes } from "./json-bytes.ts"

/** Where the ids sit in a traceparent, `00-<trace id>-<span id>-01`. */
export const TRACE_ID_FROM = 3
export const TRACE_ID_TO = 35
const SPAN_ID_FROM = 36
const SPAN_ID_TO = 52

/** OTLP's span kinds, by their number in the protocol. */
export const SPAN_KIND: Readonly<Record<SpanKind, number>> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

/** A protocol event added to a span while it was open. */
export interface SpanEvent {
  readonly timeUs: number
  readonly name: string
  readonly attributes: TraceAttributes
}

/** What the writer needs of an ended span. */
export interface EndedSpan {
  readonly traceparent: TraceParent
  /** The parent's traceparent, already checked. */
  readonly parent: TraceParent | undefined
  readonly name: string
  /** OTLP's number for the span's kind (see {@link SPAN_KIND}). */
  readonly kind: number
  readonly startUs: number
  readonly attributes: TraceAttributes
  readonly events: ReadonlyArray<SpanEvent> | undefined
  /** Linked spans' traceparents, already checked. */
  readonly links: ReadonlyArray<TraceParent>
}

/** `map`'s value for `key`, made by `make` and kept the first time it is asked for. */
const entry = <K, V>(map: Map<K, V>, key: K, make: (key: K) => V): V => {
  let value = map.get(key)
  if (value === undefined) {
    value = make(key)
    map.set(key, value)
  }
  return value
}

/** Text as UTF-8 bytes, made once and copied many times. */
const utf8 = (text: string): Uint8Array => Buffer.from(text, "utf8")

/** How many zeros end a time's nanoseconds when it is written in microseconds. */
const TIME_ZEROS = 3

/**
 * The fixed pieces of a span's JSON. A piece that follows a time starts with the time's last three
 * digits, `000` (see `OtlpSpanWriter.time`), and a piece that follows an integer attribute closes it.
 */
const PIECES = {
  traceId: utf8(`{"traceId":"`),
  nextTraceId: utf8(`,{"traceId":"`),
  spanId: utf8(`","spanId":"`),
  parentSpanId: utf8(`","parentSpanId":"`),
  endTime: utf8(`000","endTimeUnixNano":"`),
  attributes: utf8(`000","attributes":[`),
  noAttributes: utf8(`000"`),
  // A list's end, and with it the end of what holds it.
  listEnd: utf8(`]`),
  listThenEnd: utf8(`]}`),
  events: utf8(`,"events":[`),
  eventTime: utf8(`{"timeUnixNano":"`),
  nextEventTime: utf8(`,{"timeUnixNano":"`),
  links: utf8(`],"links":[`),
  firstLinks: utf8(`,"links":[`),
  linkSpanId: utf8(`","spanId":"`),
  linkEnd: utf8(`"}`),
  statusError: utf8(`,"status":{"code":2}}`),
  end: utf8(`}`)
}

/** An attribute key's pieces: `{"key":<key>,"value":{"intValue":"` and so on, first in a list or after a comma. */
interface KeyPieces {
  readonly integer: Uint8Array
  readonly nextInteger: Uint8Array
  readonly string: Uint8Array
  readonly nextString: Uint8Array
  readonly other: Uint8Array
  readonly nextOther: Uint8Array
}

const keyPieces = (key: string): KeyPieces => {
  const start = `{"key":${JSON.stringify(key)},"value":{`
  return {
    integer: utf8(`${start}"intValue":"`),
    nextInteger: utf8(`,${start}"intValue":"`),
    string: utf8(`${start}"stringValue":`),
    nextString: utf8(`,${start}"stringValue":`),
    other: utf8(start),
    nextOther: utf8(`,${start}`)
  }
}

/** The end of a value that is not an integer, after {@link KeyPieces.other}; a string's is `}}` alone. */
const otherValueJson = (value: number | boolean): string =>
  // spanAttributeValue turned non-finite numbers into text, so String is JSON here.
  typeof value === "boolean" ? `"boolValue":${value}}}` : `"doubleValue":${String(value)}}}`

const VALUE_END = utf8(`}}`)
const INTEGER_END = utf8(`"}}`)

/**
 * Writes spans as OTLP JSON into bytes (see json-bytes.ts for why bytes). What recurs is encoded
 * once and copied: a span's name with its kind, an attribute's key, an event's name.
 */
export class OtlpSpanWriter {
  private readonly keys = new Map<string, KeyPieces>()
  /** `","name":<name>,"kind":<kind>,"startTimeUnixNano":"` by name, then by OTLP's number for the kind. */
  private readonly spanNames = new Map<string, Array<Uint8Array | undefined>>()
  /** `000","name":<name>` by event name. */
  private readonly eventNames = new Map<string, Uint8Array>()

  constructor(
    /** Where simulated time 0 sits, in Unix milliseconds. */
    private readonly originUnixMs: number
  ) {}

  /** Writes `span`, ended at `endUs`, as an item of a list of OTLP spans into `out`: the first, or after others. */
  span(out: JsonBytes, span: EndedSpan, endUs: number, error: boolean, first: boolean): void {
    const traceparent = span.traceparent
    out.raw(first ? PIECES.traceId : PIECES.nextTraceId)
    out.asciiSlice(traceparent, TRACE_ID_FROM, TRACE_ID_TO)
    out.raw(PIECES.spanId)
    out.asciiSlice(traceparent, SPAN_ID_FROM, SPAN_ID_TO)
    const parent = span.parent
    if (parent !== undefined) {
      out.raw(PIECES.parentSpanId)
      out.asciiSlice(parent, SPAN_ID_FROM, SPAN_ID_TO)
    }
    out.raw(this.spanName(span.name, span.kind))
    this.time(out, span.startUs, PIECES.endTime)
    const epoch = !this.unixMicros(out, endUs)
    const listed = this.attributes(out, span.attributes, epoch ? PIECES.attributes.subarray(TIME_ZEROS) : PIECES.attributes)
    if (!listed) out.raw(epoch ? PIECES.noAttributes.subarray(TIME_ZEROS) : PIECES.noAttributes)
    const events = span.events
    const links = span.links
    if (events === undefined && links.length === 0 && !error) {
      out.raw(listed ? PIECES.listThenEnd : PIECES.end)
      return
    }
    if (listed) out.raw(PIECES.listEnd)
    if (events !== undefined) {
      out.raw(PIECES.events)
      this.events(out, events)
    }
    if (links.length > 0) {
      out.raw(events === undefined ? PIECES.firstLinks : PIECES.links)
      this.links(out, links)
    }
    if (events !== undefined || links.length > 0) out.ascii("]")
    // OTLP status codes: unset (left out) for a span that ended well, 2 (error) for one that did not.
    out.raw(error ? PIECES.statusError : PIECES.end)
  }

  /**
   * Attributes as the items of an OTLP JSON list of KeyValue; `opening` (which opens the list) goes
   * before the first. Returns false when there were none, and `opening` was not written.
   */
  attributes(out: JsonBytes, attributes: TraceAttributes, opening: Uint8Array | undefined): boolean {
    let listed = false
    for (const key in attributes) {
      const pieces = entry(this.keys, key, keyPieces)
      const value = spanAttributeValue(attributes[key])
      if (!listed && opening !== undefined) out.raw(opening)
      // Integers vary most (indexes, counts) and are written as digits; text as a JSON string.
      if (typeof value === "number" && Number.isSafeInteger(value)) {
        out.raw(listed ? pieces.nextInteger : pieces.integer)
        out.integer(value)
        out.raw(INTEGER_END)
      } else if (typeof value === "string") {
        out.raw(listed ? pieces.nextString : pieces.string)
        out.string(value)
        out.raw(VALUE_END)
      } else {
        out.raw(listed ? pieces.nextOther : pieces.other)
        out.ascii(otherValueJson(value))
      }
      listed = true
    }
    return listed
  }

  /**
   * Simulated microseconds as the digits of OTLP's nanoseconds since the Unix epoch but their last
   * three, `000`, which start the piece the caller writes next (the quotes around the digits are
   * the caller's too): the run starts at `originUnixMs`. So a time and what follows take one copy.
   * Whole microseconds since the epoch fit a double exactly until the year 2255; past that (or
   * before 1970) they are summed in BigInt. The epoch itself is `0` nanoseconds, written whole:
   * then false, and the next piece goes without its zeros.
   */
  private unixMicros(out: JsonBytes, timeUs: number): boolean {
    const unixUs = this.originUnixMs * 1000 + Math.round(timeUs)
    if (Number.isSafeInteger(unixUs) && unixUs > 0) {
      out.integer(unixUs)
      return true
    }
    const exact = BigInt(this.originUnixMs) * 1000n + BigInt(Math.round(timeUs))
    out.ascii(`${exact}`)
    return exact !== 0n
  }

  /** A time as {@link unixMicros} writes it, then `next`, which starts with the nanoseconds' last zeros. */
  private time(out: JsonBytes, timeUs: number, next: Uint8Array): void {
    out.raw(this.unixMicros(out, timeUs) ? next : next.subarray(TIME_ZEROS))
  }

  private spanName(name: string, kind: number): Uint8Array {
    const kinds = entry(this.spanNames, name, () => [])
    let bytes = kinds[kind]
    if (bytes === undefined) {
      bytes = utf8(`","name":${JSON.stringify(name)},"kind":${kind},"startTimeUnixNano":"`)
      kinds[kind] = bytes
    }
    return bytes
  }

  private events(out: JsonBytes, events: ReadonlyArray<SpanEvent>): void {
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!
      out.raw(index === 0 ? PIECES.eventTime : PIECES.nextEventTime)
      this.time(out, event.timeUs, entry(this.eventNames, event.name, eventNameBytes))
      out.raw(this.attributes(out, event.attributes, EVENT_ATTRIBUTES) ? PIECES.listThenEnd : PIECES.end)
    }
  }

  private links(out: JsonBytes, links: ReadonlyArray<TraceParent>): void {
    for (let index = 0; index < links.length; index++) {
      const link = links[index]!
      out.raw(index === 0 ? PIECES.traceId : PIECES.nextTraceId)
      out.asciiSlice(link, TRACE_ID_FROM, TRACE_ID_TO)
      out.raw(PIECES.linkSpanId)
      out.asciiSlice(link, SPAN_ID_FROM, SPAN_ID_TO)
      out.raw(PIECES.linkEnd)
    }
  }
}

/** `000","name":<name>`: an event's JSON from its time's last digits (see `unixMicros`) to its attributes. */
const eventNameBytes = (name: string): Uint8Array => utf8(`000","name":${JSON.stringify(name)}`)

const EVENT_ATTRIBUTES = utf8(`,"attributes":[`)

/** What {@link otlpJsonBytes} puts together. */
export interface OtlpJsonInput {
  readonly resource: { readonly cluster: string; readonly protocol: string; readonly seed: number }
  readonly nodeIds: ReadonlyArray<NodeId>
  /** Each node's spans as {@link OtlpSpanWriter.span} wrote them, by the node's index; in the order the nodes first ended a span. */
  readonly nodes: ReadonlyArray<readonly [node: number, spans: JsonBytes]>
}

/** The spans as one OTLP/JSON `ExportTraceServiceRequest`, as UTF-8: one resource per node, nodes in the order they first ended a span. */
export const otlpJsonBytes = (input: OtlpJsonInput): Uint8Array<ArrayBuffer> => {
  const { nodeIds, resource } = input
  const writer = new OtlpSpanWriter(0)
  let capacity = 1024
  for (const [, spans] of input.nodes) capacity += spans.length + 1024
  const out = new JsonBytes(capacity)
  out.ascii(`{"resourceSpans":[`)
  let first = true
  for (const [node, spans] of input.nodes) {
    out.ascii(first ? `{"resource":{"attributes":[` : `,{"resource":{"attributes":[`)
    first = false
    writer.attributes(
      out,
      { "service.name": nodeIds[node]!, "faultline.cluster": resource.cluster, "faultline.protocol": resource.protocol, "faultline.seed": resource.seed },
      undefined
    )
    out.ascii(`]},"scopeSpans":[{"scope":{"name":"faultline"},"spans":[`)
    out.bytes(spans)
    out.ascii(`]}]}`)
  }
  out.ascii(`]}`)
  return out.view()
}
