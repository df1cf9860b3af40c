// The world-neutral layer's one entry: the protocol contract, bad-input errors and durations. The registry of shipped
// protocols is apart (registry.ts), since it imports the protocols, whose definitions import this file.
export { DURATION_FORMS, durationMs, formatDuration, parseDuration } from "./duration.ts"
export { DurationInput } from "./duration-schema.ts"
export { ScenarioError, serverIds } from "./input.ts"
export { describeSchemaError } from "./schema-error.ts"
export { nonNegative, nonNegativeInt, positive, positiveInt } from "./schema-numbers.ts"
export { decodeSection, type Knob, type KnobValues, type LoadSize, type ProtocolBuild, type ProtocolDefinition, type ProtocolRun, type WorkloadShrink } from "./protocol.ts"
export {
  type ClientAnswer,
  type ClientHttpRequest,
  type ClientRequestParse,
  type ClientSession,
  type ClientSessionOptions,
  parseValue,
  type RealClient,
  type ServerStatus
} from "./real-client.ts"
