// The scenario fields every key-value workload takes, whatever the store, as Effect Schema fields.
import { Schema } from "effect"
import type { KvWorkloadOptions } from "./workload.ts"

import { nonNegative, nonNegativeInt, positive, positiveInt, ScenarioError, type WorkloadShrink } from "../../definition/index.ts"

export { nonNegative, nonNegativeInt, positive, positiveInt }
/** A relative weight: a finite number at or above 0. */
export const weight = nonNegative

/**
 * `clients`, `keys`, `operationsPerClient`, `thinkMs`, `requestTimeoutMs`, `operationTimeoutMs`,
 * `omitClients` (client numbers left out, which shrinking writes): each optional.
 */
export const kvWorkloadFields = {
  clients: Schema.optional(positiveInt),
  omitClients: Schema.optional(Schema.Array(positiveInt)),
  keys: Schema.optional(positiveInt),
  operationsPerClient: Schema.optional(nonNegativeInt),
  thinkMs: Schema.optional(positive),
  requestTimeoutMs: Schema.optional(positive),
  operationTimeoutMs: Schema.optional(positive)
}

/** The fields of {@link kvWorkloadFields} as decoded. */
export interface KvWorkloadInput {
  readonly clients?: number | undefined
  readonly keys?: number | undefined
  readonly operationsPerClient?: number | undefined
  readonly thinkMs?: number | undefined
  readonly requestTimeoutMs?: number | undefined
  readonly operationTimeoutMs?: number | undefined
  readonly omitClients?: ReadonlyArray<number> | undefined
}

/** How shrinking makes a key-value workload smaller: fewer clients, fewer operations, clients left out. */
export const kvWorkloadShrink: WorkloadShrink = {
  counts: ["clients", "operationsPerClient"],
  operationsPerClient: "operationsPerClient",
  omitClients: "omitClients"
}

/**
 * The workload's clients, `c1`..`cN` (default 3), each given the shared options with their defaults
 * filled in (keys `k1`..`kK`, default 5; 100 operations, 50 ms think time, 300 ms per attempt,
 * 2 s per operation) by `program(process, options)`. Clients of `omitClients` are left out; the
 * others keep their numbers. `file` names the scenario in messages.
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
    operationTimeoutMs: input.operationTimeoutMs ?? 2000
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
