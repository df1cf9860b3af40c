// The determinism audit: run a seed twice and name the first event where the two traces differ.
import { runScenario, type RunOptions, type RunResult } from "./run.ts"
import type { Scenario } from "./scenario.ts"

/** The outcome of the audit. `divergence` is set when the two runs differ. */
export interface DeterminismReport {
  readonly first: RunResult
  readonly second: RunResult
  readonly divergence:
    | { readonly index: number; readonly firstLine: string | undefined; readonly secondLine: string | undefined }
    | undefined
}

/** Runs `scenario` twice with the same seed, keeping both traces, and compares them line by line. */
export const checkDeterminism = (scenario: Scenario, options: RunOptions): DeterminismReport => {
  const first = runScenario(scenario, { ...options, keepTrace: true })
  const second = runScenario(scenario, { ...options, keepTrace: true, onProgress: undefined, exportSpans: false })
  const firstLines = first.traceLines ?? []
  const secondLines = second.traceLines ?? []
  const length = Math.max(firstLines.length, secondLines.length)
  for (let index = 0; index < length; index++) {
    if (firstLines[index] !== secondLines[index]) {
      return { first, second, divergence: { index, firstLine: firstLines[index], secondLine: secondLines[index] } }
    }
  }
  if (first.traceHash !== second.traceHash) {
    // Equal lines must give equal hashes; anything else is a bug in the recorder itself.
    throw new Error("determinism audit: equal traces with different hashes")
  }
  return { first, second, divergence: undefined }
}
