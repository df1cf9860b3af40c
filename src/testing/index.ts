// The testing library's entry: simulate a user's protocol in a test, generate what to throw at it, and check properties.
export {
  faultScheduleArbitrary,
  type FaultScheduleOptions,
  networkModelArbitrary,
  type NetworkModelOptions,
  workloadArbitrary,
  type WorkloadItem,
  type WorkloadOptions
} from "../sim/arbitraries.ts"
export {
  assertProperty,
  checkProperty,
  type PropertyFailed,
  type PropertyPassed,
  type PropertyReport,
  SimulationPropertyError
} from "./property.ts"
export { type ClientNode, type NetworkOptions, simulate, type SimulateOptions, type SimulationResult } from "./simulate.ts"
