// The course's exercise checkers: each runs the student's change in the simulator and says, in words, whether it works.
import fc from "fast-check"
import { causalBroadcastProtocol } from "../../src/protocols/causal-broadcast/definition.ts"
import type { DeliverableRule } from "../../src/protocols/causal-broadcast/index.ts"
import * as VectorClock from "../../src/protocols/clocks/vector-clock.ts"
import type { ProtocolDefinition } from "../../src/definition/protocol.ts"
import { raftProtocol } from "../../src/protocols/raft/definition.ts"
import { runScenario, type RunResult } from "../../src/sim/run.ts"
import { loadScenario, type Scenario } from "../../src/sim/scenario.ts"
import { parseTraceLine, type TraceLine } from "../../src/trace/index.ts"

/** A checker's verdict: whether the change works, and what it found, one line each. */
export interface Verdict {
  readonly ok: boolean
  readonly lines: ReadonlyArray<string>
}

const failedChecks = (result: RunResult): string =>
  result.checks
    .filter((check) => !check.ok)
    .map((check) => `${check.name} (${check.violations[0]?.message ?? ""})`)
    .join("; ")

/** Runs `scenario` with `protocol` for each seed; fails at the first seed that violates a check. */
const runSeeds = (scenario: Scenario, protocol: ProtocolDefinition, seeds: ReadonlyArray<number>, replay: string): Verdict => {
  const lines: Array<string> = []
  for (const seed of seeds) {
    const result = runScenario({ ...scenario, protocol: protocol.name }, { seed, protocols: new Map([[protocol.name, protocol]]) })
    if (!result.ok) {
      lines.push(`✗ seed ${seed}: ${failedChecks(result)}`, `  see it: npx faultline view ${scenario.file} --seed ${seed} ${replay}`)
      return { ok: false, lines }
    }
    lines.push(`✓ seed ${seed}: every check holds (${result.checks.map((check) => check.name).join(", ")})`)
  }
  return { ok: true, lines }
}

/** Chapter 1: the student's deliverability rule keeps causal order through partitions, crashes and reordering. */
export const checkDeliverable = (exercise: { readonly deliverable: DeliverableRule }, module: string): Verdict =>
  runSeeds(
    loadScenario("scenarios/causal-broadcast-partitions.yaml"),
    causalBroadcastProtocol("causal-broadcast-exercise", exercise.deliverable),
    [1, 2, 3],
    `--protocol causal-broadcast-exercise --protocols ${module}`
  )

const clock = fc.dictionary(fc.constantFrom("n1", "n2", "n3"), fc.nat({ max: 3 }), { maxKeys: 3 })

/** Chapter 2: the student's vector clock comparison and Lamport receive rule, on generated clocks. */
export const checkClocks = (exercise: {
  readonly compare: (left: VectorClock.VectorClock, right: VectorClock.VectorClock) => VectorClock.Ordering
  readonly lamportReceive: (current: number, received: number) => number
}): Verdict => {
  const lines: Array<string> = []
  const comparison = fc.check(fc.property(clock, clock, (left, right) => exercise.compare(left, right) === VectorClock.compare(left, right)), { seed: 1, numRuns: 500 })
  if (comparison.failed) {
    const [left, right] = comparison.counterexample!
    lines.push(`✗ compare(${JSON.stringify(left)}, ${JSON.stringify(right)}) is "${exercise.compare(left, right)}", but should be "${VectorClock.compare(left, right)}"`)
  } else {
    lines.push("✓ compare agrees with the definition on 500 generated pairs of clocks")
  }
  const stamps = fc.nat({ max: 1000 })
  const receipt = fc.check(
    fc.property(stamps, stamps, (current, received) => {
      const after = exercise.lamportReceive(current, received)
      return after > current && after > received && after === Math.max(current, received) + 1
    }),
    { seed: 1, numRuns: 500 }
  )
  if (receipt.failed) {
    const [current, received] = receipt.counterexample!
    lines.push(
      `✗ lamportReceive(${current}, ${received}) is ${exercise.lamportReceive(current, received)}: a receipt must come after the node's own ` +
        "past and after the send, and no later than it needs to"
    )
  } else {
    lines.push("✓ lamportReceive moves the clock past both the node's own time and the message's stamp")
  }
  return { ok: !comparison.failed && !receipt.failed, lines }
}

/** The elections (becomeLeader) after the last heal of a run's trace, and whether it had a heal. */
const electionsAfterHeal = (result: RunResult): { healed: boolean; elections: Array<string> } => {
  const lines = (result.traceLines ?? []).map((text) => parseTraceLine(text)).filter((line): line is TraceLine => typeof line !== "string")
  const heals = lines.filter((line) => line.e === "fault" && line.fault._tag === "Heal" && line.t < result.scenario.durationMs * 1000)
  const lastHeal = heals.at(-1)?.t
  if (lastHeal === undefined) return { healed: false, elections: [] }
  const elections = lines.flatMap((line) =>
    line.e === "event" && line.name === "becomeLeader" && line.t > lastHeal ? [`${line.node} in term ${String(line.attrs["term"])} at ${(line.t / 1e6).toFixed(2)} s`] : []
  )
  return { healed: true, elections }
}

/** Chapter 3: the student's scenario shows a rejoining server deposing a healthy leader without pre-vote, and not with it. */
export const checkPreVote = (file: string): Verdict => {
  const scenario = loadScenario(file)
  const downFaults = scenario.scheduled.filter((entry) => ["Crash", "Pause", "Restart", "Resume"].includes(entry.fault._tag))
  if (scenario.protocol !== "raft") return { ok: false, lines: [`✗ ${file}: the protocol must be raft`] }
  if (downFaults.length > 0 || scenario.random.crashes.ratePerSecond > 0 || scenario.random.pauses.ratePerSecond > 0) {
    return { ok: false, lines: ["✗ no crashes or pauses: a leader that crashes is replaced for a good reason; show a needless election"] }
  }
  const run = (preVote: boolean) =>
    electionsAfterHeal(runScenario({ ...scenario, options: { ...scenario.options, preVote } }, { keepTrace: true, protocols: new Map([["raft", raftProtocol()]]) }))
  const without = run(false)
  const withPreVote = run(true)
  if (!without.healed) return { ok: false, lines: ["✗ the safety phase has no heal: partition a server away, then heal"] }
  const lines = [
    `${without.elections.length > 0 ? "✓" : "✗"} preVote off: ${without.elections.length} election(s) after the last heal${without.elections.length > 0 ? `: ${without.elections.join(", ")}` : " (no disruption shown yet)"}`,
    `${withPreVote.elections.length === 0 ? "✓" : "✗"} preVote on: ${withPreVote.elections.length} election(s) after the last heal${withPreVote.elections.length > 0 ? `: ${withPreVote.elections.join(", ")}` : ""}`
  ]
  return { ok: without.elections.length > 0 && withPreVote.elections.length === 0, lines }
}

/** Chapter 4: the student's commit rule keeps Raft safe and linearizable in the Figure 8 scenario. */
export const checkCommitRule = (exercise: { readonly protocols: ReadonlyArray<ProtocolDefinition> }, module: string): Verdict => {
  const protocol = exercise.protocols.find((candidate) => candidate.name === "raft-exercise")
  if (protocol === undefined) return { ok: false, lines: ["✗ the module must export protocols with one named raft-exercise"] }
  return runSeeds(loadScenario("docs/learn/scenarios/04-figure-8-commit.yaml"), protocol, [1, 2, 3], `--protocols ${module}`)
}
