// Tracing as a node sees it: protocol events and spans stamped with the node's own clock.
import { Context, type Effect } from "effect"

/** Attribute values a trace event may carry; they must be JSON. */
export type TraceAttributes = Readonly<Record<string, unknown>>

/**
 * The tracing service. In the simulator, events land in the run's trace (and its hash) and feed the
 * checkers; in the real runtime they become OpenTelemetry span events.
 */
export class Tracing extends Context.Service<Tracing, {
  /** Records a protocol event, such as `deliver` or `becomeLeader`. */
  readonly event: (name: string, attributes?: TraceAttributes) => Effect.Effect<void>
  /** Runs `effect` inside a span named `name`. */
  readonly span: <A, E, R>(
    name: string,
    attributes: TraceAttributes,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
}>()("faultline/Tracing") {}
