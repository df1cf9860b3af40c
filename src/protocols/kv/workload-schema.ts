// The scenario fields every key-value workload takes, whatever the store, as Effect Schema fields.
import { Schema } from "effect"
import type { KvWorkloadOptions } from "./workload.ts"
import { MIX_NAMES, type MixName, type Placement, PLACEMENTS } from "./workload-shape.ts"

import { type Knob, nonNegative, nonNegativeInt, positive, positiveInt, ScenarioError, type WorkloadShrink } from "../../definition/index.ts"

export { nonNegative, nonNegativeInt, positive, positiveInt }
/** A relative weight: a finite number at or above 0. */
export const weight = nonNegative
/** A share of all operations: a finite number from 0 to 1. */
export const share = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
/** A named mix (`balanced`, `read-heavy`, `write-heavy`), which each store turns into its own weights. */
export const mixName = Schema.Literals(MIX_NAMES)

/**
 * `clients`, `keys`, `operationsPerClient`, `thinkMs`, `requestTimeoutMs`, `operationTimeoutMs`,
 * `omitClients` (client numbers left out, which shrinking writes), `placement` and `hotKeyShare`:
 * each optional.
 */
export const kvWorkloadFields = {
  clients: Schema.optional(positiveInt),
  omitClients: Schema.optional(Schema.Array(positiveInt)),
  keys: Schema.optional(positiveInt),
  operationsPerClient: Schema.optional(nonNegativeInt),
  thinkMs: Schema.optional(positive),
  requestTimeoutMs: Schema.optional(positive),
  operationTimeoutMs: Schema.optional(positive),
  placement: Schema.optional(Schema.Literals(PLACEMENTS)),
  hotKeyShare: Schema.optional(share)
}

/**
 * The workload's shape, which a swarm draws per seed as knobs of the `workload` section: placement,
 * named mix and contention. A third of the seeds follow the leader as scenarios do by default; the
 * others keep clients on servers that may have been deposed or cut off.
 */
export const kvWorkloadKnobs: ReadonlyArray<Knob> = [
  // A swarm's harsh seeds (see Knob's `stress`) keep clients off the leader's track and on a few hot
  // keys; every mix strains a store in its own way (reads find stale leaders, writes duplicates), so
  // none is singled out.
  { _tag: "OneOf", name: "placement", values: PLACEMENTS, stress: ["pinned", "random"] },
  { _tag: "OneOf", name: "mix", values: MIX_NAMES },
  { _tag: "OneOf", name: "hotKeyShare", values: [0, 0.5, 0.9], stress: [0.5, 0.9] }
]

/** The fields of {@link kvWorkloadFields} as decoded. */
export interface KvWorkloadInput {
  readonly clients?: number | undefined
  readonly keys?: number | undefined
  readonly operationsPerClient?: number | undefined
  readonly thinkMs?: number | undefined
  readonly requestTimeoutMs?: number | undefined
  readonly operationTimeoutMs?: number | undefined
  readonly omitClients?: ReadonlyArray<number> | undefined
  readonly placement?: Placement | undefined
  readonly hotKeyShare?: number | undefined
}

/** How shrinking makes a key-value workload smaller: fewer clients, fewer operations, clients left out. */
export const kvWorkloadShrink: WorkloadShrink = {
  counts: ["clients", "operationsPerClient"],
  operationsPerClient: "operationsPerClient",
  omitClients: "omitClients"
}

/** A store's weights for each named mix, and for a scenario that gives weights or no mix at all. */
export const resolveMix = <F extends string>(
  input: MixName | { readonly [K in F]?: number | undefined } | undefined,
  presets: { readonly [M in MixName]: Readonly<Record<F, number>> }
): Readonly<Record<F, number>> => {
  if (input === undefined) return presets.balanced
  if (typeof input === "string") return presets[input]
  const weights: Record<F, number> = { ...presets.balanced }
  for (const name of Object.keys(presets.balanced) as Array<F>) weights[name] = input[name] ?? presets.balanced[name]
  return weights
}

/**
 * The workload's clients, `c1`..`cN` (default 3), each given the shared options with their defaults
 * filled in (keys `k1`..`kK`, default 5; 100 operations, 50 ms think time, 300 ms per attempt,
 * 2 s per operation, following the leader, no hot key) by `program(process, options)`. Clients of
 * `omitClients` are left out; the others keep their numbers. `file` names the scenario in messages.
 */
export const kvClients = <P>(
  input: KvWorkloadInput,
  servers: ReadonlyArray<string>,
  program: (process: number, options: KvWorkloadOptions) => P,
  file = "<workload>"
): Array<{ id: string; program: P }> => {
  const options: KvWorkloadOptions = {
    servers,
    keys: Array.from({ length: input.keys ?? 5 }, (_, index) => `k${index + 1}`),
    operations: input.operationsPerClient ?? 100,
    thinkMs: input.thinkMs ?? 50,
    requestTimeoutMs: input.requestTimeoutMs ?? 300,
    operationTimeoutMs: input.operationTimeoutMs ?? 2000,
    placement: input.placement ?? "follow-leader",
    hotKeyShare: input.hotKeyShare ?? 0
  }
  const count = input.clients ?? 3
  const omitted = new Set(input.omitClients ?? [])
  for (const number of omitted) {
    if (number > count) throw new ScenarioError(`${file}: workload.omitClients: there is no client ${number} (clients: ${count})`)
  }
  if (omitted.size >= count) throw new ScenarioError(`${file}: workload.omitClients: leaves out every client`)
  return Array.from({ length: count }, (_, index) => index + 1)
    .filter((number) => !omitted.has(number))
    .map((number) => ({ id: `c${number}`, program: program(number, options) }))
}
