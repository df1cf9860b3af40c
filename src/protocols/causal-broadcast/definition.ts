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
import { decodeSection, type Knob, positive, positiveInt, type ProtocolDefinition } from "../../definition/index.ts"


const Options = Schema.Struct({
  syncIntervalMs: Schema.optional(positive),
  maxBatch: Schema.optional(positiveInt),
  maxPending: Schema.optional(positiveInt)
})

const Workload = Schema.Struct({
  messagesPerNode: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  broadcastIntervalMs: Schema.optional(positive)
})

/**
 * What a swarm draws per seed: how often anti-entropy runs, how much one round may carry, and how
 * many undeliverable messages a node buffers (evicted ones come back through anti-entropy).
 */
const broadcastKnobs: ReadonlyArray<Knob> = [
  { _tag: "OneOf", name: "syncIntervalMs", values: [25, 50, 100, 200] },
  // A swarm's harsh seeds (see Knob's `stress`) take the smallest round and buffer, so catching up
  // takes many rounds and evicted messages must come back through anti-entropy.
  { _tag: "OneOf", name: "maxBatch", values: [8, 16, 64], stress: [8] },
  { _tag: "OneOf", name: "maxPending", values: [16, 128, 1024], stress: [16] }
]

/**
 * The workload's shape a swarm draws per seed: how fast each node broadcasts. A burst (a message
 * every 10 ms) keeps many messages in flight at once, so deliveries race and wait on each other;
 * a trickle (one every 300 ms) lets most settle before the next, so a lost dependency stands out.
 */
const broadcastWorkloadKnobs: ReadonlyArray<Knob> = [
  // Harsh seeds burst, so that the most messages race.
  { _tag: "OneOf", name: "broadcastIntervalMs", values: [10, 50, 300], stress: [10] }
]

/** The causal-broadcast protocol, with its deliverability rule and hooks replaceable so tests can plant a bug. */
export const causalBroadcastProtocol = (
  name = "causal-broadcast",
  rule: DeliverableRule = deliverable,
  hooks: CausalBroadcastHooks = {}
): ProtocolDefinition => ({
  name,
  description: "Reliable causal broadcast over vector clocks, with anti-entropy and a durable log",
  knobs: broadcastKnobs,
  workloadKnobs: broadcastWorkloadKnobs,
  workloadShrink: { counts: ["messagesPerNode"] },
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
