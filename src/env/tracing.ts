// Tracing as a node sees it: protocol events and spans stamped with the node's own clock, and spans whose context crosses the wire.
import { Context, type Effect } from "effect"

/** Attribute values a trace event may carry; they must be JSON. */
export type TraceAttributes = Readonly<Record<string, unknown>>

/**
 * A span's context as it crosses the wire: a W3C `traceparent` header value,
 * `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`. Messages carry it beside their body
 * (see `Network.send`), never inside it, so the body (and the simulator's trace of it) is the same
 * whether spans are exported or not.
 */
export type TraceParent = string

/** What a span stands for, as OpenTelemetry's SpanKind says it. */
export type SpanKind = "internal" | "server" | "client" | "producer" | "consumer"

/** How a span relates to others. */
export interface SpanOptions {
  readonly kind?: SpanKind | undefined
  /** The parent span's context; none starts a new trace. */
  readonly parent?: TraceParent | undefined
  /** Further spans this one belongs to (a batch of writes sent as one message links them all). */
  readonly links?: ReadonlyArray<TraceParent> | undefined
}

/** A span started with {@link Spans.start}; ending it twice does nothing. */
export interface OpenSpan {
  /** Its context, to send with a message or to give to a child. */
  readonly traceparent: TraceParent
  /** Adds an event to the span, stamped now: a protocol event that belongs to what the span stands for. */
  readonly event: (name: string, attributes: TraceAttributes) => void
  /** Ends the span now, `error` if what it stands for failed. */
  readonly end: (outcome?: "ok" | "error") => void
}

/**
 * Spans with explicit parents, for code that must decide synchronously (the Raft shell steps its
 * core and queues sends without an Effect per message). They are exported only: the simulator
 * does not write them to the run's trace, so turning export on or off changes neither the run
 * nor its trace hash. When `enabled` is false nothing is exported and callers should skip the
 * work of building spans at all.
 */
export interface Spans {
  readonly enabled: boolean
  /** Starts a span now, on this node's clock (simulated or wall). */
  readonly start: (name: string, attributes: TraceAttributes, options?: SpanOptions) => OpenSpan
}

/** A span that is never exported: what {@link disabledSpans} hands out. */
const noSpan: OpenSpan = { traceparent: "00-00000000000000000000000000000000-0000000000000000-00", event: () => {}, end: () => {} }

/** Spans that go nowhere: the default of both worlds when nothing is configured to export. */
export const disabledSpans: Spans = { enabled: false, start: () => noSpan }

/**
 * The tracing service. In the simulator, events land in the run's trace (and its hash) and feed the
 * checkers; on real nodes they go to the node's trace file. When spans are exported
 * (OpenTelemetry on real nodes, `--otlp` in the simulator), an event is also added to the node's
 * innermost open `span` (OpenTelemetry's active span); a span started with `spans.start` is never
 * active, as OpenTelemetry's `startSpan` is not: its code adds its events to it explicitly.
 */
export class Tracing extends Context.Service<Tracing, {
  /** Records a protocol event, such as `deliver` or `becomeLeader`. */
  readonly event: (name: string, attributes?: TraceAttributes) => Effect.Effect<void>
  /** Runs `effect` inside a span named `name` (a trace line at each end, and an exported span). */
  readonly span: <A, E, R>(
    name: string,
    attributes: TraceAttributes,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
  /** Spans with explicit parents, exported only. */
  readonly spans: Spans
}>()("faultline/Tracing") {}
