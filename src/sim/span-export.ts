// Exported spans of a simulated run: OpenTelemetry spans on simulated time, with ids drawn from the seed, written as OTLP JSON.
//
// Each span is written as OTLP JSON into its node's bytes the moment it ends (otlp-json.ts), and
// nothing else of it is kept. Ended spans kept as rows of objects until the run's end, as this did
// before, were copied by young collections and promoted to the old generation (45 MB promoted
// over fifteen seeds of the standard Raft scenario against 25 without export). Writing as they end
// only paid once the bytes stopped being fresh memory as well (see json-bytes.ts): chunk buffers
// come from a pool, and `writeOtlp` hands them to a file without putting the request together.
import type { NodeId, OpenSpan, SpanKind, SpanOptions, Spans, TraceAttributes, TraceParent } from "../env/index.ts"
import { isTraceParent, OpenSpans } from "../trace/index.ts"
import { JsonChunks } from "./json-bytes.ts"
import { type EndedSpan, otlpJsonBytes, OtlpSpanWriter, writeOtlpJson, SPAN_KIND, type SpanEvent, TRACE_ID_FROM, TRACE_ID_TO } from "./otlp-json.ts"
import { RandomStream } from "./random-streams.ts"

/** The resource every span of a run shares besides its node: what OTLP calls resource attributes. */
export interface SpanExportResource {
  readonly cluster: string
  readonly protocol: string
  readonly seed: number
}

/** The character codes of the lowercase hex digits, by value. */
const HEX_CODES = Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0))

/** A byte's two hex digits, as the little-endian 16-bit word that writes them in order: half the stores of a digit at a time. */
const HEX_PAIRS = Uint16Array.from({ length: 256 }, (_, byte) => HEX_CODES[byte >> 4]! | (HEX_CODES[byte & 15]! << 8))

/** Where the span id sits in a traceparent, and its whole length. */
const SPAN_ID_FROM = 36
const TRACEPARENT_LENGTH = 55

/** How many recently drawn traceparents are kept to spare their children the parent check. */
const RECENT_SLOTS = 256

/** A lowercase hex digit's value from its character code, by arithmetic alone (other codes give some number). */
const hexValue = (code: number): number => (code & 15) + (code >> 6) * 9

/**
 * A traceparent's slot among the recent ones: the last two characters of its span id, which for
 * a drawn one are random hex digits (any other text lands in some slot, compares unequal and is checked).
 */
const recentSlot = (traceparent: TraceParent): number =>
  ((hexValue(traceparent.charCodeAt(TRACEPARENT_LENGTH - 5)) << 4) | hexValue(traceparent.charCodeAt(TRACEPARENT_LENGTH - 4))) & (RECENT_SLOTS - 1)

const NO_LINKS: ReadonlyArray<TraceParent> = []

/** Bytes of a chunk of a node's spans: about a hundred and forty spans' JSON. */
const NODE_CHUNK_BYTES = 64 * 1024

/**
 * A span while it is open: what it will need when it ends. `event` and `end` are methods, as
 * OpenTelemetry's are, so a span costs one small object and no closures.
 */
class SimulatedSpan implements OpenSpan, EndedSpan {
  events: Array<SpanEvent> | undefined = undefined
  ended = false

  constructor(
    private readonly recorder: NodeRecorder,
    readonly traceparent: TraceParent,
    /** The parent's traceparent, already checked. */
    readonly parent: TraceParent | undefined,
    readonly name: string,
    /** OTLP's number for the span's kind. */
    readonly kind: number,
    readonly startUs: number,
    readonly attributes: TraceAttributes,
    /** Linked spans' traceparents, already checked. */
    readonly links: ReadonlyArray<TraceParent>,
    /** Its trace id, one string for all the spans of a trace that this run drew (see `SpanExport.trace`). */
    readonly trace: string
  ) {}

  event(name: string, attributes: TraceAttributes): void {
    if (this.ended) return
    const event = { timeUs: this.recorder.nowUs(), name, attributes }
    // An empty array grows to room for 17 at its first push; most spans get one event, so the
    // first is allocated in a list of one.
    if (this.events === undefined) this.events = [event]
    else this.events.push(event)
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

/** The spans of one node incarnation, and where they go when they end. */
class NodeRecorder implements NodeSpans {
  readonly enabled = true
  readonly active = new OpenSpans<SimulatedSpan>()

  constructor(
    private readonly spanExport: SpanExport,
    /** The node's position in the export's node list. */
    private readonly nodeIndex: number,
    readonly nowUs: () => number,
    private readonly alive: () => boolean
  ) {}

  start(name: string, attributes: TraceAttributes, options?: SpanOptions): SimulatedSpan {
    if (options === undefined) return this.startChecked(name, attributes, undefined, NO_LINKS, "internal")
    const links = options.links === undefined || options.links.length === 0 ? NO_LINKS : options.links.filter((link) => this.spanExport.checked(link) !== undefined)
    return this.startChecked(name, attributes, this.spanExport.checked(options.parent), links, options.kind ?? "internal")
  }

  private startChecked(name: string, attributes: TraceAttributes, parent: TraceParent | undefined, links: ReadonlyArray<TraceParent>, kind: SpanKind): SimulatedSpan {
    const traceparent = this.spanExport.drawTraceParent(parent)
    return new SimulatedSpan(this, traceparent, parent, name, SPAN_KIND[kind], this.nowUs(), attributes, links, this.spanExport.trace)
  }

  startActive(name: string, attributes: TraceAttributes): SimulatedSpan {
    const span = this.start(name, attributes, { parent: this.active.innermost()?.traceparent })
    this.active.add(span)
    return span
  }

  event(name: string, attributes: TraceAttributes): void {
    this.active.innermost()?.event(name, attributes)
  }

  end(span: SimulatedSpan, outcome: "ok" | "error"): void {
    // A crashed incarnation's spans never end, as a killed process's spans are never exported.
    if (span.ended || !this.alive()) return
    span.ended = true
    this.active.remove(span)
    this.spanExport.record(this.nodeIndex, span, this.nowUs(), outcome)
  }
}

/**
 * Collects the spans of one run. Ids come from a random stream of their own (`otlp`), which no
 * other part of the run draws from, and spans are recorded only when an export was asked for, so
 * exporting changes neither the run nor its trace hash; the same seed gives the same bytes.
 */
export class SpanExport {
  private readonly random: RandomStream
  private readonly nodeIds: Array<NodeId> = []
  private readonly writer: OtlpSpanWriter
  /** Each node's ended spans as OTLP JSON, by the node's index, in the order the nodes first ended one. */
  private readonly nodeSpans: Array<readonly [node: number, spans: JsonChunks]> = []
  private readonly nodeBytes: Array<JsonChunks | undefined> = []
  private ended = 0
  /** Whether {@link writeOtlp} wrote the spans out and gave their memory back. */
  private written = false
  /** The trace ids of ended spans. */
  private readonly traceIds = new Set<string>()

  /** The traceparents drawn lately, one for each {@link recentSlot}: the last drawn that fell in it. */
  private readonly recent: Array<TraceParent | undefined> = Array.from({ length: RECENT_SLOTS }, () => undefined)
  /** The trace id of each of {@link recent}, as {@link trace} was when it was drawn. */
  private readonly recentTraces: Array<string | undefined> = Array.from({ length: RECENT_SLOTS }, () => undefined)
  /**
   * The trace id that {@link codes} hold, as a string: the last drawn traceparent's. Children of
   * spans this run drew lately share their parent's string, so counting the traces of ended spans
   * makes no new string a span.
   */
  trace = ""
  /**
   * A traceparent's bytes (Latin-1) while it is drawn: `00-`, the trace id, `-`, the span id,
   * `-01`. The traceparent is made from them as one flat string: one built by concatenation is a
   * tree of pieces that every later reader (the parent check, a comparison, the writer) first flattens.
   */
  private readonly codes = Buffer.from("00-00000000000000000000000000000000-0000000000000000-01", "latin1")
  /** The same bytes, for writing two digits at once at any offset. */
  private readonly codesView = new DataView(this.codes.buffer, this.codes.byteOffset, this.codes.byteLength)
  /**
   * Traceparents known to share the trace id that {@link codes} hold: the last one drawn, and the
   * last parent whose trace id was copied in. A child of either needs no copy: two in three
   * children in the standard Raft scenario follow their parent or a sibling closely (a leader's
   * appends of one write to each follower, a follower's sync after its append).
   */
  private lastDrawn: TraceParent | undefined = undefined
  private traceSource: TraceParent | undefined = undefined

  constructor(
    private readonly resource: SpanExportResource,
    /** Where simulated time 0 sits, in Unix milliseconds. */
    originUnixMs = 0
  ) {
    this.random = new RandomStream(resource.seed, "otlp")
    this.writer = new OtlpSpanWriter(originUnixMs)
  }

  /** Spans of one node incarnation, stamped with `nowUs` (simulated time); `alive` is false once the incarnation ended. */
  forNode(node: NodeId, nowUs: () => number, alive: () => boolean): NodeSpans {
    let nodeIndex = this.nodeIds.indexOf(node)
    if (nodeIndex < 0) nodeIndex = this.nodeIds.push(node) - 1
    return new NodeRecorder(this, nodeIndex, nowUs, alive)
  }

  /** Spans ended so far. */
  get spans(): number {
    return this.ended
  }

  /** Distinct traces among them. */
  get traces(): number {
    return this.traceIds.size
  }

  /** The run's spans as one OTLP/JSON `ExportTraceServiceRequest`, one resource per node. */
  toOtlpJson(): string {
    return Buffer.from(this.toOtlpBytes()).toString("utf8")
  }

  /** {@link toOtlpJson} as UTF-8 bytes, what a collector takes: the text is never made. */
  toOtlpBytes(): Uint8Array<ArrayBuffer> {
    this.assertNotWritten()
    return otlpJsonBytes({ resource: this.resource, nodeIds: this.nodeIds, nodes: this.nodeSpans })
  }

  /**
   * Hands {@link toOtlpBytes}'s bytes to `write` piece by piece, each valid only during its call,
   * and then gives the export's memory back for the next run to use: what a file takes, without
   * the request ever put together. The export is done after it: no span may end, and nothing
   * more can be read.
   */
  writeOtlp(write: (piece: Uint8Array) => void): void {
    this.assertNotWritten()
    writeOtlpJson({ resource: this.resource, nodeIds: this.nodeIds, nodes: this.nodeSpans }, write)
    this.written = true
    for (const [, chunks] of this.nodeSpans) chunks.release()
  }

  private assertNotWritten(): void {
    if (this.written) throw new Error("SpanExport: already written out by writeOtlp")
  }

  /** Writes an ended span into its node's bytes. */
  record(nodeIndex: number, span: SimulatedSpan, endUs: number, outcome: "ok" | "error"): void {
    this.assertNotWritten()
    let chunks = this.nodeBytes[nodeIndex]
    const first = chunks === undefined
    if (chunks === undefined) {
      chunks = new JsonChunks(NODE_CHUNK_BYTES)
      this.nodeBytes[nodeIndex] = chunks
      this.nodeSpans.push([nodeIndex, chunks])
    }
    this.writer.span(chunks.out, span, endUs, outcome === "error", first)
    this.ended++
    this.traceIds.add(span.trace)
  }

  /**
   * `traceparent` if it is a well-formed one, else undefined. Most parents are spans this run
   * started lately, which were well-formed when drawn: one found among them needs no check.
   */
  checked(traceparent: TraceParent | undefined): TraceParent | undefined {
    if (typeof traceparent === "string" && traceparent.length === TRACEPARENT_LENGTH && this.recent[recentSlot(traceparent)] === traceparent) return traceparent
    return isTraceParent(traceparent) ? traceparent : undefined
  }

  /**
   * A new span's traceparent: its parent's trace id, or a new one, and a new span id, drawn from
   * the stream as 32-bit words (4 for a trace id, 2 for a span id; never all zero).
   */
  drawTraceParent(parent: TraceParent | undefined): TraceParent {
    const codes = this.codes
    let trace: string | undefined = this.trace
    if (parent === undefined) {
      this.drawHex(TRACE_ID_FROM, 4)
      this.traceSource = undefined
      trace = undefined
    } else if (parent !== this.lastDrawn && parent !== this.traceSource) {
      for (let index = TRACE_ID_FROM; index < TRACE_ID_TO; index++) codes[index] = parent.charCodeAt(index)
      this.traceSource = parent
      const slot = recentSlot(parent)
      trace = this.recent[slot] === parent ? this.recentTraces[slot] : undefined
      trace ??= parent.slice(TRACE_ID_FROM, TRACE_ID_TO)
    }
    this.drawHex(SPAN_ID_FROM, 2)
    // Decoding the bytes costs about half of `String.fromCharCode.apply` over 55 codes (callgrind: 850 instructions against 1,320).
    const traceparent = codes.toString("latin1", 0, TRACEPARENT_LENGTH)
    trace ??= traceparent.slice(TRACE_ID_FROM, TRACE_ID_TO)
    const slot = recentSlot(traceparent)
    this.recent[slot] = traceparent
    this.recentTraces[slot] = trace
    this.lastDrawn = traceparent
    this.trace = trace
    return traceparent
  }

  /** Draws `words` words, again while they are all zero, and writes their hex digits into the codes from `from`. */
  private drawHex(from: number, words: number): void {
    const view = this.codesView
    let zero = true
    while (zero) {
      let at = from
      for (let index = 0; index < words; index++) {
        // Truncation to 32 bits is the floor of a draw in [0, 2^32): the word nextInt(2 ** 32) gave.
        const word = (this.random.next() * 4294967296) >>> 0
        if (word !== 0) zero = false
        view.setUint16(at, HEX_PAIRS[word >>> 24]!, true)
        view.setUint16(at + 2, HEX_PAIRS[(word >>> 16) & 255]!, true)
        view.setUint16(at + 4, HEX_PAIRS[(word >>> 8) & 255]!, true)
        view.setUint16(at + 6, HEX_PAIRS[word & 255]!, true)
        at += 8
      }
    }
  }
}
