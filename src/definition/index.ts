// The world-neutral layer's one entry: the protocol contract, bad-input errors, durations and the shipped protocols.
export { DURATION_FORMS, durationMs, formatDuration, parseDuration } from "./duration.ts"
export { DurationInput } from "./duration-schema.ts"
export { ScenarioError, serverIds } from "./input.ts"
export { describeSchemaError } from "./schema-error.ts"
export { decodeSection, type ProtocolBuild, type ProtocolDefinition, type ProtocolRun } from "./protocol.ts"
export { builtinProtocols } from "./registry.ts"
