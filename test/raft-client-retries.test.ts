// Clients that retry faster than their writes commit (a network slower than the request timeout):
// a leader must not fill its log with copies of a write it already holds, and a client must take
// the answer to an earlier attempt of its operation, or no operation ever completes. Both showed
// as liveness failures of the correct Raft under swarm (slow networks with random placement).
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario, type RunResult } from "../src/sim/run.ts"
import { scenarioFromObject } from "../src/sim/scenario.ts"

/**
 * Three servers on a network of 40-60 ms each way, so a write commits some 100-200 ms after it
 * reaches the leader, while every attempt waits only 50 ms for its own answer: each operation is
 * retried several times before any answer can come back.
 */
const slowNetwork = (placement: string) =>
  scenarioFromObject({
    protocol: "raft",
    nodes: 3,
    duration: "4s",
    liveness: "2s",
    options: { preVote: true, tickMs: 50, electionTimeoutTicksMin: 10, electionTimeoutTicksMax: 20 },
    workload: { clients: 3, operationsPerClient: 20, thinkMs: 20, requestTimeoutMs: 50, operationTimeoutMs: 3000, placement, mix: "write-heavy" },
    network: { latency: { distribution: "uniform", minMs: 40, maxMs: 60 } }
  })

interface Applied {
  readonly node: string
  readonly term: number
  readonly clientId: string
  readonly sequence: number
}

/** Every entry of a client's write that some server applied, from the run's trace. */
const appliedWrites = (result: RunResult): Array<Applied> =>
  (result.traceLines ?? [])
    .map((line) => JSON.parse(line) as { e: string; node?: string; name?: string; attrs?: Record<string, unknown> })
    .filter((line) => line.e === "event" && line.name === "apply")
    .flatMap((line) => {
      const command = line.attrs!["command"] as { _tag: string; clientId?: string; sequence?: number }
      if (command._tag !== "Kv") return []
      return [{ node: line.node!, term: line.attrs!["term"] as number, clientId: command.clientId!, sequence: command.sequence! }]
    })

/** Completions of each type in the run's history. */
const completions = (result: RunResult) => {
  const counts = { ok: 0, fail: 0, info: 0 }
  for (const line of result.traceLines ?? []) {
    const parsed = JSON.parse(line) as { e: string; name?: string; attrs?: { type?: string } }
    const type = parsed.attrs?.type
    if (parsed.e === "event" && parsed.name === "history" && (type === "ok" || type === "fail" || type === "info")) counts[type]++
  }
  return counts
}

describe("retries slower than commits", () => {
  for (const placement of ["follow-leader", "random"]) {
    it(`a leader appends each write once per term however often a ${placement} client retries it`, () => {
      const result = runScenario(slowNetwork(placement), { seed: 7, keepTrace: true, protocols: builtinProtocols })
      expect(result.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual([])
      const applied = appliedWrites(result).filter((entry) => entry.node === "n1")
      expect(applied.length).toBeGreaterThan(20)
      const copies = new Map<string, number>()
      for (const entry of applied) {
        const key = `${entry.term}/${entry.clientId}/${entry.sequence}`
        copies.set(key, (copies.get(key) ?? 0) + 1)
      }
      const repeated = [...copies].filter(([, count]) => count > 1)
      expect(repeated).toEqual([])
    })

    it(`a ${placement} client takes the answer to an earlier attempt, so its operations complete`, () => {
      const result = runScenario(slowNetwork(placement), { seed: 7, keepTrace: true, protocols: builtinProtocols })
      const counts = completions(result)
      // No attempt can see its own answer within 50 ms on this network: every ok is an earlier attempt's.
      expect(counts.ok).toBeGreaterThan(40)
      expect(counts.info).toBeLessThan(counts.ok / 4)
    })
  }
})
