// Shrinking never manufactures a failure: every planted bug's repro fails the bug's check on the
// buggy protocol and passes on the correct one, and a liveness failure keeps its liveness phase.
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario, type RunResult } from "../src/sim/run.ts"
import { loadScenario, type Scenario } from "../src/sim/scenario.ts"
import { failsTheSameWay, reasonOf, shrinkFailure } from "../src/sim/shrink.ts"
import { swarmScenario } from "../src/sim/swarm-faults.ts"
import { protocols as broadcastBugs } from "./fixtures/broadcast-bugs.ts"
import { protocols as raftBugs } from "./fixtures/raft-bugs.ts"
import { smallBroadcastScenario } from "./fixtures/scenarios.ts"

const protocols = new Map([...builtinProtocols, ...[...raftBugs, ...broadcastBugs].map((protocol) => [protocol.name, protocol] as const)])

/** A planted bug, the scenario that shows it, the check it breaks, and the correct protocol it varies. */
interface PlantedBug {
  readonly scenario: string
  readonly check: string
  readonly correct: string
  /** Whether the seed draws its fault mix (swarm mode), as the failure was found. */
  readonly swarm: boolean
}

const plantedBugs: ReadonlyArray<PlantedBug> = [
  { scenario: "test/fixtures/raft-bug-commit-old-term.yaml", check: "node-failed", correct: "raft", swarm: false },
  { scenario: "test/fixtures/raft-bug-vote-not-persisted.yaml", check: "election-safety", correct: "raft", swarm: false },
  { scenario: "test/fixtures/raft-bug-truncate-on-stale-append.yaml", check: "node-failed", correct: "raft", swarm: false },
  { scenario: "test/fixtures/broadcast-fifo-only.yaml", check: "causal-order", correct: "causal-broadcast", swarm: true }
]

const violated = (result: RunResult) => result.checks.filter((check) => !check.ok).map((check) => check.name)

/** The first seed in 1..60 on which the scenario fails `check`. */
const failingSeed = (bug: PlantedBug): { scenario: Scenario; seed: number } => {
  const loaded = loadScenario(bug.scenario)
  for (let seed = 1; seed <= 60; seed++) {
    const scenario = bug.swarm ? swarmScenario(loaded, seed, protocols).scenario : loaded
    if (violated(runScenario(scenario, { seed, protocols })).includes(bug.check)) return { scenario, seed }
  }
  throw new Error(`${bug.scenario}: no seed in 1..60 fails ${bug.check}`)
}

describe("shrinking is honest", () => {
  for (const bug of plantedBugs) {
    it(`${bug.scenario}: the repro fails ${bug.check} on the buggy protocol and passes on ${bug.correct}`, () => {
      // Set up: a failing seed of the planted bug.
      const { scenario, seed } = failingSeed(bug)

      // Act: shrink it, then run the repro as written on the buggy and on the correct protocol.
      const result = shrinkFailure(scenario, seed, { protocols, maxRuns: 150 })
      const onBuggy = runScenario(result.shrunk, { seed, protocols })
      const onCorrect = runScenario({ ...result.shrunk, protocol: bug.correct }, { seed, protocols })

      // Check: the same check fails for the same reason, nothing new fails, and the fix passes.
      expect(result.check).toBe(bug.check)
      expect(violated(onBuggy)).toContain(bug.check)
      expect(failsTheSameWay(result.originalResult, bug.check, onBuggy)).toBe(true)
      for (const name of violated(onBuggy)) expect(violated(result.originalResult)).toContain(name)
      const failures = onCorrect.checks.filter((check) => !check.ok).map((check) => `${check.name}: ${check.violations[0]?.message}`)
      expect(failures).toEqual([])
    })
  }

  it("a liveness failure keeps its whole liveness phase, and its repro passes once anti-entropy is back", () => {
    // Set up: a broadcast that never repairs losses (anti-entropy far too rare to run), on a lossy network.
    const broken = smallBroadcastScenario({ options: { syncIntervalMs: 1_000_000 }, network: { lossRate: 0.2 } })
    const seed = [1, 2, 3, 4, 5].find((candidate) => violated(runScenario(broken, { seed: candidate, protocols })).includes("eventual-delivery"))
    expect(seed, "a seed that loses a message for good").toBeDefined()

    // Act: shrink it.
    const result = shrinkFailure(broken, seed!, { protocols, maxRuns: 120 })

    // Check: the phase the check needs was never cut, and with anti-entropy the repro passes.
    expect(result.check).toBe("eventual-delivery")
    expect(result.shrunk.livenessMs).toBe(broken.livenessMs)
    const repaired = runScenario({ ...result.shrunk, options: {} }, { seed: seed!, protocols })
    expect(repaired.ok, violated(repaired).join(", ")).toBe(true)
  })

  it("a candidate that fails a check the original did not is not the same failure", () => {
    // Set up: a run that fails only causal-order, and the same run cut to no liveness phase.
    const { scenario, seed } = failingSeed(plantedBugs[3]!)
    const original = runScenario(scenario, { seed, protocols })
    expect(violated(original)).toEqual(["causal-order"])

    // Act and check: a made-up candidate result that also fails eventual-delivery is refused,
    // and one that fails causal-order for another reason is refused too.
    const withLiveness = {
      ...original,
      checks: original.checks.map((check) =>
        check.name === "eventual-delivery" ? { ...check, ok: false, violations: [{ check: check.name, message: "node n1 never delivered n2#1", timeUs: 1 }] } : check
      )
    }
    expect(failsTheSameWay(original, "causal-order", original)).toBe(true)
    expect(failsTheSameWay(original, "causal-order", withLiveness)).toBe(false)
    const otherReason = {
      ...original,
      checks: original.checks.map((check) =>
        check.name === "causal-order" ? { ...check, violations: [{ check: check.name, message: "something else entirely", timeUs: 1 }] } : check
      )
    }
    expect(failsTheSameWay(original, "causal-order", otherReason)).toBe(false)
  })

  it("a key that cannot be linearized is one reason whatever witness the checker names, and other reasons stay apart", () => {
    const staleRead = (witness: string) => `key k1: ${witness} cannot be linearized. There is no linearization of these operations on key "k1".`
    const reason = reasonOf("linearizability", staleRead("write by process 2, write by process 2, read by process 2"))
    expect(reasonOf("linearizability", staleRead("write by process 1, read by process 2, write by process 4, read by process 1"))).toBe(reason)
    expect(reasonOf("linearizability", "the clients wrote a malformed history: line 3")).not.toBe(reason)
    expect(reasonOf("election-safety", "term 4 has two leaders: n5 and n2")).toBe(reasonOf("election-safety", "term 9 has two leaders: n1 and n3"))
    expect(reasonOf("causal-order", "node n1 delivered n2#3 before n3#1, which it depends on")).not.toBe(reasonOf("causal-order", "something else entirely"))
  })

  it("a run with no liveness phase does not judge liveness checks, and says so", () => {
    // Reference: a liveness check on a run without the phase it needs would fail any protocol.
    const result = runScenario({ ...loadScenario("scenarios/causal-broadcast-partitions.yaml"), livenessMs: 0 }, { protocols })
    expect(result.checks.map((check) => check.name)).not.toContain("eventual-delivery")
    expect(result.notes.join("\n")).toContain("eventual-delivery not judged")
    const raft = runScenario({ ...loadScenario("scenarios/raft-leader-crash.yaml"), livenessMs: 4000 }, { protocols })
    expect(raft.checks.map((check) => check.name)).not.toContain("liveness")
    expect(raft.notes.join("\n")).toContain("liveness not judged: it needs a liveness phase of at least 5000 ms")
  })
})
