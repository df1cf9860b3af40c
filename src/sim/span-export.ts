// Exported spans of a simulated run: OpenTelemetry spans on simulated time, with ids drawn from the seed, written as OTLP JSON.
//
// A run ends thousands of spans, and what a span keeps until the export is asked for survives
// every young-generation collection in between: kept as objects (its traceparent, attributes and
// events, by reference), the spans cost the run more in collections than in writing. So a span is
// written as OTLP JSON bytes the moment it ends, into its node's buffer, which the collector never
// scans, and the export only puts the nodes' bytes together (otlp-json.ts). A traceparent is made
// as one flat string from its character codes: one built by concatenation is a tree of pieces that
// every later reader (the parent check, a comparison, the writer) first has to flatten.
import type { NodeId, OpenSpan, SpanKind, SpanOptions, Spans, TraceAttributes, TraceParent } from "../env/index.ts"
import { isTraceParent, OpenSpans } from "../trace/index.ts"
import { JsonBytes } from "./json-bytes.ts"
import { type EndedSpan, type NodeSpanBytes, OtlpWriter, type SpanEvent, type SpanExportResource, TRACE_ID_FROM, TRACE_ID_OFFSET, TRACE_ID_TO } from "./otlp-json.ts"
import { RandomStream } from "./random-streams.ts"

export type { SpanExportResource } from "./otlp-json.ts"

/** The character codes of the lowercase hex digits, by value. */
const HEX_CODES = Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0))

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

/**
 * Bytes a node's buffer starts with, about 500 spans; it doubles as it fills. Memory the spans
 * have not reached yet is never touched, so a large start costs a short run nothing, and a long
 * one copies its bytes fewer times.
 */
const NODE_BYTES_INITIAL = 256 * 1024

const NO_LINKS: ReadonlyArray<TraceParent> = []

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
    const parent = this.spanExport.checked(options?.parent)
    const links = options?.links === undefined || options.links.length === 0 ? NO_LINKS : options.links.filter((link) => this.spanExport.checked(link) !== undefined)
    const traceparent = this.spanExport.drawTraceParent(parent)
    return new SimulatedSpan(this, traceparent, parent, name, options?.kind ?? "internal", this.nowUs(), attributes, links)
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
  private readonly writer: OtlpWriter
  private readonly nodeIds: Array<NodeId> = []
  /** Each node's written spans, by its position in the node list, once it ended one. */
  private readonly byNode: Array<NodeSpanBytes | undefined> = []
  /** The same, in the order the nodes first ended a span: the order of the export's resources. */
  private readonly endedNodes: Array<NodeSpanBytes> = []
  private spanCount = 0
  /** The traceparents drawn lately, one for each {@link recentSlot}: the last drawn that fell in it. */
  private readonly recent: Array<TraceParent | undefined> = Array.from({ length: RECENT_SLOTS }, () => undefined)
  /** A traceparent's character codes while it is drawn: `00-`, the trace id, `-`, the span id, `-01`. */
  private readonly codes = Array.from("00-00000000000000000000000000000000-0000000000000000-01", (character) => character.charCodeAt(0))

  constructor(
    private readonly resource: SpanExportResource,
    originUnixMs = 0
  ) {
    this.random = new RandomStream(resource.seed, "otlp")
    this.writer = new OtlpWriter(originUnixMs)
  }

  /** Spans of one node incarnation, stamped with `nowUs` (simulated time); `alive` is false once the incarnation ended. */
  forNode(node: NodeId, nowUs: () => number, alive: () => boolean): NodeSpans {
    let nodeIndex = this.nodeIds.indexOf(node)
    if (nodeIndex < 0) nodeIndex = this.nodeIds.push(node) - 1
    return new NodeRecorder(this, nodeIndex, nowUs, alive)
  }

  /** Spans ended so far. */
  get spans(): number {
    return this.spanCount
  }

  /**
   * Distinct traces among them, read back from the written spans: asked for once, after a run,
   * where keeping each span's trace id as text until then would cost every span.
   */
  get traces(): number {
    const traceIds = new Set<string>()
    for (const node of this.endedNodes) for (const start of node.starts) traceIds.add(node.spans.latin1(start + TRACE_ID_OFFSET, start + TRACE_ID_OFFSET + TRACE_ID_TO - TRACE_ID_FROM))
    return traceIds.size
  }

  /** The run's spans as one OTLP/JSON `ExportTraceServiceRequest`, one resource per node. */
  toOtlpJson(): string {
    return Buffer.from(this.toOtlpBytes()).toString("utf8")
  }

  /**
   * {@link toOtlpJson} as UTF-8 bytes, what a file or a collector takes: the text is never made.
   * One resource per node, nodes in the order they first ended a span, each node's spans in the order they ended.
   */
  toOtlpBytes(): Uint8Array<ArrayBuffer> {
    return this.writer.request(this.resource, this.endedNodes)
  }

  /** Writes an ended span into its node's bytes. */
  record(nodeIndex: number, span: EndedSpan, endUs: number, outcome: "ok" | "error"): void {
    let node = this.byNode[nodeIndex]
    if (node === undefined) {
      node = { nodeId: this.nodeIds[nodeIndex]!, spans: new JsonBytes(NODE_BYTES_INITIAL), starts: [] }
      this.byNode[nodeIndex] = node
      this.endedNodes.push(node)
    }
    if (node.spans.length > 0) node.spans.ascii(",")
    node.starts.push(node.spans.length)
    this.writer.span(node.spans, span, endUs, outcome === "error")
    this.spanCount++
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
    if (parent === undefined) this.drawHex(TRACE_ID_FROM, 4)
    else for (let index = TRACE_ID_FROM; index < TRACE_ID_TO; index++) codes[index] = parent.charCodeAt(index)
    this.drawHex(SPAN_ID_FROM, 2)
    const traceparent = String.fromCharCode.apply(null, codes)
    this.recent[recentSlot(traceparent)] = traceparent
    return traceparent
  }

  /** Draws `words` words, again while they are all zero, and writes their hex digits into the codes from `from`. */
  private drawHex(from: number, words: number): void {
    const codes = this.codes
    let zero = true
    while (zero) {
      let at = from
      for (let index = 0; index < words; index++) {
        // Truncation to 32 bits is the floor of a draw in [0, 2^32): the word nextInt(2 ** 32) gave.
        const word = (this.random.next() * 4294967296) >>> 0
        if (word !== 0) zero = false
        for (let shift = 28; shift >= 0; shift -= 4) codes[at++] = HEX_CODES[(word >>> shift) & 15]!
      }
    }
  }
}
