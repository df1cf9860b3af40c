// Writes a resolved scenario back as scenario-file YAML, so a shrunk run becomes an ordinary scenario.
import { stringify } from "yaml"
import type { LatencyDistribution, LinkModel } from "./network-model.ts"
import type { Fault, Scenario, ScheduledFault } from "./scenario.ts"

const latencyInput = (latency: LatencyDistribution): Record<string, unknown> => {
  switch (latency._tag) {
    case "Constant":
      return { distribution: "constant", ms: latency.ms }
    case "Uniform":
      return { distribution: "uniform", minMs: latency.minMs, maxMs: latency.maxMs }
    case "Exponential":
      return { distribution: "exponential", meanMs: latency.meanMs, minMs: latency.minMs }
    case "LongTail":
      return { distribution: "long-tail", medianMs: latency.medianMs, p99Ms: latency.p99Ms }
    default: {
      const unreachable: never = latency
      throw new Error(`unknown latency ${JSON.stringify(unreachable)}`)
    }
  }
}

const linkInput = (link: Partial<LinkModel>): Record<string, unknown> => ({
  ...(link.latency === undefined ? {} : { latency: latencyInput(link.latency) }),
  ...(link.lossRate === undefined ? {} : { lossRate: link.lossRate }),
  ...(link.duplicateRate === undefined ? {} : { duplicateRate: link.duplicateRate }),
  ...(link.reorderRate === undefined ? {} : { reorderRate: link.reorderRate }),
  ...(link.reorderWindowMs === undefined ? {} : { reorderWindowMs: link.reorderWindowMs }),
  ...(link.longDelayRate === undefined ? {} : { longDelayRate: link.longDelayRate }),
  ...(link.longDelayMs === undefined ? {} : { longDelayMs: [...link.longDelayMs] })
})

/** The scenario-file form of one fault. */
export const faultInput = ({ atMs, fault }: ScheduledFault): Record<string, unknown> => {
  const body = ((): Record<string, unknown> => {
    const f: Fault = fault
    switch (f._tag) {
      case "Partition":
        return { partition: f.groups }
      case "PartitionOneWay":
        return { partitionOneWay: { from: f.from, to: f.to } }
      case "Heal":
        return { heal: true }
      case "Crash":
        return f.torn ? { crash: f.node, torn: true } : { crash: f.node }
      case "Restart":
        return { restart: f.node }
      case "Pause":
        return { pause: f.node }
      case "Resume":
        return { resume: f.node }
      case "ClockOffset":
        return { clockOffset: { node: f.node, ms: f.ms } }
      case "ClockStep":
        return { clockStep: { node: f.node, ms: f.ms } }
      case "ClockDrift":
        return { clockDrift: { node: f.node, rate: f.rate } }
      case "Clog":
        return { clog: { from: f.from, to: f.to } }
      case "Unclog":
        return { unclog: { from: f.from, to: f.to } }
      default: {
        const unreachable: never = f
        throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
      }
    }
  })()
  return { at: atMs, ...body }
}

/**
 * The scenario as a plain object in scenario-file form. Random faults are written as they are
 * configured; call it on a scenario whose faults were fixed (see shrink) to get a schedule that
 * replays exactly.
 */
export const scenarioToInput = (scenario: Scenario): Record<string, unknown> => {
  const random = scenario.random
  const randomInput: Record<string, unknown> = {}
  if (random.partitions.ratePerSecond > 0) randomInput.partitions = random.partitions
  if (random.crashes.ratePerSecond > 0) randomInput.crashes = random.crashes
  if (random.pauses.ratePerSecond > 0) randomInput.pauses = random.pauses
  if (random.clogs.ratePerSecond > 0) randomInput.clogs = random.clogs
  if (random.stalls.ratePerSecond > 0) randomInput.stalls = random.stalls
  if (random.bounces.ratePerSecond > 0) randomInput.bounces = random.bounces
  if (random.clockSteps.ratePerSecond > 0) randomInput.clockSteps = random.clockSteps
  if (random.clockDrifts.ratePerSecond > 0) randomInput.clockDrifts = random.clockDrifts
  if (Object.keys(randomInput).length > 0) randomInput.maxDown = random.maxDown
  const faults: Record<string, unknown> = {}
  if (scenario.scheduled.length > 0) faults.scheduled = scenario.scheduled.map(faultInput)
  if (Object.keys(randomInput).length > 0) faults.random = randomInput
  return {
    name: scenario.name,
    ...(scenario.description === "" ? {} : { description: scenario.description }),
    protocol: scenario.protocol,
    nodes: scenario.nodes,
    seed: scenario.seed,
    duration: scenario.durationMs,
    liveness: scenario.livenessMs,
    ...(Object.keys(scenario.options).length === 0 ? {} : { options: scenario.options }),
    ...(Object.keys(scenario.workload).length === 0 ? {} : { workload: scenario.workload }),
    network: {
      ...linkInput(scenario.network.defaults),
      ...(scenario.network.links.length === 0
        ? {}
        : { links: scenario.network.links.map((link) => ({ from: link.from, to: link.to, ...linkInput(link) })) }),
      ...(scenario.network.liveness === undefined ? {} : { liveness: linkInput(scenario.network.liveness) })
    },
    disk: {
      ...(scenario.disk.syncLatency === undefined ? {} : { syncLatency: latencyInput(scenario.disk.syncLatency) }),
      writeErrorRate: scenario.disk.writeErrorRate
    },
    ...(Object.keys(faults).length === 0 ? {} : { faults }),
    ...checksInput(scenario)
  }
}

/** The scenario's `checks` as written: names, bounds, both in one list, or nothing when every check is judged unbounded. */
const checksInput = (scenario: Scenario): { checks?: unknown } => {
  const bounded = Object.keys(scenario.bounds).length > 0
  if (scenario.checks === undefined) return bounded ? { checks: { ...scenario.bounds } } : {}
  return { checks: bounded ? [...scenario.checks, { ...scenario.bounds }] : scenario.checks }
}

/** The scenario as YAML text, with a comment on top. */
export const scenarioToYaml = (scenario: Scenario, comment: string): string =>
  comment
    .split("\n")
    .map((line) => `# ${line}`.trimEnd())
    .join("\n") + "\n" + stringify(scenarioToInput(scenario), { flowCollectionPadding: false, lineWidth: 120 })
