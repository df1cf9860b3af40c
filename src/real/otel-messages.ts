// What a node's thread and its OpenTelemetry export worker say to each other: finished spans one way, readiness and flushes the other.
/** Attributes as OpenTelemetry takes them (and JSON carries them exactly): strings, finite numbers, booleans. */
export type RecordAttributes = Readonly<Record<string, string | number | boolean>>

/** A span context as ids and a sampled bit: a parent or a link. */
export interface SpanContextRecord {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
  /** Whether it came from another process (a message's traceparent) rather than a span of this node. */
  readonly remote: boolean
}

/** {@link ContextFlags} bit: the context is sampled. */
export const CONTEXT_SAMPLED = 1
/** {@link ContextFlags} bit: the context came from another process. */
export const CONTEXT_REMOTE = 2
/** A span context's sampled bit ({@link CONTEXT_SAMPLED}) and remote bit ({@link CONTEXT_REMOTE}) in one number. */
export type ContextFlags = number

/** A span's parent on its way to the worker: its span id and flags. Its trace id is the span's own, as every parent's is. */
export type ParentTuple = readonly [spanId: string, flags: ContextFlags]

/** A link on its way to the worker. */
export type LinkTuple = readonly [traceId: string, spanId: string, flags: ContextFlags]

/** A protocol event added to a span, at a wall-clock time in milliseconds since the Unix epoch. */
export type EventTuple = readonly [name: string, attributes: RecordAttributes, timeUnixMs: number]

/**
 * One finished, sampled span, as the node recorded it and hands it to the worker: its ids were
 * drawn when it started (they travel in messages at once), its times read from the node's clock.
 * Positional rather than an object, because the hand-over is JSON and the keys of an object,
 * repeated in every span, made most of its bytes: measured standalone with the span mix of a put,
 * positions cut stringify and parse from 2.9 and 3.4 µs a span to 2.0 and 2.0.
 */
export type SpanTuple = readonly [
  name: string,
  /** OpenTelemetry's SpanKind: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  kind: number,
  traceId: string,
  spanId: string,
  parent: ParentTuple | null,
  links: ReadonlyArray<LinkTuple>,
  attributes: RecordAttributes,
  events: ReadonlyArray<EventTuple>,
  startUnixMs: number,
  endUnixMs: number,
  /** 1 when the span ended in error, else 0. */
  error: number
]

/** The {@link ContextFlags} of a span context. */
export const contextFlags = (context: SpanContextRecord): ContextFlags =>
  (context.sampled ? CONTEXT_SAMPLED : 0) | (context.remote ? CONTEXT_REMOTE : 0)

/** From the node to its worker. */
export type ToExportWorker =
  /** `spans` is the JSON of an array of {@link SpanTuple}: one string copies far faster than structured clone copies the objects. */
  | { readonly _tag: "Spans"; readonly spans: string }
  | { readonly _tag: "Shutdown" }

/** From the worker to its node. */
export type FromExportWorker =
  /** `direct`: finished spans skip the SDK's tracer, going straight to its span processors (see `otel-replay.ts`), or nowhere when it configured no exporter. */
  | { readonly _tag: "Ready"; readonly direct: boolean }
  | { readonly _tag: "Failed"; readonly message: string }
  /** A batch was handed to the SDK: the node may send more. */
  | { readonly _tag: "Taken" }
  /** The SDK has flushed what it held and shut down. */
  | { readonly _tag: "Stopped"; readonly error: string | undefined }

/** What the worker is started with. */
export interface ExportWorkerData {
  readonly node: string
  readonly cluster: string
  readonly protocol: string
  /**
   * Record every span through the SDK's tracer (`startSpan`, `end`), as the worker does anyway when
   * it cannot reach the SDK's span processors: the tests export the same spans both ways and
   * compare.
   */
  readonly throughTracer?: boolean
}
