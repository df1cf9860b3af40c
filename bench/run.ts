// `npm run bench`: throughput figures, each reported against a baseline measured in the same run.
import { runBare, runSimulated, standardPattern } from "./simulator.ts"

const format = (value: number) => value.toLocaleString("en-US", { maximumFractionDigits: 0 })

/** Runs `measure` `repeats` times after a warm-up and keeps the best (least disturbed) figure. */
const best = (repeats: number, measure: () => { events: number; wallMs: number }) => {
  measure()
  let result = measure()
  for (let index = 1; index < repeats; index++) {
    const next = measure()
    if (next.wallMs < result.wallMs) result = next
  }
  return { ...result, perSecond: (result.events / result.wallMs) * 1000 }
}

const main = () => {
  console.log("Faultline benchmarks (best of 3 after a warm-up; ratios are within this run)\n")
  const pattern = standardPattern
  const simulated = best(3, () => runSimulated(pattern))
  const bare = best(3, () => runBare(pattern, false))
  const bareWire = best(3, () => runBare(pattern, true))
  if (simulated.events !== bare.events || bare.events !== bareWire.events) {
    throw new Error(`the loops ran different patterns: ${simulated.events} / ${bare.events} / ${bareWire.events} events`)
  }
  console.log(`simulator vs bare event loop: ${pattern.nodes} nodes, token passing + ${pattern.tickMs} ms ticks, ${format(simulated.events)} events`)
  console.log(`  simulator (Effect fibers, codec, trace hash)  ${format(simulated.perSecond).padStart(11)} events/s`)
  console.log(`  bare loop (heap + callbacks)                  ${format(bare.perSecond).padStart(11)} events/s`)
  console.log(`  bare loop + JSON codec + trace hash           ${format(bareWire.perSecond).padStart(11)} events/s`)
  console.log(`  ratio bare / simulator                        ${(bare.perSecond / simulated.perSecond).toFixed(1).padStart(11)}x (target: within 8x)`)
  console.log(`  ratio (bare + codec + trace) / simulator      ${(bareWire.perSecond / simulated.perSecond).toFixed(1).padStart(11)}x`)
  console.log(`  simulated time per wall second                ${format(pattern.simulatedMs / simulated.wallMs).padStart(11)}x`)
}

main()
