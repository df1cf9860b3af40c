// The OTLP JSON of a simulated run's ended spans, written once at the run's end from the rows span-export.ts kept.
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

/**
 * A span's node, kind and outcome as one small integer, what its row keeps: the node's index
 * times 16, plus OTLP's number for the kind (1-5) times 2, plus 1 if it ended in error. One column
 * of small integers, not three, is less for every young collection to copy while the run goes on.
 */
export const spanFlags = (nodeIndex: number, kind: SpanKind, error: boolean): number => nodeIndex * 16 + SPAN_KIND[kind] * 2 + (error ? 1 : 0)

const flagsNode = (flags: number): number => flags >> 4
const flagsKind = (flags: number): number => (flags >> 1) & 7
const flagsError = (flags: number): boolean => (flags & 1) === 1

/** A protocol event added to a span while it was open. */
export interface SpanEvent {
  readonly timeUs: number
  readonly name: string
  readonly attributes: TraceAttributes
}

/**
 * Ended spans as columns: row `i` of every array is the `i`-th span to end. Numbers sit unboxed
 * in their arrays and everything else by reference, so keeping a span costs a few array slots.
 */
export interface EndedSpans {
  readonly traceparents: Array<TraceParent>
  readonly parents: Array<TraceParent | undefined>
  readonly names: Array<string>
  /** Each span's node (its index in the export's node list), kind and outcome: see {@link spanFlags}. */
  readonly flags: Array<number>
  readonly startUs: Array<number>
  readonly endUs: Array<number>
  readonly attributes: Array<TraceAttributes>
  /** Each span's events, if it has any. */
  readonly events: Array<ReadonlyArray<SpanEvent> | undefined>
  /** The links of the few spans that have any, by row. */
  readonly links: Map<number, ReadonlyArray<TraceParent>>
}

/** What {@link otlpJson} writes. */
export interface OtlpJsonInput {
  readonly resource: { readonly cluster: string; readonly protocol: string; readonly seed: number }
  /** Where simulated time 0 sits, in Unix milliseconds. */
  readonly originUnixMs: number
  readonly nodeIds: ReadonlyArray<NodeId>
  readonly ended: EndedSpans
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

const newRows = (): Array<number> => []

/** Text as UTF-8 bytes, made once and copied many times. */
const utf8 = (text: string): Uint8Array => Buffer.from(text, "utf8")

/**
 * What an attribute's cached piece starts with, by what was written before it: nothing (the first
 * of a list), the end of an attribute and a comma, the end of an integer attribute (whose digits
 * were written last) and a comma, or the end of a span's end time and the start of its attribute
 * list (for a time at the epoch itself, without the zeros: see `unixMicros`). So each attribute,
 * and what separates it from the one before, is one copy.
 */
const BEFORE_TEXT = ["", ",", `"}},`, `000","attributes":[`, `","attributes":[`]
const FIRST = 0
const AFTER_CLOSED = 1
const AFTER_INTEGER = 2
const AFTER_END_TIME = 3
const AFTER_EPOCH_END_TIME = 4

/** `{"key":<key>,"value":{"intValue":"`: an integer attribute's JSON up to its digits, after each of {@link BEFORE_TEXT}. */
const INTEGER_KEY_BYTES = BEFORE_TEXT.map((before) => (key: string): Uint8Array => utf8(`${before}{"key":${JSON.stringify(key)},"value":{"intValue":"`))

/** `000","name":<name>,"attributes":[`: an event's JSON from its time's last digits (see `unixNano`) to its attributes. */
const eventNameBytes = (name: string): Uint8Array => utf8(`000","name":${JSON.stringify(name)},"attributes":[`)

/** How many zeros end a time's nanoseconds when it is written in microseconds. */
const TIME_ZEROS = 3

/** The fixed pieces of a span's JSON, in the order they are written. */
const PIECES = {
  traceId: utf8(`{"traceId":"`),
  nextTraceId: utf8(`,{"traceId":"`),
  spanId: utf8(`","spanId":"`),
  parentSpanId: utf8(`","parentSpanId":"`),
  // A piece after a time starts with the time's last three digits: see unixNano.
  endTime: utf8(`000","endTimeUnixNano":"`),
  attributes: utf8(`000","attributes":[`),
  events: utf8(`],"events":[`),
  // After an integer attribute, the piece that follows closes it.
  integerThenEvents: utf8(`"}}],"events":[`),
  links: utf8(`],"links":[`),
  statusOk: utf8(`],"status":{}}`),
  statusError: utf8(`],"status":{"code":2}}`),
  // Most spans have neither events nor links: their end is one piece.
  bareEndOk: utf8(`],"events":[],"links":[],"status":{}}`),
  bareEndError: utf8(`],"events":[],"links":[],"status":{"code":2}}`),
  integerThenBareEndOk: utf8(`"}}],"events":[],"links":[],"status":{}}`),
  integerThenBareEndError: utf8(`"}}],"events":[],"links":[],"status":{"code":2}}`),
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
class OtlpWriter {
  readonly out: JsonBytes
  /** `{"key":<key>,"value":<value>}` by key and value, after each of {@link BEFORE_TEXT}. */
  private readonly pairs = BEFORE_TEXT.map(() => new Map<string, Map<string | number | boolean, Uint8Array>>())
  /** `{"key":<key>,"value":{"intValue":"` by key, as {@link pairs} are. */
  private readonly integerKeys = BEFORE_TEXT.map(() => new Map<string, Uint8Array>())
  /** `","name":<name>,"kind":<kind>,"startTimeUnixNano":"` by name and OTLP's number for the kind. */
  private readonly spanNames = new Map<string, Map<number, Uint8Array>>()
  /** `","name":<name>,"attributes":[` by event name. */
  private readonly eventNames = new Map<string, Uint8Array>()

  constructor(
    capacityBytes: number,
    private readonly originUnixMs: number
  ) {
    this.out = new JsonBytes(capacityBytes)
  }

  /**
   * Attributes as the items of an OTLP JSON list of KeyValue, after `before` (one of
   * {@link BEFORE_TEXT}'s positions, which the first attribute's piece writes). Returns what the
   * next piece must follow: `before` itself if there were none, {@link AFTER_INTEGER} if the last
   * was an integer, whose closing `"}}` is the caller's to write, else {@link AFTER_CLOSED}.
   */
  attributes(attributes: TraceAttributes, before: number): number {
    const out = this.out
    for (const key in attributes) {
      const value = spanAttributeValue(attributes[key])
      // Integers vary most (indexes, counts): the key is copied and the digits written; any other
      // value is copied whole with its key.
      if (typeof value === "number" && Number.isSafeInteger(value)) {
        out.raw(entry(this.integerKeys[before]!, key, INTEGER_KEY_BYTES[before]!))
        out.integer(value)
        before = AFTER_INTEGER
      } else {
        out.raw(this.pair(before, key, value))
        before = AFTER_CLOSED
      }
    }
    return before
  }

  private pair(before: number, key: string, value: string | number | boolean): Uint8Array {
    const values = entry(this.pairs[before]!, key, newMap<string | number | boolean, Uint8Array>)
    let bytes = values.get(value)
    if (bytes === undefined) {
      bytes = utf8(`${BEFORE_TEXT[before]!}{"key":${JSON.stringify(key)},"value":${valueJson(value)}}`)
      if (values.size < VALUES_PER_KEY_MAX) values.set(value, bytes)
    }
    return bytes
  }

  /**
   * Simulated microseconds as the digits of OTLP's nanoseconds since the Unix epoch but their last
   * three, `000`, which start the piece the caller writes next (the quotes around the digits are
   * the caller's too): the run starts at `originUnixMs`. So a time and what follows take one copy.
   * Whole microseconds since the epoch fit a double exactly until the year 2255; past that (or
   * before 1970) they are summed in BigInt. The epoch itself is `0` nanoseconds, written whole:
   * then false, and the next piece goes without its zeros.
   */
  private unixMicros(timeUs: number): boolean {
    const unixUs = this.originUnixMs * 1000 + Math.round(timeUs)
    if (Number.isSafeInteger(unixUs) && unixUs > 0) {
      this.out.integer(unixUs)
      return true
    }
    const exact = BigInt(this.originUnixMs) * 1000n + BigInt(Math.round(timeUs))
    this.out.ascii(`${exact}`)
    return exact !== 0n
  }

  /** A time as {@link unixMicros} writes it, then `next`, which starts with the nanoseconds' last zeros. */
  private unixNano(timeUs: number, next: Uint8Array): void {
    this.out.raw(this.unixMicros(timeUs) ? next : next.subarray(TIME_ZEROS))
  }

  /** Row `row` as an OTLP JSON span, its fields in the order earlier versions wrote them (a seed's export keeps its bytes). */
  span(ended: EndedSpans, row: number, first: boolean): void {
    const out = this.out
    const traceparent = ended.traceparents[row]!
    const parent = ended.parents[row]
    out.raw(first ? PIECES.traceId : PIECES.nextTraceId)
    out.asciiSlice(traceparent, TRACE_ID_FROM, TRACE_ID_TO)
    out.raw(PIECES.spanId)
    out.asciiSlice(traceparent, SPAN_ID_FROM, SPAN_ID_TO)
    if (parent !== undefined) {
      out.raw(PIECES.parentSpanId)
      out.asciiSlice(parent, SPAN_ID_FROM, SPAN_ID_TO)
    }
    const flags = ended.flags[row]!
    out.raw(this.spanName(ended.names[row]!, flagsKind(flags)))
    this.unixNano(ended.startUs[row]!, PIECES.endTime)
    // The end time's last digits, the start of the attribute list and the first attribute are one piece.
    const before = this.unixMicros(ended.endUs[row]!) ? AFTER_END_TIME : AFTER_EPOCH_END_TIME
    const last = this.attributes(ended.attributes[row]!, before)
    if (last === before) out.raw(before === AFTER_END_TIME ? PIECES.attributes : PIECES.attributes.subarray(TIME_ZEROS))
    const integerLast = last === AFTER_INTEGER
    const events = ended.events[row]
    const links = ended.links.size === 0 ? undefined : ended.links.get(row)
    const error = flagsError(flags)
    // OTLP status codes: unset (an empty status) for a span that ended well, 2 (error) for one that did not.
    if (events === undefined && links === undefined) {
      if (integerLast) out.raw(error ? PIECES.integerThenBareEndError : PIECES.integerThenBareEndOk)
      else out.raw(error ? PIECES.bareEndError : PIECES.bareEndOk)
      return
    }
    out.raw(integerLast ? PIECES.integerThenEvents : PIECES.events)
    if (events !== undefined) this.events(events)
    out.raw(PIECES.links)
    if (links !== undefined) this.links(links)
    out.raw(error ? PIECES.statusError : PIECES.statusOk)
  }

  private spanName(name: string, kind: number): Uint8Array {
    const kinds = entry(this.spanNames, name, newMap<number, Uint8Array>)
    let bytes = kinds.get(kind)
    if (bytes === undefined) {
      bytes = utf8(`","name":${JSON.stringify(name)},"kind":${kind},"startTimeUnixNano":"`)
      kinds.set(kind, bytes)
    }
    return bytes
  }

  private events(events: ReadonlyArray<SpanEvent>): void {
    const out = this.out
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!
      if (index > 0) out.ascii(",")
      out.raw(PIECES.eventTime)
      this.unixNano(event.timeUs, entry(this.eventNames, event.name, eventNameBytes))
      out.ascii(this.attributes(event.attributes, FIRST) === AFTER_INTEGER ? `"}}]}` : "]}")
    }
  }

  private links(links: ReadonlyArray<TraceParent>): void {
    const out = this.out
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
}

/** Bytes a span's OTLP JSON takes, about: enough that the buffer rarely grows. */
const SPAN_BYTES_ESTIMATE = 512

/** The spans as one OTLP/JSON `ExportTraceServiceRequest`, as UTF-8: one resource per node, nodes in the order they first ended a span. */
export const otlpJsonBytes = (input: OtlpJsonInput): Uint8Array<ArrayBuffer> => {
  const { ended, nodeIds, resource } = input
  const rowsByNode = new Map<number, Array<number>>()
  for (let row = 0; row < ended.flags.length; row++) entry(rowsByNode, flagsNode(ended.flags[row]!), newRows).push(row)
  const writer = new OtlpWriter(ended.flags.length * SPAN_BYTES_ESTIMATE + 1024 * (rowsByNode.size + 1), input.originUnixMs)
  const out = writer.out
  out.ascii(`{"resourceSpans":[`)
  let first = true
  for (const [node, rows] of rowsByNode) {
    out.ascii(first ? `{"resource":{"attributes":[` : `,{"resource":{"attributes":[`)
    first = false
    const last = writer.attributes(
      { "service.name": nodeIds[node]!, "faultline.cluster": resource.cluster, "faultline.protocol": resource.protocol, "faultline.seed": resource.seed },
      FIRST
    )
    if (last === AFTER_INTEGER) out.ascii(`"}}`)
    out.ascii(`]},"scopeSpans":[{"scope":{"name":"faultline"},"spans":[`)
    for (let index = 0; index < rows.length; index++) writer.span(ended, rows[index]!, index === 0)
    out.ascii(`]}]}`)
  }
  out.ascii(`]}`)
  return out.view()
}
