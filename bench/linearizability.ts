// Benchmark: the linearizability checker on a generated 10,000-operation history (8 clients, 10 keys),
// how long a violated key waits behind a hard one, and the peak memory of the checks.
// `npm run bench` calls benchLinearizability; `npx tsx bench/linearizability.ts` runs it alone and prints every figure.

import { pathToFileURL } from "node:url"
import { generateHistory, hardKeyEvents, staleReadEvents } from "../src/check/history-generator.ts"
import { type HistoryEvent, type Operation, operationsFromEvents } from "../src/check/history.ts"
import { checkLinearizability, checkLinearizabilityMeasured, type LinearizabilityResult } from "../src/check/linearizability.ts"
import { median } from "./median.ts"

/** Timed runs of the 10,000-operation check after one warm-up run; the median is reported. */
const timedRuns = 5
/** The hard-plus-violated and violated-alone checks take milliseconds: more runs, interleaved, after more warm-ups. */
const shortTimedRuns = 31
const shortWarmUpRuns = 10
/** The memory run checks a hard 2,000-operation history for this long, so that its memo grows to the budget. */
const memoryRunMs = 6000

/** What the checker benchmark measured. */
export interface LinearizabilityBench {
  readonly name: string
  readonly operations: number
  /** Median time of one check of the 10,000-operation history. */
  readonly milliseconds: number
  /** Median time of a check of a hard linearizable key plus a stale-read key, which must be rejected. */
  readonly hardPlusViolatedMs: number
  /** Median time of a check of the stale-read key alone. */
  readonly violatedAloneMs: number
  /** The highest resident set size sampled while the checks ran (the whole process), in bytes. */
  readonly peakRssBytes: number
  /** The resident set size just before the memory run, to tell its share of the peak from the rest of the process. */
  readonly rssBeforeMemoryRunBytes: number
  /** The most the searches of the memory run held at once, by their own count, and their budget. */
  readonly memoryRunPeakBytes: number
  readonly memoryBudgetBytes: number
}

const parse = (events: ReadonlyArray<HistoryEvent>): ReadonlyArray<Operation> => {
  const parsed = operationsFromEvents(events, "generated")
  if (parsed._tag === "ParseError") throw new Error(parsed.message)
  return parsed.operations
}

/** Samples the resident set size: every call of the clock the checker reads (once per 2,048 search steps) and between checks. */
class RssSampler {
  peakBytes = process.memoryUsage.rss()
  sample(): void {
    this.peakBytes = Math.max(this.peakBytes, process.memoryUsage.rss())
  }
  /** A clock for the checker that samples as it is read. */
  readonly now = (): number => {
    this.sample()
    return performance.now()
  }
}


/**
 * Times checks of each history in turn (interleaved, so that a slow spell of the shared machine hits
 * them alike), `timed` rounds after `warmUps`, and returns each one's median. Each verdict must be
 * `expectTag`, or the time means nothing. One more round reads the sampling clock, off the clock.
 */
const medianChecksMs = (
  histories: ReadonlyArray<ReadonlyArray<Operation>>,
  expectTag: LinearizabilityResult["_tag"],
  runs: { readonly warmUps: number; readonly timed: number },
  sampler: RssSampler
): number[] => {
  const runMilliseconds: number[][] = histories.map(() => [])
  for (let run = 0; run < runs.warmUps + runs.timed; run++) {
    for (const [position, operations] of histories.entries()) {
      const startMs = performance.now()
      const result = checkLinearizability(operations, { timeBudgetMs: 60_000 })
      const elapsedMs = performance.now() - startMs
      if (result._tag !== expectTag) throw new Error(`expected ${expectTag}, the checker said ${result._tag}; the time means nothing`)
      if (run >= runs.warmUps) runMilliseconds[position]!.push(elapsedMs)
      sampler.sample()
    }
  }
  for (const operations of histories) checkLinearizability(operations, { timeBudgetMs: 60_000, now: sampler.now })
  return runMilliseconds.map(median)
}

/** A hard linearizable key (25 clients, 300 operations, 30% info) and, on another key, a stale read. */
const hardAndStale = (): { readonly both: ReadonlyArray<Operation>; readonly stale: ReadonlyArray<Operation> } => {
  const rank = (event: Omit<HistoryEvent, "index">): number => (event.type === "invoke" ? 0 : 1)
  const merged = [...hardKeyEvents(), ...staleReadEvents].sort((left, right) => left.time - right.time || rank(left) - rank(right))
  return {
    both: parse(merged.map((event, index) => ({ index, ...event }))),
    stale: parse(staleReadEvents.map((event, index) => ({ index, ...event })))
  }
}

/** Checks a hard 2,000-operation history until time runs out, so that the memo fills its budget. */
const memoryRun = (sampler: RssSampler): { readonly peakBytes: number; readonly budgetBytes: number } => {
  const operations = parse(generateHistory({ seed: 1, operations: 2000, clients: 40, keys: 1, infoProbability: 0.3 }))
  const { result, statistics } = checkLinearizabilityMeasured(operations, { timeBudgetMs: memoryRunMs, now: sampler.now })
  if (result._tag === "NotLinearizable") throw new Error("the generated history is linearizable; the checker said it is not")
  return { peakBytes: statistics.memoryPeakBytes, budgetBytes: statistics.memoryBudgetBytes }
}

/**
 * Checks the generated 10,000-operation history (seed 1) and returns the median time of one check,
 * excluding generating and parsing, with the hard-plus-violated figures and the peak memory. Throws
 * if a check gives an unexpected verdict, since then the time means nothing.
 */
export async function benchLinearizability(): Promise<LinearizabilityBench> {
  const sampler = new RssSampler()
  const operations = parse(generateHistory({ seed: 1, operations: 10_000, clients: 8, keys: 10 }))
  const [milliseconds = Number.NaN] = medianChecksMs([operations], "Linearizable", { warmUps: 1, timed: timedRuns }, sampler)
  const { both, stale } = hardAndStale()
  const short = { warmUps: shortWarmUpRuns, timed: shortTimedRuns }
  const [hardPlusViolatedMs = Number.NaN, violatedAloneMs = Number.NaN] = medianChecksMs([both, stale], "NotLinearizable", short, sampler)
  const rssBeforeMemoryRunBytes = process.memoryUsage.rss()
  const memory = memoryRun(sampler)
  return {
    name: "linearizability check, 8 clients, 10 keys",
    operations: operations.length,
    milliseconds,
    hardPlusViolatedMs,
    violatedAloneMs,
    peakRssBytes: sampler.peakBytes,
    rssBeforeMemoryRunBytes,
    memoryRunPeakBytes: memory.peakBytes,
    memoryBudgetBytes: memory.budgetBytes
  }
}

/** Prints every figure, in the layout of bench/run.ts. */
export const printLinearizabilityBench = (bench: LinearizabilityBench): void => {
  const row = (label: string, value: string) => console.log(`  ${label.padEnd(46)} ${value}`)
  const mebibytes = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(0)} MiB`
  row(`${bench.name}, ${bench.operations.toLocaleString("en-US")} ops`, `${bench.milliseconds.toFixed(0)} ms (target: under 1000 ms)`)
  row("hard key + stale read, stale read alone", `${bench.hardPlusViolatedMs.toFixed(1)} ms, ${bench.violatedAloneMs.toFixed(1)} ms`)
  row("hard + stale / stale alone", `${(bench.hardPlusViolatedMs / bench.violatedAloneMs).toFixed(1)}x (the hard key alone: seconds)`)
  row(`memory run: searches' own peak (budget)`, `${mebibytes(bench.memoryRunPeakBytes)} (${mebibytes(bench.memoryBudgetBytes)})`)
  const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`
  row("peak RSS sampled during the checks", `${megabytes(bench.peakRssBytes)} (target: under 200 MB)`)
  row("RSS before the memory run", megabytes(bench.rssBeforeMemoryRunBytes))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log("3. linearizability checker")
  printLinearizabilityBench(await benchLinearizability())
}
