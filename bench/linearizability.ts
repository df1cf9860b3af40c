// Benchmark: the linearizability checker on a generated 10,000-operation history (8 clients, 10 keys).

import { generateHistory } from "../src/check/history-generator.ts"
import { operationsFromEvents } from "../src/check/history.ts"
import { checkLinearizability } from "../src/check/linearizability.ts"

/** Timed runs after one warm-up run; the median is reported. */
const timedRuns = 5

/**
 * Checks the generated history (seed 1) and returns the median time of one check, excluding
 * generating and parsing. Throws if the history is not found linearizable, since then the time means nothing.
 */
export async function benchLinearizability(): Promise<{ name: string; operations: number; milliseconds: number }> {
  const events = generateHistory({ seed: 1, operations: 10_000, clients: 8, keys: 10 })
  const parsed = operationsFromEvents(events, "generated")
  if (parsed._tag === "ParseError") throw new Error(parsed.message)
  const runMilliseconds: number[] = []
  for (let run = 0; run <= timedRuns; run++) {
    const startMs = performance.now()
    const result = checkLinearizability(parsed.operations, { timeBudgetMs: 60_000 })
    const elapsedMs = performance.now() - startMs
    if (result._tag !== "Linearizable") throw new Error(`the generated history should be linearizable, the checker said ${result._tag}`)
    if (run > 0) runMilliseconds.push(elapsedMs)
  }
  runMilliseconds.sort((left, right) => left - right)
  return {
    name: "linearizability check, 8 clients, 10 keys",
    operations: parsed.operations.length,
    milliseconds: runMilliseconds[Math.floor(runMilliseconds.length / 2)] ?? Number.NaN
  }
}
