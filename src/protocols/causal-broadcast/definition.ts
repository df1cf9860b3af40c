// Reliable causal broadcast as a protocol any world can host: option schemas, node programs and its checker.
import { Schema } from "effect"
import { CausalBroadcastChecker } from "../../check/causal-broadcast.ts"
import {
  type CausalBroadcastHooks,
  type CausalBroadcastOptions,
  causalBroadcastNode,
  type DeliverableRule,
  defaultCausalBroadcastOptions,
  deliverable
} from "./index.ts"
import { decodeSection, type ProtocolDefinition } from "../../definition/index.ts"

const positive = Schema.Finite.check(Schema.isGreaterThan(0))
const positiveInt = Schema.Int.check(Schema.isGreaterThan(0))

const Options = Schema.Struct({
  syncIntervalMs: Schema.optional(positive),
  maxBatch: Schema.optional(positiveInt),
  maxPending: Schema.optional(positiveInt)
})

const Workload = Schema.Struct({
  messagesPerNode: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  broadcastIntervalMs: Schema.optional(positive)
})

/** The causal-broadcast protocol, with its deliverability rule and hooks replaceable so tests can plant a bug. */
export const causalBroadcastProtocol = (
  name = "causal-broadcast",
  rule: DeliverableRule = deliverable,
  hooks: CausalBroadcastHooks = {}
): ProtocolDefinition => ({
  name,
  description: "Reliable causal broadcast over vector clocks, with anti-entropy and a durable log",
  build: (run) => {
    const options = decodeSection(Options, run, "options")
    const workload = decodeSection(Workload, run, "workload")
    const defaults = defaultCausalBroadcastOptions
    const resolved: CausalBroadcastOptions = {
      messagesPerNode: workload.messagesPerNode ?? defaults.messagesPerNode,
      broadcastIntervalMs: workload.broadcastIntervalMs ?? defaults.broadcastIntervalMs,
      syncIntervalMs: options.syncIntervalMs ?? defaults.syncIntervalMs,
      maxBatch: options.maxBatch ?? defaults.maxBatch,
      maxPending: options.maxPending ?? defaults.maxPending
    }
    return {
      server: () => causalBroadcastNode(resolved, rule, hooks),
      clients: [],
      checkers: [new CausalBroadcastChecker()]
    }
  }
})
