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

/** A protocol event added to a span, at a wall-clock time in milliseconds since the Unix epoch. */
export interface SpanEventRecord {
  readonly name: string
  readonly attributes: RecordAttributes
  readonly timeUnixMs: number
}

/**
 * One finished, sampled span, as the node recorded it: its ids were drawn when it started (they
 * travel in messages at once), its times read from the node's clock. The worker hands it to the
 * SDK as it is.
 */
export interface SpanRecord {
  readonly name: string
  /** OpenTelemetry's SpanKind: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  readonly kind: number
  readonly traceId: string
  readonly spanId: string
  readonly parent: SpanContextRecord | undefined
  readonly links: ReadonlyArray<SpanContextRecord>
  readonly attributes: RecordAttributes
  readonly events: ReadonlyArray<SpanEventRecord>
  readonly startUnixMs: number
  readonly endUnixMs: number
  readonly error: boolean
}

/** From the node to its worker. */
export type ToExportWorker =
  /** `spans` is the JSON of an array of {@link SpanRecord}: one string copies far faster than structured clone copies the objects. */
  | { readonly _tag: "Spans"; readonly spans: string }
  | { readonly _tag: "Shutdown" }

/** From the worker to its node. */
export type FromExportWorker =
  | { readonly _tag: "Ready" }
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
}
