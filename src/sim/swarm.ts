// Running one seed of a swarm, and grouping failures by signature.
import { ascending, percentile } from "../check/metrics.ts"
import type { KnobValues, ProtocolDefinition } from "../definition/protocol.ts"
import { runScenario } from "./run.ts"
import type { Scenario } from "./scenario.ts"
import { describeDraw, describeDrawnKnobs, describeDrawnWorkload, swarmScenario } from "./swarm-faults.ts"

/** What a worker reports for one seed; small, because it crosses a thread boundary. */
export interface SeedOutcome {
  readonly seed: number
  readonly ok: boolean
  readonly traceHash: string
  readonly wallMs: number
  readonly simulatedMs: number
  readonly events: number
  /** The violation that happened first, if any. */
  readonly firstViolation: { readonly check: string; readonly message: string; readonly timeUs: number } | undefined
  readonly signature: string | undefined
  /** The fault mix and network this seed drew, in swarm mode. */
  readonly draw: string | undefined
  /** The knobs this seed drew, in swarm mode: as text, and as values for a report to carry. */
  readonly knobsText: string | undefined
  readonly knobs: KnobValues | undefined
  /** What the run measured, by metric name (see Metric). */
  readonly metrics: Readonly<Record<string, number>>
  /** The workload shape this seed drew, in swarm mode: as text, and as values for a report to carry. */
  readonly workloadText: string | undefined
  readonly workload: KnobValues | undefined
}

/**
 * A failure's signature: its check and its message with the particulars (node names, numbers)
 * blurred, so that the same bug on other nodes, keys or indices lands in the same group.
 */
export const failureSignature = (check: string, message: string): string =>
  `${check}: ${message
    .replace(/\b[nc]\d+\b/g, (name) => `${name[0]}_`)
    .replace(/\d+(\.\d+)?/g, "#")
    .slice(0, 160)}`

/** Runs one seed, in swarm mode or as written. */
export const runSeed = (
  scenario: Scenario,
  seed: number,
  options: { readonly swarm: boolean; readonly protocols: ReadonlyMap<string, ProtocolDefinition> }
): SeedOutcome => {
  const drawn = options.swarm ? swarmScenario(scenario, seed, options.protocols) : undefined
  // Full runs, not stopped at the first violation, so the recorded trace hash is what a replay gives.
  const result = runScenario(drawn?.scenario ?? scenario, { seed, protocols: options.protocols })
  let firstViolation: SeedOutcome["firstViolation"]
  for (const check of result.checks) {
    for (const violation of check.violations) {
      if (firstViolation === undefined || violation.timeUs < firstViolation.timeUs) {
        firstViolation = { check: check.name, message: violation.message, timeUs: violation.timeUs }
      }
    }
  }
  return {
    seed,
    ok: result.ok,
    traceHash: result.traceHash,
    wallMs: result.wallMs,
    simulatedMs: result.simulatedMs,
    events: result.events,
    firstViolation,
    signature: firstViolation === undefined ? undefined : failureSignature(firstViolation.check, firstViolation.message),
    draw: drawn === undefined ? undefined : describeDraw(drawn.draw),
    knobsText: drawn === undefined ? undefined : describeDrawnKnobs(drawn.draw),
    knobs: drawn?.draw.knobs,
    metrics: Object.fromEntries(result.metrics.map((metric) => [metric.name, metric.value])),
    workloadText: drawn === undefined ? undefined : describeDrawnWorkload(drawn.draw),
    workload: drawn?.draw.workload
  }
}

/** Failures that share a signature; `fastest` failed earliest in simulated time. */
export interface FailureGroup {
  readonly signature: string
  readonly count: number
  readonly fastest: SeedOutcome
}

/** Groups failed seeds by signature, most frequent first, keeping the seed that failed fastest. */
export const groupFailures = (outcomes: ReadonlyArray<SeedOutcome>): Array<FailureGroup> => {
  const groups = new Map<string, { count: number; fastest: SeedOutcome }>()
  for (const outcome of outcomes) {
    if (outcome.ok || outcome.signature === undefined) continue
    const group = groups.get(outcome.signature)
    const time = (candidate: SeedOutcome) => candidate.firstViolation?.timeUs ?? Number.POSITIVE_INFINITY
    if (group === undefined) groups.set(outcome.signature, { count: 1, fastest: outcome })
    else {
      group.count++
      if (time(outcome) < time(group.fastest) || (time(outcome) === time(group.fastest) && outcome.seed < group.fastest.seed)) {
        group.fastest = outcome
      }
    }
  }
  return [...groups]
    .map(([signature, group]) => ({ signature, ...group }))
    .sort((left, right) => right.count - left.count || left.fastest.seed - right.fastest.seed)
}

/** One metric across the seeds of a swarm: its median, 90th percentile and maximum over the seeds that measured it. */
export interface MetricDistribution {
  readonly name: string
  readonly seeds: number
  readonly p50: number
  readonly p90: number
  readonly max: number
}

/** Each metric's distribution over `outcomes`, in the order the metrics were first seen. */
export const metricDistributions = (outcomes: ReadonlyArray<SeedOutcome>): Array<MetricDistribution> => {
  const values = new Map<string, Array<number>>()
  for (const outcome of outcomes) {
    for (const [name, value] of Object.entries(outcome.metrics)) {
      const list = values.get(name)
      if (list === undefined) values.set(name, [value])
      else list.push(value)
    }
  }
  return [...values].map(([name, list]) => {
    const sorted = ascending(list)
    return { name, seeds: sorted.length, p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), max: percentile(sorted, 1) }
  })
}
