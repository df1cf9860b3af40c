// The contract between a protocol and the worlds that host it: what a run asks of a protocol, and what the protocol builds for it.
import { Exit, Schema } from "effect"
import type { Checker } from "../check/checker.ts"
import type { HistoryEvent } from "../check/history.ts"
import type { NodeProgram } from "../env/index.ts"
import { ScenarioError } from "./input.ts"
import type { RealClient } from "./real-client.ts"
import { describeSchemaError } from "./schema-error.ts"

/**
 * What a protocol is told about a run, in any world: the cluster's size and the protocol's own
 * sections of the scenario. A simulated scenario is one; a real cluster's configuration is another.
 */
export interface ProtocolRun {
  /** Where the run was described (a scenario file), for error messages. */
  readonly file: string
  /** The protocol's name, as the run named it. */
  readonly protocol: string
  /** Servers n1..nN. */
  readonly nodes: number
  /** The protocol's options (how servers behave), not yet validated. */
  readonly options: Readonly<Record<string, unknown>>
  /** The protocol's workload (what clients do), not yet validated. */
  readonly workload: Readonly<Record<string, unknown>>
}

/** What a protocol builds for one run: the programs to run and the checkers that judge them. */
export interface ProtocolBuild {
  /** The program of server `id` (the same code runs again on restart). */
  readonly server: (id: string) => NodeProgram
  /** Client nodes that drive a workload; in the simulator they are not subject to faults. */
  readonly clients: ReadonlyArray<{ readonly id: string; readonly program: NodeProgram }>
  readonly checkers: ReadonlyArray<Checker>
  /** The clients' history (Jepsen format), for protocols with clients. */
  readonly history?: (() => ReadonlyArray<HistoryEvent>) | undefined
  /**
   * The client of a real cluster run with these options, when it depends on them (the search
   * client routes by the shard map and generates the cluster's data set); it replaces the
   * definition's `realClient`. None: the definition's.
   */
  readonly realClient?: RealClient<any> | undefined
}

/**
 * A protocol a scenario can name. It belongs to no world: `build` validates the run's options and
 * workload (throwing a {@link ScenarioError} that names the bad field) and returns programs
 * written against `src/env` only, which the simulator or real processes then host.
 */
export interface ProtocolDefinition {
  readonly name: string
  readonly description: string
  readonly build: (run: ProtocolRun) => ProtocolBuild
  /**
   * Options the nodes of a real cluster (`faultline node`, `cluster up`) run with. A scenario's
   * defaults suit simulated runs of seconds, which must reach snapshots and elections quickly; a
   * real cluster runs for hours on a disk where each of those costs syncs. None: the defaults.
   */
  readonly clusterOptions?: Readonly<Record<string, unknown>>
  /**
   * The workload `faultline load` runs against a real cluster, from its sizes (`--clients`,
   * `--operations`, `--keys`), with real-network timeouts; `--workload NAME=VALUE` flags go over
   * it. None: the key-value stores' workload (clients, operationsPerClient, keys and timeouts).
   */
  readonly clusterWorkload?: ((size: LoadSize) => Readonly<Record<string, unknown>>) | undefined
  /**
   * The options a swarm may draw per seed, and from what values (FoundationDB's randomized knobs).
   * Every combination of drawn values, and of drawn values with the others at their defaults, must
   * be valid options: shrinking returns knobs to their defaults one at a time.
   */
  readonly knobs?: ReadonlyArray<Knob> | undefined
  /**
   * The longest one-way latency, in milliseconds, the protocol is meant to stay live under with
   * these options (for Raft, its shortest election timeout). A swarm that draws a slow
   * network keeps its latency within this bound, so no drawn combination of knobs and network is one
   * the protocol was never meant to survive. None: no bound.
   */
  readonly latencyMsLimit?: ((options: Readonly<Record<string, unknown>>) => number) | undefined
  /** How shrinking may make the workload smaller, beyond halving its numbers. None: halving only. */
  readonly workloadShrink?: WorkloadShrink | undefined
  /**
   * The workload fields a swarm may draw per seed (its shape: for key-value stores, placement,
   * mix and contention), as knobs of the scenario's `workload` section. Every drawn combination
   * must be a valid workload; shrinking returns each to the scenario's own value.
   */
  readonly workloadKnobs?: ReadonlyArray<Knob> | undefined
  /**
   * The client of a real cluster (`faultline client`, each node's HTTP endpoint). None: the
   * protocol's real cluster runs, but those commands refuse it. Its operation type is the
   * protocol's own, so it is erased here.
   */
  readonly realClient?: RealClient<any> | undefined
}

/** The sizes `faultline load` is given. */
export interface LoadSize {
  readonly clients: number
  readonly operations: number
  readonly keys: number
}

/**
 * The workload fields shrinking treats as sizes: those that count clients or operations, lowered
 * two at a time and then one at a time once halving stops; the one that caps each client's
 * operations, first cut to the most any client invoked; and the one that lists client numbers to
 * leave out (the clients left keep their numbers, and so their random draws).
 */
export interface WorkloadShrink {
  readonly counts: ReadonlyArray<string>
  readonly operationsPerClient?: string
  readonly omitClients?: string
}

/**
 * One option a swarm may draw: a flag (true or false), an integer in `[min, max]` (both
 * inclusive), or one of a few values (for options whose useful values span orders of magnitude,
 * or are names). `name` is the option's key in the scenario's `options` (or `workload`).
 *
 * `stress`, if given, is the part of those values that strains the protocol most (a safety
 * feature off, the tightest timing, the smallest batches), as FoundationDB's knobs name the value
 * BUGGIFY gives them: a swarm's harsh seeds draw from it alone (see swarm-faults.ts). It must lie
 * within the knob's values.
 */
export type Knob =
  | { readonly _tag: "Flag"; readonly name: string; readonly stress?: boolean }
  | {
      readonly _tag: "Integer"
      readonly name: string
      readonly min: number
      readonly max: number
      readonly stress?: readonly [number, number]
    }
  | {
      readonly _tag: "OneOf"
      readonly name: string
      readonly values: ReadonlyArray<number | string>
      readonly stress?: ReadonlyArray<number | string>
    }

/** Values a swarm drew for a protocol's knobs, by option name. */
export type KnobValues = Readonly<Record<string, number | boolean | string>>

/** Decodes one protocol section of a run (`options` or `workload`), naming the bad field on error. */
export const decodeSection = <A>(schema: Schema.Decoder<A>, run: ProtocolRun, section: "options" | "workload"): A => {
  const decoded = Schema.decodeUnknownExit(schema)(run[section], { onExcessProperty: "error", errors: "first" })
  if (Exit.isFailure(decoded)) {
    const detail = describeSchemaError(decoded.cause)
    throw new ScenarioError(`${run.file}: ${section}.${detail}`)
  }
  return decoded.value
}
