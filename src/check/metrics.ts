// Measurements of a run (how contested elections were, how long leadership was lost, how long clients waited), and the bounds a scenario may put on them.
import type { Violation } from "./checker.ts"

/**
 * One figure a run measured, in simulated time, from observed events. `name` carries its unit
 * and statistic (`leader-recovery-ms-max`), so a bound on it reads as a sentence: a scenario's
 * `checks: { leader-recovery-ms-max: 3000 }` says the figure must not exceed 3000.
 */
export interface Metric {
  readonly name: string
  readonly value: number
  /** What the figure came from, for a violated bound's message (the worst sample, say). */
  readonly detail?: string | undefined
}

/**
 * The value at fraction `fraction` (0.5 for the median, 0.99, 1 for the maximum) of ascending
 * `sorted`, by the nearest-rank method: always one of the samples, never an interpolation.
 */
export const percentile = (sorted: ReadonlyArray<number>, fraction: number): number => {
  if (sorted.length === 0) throw new Error("percentile of no samples")
  const rank = Math.max(1, Math.ceil(fraction * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]!
}

/** Ascending copy of `values`. */
export const ascending = (values: ReadonlyArray<number>): Array<number> => [...values].sort((left, right) => left - right)

/**
 * A metric's value as people read it: ∞ as such, from 100 up a whole number with separators
 * (a millisecond either way means nothing there), below that to two decimals at most.
 */
export const formatMetricValue = (value: number): string => {
  if (value === Number.POSITIVE_INFINITY) return "∞"
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US")
  return String(Math.round(value * 100) / 100)
}

/**
 * The violations of `bounds` (metric name to its largest allowed value) by `metrics`, each a
 * failed check named after the metric. A metric the run has no sample of (no leader was lost,
 * say) meets any bound.
 */
export const boundViolations = (
  metrics: ReadonlyArray<Metric>,
  bounds: Readonly<Record<string, number>>,
  timeUs: number
): Array<Violation> => {
  const violations: Array<Violation> = []
  for (const [name, bound] of Object.entries(bounds)) {
    const metric = metrics.find((candidate) => candidate.name === name)
    if (metric === undefined || metric.value <= bound) continue
    const detail = metric.detail === undefined ? "" : ` (${metric.detail})`
    violations.push({ check: name, message: `${name} was ${formatMetricValue(metric.value)}, above the bound ${formatMetricValue(bound)}${detail}`, timeUs })
  }
  return violations
}
