// `npm run bench`: throughput figures, each reported against a baseline measured in the same run.
import { benchLinearizability } from "./linearizability.ts"
import { benchRaft } from "./raft.ts"
import { runBare, runSimulated, standardPattern } from "./simulator.ts"
import { benchSwarm } from "./swarm.ts"

const format = (value: number) => value.toLocaleString("en-US", { maximumFractionDigits: 0 })

/** Runs `measure` `repeats` times after two warm-ups and keeps the best (least disturbed) figure. */
const best = (repeats: number, measure: () => { events: number; wallMs: number }) => {
  measure()
  measure()
  let result = measure()
  for (let index = 1; index < repeats; index++) {
    const next = measure()
    if (next.wallMs < result.wallMs) result = next
  }
  return { ...result, perSecond: (result.events / result.wallMs) * 1000 }
}

const row = (label: string, value: string) => console.log(`  ${label.padEnd(46)} ${value}`)

const main = async () => {
  console.log("Faultline benchmarks (best of 5 after warm-ups; ratios are measured within this run; absolute figures vary on shared machines)\n")
  const pattern = standardPattern
  const simulated = best(5, () => runSimulated(pattern))
  const bare = best(5, () => runBare(pattern, false))
  const bareWire = best(5, () => runBare(pattern, true))
  if (simulated.events !== bare.events || bare.events !== bareWire.events) {
    throw new Error(`the loops ran different patterns: ${simulated.events} / ${bare.events} / ${bareWire.events} events`)
  }
  console.log(`1. simulator vs a bare event loop: ${pattern.nodes} nodes passing tokens, ${pattern.tickMs} ms ticks, ${format(simulated.events)} events`)
  row("simulator (Effect fibers, codec, trace hash)", `${format(simulated.perSecond)} events/s`)
  row("bare loop (heap + callbacks)", `${format(bare.perSecond)} events/s`)
  row("bare loop + JSON codec + trace hash", `${format(bareWire.perSecond)} events/s`)
  row("bare / simulator", `${(bare.perSecond / simulated.perSecond).toFixed(1)}x (target: within 8x)`)
  row("(bare + codec + trace) / simulator", `${(bareWire.perSecond / simulated.perSecond).toFixed(1)}x`)

  const raft = benchRaft(5)
  const raftEventsPerSecond = (raft.events / raft.wallMs) * 1000
  console.log(`\n2. the standard 5-node Raft scenario (bench/raft-standard.yaml), seeds 1-5, best of 3 rounds after a warm-up`)
  row("simulated seconds per wall second", `${format(raft.simulatedMs / raft.wallMs)}x (target: 1000x)`)
  row("events/s", `${format(raftEventsPerSecond)} (bare loop: ${(bare.perSecond / raftEventsPerSecond).toFixed(1)}x faster)`)
  row("seeds with a violation", `${raft.failures} (must be 0)`)

  const checker = await benchLinearizability()
  console.log(`\n3. linearizability checker`)
  row(`${checker.name}, ${format(checker.operations)} ops`, `${checker.milliseconds.toFixed(0)} ms (target: under 1000 ms)`)

  const swarm = await benchSwarm(24)
  console.log(`\n4. swarm on the standard Raft scenario (each seed draws its fault mix)`)
  row(`${swarm.workers} workers`, `${format(swarm.seedsPerMinute)} seeds/minute`)
  row("1 worker", `${format(swarm.singleSeedsPerMinute)} seeds/minute`)
  row(`speedup of ${swarm.workers} workers over 1`, `${(swarm.seedsPerMinute / swarm.singleSeedsPerMinute).toFixed(2)}x`)
}

await main()
