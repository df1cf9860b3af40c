// The standard 5-node Raft scenario: simulated seconds per wall-clock second, and events per second.
import { builtinProtocols } from "../src/sim/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"

export const RAFT_STANDARD = "bench/raft-standard.yaml"

/**
 * Runs seeds 1..`seeds` of the standard scenario `rounds` times after three warm-up runs (the JIT
 * needs them), and keeps the fastest round, the one least disturbed by other work on the machine.
 */
export const benchRaft = (seeds = 5, rounds = 3): { simulatedMs: number; wallMs: number; events: number; failures: number } => {
  const scenario = loadScenario(RAFT_STANDARD)
  for (let seed = 1001; seed <= 1003; seed++) runScenario(scenario, { seed, protocols: builtinProtocols })
  let best: { simulatedMs: number; wallMs: number; events: number; failures: number } | undefined
  for (let round = 0; round < rounds; round++) {
    let simulatedMs = 0
    let events = 0
    let failures = 0
    const started = performance.now()
    for (let seed = 1; seed <= seeds; seed++) {
      const result = runScenario(scenario, { seed, protocols: builtinProtocols })
      simulatedMs += result.simulatedMs
      events += result.events
      if (!result.ok) failures++
    }
    const wallMs = performance.now() - started
    if (best === undefined || wallMs < best.wallMs) best = { simulatedMs, wallMs, events, failures }
  }
  return best!
}
