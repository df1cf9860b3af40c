// The OTLP JSON of a simulated run's spans: each span written as it ends (span-export.ts), and the request around them.
import type { NodeId, SpanKind, TraceAttributes, TraceParent } from "../env/index.ts"
import { spanAttributeValue } from "../trace/index.ts"
import { JsonBytes } from "./json-bytes.ts"

/** Where the ids sit in a traceparent, `00-<trace id>-<span id>-01`. */
export const TRACE_ID_FROM = 3
export const TRACE_ID_TO = 35
const SPAN_ID_FROM = 36
const SPAN_ID_TO = 52

/** OTLP's span kinds, by their number in the protocol. */
const SPAN_KIND: Readonly<Record<SpanKind, number>> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

/** A protocol event added to a span while it was open. */
export interface SpanEvent {
  readonly timeUs: number
  readonly name: string
  readonly attributes: TraceAttributes
}

/** What a span's OTLP JSON is written from when it ends: the span as it was started, and its events. */
export interface EndedSpan {
  /** Its traceparent, flat text (see span-export.ts), whose ids are copied byte by byte. */
  readonly traceparent: TraceParent
  /** The parent's traceparent, already checked. */
  readonly parent: TraceParent | undefined
  readonly name: string
  readonly kind: SpanKind
  readonly startUs: number
  readonly attributes: TraceAttributes
  /** Linked spans' traceparents, already checked. */
  readonly links: ReadonlyArray<TraceParent>
  /** Its events, if it has any. */
  readonly events: ReadonlyArray<SpanEvent> | undefined
}

/** The resource every span of a run shares besides its node: what OTLP calls resource attributes. */
export interface SpanExportResource {
  readonly cluster: string
  readonly protocol: string
  readonly seed: number
}

/** The spans one node ended, as the items of an OTLP JSON list of spans (without its brackets). */
export interface NodeSpanBytes {
  readonly nodeId: NodeId
  readonly spans: JsonBytes
  /** Where each span's JSON starts in `spans`, in the order they ended. */
  readonly starts: Array<number>
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

const newMap = <K, V>(): Map<K, V> => new Map()

/** Text as UTF-8 bytes, made once and copied many times. */
const utf8 = (text: string): Uint8Array => Buffer.from(text, "utf8")

/** The text a span's JSON starts with, before its trace id. */
const SPAN_START = `{"traceId":"`

/** Where a span's trace id sits in its JSON, in bytes from its start. */
export const TRACE_ID_OFFSET = SPAN_START.length

/** `{"key":<key>,"value":{"intValue":"`: an integer attribute's JSON up to its digits. */
const integerKeyBytes = (key: string): Uint8Array => utf8(`{"key":${JSON.stringify(key)},"value":{"intValue":"`)

/** `","name":<name>,"attributes":[`: an event's JSON between its time and its attributes. */
const eventNameBytes = (name: string): Uint8Array => utf8(`","name":${JSON.stringify(name)},"attributes":[`)

/** The fixed pieces of a span's JSON, in the order they are written. */
const PIECES = {
  traceId: utf8(SPAN_START),
  spanId: utf8(`","spanId":"`),
  parentSpanId: utf8(`","parentSpanId":"`),
  endTime: utf8(`","endTimeUnixNano":"`),
  attributes: utf8(`","attributes":[`),
  events: utf8(`],"events":[`),
  links: utf8(`],"links":[`),
  statusOk: utf8(`],"status":{}}`),
  statusError: utf8(`],"status":{"code":2}}`),
  eventTime: utf8(`{"timeUnixNano":"`),
  linkSpanId: utf8(`","spanId":"`),
  linkEnd: utf8(`"}`)
}

/** One attribute value as OTLP JSON's AnyValue. */
const valueJson = (value: string | number | boolean): string => {
  switch (typeof value) {
    case "string":
      return `{"stringValue":${JSON.stringify(value)}}`
    case "boolean":
      return value ? `{"boolValue":true}` : `{"boolValue":false}`
    case "number":
      // As the OpenTelemetry SDK's own OTLP JSON does: integers as int64 (decimal text), others as
      // doubles. spanAttributeValue turned non-finite numbers into text, so String is JSON here.
      return Number.isSafeInteger(value) ? `{"intValue":"${value}"}` : `{"doubleValue":${value}}`
    default: {
      const unreachable: never = value
      throw new Error(`unknown attribute value ${String(unreachable)}`)
    }
  }
}

/** Most values remembered per attribute key; past it (a key whose values rarely repeat) they are encoded each time. */
const VALUES_PER_KEY_MAX = 4096

/**
 * Writes OTLP JSON into bytes (see json-bytes.ts for why bytes). What recurs is encoded once and
 * copied: an attribute's key with its value when that is text (a run's spans repeat a few keys
 * with few such values: node ids, operations, keys), a span's name with its kind, an event's name.
 */
export class OtlpWriter {
  private readonly pairs = new Map<string, Map<string | number | boolean, Uint8Array>>()
  /** `{"key":<key>,"value":{"intValue":"` by key. */
  private readonly integerKeys = new Map<string, Uint8Array>()
  /** `","name":<name>,"kind":<kind>,"startTimeUnixNano":"` by name and kind. */
  private readonly spanNames = new Map<string, Map<SpanKind, Uint8Array>>()
  /** `","name":<name>,"attributes":[` by event name. */
  private readonly eventNames = new Map<string, Uint8Array>()

  /** `originUnixMs` is where simulated time 0 sits, in Unix milliseconds. */
  constructor(private readonly originUnixMs: number) {}

  /** Attributes as the items of an OTLP JSON list of KeyValue (without its brackets). */
  attributes(out: JsonBytes, attributes: TraceAttributes): void {
    let first = true
    for (const key in attributes) {
      if (!first) out.ascii(",")
      first = false
      const value = spanAttributeValue(attributes[key])
      // Integers vary most (indexes, counts): the key is copied and the digits written; any other
      // value is copied whole with its key.
      if (typeof value === "number" && Number.isSafeInteger(value)) {
        out.raw(this.integerKey(key))
        out.integer(value)
        out.ascii(`"}}`)
      } else {
        out.raw(this.pair(key, value))
      }
    }
  }

  private integerKey(key: string): Uint8Array {
    return entry(this.integerKeys, key, integerKeyBytes)
  }

  private pair(key: string, value: string | number | boolean): Uint8Array {
    const values = entry(this.pairs, key, newMap<string | number | boolean, Uint8Array>)
    let bytes = values.get(value)
    if (bytes === undefined) {
      bytes = utf8(`{"key":${JSON.stringify(key)},"value":${valueJson(value)}}`)
      if (values.size < VALUES_PER_KEY_MAX) values.set(value, bytes)
    }
    return bytes
  }

  /**
   * Simulated microseconds as the digits of OTLP's nanoseconds since the Unix epoch (the quotes
   * around them are the caller's): the run starts at `originUnixMs`. Whole microseconds since the
   * epoch fit a double exactly until the year 2255; past that (or before 1970) the sum is taken in BigInt.
   */
  private unixNano(out: JsonBytes, timeUs: number): void {
    const unixUs = this.originUnixMs * 1000 + Math.round(timeUs)
    if (Number.isSafeInteger(unixUs) && unixUs > 0) {
      out.integer(unixUs)
      out.ascii("000")
    } else {
      out.ascii(`${BigInt(this.originUnixMs) * 1_000_000n + BigInt(Math.round(timeUs)) * 1000n}`)
    }
  }

  /** A span that ended at `endUs` as OTLP JSON, its fields in the order earlier versions wrote them (a seed's export keeps its bytes). */
  span(out: JsonBytes, span: EndedSpan, endUs: number, error: boolean): void {
    const { traceparent, parent } = span
    out.raw(PIECES.traceId)
    out.asciiSlice(traceparent, TRACE_ID_FROM, TRACE_ID_TO)
    out.raw(PIECES.spanId)
    out.asciiSlice(traceparent, SPAN_ID_FROM, SPAN_ID_TO)
    if (parent !== undefined) {
      out.raw(PIECES.parentSpanId)
      out.asciiSlice(parent, SPAN_ID_FROM, SPAN_ID_TO)
    }
    out.raw(this.spanName(span.name, span.kind))
    this.unixNano(out, span.startUs)
    out.raw(PIECES.endTime)
    this.unixNano(out, endUs)
    out.raw(PIECES.attributes)
    this.attributes(out, span.attributes)
    out.raw(PIECES.events)
    if (span.events !== undefined) this.events(out, span.events)
    out.raw(PIECES.links)
    this.links(out, span.links)
    // OTLP status codes: unset (an empty status) for a span that ended well, 2 (error) for one that did not.
    out.raw(error ? PIECES.statusError : PIECES.statusOk)
  }

  private spanName(name: string, kind: SpanKind): Uint8Array {
    const kinds = entry(this.spanNames, name, newMap<SpanKind, Uint8Array>)
    let bytes = kinds.get(kind)
    if (bytes === undefined) {
      bytes = utf8(`","name":${JSON.stringify(name)},"kind":${SPAN_KIND[kind]},"startTimeUnixNano":"`)
      kinds.set(kind, bytes)
    }
    return bytes
  }

  private events(out: JsonBytes, events: ReadonlyArray<SpanEvent>): void {
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!
      if (index > 0) out.ascii(",")
      out.raw(PIECES.eventTime)
      this.unixNano(out, event.timeUs)
      out.raw(entry(this.eventNames, event.name, eventNameBytes))
      this.attributes(out, event.attributes)
      out.ascii("]}")
    }
  }

  private links(out: JsonBytes, links: ReadonlyArray<TraceParent>): void {
    for (let index = 0; index < links.length; index++) {
      const link = links[index]!
      if (index > 0) out.ascii(",")
      out.raw(PIECES.traceId)
      out.asciiSlice(link, TRACE_ID_FROM, TRACE_ID_TO)
      out.raw(PIECES.linkSpanId)
      out.asciiSlice(link, SPAN_ID_FROM, SPAN_ID_TO)
      out.raw(PIECES.linkEnd)
    }
  }

  /**
   * One OTLP/JSON `ExportTraceServiceRequest` as UTF-8: a resource for each node, in the order
   * given, holding the spans it ended, written already.
   */
  request(resource: SpanExportResource, nodes: ReadonlyArray<NodeSpanBytes>): Uint8Array<ArrayBuffer> {
    let spanBytes = 0
    for (const node of nodes) spanBytes += node.spans.length
    const out = new JsonBytes(spanBytes + RESOURCE_BYTES_ESTIMATE * (nodes.length + 1))
    out.ascii(`{"resourceSpans":[`)
    for (let index = 0; index < nodes.length; index++) {
      const node = nodes[index]!
      out.ascii(index === 0 ? `{"resource":{"attributes":[` : `,{"resource":{"attributes":[`)
      this.attributes(out, { "service.name": node.nodeId, "faultline.cluster": resource.cluster, "faultline.protocol": resource.protocol, "faultline.seed": resource.seed })
      out.ascii(`]},"scopeSpans":[{"scope":{"name":"faultline"},"spans":[`)
      out.bytes(node.spans)
      out.ascii(`]}]}`)
    }
    out.ascii(`]}`)
    return out.view()
  }
}

/** Bytes a node's resource and the request's brackets take, about: enough that the buffer rarely grows. */
const RESOURCE_BYTES_ESTIMATE = 1024
