// Property tests over simulations: fast-check searches and shrinks, and a failure says how to replay it.
import fc from "fast-check"
import type { SimulationResult } from "./simulate.ts"

/** A property that passed every run. */
export interface PropertyPassed {
  readonly _tag: "Passed"
  readonly numRuns: number
  /** fast-check's seed. */
  readonly seed: number
}

/** A property that failed, with its shrunk counterexample and how to replay it. */
export interface PropertyFailed<T> {
  readonly _tag: "Failed"
  readonly numRuns: number
  readonly numShrinks: number
  /** fast-check's seed: with `path`, `{ seed, path }` replays exactly the shrunk counterexample. */
  readonly seed: number
  readonly path: string
  /** The smallest input fast-check found that still fails. */
  readonly counterexample: T
  /** The simulation of the counterexample, run again; undefined when the run threw instead. */
  readonly result: SimulationResult | undefined
  /** What the run threw, when it threw (a bad option, a failed expectation). */
  readonly error: unknown
  /** The report that {@link assertProperty} throws: seed, violations, counterexample, replay. */
  readonly message: string
}

/** The outcome of {@link checkProperty}. */
export type PropertyReport<T> = PropertyPassed | PropertyFailed<T>

/** The error {@link assertProperty} throws; `report` holds the details. */
export class SimulationPropertyError<T> extends Error {
  override readonly name = "SimulationPropertyError"
  constructor(readonly report: PropertyFailed<T>) {
    super(report.message)
  }
}

/**
 * Runs `run` on values drawn from `arbitrary` (typically a seed, a fault schedule and a workload)
 * until a simulation is not ok, then lets fast-check shrink the value to a minimal one that still
 * fails. Like `fc.check`, it never throws for a failure: it returns the report. `parameters` are
 * fast-check's (`numRuns`, `seed`, `path`, …).
 */
export const checkProperty = <T>(
  arbitrary: fc.Arbitrary<T>,
  run: (value: T) => SimulationResult,
  parameters: fc.Parameters<[T]> = {}
): PropertyReport<T> => {
  const property = fc.property(arbitrary, (value) => run(value).ok)
  const details = fc.check(property, parameters)
  if (!details.failed) return { _tag: "Passed", numRuns: details.numRuns, seed: details.seed }
  const counterexample = details.counterexample?.[0] as T
  const path = details.counterexamplePath ?? ""
  // The run is deterministic, so running the counterexample again gives its result (and checks that).
  let result: SimulationResult | undefined
  let error: unknown = undefined
  try {
    result = run(counterexample)
  } catch (thrown) {
    error = thrown
  }
  const failed = { numRuns: details.numRuns, numShrinks: details.numShrinks, seed: details.seed, path }
  const replayed = error !== undefined || result?.ok === false
  return {
    _tag: "Failed",
    ...failed,
    counterexample,
    result,
    error,
    message: describeFailure({ ...failed, counterexample, result, error }, replayed ? undefined : details.errorInstance)
  }
}

/**
 * Like {@link checkProperty}, but throws a {@link SimulationPropertyError} when the property fails,
 * as `fc.assert` does, so a test fails with the simulation's seed, the violated checks, the shrunk
 * counterexample and the fast-check seed and path that replay it.
 */
export const assertProperty = <T>(
  arbitrary: fc.Arbitrary<T>,
  run: (value: T) => SimulationResult,
  parameters: fc.Parameters<[T]> = {}
): void => {
  const report = checkProperty(arbitrary, run, parameters)
  if (report._tag === "Failed") throw new SimulationPropertyError(report)
}

/** At most this much of the counterexample is printed; a shrunk one is far shorter. */
const COUNTEREXAMPLE_CHARACTERS_MAX = 4000

/**
 * The failure as a person reads it. `unreplayed` is what fast-check saw when the counterexample
 * failed during the search but passed when run again.
 */
const describeFailure = (failure: Omit<PropertyFailed<unknown>, "_tag" | "message">, unreplayed: unknown): string => {
  const { result, error } = failure
  const runs = failure.numRuns === 1 ? "1 run" : `${failure.numRuns} runs`
  const lines = [`simulation property failed after ${runs} (shrunk ${failure.numShrinks} times)`]
  if (result !== undefined) lines.push(`  simulation seed  ${result.seed}`)
  for (const violation of result?.violations ?? []) {
    lines.push(`  violated         ${violation.check} at ${(violation.timeUs / 1_000_000).toFixed(3)} s: ${violation.message}`)
  }
  if (error !== undefined) lines.push(`  threw            ${firstLine(error)}`)
  if (unreplayed !== undefined) {
    // Something outside the seed leaked into the run (Math.random, Date, shared state between runs).
    lines.push(`  not replayed     failed during the search (${firstLine(unreplayed)}) but passed when run again: the run is not deterministic`)
  }
  let shown = fc.stringify(failure.counterexample)
  if (shown.length > COUNTEREXAMPLE_CHARACTERS_MAX) shown = `${shown.slice(0, COUNTEREXAMPLE_CHARACTERS_MAX)}…`
  lines.push(`  counterexample   ${shown}`)
  lines.push(`  fast-check       seed ${failure.seed}, path "${failure.path}"`)
  lines.push(`  replay           pass { seed: ${failure.seed}, path: "${failure.path}", endOnFailure: true } as the fast-check parameters`)
  return lines.join("\n")
}

const firstLine = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  return text.split("\n")[0] ?? text
}
