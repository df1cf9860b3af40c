// The environment every protocol is written against: the only way a node reaches the world.
import type { Effect } from "effect"
import type { Clock } from "./clock.ts"
import type { Network } from "./network.ts"
import type { Random } from "./random.ts"
import type { Storage } from "./storage.ts"
import type { Tracing } from "./tracing.ts"

export { Clock } from "./clock.ts"
export { blockAllocator, decodeMessage, decodeText, encodeMessage, encodeText, receivedCopy } from "./codec.ts"
export type { JsonValue } from "./json.ts"
export { type Envelope, Network, type NodeId, type Outgoing } from "./network.ts"
export { mulberry32 } from "./prng.ts"
export { Random } from "./random.ts"
export { Storage, StorageCorruption, StorageError } from "./storage.ts"
export {
  disabledSpans,
  type OpenSpan,
  type SpanKind,
  type SpanOptions,
  type Spans,
  type TraceAttributes,
  type TraceParent,
  Tracing
} from "./tracing.ts"

/** Every service a node may use. */
export type Env = Network | Clock | Random | Storage | Tracing

/**
 * A node: an Effect program that needs only the environment. It runs until it is crashed
 * (interrupted) or returns; a failure or defect ends the node and is reported as a violation.
 */
export type NodeProgram = Effect.Effect<void, unknown, Env>
