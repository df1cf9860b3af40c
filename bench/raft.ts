// The standard 5-node Raft scenario: simulated seconds per wall-clock second, and events per second.
import { builtinProtocols } from "../src/sim/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"

export const RAFT_STANDARD = "bench/raft-standard.yaml"

/** Runs the standard scenario for `seeds` seeds after a warm-up; returns totals. */
export const benchRaft = (seeds = 5): { simulatedMs: number; wallMs: number; events: number; failures: number } => {
  const scenario = loadScenario(RAFT_STANDARD)
  runScenario(scenario, { seed: 1000, protocols: builtinProtocols })
  let simulatedMs = 0
  let wallMs = 0
  let events = 0
  let failures = 0
  for (let seed = 1; seed <= seeds; seed++) {
    const result = runScenario(scenario, { seed, protocols: builtinProtocols })
    simulatedMs += result.simulatedMs
    wallMs += result.wallMs
    events += result.events
    if (!result.ok) failures++
  }
  return { simulatedMs, wallMs, events, failures }
}
