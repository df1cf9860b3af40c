// `npm run bench`: throughput figures, each reported against a baseline measured in the same run.
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { runIsolated } from "./isolated.ts"
import { benchQuorumStore, benchRing, QUORUM_SCENARIO } from "./quorum.ts"
import { benchCheckerScale } from "./quorum-checker.ts"
import { buildIfNeeded } from "../test/fixtures/build.ts"
import { printOtlpCost } from "./otlp.ts"
import type { RaftRound } from "./raft.ts"
import { exportCost } from "./real.ts"
import { runBare, runSimulated, standardPattern } from "./simulator.ts"
import { printScaleTable } from "./scale.ts"
import { benchStartup } from "./startup.ts"
import { benchSwarm } from "./swarm.ts"
import { machineLine } from "./machine.ts"

const format = (value: number) => value.toLocaleString("en-US", { maximumFractionDigits: 0 })

interface Measured {
  readonly events: number
  readonly wallMs: number
  readonly perSecond: number
}

/** Runs each measurement in turn, `repeats` rounds after two warm-up rounds, keeping each one's best. */
const bestInterleaved = (repeats: number, measures: ReadonlyArray<() => { events: number; wallMs: number }>): Array<Measured> => {
  for (let round = 0; round < 2; round++) for (const measure of measures) measure()
  const results = measures.map((measure) => measure())
  for (let round = 1; round < repeats; round++) {
    measures.forEach((measure, index) => {
      const next = measure()
      if (next.wallMs < results[index]!.wallMs) results[index] = next
    })
  }
  return results.map((result) => ({ ...result, perSecond: (result.events / result.wallMs) * 1000 }))
}

const row = (label: string, value: string) => console.log(`  ${label.padEnd(46)} ${value}`)

const main = async () => {
  console.log("Faultline benchmarks (best of 5 rounds after warm-ups, loops interleaved; ratios are measured within this run; absolute figures vary on shared machines)")
  console.log(`${machineLine()}\n`)
  const pattern = standardPattern
  // Interleaved, so that a slow spell of the shared machine hits every loop alike.
  const [simulated, bare, bareWire] = bestInterleaved(5, [
    () => runSimulated(pattern),
    () => runBare(pattern, false),
    () => runBare(pattern, true)
  ]) as [Measured, Measured, Measured]
  if (simulated.events !== bare.events || bare.events !== bareWire.events) {
    throw new Error(`the loops ran different patterns: ${simulated.events} / ${bare.events} / ${bareWire.events} events`)
  }
  console.log(`1. simulator vs a bare event loop: ${pattern.nodes} nodes passing tokens, ${pattern.tickMs} ms ticks, ${format(simulated.events)} events`)
  row("simulator (Effect fibers, codec, trace hash)", `${format(simulated.perSecond)} events/s`)
  row("bare loop (heap + callbacks)", `${format(bare.perSecond)} events/s`)
  row("bare loop + JSON codec + trace hash", `${format(bareWire.perSecond)} events/s`)
  row("bare / simulator", `${(bare.perSecond / simulated.perSecond).toFixed(1)}x (target: within 8x)`)
  row("(bare + codec + trace) / simulator", `${(bareWire.perSecond / simulated.perSecond).toFixed(1)}x`)

  const rounds = await runIsolated<Array<RaftRound>>(new URL("./raft.ts", import.meta.url), "benchRaft", [5, 9])
  const raft = rounds[0]!
  const median = rounds[Math.floor(rounds.length / 2)]!
  const raftEventsPerSecond = (raft.events / raft.wallMs) * 1000
  console.log(`\n2. the standard 5-node Raft scenario (bench/raft-standard.yaml), seeds 1-5, best of ${rounds.length} rounds after warm-ups, in a fresh worker thread`)
  row("simulated seconds per wall second", `${format(raft.simulatedMs / raft.wallMs)}x (target: 1000x); median round ${format(median.simulatedMs / median.wallMs)}x`)
  row("events/s", `${format(raftEventsPerSecond)} (bare loop: ${(bare.perSecond / raftEventsPerSecond).toFixed(1)}x faster)`)
  row("seeds with a violation", `${rounds.reduce((total, round) => total + round.failures, 0)} in all rounds (must be 0)`)

  // In a fresh process, so that its peak RSS is the checker's own and not the benchmarks' before it.
  console.log("")
  const checker = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./linearizability.ts", import.meta.url))], { encoding: "utf8" })
  if (checker.status !== 0) throw new Error(`bench/linearizability.ts failed: ${checker.stderr}`)
  process.stdout.write(checker.stdout.replace("3. linearizability checker", "3. linearizability checker (in a fresh process)"))

  const swarm = await benchSwarm(24)
  console.log(`\n4. swarm on the standard Raft scenario (each seed draws its fault mix)`)
  row(`${swarm.workers} workers`, `${format(swarm.seedsPerMinute)} seeds/minute`)
  row("1 worker", `${format(swarm.singleSeedsPerMinute)} seeds/minute`)
  row(`speedup of ${swarm.workers} workers over 1`, `${(swarm.seedsPerMinute / swarm.singleSeedsPerMinute).toFixed(2)}x`)

  console.log("")
  process.stdout.write("5. ")
  benchStartup()

  console.log("")
  process.stdout.write("6. ")
  printScaleTable()

  const ring = benchRing()
  console.log(`\n7. ring lookups: ${ring.nodes} nodes x 256 virtual nodes (${format(ring.tokens)} tokens), pre-hashed keys`)
  row("coordinator (preference list of 1)", `${format(ring.coordinatorPerSecond)} lookups/s`)
  row("preference list of 3 distinct nodes", `${format(ring.preferenceListPerSecond)} lookups/s`)
  row("plain sorted-array binary search", `${format(ring.binarySearchPerSecond)} lookups/s`)
  row("binary search / coordinator lookup", `${(ring.binarySearchPerSecond / ring.coordinatorPerSecond).toFixed(1)}x`)

  const quorum = benchQuorumStore()
  console.log(`\n8. the quorum store on ${QUORUM_SCENARIO} (N=3, R=2, W=2, partitions), seeds 1-${quorum.seeds}`)
  row("acknowledged client operations per simulated s", format((quorum.acknowledged / quorum.simulatedMs) * 1000))
  row("acknowledged client operations per wall s", format((quorum.acknowledged / quorum.wallMs) * 1000))
  row("simulated seconds per wall second", `${(quorum.simulatedMs / quorum.wallMs).toFixed(1)}x`)
  row("seeds with a violation", `${quorum.failures} (must be 0)`)
  const checkerRows = benchCheckerScale()
  for (const checked of checkerRows) {
    row(`its checker on ${format(checked.operations)} operations, 10 keys`, `${format(checked.finishCpuMs)} ms CPU to judge${checked.violations === 0 ? "" : `; ${checked.violations} VIOLATIONS (a bug: the history is correct)`}`)
  }
  const growth = checkerRows.at(-1)!.finishCpuMs / checkerRows.at(-2)!.finishCpuMs
  row("  its time at 4x the operations", `${growth.toFixed(1)}x (4.0 is linear, 16 quadratic)`)
  console.log("")
  process.stdout.write("9. ")
  await printOtlpCost()

  // The real cluster runs the compiled command, so dist/ must hold the sources measured above.
  buildIfNeeded()
  process.stdout.write("\n10. real cluster, 16 clients (all levels: npm run bench:real)")
  await exportCost([16])
}

await main()
