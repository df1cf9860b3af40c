// The package's public entry ("faultline"): the environment a protocol is written against, and the library for testing it.
//
// Every name below is documented where it is declared; this file only chooses what is public.
// Internals (the simulator itself, the scheduler, the CLI) stay out, so they can change freely.

// The environment: the only services a node program may use, in the simulator and in the real world.
export {
  Clock,
  decodeMessage,
  decodeText,
  disabledSpans,
  encodeMessage,
  encodeText,
  type Env,
  type Envelope,
  mulberry32,
  Network,
  type NodeId,
  type NodeProgram,
  type OpenSpan,
  type Outgoing,
  Random,
  type SpanKind,
  type SpanOptions,
  type Spans,
  Storage,
  StorageCorruption,
  StorageError,
  type TraceAttributes,
  type TraceParent,
  Tracing
} from "./env/index.ts"

// The protocol contract: what a `--protocols` module exports, and what any world (the simulator,
// real processes) hosts. The shipped protocols' factories make variants (a planted bug, a new rule).
export {
  decodeSection,
  type Knob,
  type KnobValues,
  type ProtocolBuild,
  type ProtocolDefinition,
  type ProtocolRun
} from "./definition/protocol.ts"
// A protocol's client of its real cluster (`faultline client`, each node's HTTP endpoint).
export * from "./definition/real-client.ts"
export { builtinProtocols } from "./definition/registry.ts"
export { causalBroadcastProtocol } from "./protocols/causal-broadcast/definition.ts"
export { raftProtocol } from "./protocols/raft/definition.ts"

// Checkers: what a user writes to state what the protocol promises, reading its Tracing events.
export type { Checker, FinalState, ProtocolEvent, Violation } from "./check/checker.ts"
export type { HistoryEvent } from "./check/history.ts"

// The trace schema: a run's `trace` lines (and a real node's trace file) as typed data.
export {
  formatTraceLine,
  parseTraceFile,
  parseTraceLine,
  type TraceFault,
  type TraceLine,
  type TraceLineKind
} from "./trace/index.ts"

// Running a protocol in a test, generating faults, networks and workloads, and checking properties.
export {
  assertProperty,
  checkProperty,
  type ClientNode,
  faultScheduleArbitrary,
  type FaultScheduleOptions,
  networkModelArbitrary,
  type NetworkModelOptions,
  type NetworkOptions,
  type PropertyFailed,
  type PropertyPassed,
  type PropertyReport,
  simulate,
  type SimulateOptions,
  SimulationPropertyError,
  type SimulationResult,
  workloadArbitrary,
  type WorkloadItem,
  type WorkloadOptions
} from "./testing/index.ts"

// The simulator's vocabulary, as simulate() takes and reports it.
export type { LatencyDistribution, LinkModel, LinkOverride, NetworkModel } from "./sim/network-model.ts"
export { perfectNetwork } from "./sim/network-model.ts"
export type { CheckOutcome } from "./sim/run.ts"
export { type Fault, ScenarioError, type ScheduledFault, serverIds } from "./sim/scenario.ts"
export type { DiskModel, SimulationStats } from "./sim/simulation.ts"
