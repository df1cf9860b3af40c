// Planted bugs are caught by a swarm over a shipped scenario, with no scenario written for them:
// each variant fails its bug's check on a fixed swarm seed (the seed `npm run bench:bugs` finds
// first), and the correct protocol passes the same seed and draw, so the failure is the bug's.
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario, type RunResult } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { swarmScenario } from "../src/sim/swarm-faults.ts"
import { protocols as broadcastBugs } from "./fixtures/broadcast-bugs.ts"
import { harmlessHere, notCaughtBySwarm, swarmCaughtBugs } from "./fixtures/planted-bugs.ts"
import { protocols as raftBugs } from "./fixtures/raft-bugs.ts"

const protocols = new Map([...builtinProtocols, ...[...raftBugs, ...broadcastBugs].map((protocol) => [protocol.name, protocol] as const)])

const failures = (result: RunResult) =>
  result.checks.filter((check) => !check.ok).map((check) => `${check.name}: ${check.violations[0]?.message}`)

describe("planted bugs are caught by a swarm over a shipped scenario", () => {
  it("every planted Raft and broadcast variant is in the table once, or said not to be caught yet, or harmless here", () => {
    const names = [...swarmCaughtBugs.map((bug) => bug.protocol), ...Object.keys(notCaughtBySwarm), ...Object.keys(harmlessHere)]
    expect(new Set(names).size).toBe(names.length)
    expect(names.sort()).toEqual([...raftBugs, ...broadcastBugs].map((variant) => variant.name).sort())
  })

  for (const bug of swarmCaughtBugs) {
    it(`${bug.protocol}: swarm seed ${bug.seed} of ${bug.scenario} fails ${bug.check}; ${bug.correct} passes it`, () => {
      // Set up: the seed's draw of the shipped scenario, run with the variant in place of its protocol.
      const loaded = { ...loadScenario(bug.scenario), protocol: bug.protocol }
      const drawn = swarmScenario(loaded, bug.seed, protocols).scenario

      // Act: run it with the variant and with the correct protocol.
      const buggy = runScenario(drawn, { seed: bug.seed, protocols })
      const correct = runScenario({ ...drawn, protocol: bug.correct }, { seed: bug.seed, protocols })

      // Check: the bug's check fails with its message; the correct protocol fails nothing.
      const caught = buggy.checks.find((check) => check.name === bug.check && !check.ok)
      expect(caught, failures(buggy).join("; ")).toBeDefined()
      expect(caught!.violations.map((violation) => violation.message)).toContainEqual(expect.stringMatching(bug.message))
      expect(failures(correct)).toEqual([])
    })
  }
})
