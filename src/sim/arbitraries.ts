// fast-check arbitraries for fault schedules, network models and workloads, so property tests can search the space of failures and shrink them.
import fc from "fast-check"
import type { NodeId } from "../env/index.ts"
import type { LatencyDistribution, NetworkModel } from "./network-model.ts"
import type { Fault, ScheduledFault } from "./scenario.ts"

/** Options of {@link faultScheduleArbitrary}. */
export interface FaultScheduleOptions {
  /** Server ids faults may name. */
  readonly nodes: ReadonlyArray<string>
  /** Faults start within [0, durationMs). */
  readonly durationMs: number
  readonly maxFaults?: number
  /** Fault kinds to draw from; all by default. */
  readonly kinds?: ReadonlyArray<Fault["_tag"]>
}

const ALL_KINDS: ReadonlyArray<Fault["_tag"]> = [
  "Partition",
  "PartitionOneWay",
  "Heal",
  "Crash",
  "Restart",
  "Pause",
  "Resume",
  "ClockStep",
  "ClockDrift",
  "Clog",
  "Unclog"
]

/**
 * An arbitrary list of scheduled faults, sorted by time. fast-check shrinks it towards fewer
 * faults, earlier times and simpler kinds, which is how a failing property shrinks to a minimal
 * fault schedule. Crashes and pauses are not limited here: the liveness phase heals whatever is
 * left, and a protocol must stay safe under any schedule.
 */
export const faultScheduleArbitrary = (options: FaultScheduleOptions): fc.Arbitrary<Array<ScheduledFault>> => {
  const nodes = options.nodes
  const node = fc.constantFrom(...nodes)
  const kinds = options.kinds ?? ALL_KINDS
  const split = fc.shuffledSubarray([...nodes], { minLength: 1, maxLength: Math.max(1, nodes.length - 1) })
  const rest = (side: ReadonlyArray<string>) => nodes.filter((name) => !side.includes(name))
  const fault: fc.Arbitrary<Fault> = fc.constantFrom(...kinds).chain((kind): fc.Arbitrary<Fault> => {
    switch (kind) {
      case "Partition":
        return split.map((side) => ({ _tag: "Partition", groups: [[...side].sort(), rest(side)] }))
      case "PartitionOneWay":
        return split.map((side) => ({ _tag: "PartitionOneWay", from: [...side].sort(), to: rest(side) }))
      case "Heal":
        return fc.constant({ _tag: "Heal" })
      case "Crash":
        return fc.record({ node, torn: fc.boolean() }).map(({ node, torn }) => ({ _tag: "Crash", node, torn }))
      case "Restart":
        return node.map((name) => ({ _tag: "Restart", node: name }))
      case "Pause":
        return node.map((name) => ({ _tag: "Pause", node: name }))
      case "Resume":
        return node.map((name) => ({ _tag: "Resume", node: name }))
      case "ClockOffset":
        return fc.record({ node, ms: fc.integer({ min: -2000, max: 2000 }) }).map(({ node, ms }) => ({ _tag: "ClockOffset", node, ms }))
      case "ClockStep":
        return fc.record({ node, ms: fc.integer({ min: -2000, max: 2000 }) }).map(({ node, ms }) => ({ _tag: "ClockStep", node, ms }))
      case "ClockDrift":
        return fc
          .record({ node, rate: fc.double({ min: -0.1, max: 0.1, noNaN: true }) })
          .map(({ node, rate }) => ({ _tag: "ClockDrift", node, rate }))
      case "Clog":
      case "Unclog":
        return fc
          .tuple(node, node)
          .filter(([from, to]) => from !== to)
          .map(([from, to]) => ({ _tag: kind, from, to }))
      default: {
        const unreachable: never = kind
        throw new Error(`unknown fault kind ${String(unreachable)}`)
      }
    }
  })
  return fc
    .array(fc.record({ atMs: fc.integer({ min: 0, max: Math.max(0, options.durationMs - 1) }), fault }), {
      maxLength: options.maxFaults ?? 12
    })
    .map((faults) => byTime(faults))
}

/**
 * Sorts a copy by time (stably). `map` must not sort in place: the array it receives is the value
 * fast-check keeps and shrinks from.
 */
const byTime = <A extends { readonly atMs: number }>(items: ReadonlyArray<A>): Array<A> =>
  [...items].sort((left, right) => left.atMs - right.atMs)


/** Options of {@link networkModelArbitrary}. Every bound is inclusive. */
export interface NetworkModelOptions {
  /** Largest probability that a message is lost; 0 by default (no loss). */
  readonly maxLossRate?: number
  /** Largest probability that a message is delivered twice; 0 by default. */
  readonly maxDuplicateRate?: number
  /** Largest probability that a message gets an extra delay; 0 by default. */
  readonly maxReorderRate?: number
  /** Largest extra delay of a reordered message; 50 ms by default. */
  readonly maxReorderWindowMs?: number
  /** Smallest latency; 1 ms by default. Latencies are whole milliseconds. */
  readonly minLatencyMs?: number
  /** Largest latency (of a constant or uniform latency; the mean of an exponential one); 20 ms by default. */
  readonly maxLatencyMs?: number
  /** Latency distributions to draw from; constant and uniform by default. */
  readonly distributions?: ReadonlyArray<"Constant" | "Uniform" | "Exponential">
}

/**
 * An arbitrary network model: one latency distribution and loss, duplication and reordering rates
 * within the given bounds, the same on every link. It shrinks towards a constant latency of
 * `minLatencyMs` and no loss, duplication or reordering, so a failure that needs a bad network
 * shrinks to the few rates that matter. Rates are 0 unless a maximum is given, so a property states
 * which network misbehaviour it covers.
 */
export const networkModelArbitrary = (options: NetworkModelOptions = {}): fc.Arbitrary<NetworkModel> => {
  const minLatencyMs = options.minLatencyMs ?? 1
  const maxLatencyMs = options.maxLatencyMs ?? 20
  assertRange("minLatencyMs", minLatencyMs, 0, Number.MAX_SAFE_INTEGER)
  assertRange("maxLatencyMs", maxLatencyMs, Math.ceil(minLatencyMs), Number.MAX_SAFE_INTEGER)
  const rate = (name: string, max: number | undefined): fc.Arbitrary<number> => {
    if (max === undefined || max === 0) return fc.constant(0)
    assertRange(name, max, 0, 1)
    return fc.double({ min: 0, max, noNaN: true })
  }
  const milliseconds = fc.integer({ min: Math.ceil(minLatencyMs), max: Math.floor(maxLatencyMs) })
  const distributions = options.distributions ?? ["Constant", "Uniform"]
  if (distributions.length === 0) throw new Error("networkModelArbitrary: distributions must not be empty")
  const latency: fc.Arbitrary<LatencyDistribution> = fc.oneof(
    ...distributions.map((kind): fc.Arbitrary<LatencyDistribution> => {
      switch (kind) {
        case "Constant":
          return milliseconds.map((ms) => ({ _tag: "Constant", ms }))
        case "Uniform":
          return fc
            .tuple(milliseconds, milliseconds)
            .map(([left, right]) => ({ _tag: "Uniform", minMs: Math.min(left, right), maxMs: Math.max(left, right) }))
        case "Exponential":
          return milliseconds.map((meanMs) => ({ _tag: "Exponential", meanMs, minMs: Math.min(meanMs, minLatencyMs) }))
        default: {
          const unreachable: never = kind
          throw new Error(`networkModelArbitrary: unknown distribution ${String(unreachable)}`)
        }
      }
    })
  )
  return fc
    .record({
      latency,
      lossRate: rate("maxLossRate", options.maxLossRate),
      duplicateRate: rate("maxDuplicateRate", options.maxDuplicateRate),
      reorderRate: rate("maxReorderRate", options.maxReorderRate),
      // Without reordering the window means nothing; a constant keeps it out of counterexamples.
      reorderWindowMs:
        (options.maxReorderRate ?? 0) === 0 ? fc.constant(0) : fc.integer({ min: 0, max: Math.floor(options.maxReorderWindowMs ?? 50) })
    })
    .map((defaults) => ({ defaults, links: [] }))
}

/** One timed item of a workload: `node` should do `operation` when its clock reaches `atMs`. */
export interface WorkloadItem<Operation> {
  readonly atMs: number
  readonly node: NodeId
  readonly operation: Operation
}

/** Options of {@link workloadArbitrary}. */
export interface WorkloadOptions<Operation> {
  /** The nodes (servers or clients) items are addressed to. */
  readonly nodes: ReadonlyArray<NodeId>
  /** Items fall within [0, durationMs). */
  readonly durationMs: number
  /** The operations, drawn from the user's own arbitrary. */
  readonly operation: fc.Arbitrary<Operation>
  readonly minItems?: number
  /** 20 by default. */
  readonly maxItems?: number
}

/**
 * An arbitrary workload: timed operations addressed to nodes, sorted by time. What an operation is
 * belongs to the user (a number to add, a key to write, a request to send); a node or client
 * program receives the whole list and does the items addressed to it. It shrinks towards fewer
 * items, earlier times, the first node and simpler operations.
 */
export const workloadArbitrary = <Operation>(options: WorkloadOptions<Operation>): fc.Arbitrary<Array<WorkloadItem<Operation>>> => {
  if (options.nodes.length === 0) throw new Error("workloadArbitrary: nodes must not be empty")
  const item: fc.Arbitrary<WorkloadItem<Operation>> = fc.record({
    atMs: fc.integer({ min: 0, max: Math.max(0, options.durationMs - 1) }),
    node: fc.constantFrom(...options.nodes),
    operation: options.operation
  })
  return fc
    .array(item, { minLength: options.minItems ?? 0, maxLength: options.maxItems ?? 20 })
    .map((items) => byTime(items))
}

/** A bad bound is the calling test's mistake, so it throws at once rather than generating nonsense. */
const assertRange = (name: string, value: number, min: number, max: number): void => {
  if (!(value >= min && value <= max)) {
    throw new Error(`networkModelArbitrary: ${name} must be within [${min}, ${max}], got ${value}`)
  }
}
