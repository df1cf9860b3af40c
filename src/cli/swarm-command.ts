// `faultline swarm`: many seeds in parallel worker threads, a live progress bar, failures grouped by signature.
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import cliProgress from "cli-progress"
import { unknownProtocol } from "../definition/input.ts"
import { loadScenario, ScenarioError } from "../sim/scenario.ts"
import { buildProtocol } from "../sim/run.ts"
import { formatMetricValue } from "../check/metrics.ts"
import { type FailureGroup, groupFailures, metricDistributions, type SeedOutcome } from "../sim/swarm.ts"
import { parseDurationFlag, parseInteger, UsageError } from "./errors.ts"
import { loadProtocols } from "./protocols.ts"
import { type ReplayOptions, replayFlags, replaySource, withProtocol } from "./summary.ts"
import type { WorkerSetup } from "./swarm-worker.ts"

/** Flags of `faultline swarm`. */
export interface SwarmFlags {
  readonly seeds?: string
  readonly count?: string
  readonly workers?: string
  readonly timeLimit?: string
  readonly shard?: string
  readonly stopOnFirst?: boolean
  readonly json?: boolean
  readonly fixedFaults?: boolean
  readonly protocols?: string
  readonly protocol?: string
}

/** The most seeds one swarm plans: weeks of work at hundreds of seeds a minute, and a list that fits in memory. */
const MAX_SEEDS = 10_000_000

/** The seeds to run: a range, cut to this machine's shard. */
export const planSeeds = (flags: Pick<SwarmFlags, "seeds" | "count" | "shard">): Array<number> => {
  if (flags.seeds !== undefined && flags.count !== undefined) throw new UsageError("--seeds and --count: give one or the other")
  let first = 1
  let last = 100
  if (flags.seeds !== undefined) {
    const match = /^(-?\d+)\.\.(-?\d+)$/.exec(flags.seeds.trim())
    if (match === null) throw new UsageError(`--seeds: expected a range such as 1..2000, got "${flags.seeds}"`)
    first = Number(match[1])
    last = Number(match[2])
    for (const bound of [first, last]) if (!Number.isSafeInteger(bound)) throw new UsageError(`--seeds: ${flags.seeds} has a bound beyond ±${Number.MAX_SAFE_INTEGER}`)
    if (last < first) throw new UsageError(`--seeds: the range ${flags.seeds} is empty (its end is below its start)`)
  } else if (flags.count !== undefined) {
    last = parseInteger("--count", flags.count, { minimum: 1 })
  }
  let shardIndex = 1
  let shardCount = 1
  if (flags.shard !== undefined) {
    const match = /^(\d+)\/(\d+)$/.exec(flags.shard.trim())
    if (match === null) throw new UsageError(`--shard: expected I/N such as 2/8, got "${flags.shard}"`)
    shardIndex = Number(match[1])
    shardCount = Number(match[2])
    if (shardCount < 1 || shardIndex < 1 || shardIndex > shardCount) {
      throw new UsageError(`--shard: ${flags.shard} is not a shard (I must be from 1 to N)`)
    }
  }
  const start = first + shardIndex - 1
  if (start > last) throw new UsageError(`--shard: shard ${flags.shard} of ${first}..${last} has no seeds`)
  const count = Math.floor((last - start) / shardCount) + 1
  if (count > MAX_SEEDS) {
    throw new UsageError(`${flags.seeds === undefined ? "--count" : "--seeds"}: ${count.toLocaleString("en-US")} seeds in one swarm, above the maximum of ${MAX_SEEDS.toLocaleString("en-US")} (split the range with --shard)`)
  }
  const seeds: Array<number> = []
  for (let seed = start; seed <= last; seed += shardCount) seeds.push(seed)
  return seeds
}

interface SwarmReport {
  readonly outcomes: Array<SeedOutcome>
  readonly wallMs: number
  readonly stoppedEarly: string | undefined
}

/** Runs `seeds` on `workers` threads; `onOutcome` sees each result as it arrives. */
export const runSwarm = (options: {
  readonly file: string
  readonly seeds: ReadonlyArray<number>
  readonly workers: number
  readonly swarm: boolean
  readonly protocolsModule: string | undefined
  readonly protocol: string | undefined
  readonly timeLimitMs: number | undefined
  readonly stopOnFirst: boolean
  readonly onOutcome?: (outcome: SeedOutcome) => void
}): Promise<SwarmReport> =>
  new Promise((resolvePromise, rejectPromise) => {
    const started = performance.now()
    const outcomes: Array<SeedOutcome> = []
    let next = 0
    let stoppedEarly: string | undefined
    let running = 0
    const setup: WorkerSetup = { file: options.file, swarm: options.swarm, protocolsModule: options.protocolsModule, protocol: options.protocol }
    const threads = Math.min(options.workers, options.seeds.length)
    const workers: Array<Worker> = []
    const finish = () => {
      if (running > 0) return
      resolvePromise({ outcomes, wallMs: performance.now() - started, stoppedEarly })
    }
    const dispatch = (worker: Worker) => {
      const overTime = options.timeLimitMs !== undefined && performance.now() - started > options.timeLimitMs
      if (overTime && stoppedEarly === undefined) stoppedEarly = "time limit reached"
      if (next >= options.seeds.length || stoppedEarly !== undefined) {
        worker.postMessage(null)
        return
      }
      worker.postMessage(options.seeds.slice(next, next + 1))
      next += 1
    }
    for (let index = 0; index < threads; index++) {
      const worker = new Worker(new URL("./swarm-worker-entry.js", import.meta.url), { workerData: setup })
      running++
      workers.push(worker)
      worker.on("message", (message: SeedOutcome | "ready") => {
        if (message === "ready") return dispatch(worker)
        outcomes.push(message)
        options.onOutcome?.(message)
        if (!message.ok && options.stopOnFirst && stoppedEarly === undefined) stoppedEarly = "first failure (--stop-on-first)"
      })
      worker.on("error", (error) => {
        for (const other of workers) void other.terminate()
        rejectPromise(error)
      })
      worker.on("exit", () => {
        running--
        finish()
      })
    }
  })

const replayCommand = (file: string, outcome: SeedOutcome, replay: ReplayOptions) => `npx faultline run ${file} --seed ${outcome.seed}${replayFlags(replay)}`

const shrinkCommand = (file: string, outcome: SeedOutcome, replay: ReplayOptions) =>
  `npx faultline shrink ${file} --seed ${outcome.seed}${replayFlags(replay)} -o repro.yaml`

/** Runs the command; returns the exit code (0 no failure, 1 failures, 2 bad input). */
export const swarmCommand = async (file: string, flags: SwarmFlags): Promise<number> => {
  const loaded = loadScenario(file)
  const protocols = await loadProtocols(flags.protocols)
  const scenario = withProtocol(loaded, flags.protocol, protocols)
  const protocol = protocols.get(scenario.protocol)
  if (protocol === undefined) {
    throw new ScenarioError(`${file}: protocol: ${unknownProtocol(scenario.protocol, protocols.keys())}`)
  }
  // Validate the protocol's options here, so bad input is one line rather than a worker's crash.
  buildProtocol(protocol, scenario)
  const seeds = planSeeds(flags)
  // More threads than seeds or cores only adds start-up cost and contention, so the count is capped.
  const asked = flags.workers === undefined ? availableParallelism() : parseInteger("--workers", flags.workers, { minimum: 1 })
  const workers = Math.min(asked, seeds.length, availableParallelism())
  if (workers < asked && flags.workers !== undefined && flags.json !== true) {
    process.stderr.write(`  workers      ${workers} (capped from ${asked}: ${seeds.length} seeds, ${availableParallelism()} cores)\n`)
  }
  const timeLimitMs = flags.timeLimit === undefined ? undefined : parseDurationFlag("--time-limit", flags.timeLimit)
  const swarm = flags.fixedFaults !== true
  const progress = makeProgress(seeds.length, flags.json !== true)
  let failures = 0
  const report = await runSwarm({
    file,
    seeds,
    workers,
    swarm,
    protocolsModule: flags.protocols,
    protocol: flags.protocol,
    timeLimitMs,
    stopOnFirst: flags.stopOnFirst === true,
    onOutcome: (outcome) => {
      if (!outcome.ok) failures++
      progress.update(failures)
    }
  })
  progress.stop()
  const groups = groupFailures(report.outcomes)
  const seedsPerSecond = (report.outcomes.length / report.wallMs) * 1000
  if (flags.json === true) {
    const replay = { swarm, protocols: flags.protocols, protocol: flags.protocol }
    const source = replaySource(file, replay)
    process.stdout.write(
      JSON.stringify(
        {
          scenario: file,
          swarm,
          seedsPlanned: seeds.length,
          seedsRun: report.outcomes.length,
          failures,
          workers,
          wallMs: Math.round(report.wallMs),
          seedsPerSecond,
          stoppedEarly: report.stoppedEarly ?? null,
          // Infinity (elections but no leader) has no JSON form: it is written as null.
          metrics: Object.fromEntries(
            metricDistributions(report.outcomes).map(({ name, ...distribution }) => [
              name,
              Object.fromEntries(Object.entries(distribution).map(([key, value]) => [key, Number.isFinite(value) ? value : null]))
            ])
          ),
          groups: groups.map((group) => ({
            signature: group.signature,
            count: group.count,
            failure: {
              scenario: file,
              seed: group.fastest.seed,
              swarm,
              traceHash: group.fastest.traceHash,
              ...group.fastest.firstViolation,
              ...(group.fastest.knobs === undefined ? {} : { knobs: group.fastest.knobs }),
              ...(group.fastest.workload === undefined ? {} : { workload: group.fastest.workload }),
              ...source
            },
            draw: group.fastest.draw ?? null,
            knobs: group.fastest.knobsText ?? null,
            workload: group.fastest.workloadText ?? null,
            replay: replayCommand(file, group.fastest, replay)
          }))
        },
        null,
        2
      ) + "\n"
    )
  } else {
    const replay = { swarm, protocols: flags.protocols, protocol: flags.protocol }
    process.stdout.write(formatSwarmSummary({ file, swarm, seeds: seeds.length, report, groups, workers, seedsPerSecond, replay }) + "\n")
  }
  return failures > 0 ? 1 : 0
}

const formatSwarmSummary = (input: {
  file: string
  swarm: boolean
  seeds: number
  report: SwarmReport
  groups: Array<FailureGroup>
  workers: number
  seedsPerSecond: number
  replay: ReplayOptions
}): string => {
  const { report, groups } = input
  const failed = report.outcomes.filter((outcome) => !outcome.ok).length
  const simulatedSeconds = report.outcomes.reduce((sum, outcome) => sum + outcome.simulatedMs, 0) / 1000
  const lines = [
    `swarm ${input.file}${input.swarm ? " (each seed draws its own fault mix, network, knobs and workload shape)" : " (the scenario as written)"}`,
    `  seeds        ${report.outcomes.length} of ${input.seeds}${report.stoppedEarly === undefined ? "" : ` (stopped: ${report.stoppedEarly})`}`,
    `  workers      ${input.workers}`,
    `  wall         ${(report.wallMs / 1000).toFixed(1)} s, ${input.seedsPerSecond.toFixed(1)} seeds/s, ${simulatedSeconds.toFixed(0)} simulated s`,
    `  failures     ${failed} in ${groups.length} ${groups.length === 1 ? "group" : "groups"}`
  ]
  for (const [index, group] of groups.entries()) {
    const fastest = group.fastest
    lines.push(
      "",
      `  ${index + 1}. ${fastest.firstViolation!.check}: ${group.count} ${group.count === 1 ? "seed" : "seeds"}; fastest is seed ${fastest.seed}, at ${(fastest.firstViolation!.timeUs / 1e6).toFixed(3)} s`,
      `     ${fastest.firstViolation!.message}`,
      ...(fastest.draw === undefined ? [] : [`     drawn: ${fastest.draw}`]),
      ...(fastest.knobsText === undefined ? [] : [`     knobs: ${fastest.knobsText}`]),
      ...(fastest.workloadText === undefined ? [] : [`     workload: ${fastest.workloadText}`]),
      `     replay: ${replayCommand(input.file, fastest, input.replay)}`,
      `     shrink: ${shrinkCommand(input.file, fastest, input.replay)}`
    )
  }
  const distributions = metricDistributions(report.outcomes)
  if (distributions.length > 0) {
    lines.push("", "  metrics over seeds (p50 / p90 / max)")
    const width = Math.max(...distributions.map((distribution) => distribution.name.length))
    for (const { name, seeds, p50, p90, max } of distributions) {
      const partial = seeds < report.outcomes.length ? ` (${seeds} seeds measured it)` : ""
      lines.push(`    ${name.padEnd(width)}  ${[p50, p90, max].map(formatMetricValue).join(" / ")}${partial}`)
    }
  }
  // A swarm stopped before any seed finished judged nothing: that is not the same as no failures.
  if (report.outcomes.length === 0) lines.push("", "no seed finished, so nothing was judged (a longer --time-limit?)")
  else if (groups.length === 0) lines.push("", "no failures")
  return lines.join("\n")
}

/** A progress bar on a terminal; elsewhere a plain line at every tenth of the way. */
const makeProgress = (total: number, wanted: boolean) => {
  const started = performance.now()
  let done = 0
  if (!wanted) return { update: () => {}, stop: () => {} }
  if (process.stderr.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      {
        format: "  seeds [{bar}] {value}/{total} | {speed} seeds/s | {failures} failed | ETA {eta_formatted}",
        stream: process.stderr,
        hideCursor: true
      },
      cliProgress.Presets.shades_classic
    )
    bar.start(total, 0, { speed: "0.0", failures: 0 })
    return {
      update: (failures: number) => {
        done++
        bar.update(done, { speed: ((done / (performance.now() - started)) * 1000).toFixed(1), failures })
      },
      stop: () => bar.stop()
    }
  }
  let nextReport = Math.ceil(total / 10)
  return {
    update: (failures: number) => {
      done++
      if (done >= nextReport || done === total) {
        const speed = (done / (performance.now() - started)) * 1000
        const eta = speed > 0 ? (total - done) / speed : 0
        process.stderr.write(`  seeds ${done}/${total} | ${speed.toFixed(1)} seeds/s | ${failures} failed | ETA ${eta.toFixed(0)} s\n`)
        nextReport += Math.ceil(total / 10)
      }
    },
    stop: () => {}
  }
}
