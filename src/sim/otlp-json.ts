// The OTLP JSON of a simulated run's spans: each span written into its node's bytes as it ends, the request put together at the run's end.
//
// A span's JSON is written the moment it ends, and nothing of it is kept but bytes: a run ends
// thousands of spans, and keeping each as objects (its traceparent, its attributes, its events)
// until the end left them for the collector to copy and mark. Empty fields are left out
// (`events`, `links`, an unset `status`), as OTLP/JSON's protobuf mapping allows: about 36 bytes
// less a span.
import type { NodeId, SpanKind, TraceAttributes, TraceParent } from "../env/index.ts"
import { spanAttributeValue } from "../trace/index.ts"
import { JsonBytes, type JsonChunks } from "./json-bytes.ts"

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

/** Text as UTF-8 bytes, made once and copied many times. */
const utf8 = (text: string): Uint8Array => Buffer.from(text, "utf8")

/** How many zeros end a time's nanoseconds when it is written in microseconds. */
const TIME_ZEROS = 3

/**
 * Where an attribute list stands, which decides what the next piece starts with: after an
 * integer value (still to close with `"}}`), after a string (`}}`), after a value already closed;
 * or nothing listed yet after a span's end time (`000` to write first, see `unixMicros`), after
 * the epoch as an end time (no zeros), after an event's name, or in a list already opened. So an
 * attribute, and whatever closes or opens around it, is one copy.
 */
const AFTER_INTEGER = 0
const AFTER_STRING = 1
const AFTER_CLOSED = 2
const AFTER_END_TIME = 3
const AFTER_EPOCH_END_TIME = 4
const AFTER_EVENT_NAME = 5
const IN_LIST = 6

/** What goes before an attribute, by where the list stands. */
const BEFORE_ITEM = [`"}},`, `}},`, `,`, `000","attributes":[`, `","attributes":[`, `,"attributes":[`, ``]
/** What ends the list (or the place where none was opened), by where it stands; and that, then the end of the span or event. */
const LIST_END_TEXT = [`"}}]`, `}}]`, `]`, `000"`, `"`, ``, `]`]
const LIST_END = LIST_END_TEXT.map((text) => utf8(text))
const LIST_END_THEN_CLOSE = LIST_END_TEXT.map((text) => utf8(`${text}}`))

/** How a value opens, by its type: an integer's digits and a string's JSON follow, the rest is whole. */
const INTEGER = 0
const STRING = 1
const OTHER = 2
const VALUE_OPEN = [`"intValue":"`, `"stringValue":`, ``]

/** An attribute key's pieces, by where the list stands times three plus the value's type: made when first needed. */
type KeyPieces = Array<Uint8Array | undefined>

/** The piece of `key` after `before` for a value of `type`, made and kept in `pieces`. */
const keyPiece = (pieces: KeyPieces, key: string, before: number, type: number): Uint8Array => {
  const piece = utf8(`${BEFORE_ITEM[before]!}{"key":${JSON.stringify(key)},"value":{${VALUE_OPEN[type]!}`)
  pieces[before * 3 + type] = piece
  return piece
}

/** What the writer keeps for a span's or an event's name: its heads, and its attributes' keys as they were last, with their pieces. */
interface NameEntry {
  readonly heads: Array<Uint8Array | undefined>
  readonly keys: Array<string | undefined>
  readonly keyPieces: Array<KeyPieces | undefined>
}

/** The end of a value that is not an integer or a string, after its key's piece. */
const otherValueJson = (value: number | boolean): string =>
  // spanAttributeValue turned non-finite numbers into text, so String is JSON here.
  typeof value === "boolean" ? `"boolValue":${value}}}` : `"doubleValue":${String(value)}}}`

/** A span's JSON from its start to its start time: its ids are written over the zeros. */
const headText = (name: string, kind: number, parent: boolean, first: boolean): string =>
  `${first ? "" : ","}{"traceId":"${"0".repeat(32)}","spanId":"${"0".repeat(16)}${parent ? `","parentSpanId":"${"0".repeat(16)}` : ""}","name":${JSON.stringify(name)},"kind":${kind},"startTimeUnixNano":"`

/** Where the ids sit in a span's head, after the comma if there is one. */
const HEAD_TRACE_ID_AT = 12
const HEAD_SPAN_ID_AT = 56
const HEAD_PARENT_SPAN_ID_AT = 90

/** The fixed pieces of a span's JSON besides its head, attributes and list ends. */
const PIECES = {
  // A piece that follows a time starts with the time's last three digits: see unixMicros.
  endTime: utf8(`000","endTimeUnixNano":"`),
  events: utf8(`,"events":[`),
  eventTime: utf8(`{"timeUnixNano":"`),
  nextEventTime: utf8(`,{"timeUnixNano":"`),
  links: utf8(`,"links":[`),
  linkTraceId: utf8(`{"traceId":"`),
  nextLinkTraceId: utf8(`,{"traceId":"`),
  linkSpanId: utf8(`","spanId":"`),
  linkEnd: utf8(`"}`),
  listEnd: utf8(`]`),
  statusError: utf8(`,"status":{"code":2}}`),
  end: utf8(`}`)
}

/**
 * Writes spans as OTLP JSON into bytes (see json-bytes.ts for why bytes). What recurs is encoded
 * once and copied: a span's head with its name and kind, an attribute's key with what surrounds
 * it, an event's name. A span of the standard Raft scenario takes about eight copies.
 */
export class OtlpSpanWriter {
  private readonly keys = new Map<string, KeyPieces>()
  /** What is kept for each span name: its heads by kind, parent and first (see {@link head}). */
  private readonly spanNames = new Map<string, NameEntry>()
  /** What is kept for each event name: `000","name":<name>` as its only head. */
  private readonly eventNames = new Map<string, NameEntry>()

  constructor(
    /** Where simulated time 0 sits, in Unix milliseconds. */
    private readonly originUnixMs: number
  ) {}

  /** Writes `span`, ended at `endUs`, as an item of a list of OTLP spans into `out`: the first, or after others. */
  span(out: JsonBytes, span: EndedSpan, endUs: number, error: boolean, first: boolean): void {
    const parent = span.parent
    const at = out.length + (first ? 0 : 1)
    const entry = this.spanNames.get(span.name) ?? this.newName(this.spanNames, span.name)
    out.raw(this.head(entry, span.name, span.kind, parent !== undefined, first))
    const traceparent = span.traceparent
    out.asciiAt(at + HEAD_TRACE_ID_AT, traceparent, TRACE_ID_FROM, TRACE_ID_TO)
    out.asciiAt(at + HEAD_SPAN_ID_AT, traceparent, SPAN_ID_FROM, SPAN_ID_TO)
    if (parent !== undefined) out.asciiAt(at + HEAD_PARENT_SPAN_ID_AT, parent, SPAN_ID_FROM, SPAN_ID_TO)
    this.time(out, span.startUs, PIECES.endTime)
    const listed = this.attributes(out, span.attributes, this.unixMicros(out, endUs) ? AFTER_END_TIME : AFTER_EPOCH_END_TIME, entry)
    const events = span.events
    const links = span.links
    if (events === undefined && links.length === 0 && !error) {
      out.raw(LIST_END_THEN_CLOSE[listed]!)
      return
    }
    out.raw(LIST_END[listed]!)
    if (events !== undefined) {
      out.raw(PIECES.events)
      this.events(out, events)
      out.raw(PIECES.listEnd)
    }
    if (links.length > 0) {
      out.raw(PIECES.links)
      this.links(out, links)
      out.raw(PIECES.listEnd)
    }
    // OTLP status codes: unset (left out) for a span that ended well, 2 (error) for one that did not.
    out.raw(error ? PIECES.statusError : PIECES.end)
  }

  /**
   * Attributes as the items of an OTLP JSON list of KeyValue, after `before` (where the list
   * stands, see {@link AFTER_INTEGER}), which the first item's piece opens. Returns where the list
   * stands after them: `before` itself if there were none. `entry`, the span's or event's name,
   * remembers the keys its attributes had last, so the same keys again need no lookup.
   */
  attributes(out: JsonBytes, attributes: TraceAttributes, before: number, entry: NameEntry | undefined): number {
    let position = 0
    for (const key in attributes) {
      let pieces: KeyPieces
      if (entry !== undefined && entry.keys[position] === key) {
        pieces = entry.keyPieces[position]!
      } else {
        pieces = this.keys.get(key) ?? []
        this.keys.set(key, pieces)
        if (entry !== undefined) {
          entry.keys[position] = key
          entry.keyPieces[position] = pieces
        }
      }
      position++
      const value = spanAttributeValue(attributes[key])
      // Integers vary most (indexes, counts) and are written as digits; text as a JSON string.
      if (typeof value === "number" && Number.isSafeInteger(value)) {
        out.raw(pieces[before * 3 + INTEGER] ?? keyPiece(pieces, key, before, INTEGER))
        out.integer(value)
        before = AFTER_INTEGER
      } else if (typeof value === "string") {
        out.raw(pieces[before * 3 + STRING] ?? keyPiece(pieces, key, before, STRING))
        out.string(value)
        before = AFTER_STRING
      } else {
        out.raw(pieces[before * 3 + OTHER] ?? keyPiece(pieces, key, before, OTHER))
        out.ascii(otherValueJson(value))
        before = AFTER_CLOSED
      }
    }
    return before
  }

  private newName(names: Map<string, NameEntry>, name: string): NameEntry {
    const entry: NameEntry = { heads: [], keys: [], keyPieces: [] }
    names.set(name, entry)
    return entry
  }

  private head(entry: NameEntry, name: string, kind: number, parent: boolean, first: boolean): Uint8Array {
    const index = kind * 4 + (parent ? 2 : 0) + (first ? 1 : 0)
    let head = entry.heads[index]
    if (head === undefined) {
      head = utf8(headText(name, kind, parent, first))
      entry.heads[index] = head
    }
    return head
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

  private events(out: JsonBytes, events: ReadonlyArray<SpanEvent>): void {
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!
      out.raw(index === 0 ? PIECES.eventTime : PIECES.nextEventTime)
      let entry = this.eventNames.get(event.name)
      if (entry === undefined) {
        entry = this.newName(this.eventNames, event.name)
        entry.heads.push(utf8(`000","name":${JSON.stringify(event.name)}`))
      }
      this.time(out, event.timeUs, entry.heads[0]!)
      out.raw(LIST_END_THEN_CLOSE[this.attributes(out, event.attributes, AFTER_EVENT_NAME, entry)]!)
    }
  }

  private links(out: JsonBytes, links: ReadonlyArray<TraceParent>): void {
    for (let index = 0; index < links.length; index++) {
      const link = links[index]!
      out.raw(index === 0 ? PIECES.linkTraceId : PIECES.nextLinkTraceId)
      out.asciiSlice(link, TRACE_ID_FROM, TRACE_ID_TO)
      out.raw(PIECES.linkSpanId)
      out.asciiSlice(link, SPAN_ID_FROM, SPAN_ID_TO)
      out.raw(PIECES.linkEnd)
    }
  }
}

/** What {@link otlpJsonBytes} puts together. */
export interface OtlpJsonInput {
  readonly resource: { readonly cluster: string; readonly protocol: string; readonly seed: number }
  readonly nodeIds: ReadonlyArray<NodeId>
  /** Each node's spans as {@link OtlpSpanWriter.span} wrote them, by the node's index; in the order the nodes first ended a span. */
  readonly nodes: ReadonlyArray<readonly [node: number, spans: JsonChunks]>
}

/**
 * The spans as one OTLP/JSON `ExportTraceServiceRequest`, handed to `write` piece by piece in
 * order: one resource per node, nodes in the order they first ended a span. The nodes' resources
 * are written into one small buffer first, and each node's spans go as the views of its chunks,
 * so the request is never put together in memory: a file takes the pieces as they come.
 */
export const writeOtlpJson = (input: OtlpJsonInput, write: (piece: Uint8Array) => void): void => {
  const { nodeIds, resource } = input
  const writer = new OtlpSpanWriter(0)
  const heads = new JsonBytes(1024 * (input.nodes.length + 1))
  /** Where each node's resource ends in `heads`: its spans go after it. */
  const headEnds: Array<number> = []
  heads.ascii(`{"resourceSpans":[`)
  for (let index = 0; index < input.nodes.length; index++) {
    const [node] = input.nodes[index]!
    heads.ascii(index === 0 ? `{"resource":{"attributes":[` : `]}]},{"resource":{"attributes":[`)
    const listed = writer.attributes(
      heads,
      { "service.name": nodeIds[node]!, "faultline.cluster": resource.cluster, "faultline.protocol": resource.protocol, "faultline.seed": resource.seed },
      IN_LIST,
      undefined
    )
    heads.raw(LIST_END[listed]!)
    heads.ascii(`},"scopeSpans":[{"scope":{"name":"faultline"},"spans":[`)
    headEnds.push(heads.length)
  }
  heads.ascii(input.nodes.length === 0 ? `]}` : `]}]}]}`)
  const bytes = heads.view()
  let from = 0
  for (let index = 0; index < input.nodes.length; index++) {
    write(bytes.subarray(from, headEnds[index]))
    from = headEnds[index]!
    input.nodes[index]![1].pieces(write)
  }
  write(bytes.subarray(from))
}

/** {@link writeOtlpJson}'s pieces in one buffer. */
export const otlpJsonBytes = (input: OtlpJsonInput): Uint8Array<ArrayBuffer> => {
  let capacity = 1024
  for (const [, spans] of input.nodes) capacity += spans.length + 1024
  const out = new JsonBytes(capacity)
  writeOtlpJson(input, (piece) => out.raw(piece))
  return out.view()
}
