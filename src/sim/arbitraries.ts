// fast-check arbitraries for fault schedules, so property tests can search the space of failures and shrink them.
import fc from "fast-check"
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
        return split.map((side) => ({ _tag: "Partition", groups: [side.sort(), rest(side)] }))
      case "PartitionOneWay":
        return split.map((side) => ({ _tag: "PartitionOneWay", from: side.sort(), to: rest(side) }))
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
    .map((faults) => faults.sort((left, right) => left.atMs - right.atMs))
}
