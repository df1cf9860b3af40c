// The standard 5-node Raft scenario: simulated seconds per wall-clock second, and events per second.
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"

export const RAFT_STANDARD = "bench/raft-standard.yaml"

/** One round: seeds 1..`seeds` of the standard scenario, in simulated and wall-clock milliseconds. */
export interface RaftRound {
  readonly simulatedMs: number
  readonly wallMs: number
  readonly events: number
  readonly failures: number
}

/**
 * Runs seeds 1..`seeds` of the standard scenario `rounds` times, after six warm-up runs (the JIT
 * is still compiling through the first few), and returns the rounds from fastest to slowest. The
 * fastest is the one least disturbed by other work on a shared machine; the median says how
 * typical that is.
 */
export const benchRaft = (seeds = 5, rounds = 9): Array<RaftRound> => {
  const scenario = loadScenario(RAFT_STANDARD)
  for (let seed = 1001; seed <= 1006; seed++) runScenario(scenario, { seed, protocols: builtinProtocols })
  const results: Array<RaftRound> = []
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
    results.push({ simulatedMs, wallMs: performance.now() - started, events, failures })
  }
  return results.sort((left, right) => left.wallMs - right.wallMs)
}
