// The scenario file's schema (Effect Schema), so that a bad field is named with its path.
import { Schema } from "effect"
import { nonNegative, positiveInt } from "../definition/index.ts"
import { DurationInput } from "../definition/duration-schema.ts"

const probability = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))


export const LatencyInput = Schema.Union([
  Schema.Struct({ distribution: Schema.Literal("constant"), ms: nonNegative }),
  Schema.Struct({ distribution: Schema.Literal("uniform"), minMs: nonNegative, maxMs: nonNegative }),
  Schema.Struct({ distribution: Schema.Literal("exponential"), meanMs: nonNegative, minMs: Schema.optional(nonNegative) }),
  Schema.Struct({ distribution: Schema.Literal("long-tail"), medianMs: nonNegative, p99Ms: nonNegative })
]).annotate({
  message:
    "Expected a latency: {distribution: constant, ms}, {distribution: uniform, minMs, maxMs}, " +
    "{distribution: exponential, meanMs, minMs?} or {distribution: long-tail, medianMs, p99Ms}, with no negative number"
})

const linkFields = {
  latency: Schema.optionalKey(LatencyInput),
  lossRate: Schema.optional(probability),
  duplicateRate: Schema.optional(probability),
  reorderRate: Schema.optional(probability),
  reorderWindowMs: Schema.optional(nonNegative),
  /** Probability that a message is held for an extra `longDelayMs`, seconds past election timeouts. */
  longDelayRate: Schema.optional(probability),
  longDelayMs: Schema.optional(Schema.Tuple([nonNegative, nonNegative]))
}

const NodeName = Schema.String
const NodeList = Schema.Array(NodeName)
const Link = Schema.Struct({ from: NodeName, to: NodeName })

/** One scheduled fault: `at` and exactly one fault key (checked after decoding). */
export const ScheduledFaultInput = Schema.Struct({
  at: DurationInput,
  partition: Schema.optional(Schema.Array(NodeList)),
  partitionOneWay: Schema.optional(Schema.Struct({ from: NodeList, to: NodeList })),
  heal: Schema.optional(Schema.Literal(true)),
  crash: Schema.optional(NodeName),
  torn: Schema.optional(Schema.Boolean),
  restart: Schema.optional(NodeName),
  pause: Schema.optional(NodeName),
  resume: Schema.optional(NodeName),
  clockOffset: Schema.optional(Schema.Struct({ node: NodeName, ms: Schema.Finite })),
  clockStep: Schema.optional(Schema.Struct({ node: NodeName, ms: Schema.Finite })),
  clockDrift: Schema.optional(Schema.Struct({ node: NodeName, rate: Schema.Finite.check(Schema.isGreaterThan(-1)) })),
  clog: Schema.optional(Link),
  unclog: Schema.optional(Link)
})

/**
 * The most faults of one kind a second: a harsh swarm seed bounces servers 15-30 times a second,
 * and every fault drawn is planned before the run, so a rate far past this only fills memory.
 */
const MAX_FAULT_RATE_PER_SECOND = 1000

const faultRate = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: MAX_FAULT_RATE_PER_SECOND }))

const RateAndDuration = {
  /** Expected faults of this kind per simulated second. */
  ratePerSecond: faultRate,
  /** How long each lasts. */
  durationMs: Schema.optional(Schema.Tuple([nonNegative, nonNegative]))
}

/** Faults drawn from the seed at given rates during the safety phase. */
export const RandomFaultsInput = Schema.Struct({
  partitions: Schema.optional(Schema.Struct({ ...RateAndDuration, oneWayRate: Schema.optional(probability) })),
  crashes: Schema.optional(Schema.Struct({ ...RateAndDuration, tornRate: Schema.optional(probability) })),
  pauses: Schema.optional(Schema.Struct(RateAndDuration)),
  clogs: Schema.optional(Schema.Struct(RateAndDuration)),
  /** A link between two servers stalls both ways for seconds, then delivers its backlog at once. */
  stalls: Schema.optional(Schema.Struct(RateAndDuration)),
  /** A server is killed and restarted within milliseconds (1-50 ms by default), as a supervisor would. */
  bounces: Schema.optional(Schema.Struct(RateAndDuration)),
  clockSteps: Schema.optional(Schema.Struct({ ratePerSecond: faultRate, maxMs: Schema.optional(nonNegative) })),
  clockDrifts: Schema.optional(Schema.Struct({ ratePerSecond: faultRate, maxRate: Schema.optional(probability) })),
  /** At most this many servers crashed or paused at once (keeps faults within what the protocol must survive). */
  maxDown: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
})

/** Bounds on a run's metrics: metric name to the largest value allowed, such as `{leader-recovery-ms-max: 3000}`. */
const BoundsInput = Schema.Record(Schema.String, Schema.Finite)

/**
 * The checks a run judges: a list of check names (every check when it names none), in which an
 * entry may instead bound metrics; or the bounds alone, every check judged besides.
 */
const ChecksInput = Schema.Union([Schema.Array(Schema.Union([Schema.String, BoundsInput])), BoundsInput]).annotate({
  message:
    "Expected a list of check names and metric bounds (such as [linearizability, {leader-recovery-ms-max: 3000}]) " +
    "or metric bounds alone (such as {leader-recovery-ms-max: 3000})"
})

/** A whole scenario file as written. */
export const ScenarioInput = Schema.Struct({
  name: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  protocol: Schema.String,
  options: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  workload: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  nodes: positiveInt,
  seed: Schema.optional(Schema.Int),
  duration: DurationInput,
  liveness: Schema.optional(DurationInput),
  network: Schema.optional(
    Schema.Struct({
      ...linkFields,
      links: Schema.optional(Schema.Array(Schema.Struct({ from: NodeName, to: NodeName, ...linkFields }))),
      /** The network of the liveness phase, where it differs: fields left out keep the network's own. */
      liveness: Schema.optional(Schema.Struct(linkFields))
    })
  ),
  disk: Schema.optional(
    Schema.Struct({ syncLatency: Schema.optional(LatencyInput), writeErrorRate: Schema.optional(probability) })
  ),
  faults: Schema.optional(
    Schema.Struct({ scheduled: Schema.optional(Schema.Array(ScheduledFaultInput)), random: Schema.optional(RandomFaultsInput) })
  ),
  checks: Schema.optional(ChecksInput)
})

export type ScenarioInput = typeof ScenarioInput.Type
export type ScheduledFaultInput = typeof ScheduledFaultInput.Type
export type LatencyInput = typeof LatencyInput.Type
export type RandomFaultsInput = typeof RandomFaultsInput.Type
