// How a protocol plugs into the simulator harness: its node programs, its clients, its checkers.
import { Exit, Schema } from "effect"
import type { Checker } from "../check/checker.ts"
import type { HistoryEvent } from "../check/history.ts"
import type { NodeProgram } from "../env/index.ts"
import { describeSchemaError, type Scenario, ScenarioError } from "./scenario.ts"
import type { Simulation } from "./simulation.ts"

/** What a protocol gives one run. */
export interface ProtocolSetup {
  /** The program of server `id` (the same code runs again on restart). */
  readonly server: (id: string) => NodeProgram
  /** Client nodes that drive a workload; not subject to faults. */
  readonly clients: ReadonlyArray<{ readonly id: string; readonly program: NodeProgram }>
  readonly checkers: ReadonlyArray<Checker>
  /** Called when the liveness phase starts (faults healed). */
  readonly onLivenessStart?: ((simulation: Simulation) => void) | undefined
  /** The clients' history (Jepsen format), for protocols with clients. */
  readonly history?: (() => ReadonlyArray<HistoryEvent>) | undefined
}

/** A protocol the harness can run from a scenario file. */
export interface ProtocolDefinition {
  readonly name: string
  readonly description: string
  /** Validates the scenario's `options` and `workload` (throwing a ScenarioError) and builds the run. */
  readonly setup: (scenario: Scenario, simulation: Simulation) => ProtocolSetup
}

/** Decodes one protocol section of a scenario (`options` or `workload`), naming the bad field on error. */
export const decodeSection = <A>(
  schema: Schema.Decoder<A>,
  scenario: Scenario,
  section: "options" | "workload"
): A => {
  const decoded = Schema.decodeUnknownExit(schema)(scenario[section], { onExcessProperty: "error", errors: "first" })
  if (Exit.isFailure(decoded)) {
    const detail = describeSchemaError(decoded.cause)
    throw new ScenarioError(`${scenario.file}: ${section}.${detail}`)
  }
  return decoded.value
}
