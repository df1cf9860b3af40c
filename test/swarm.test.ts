// Swarm, shrink and replay: seeds planned and sharded, failures grouped, a planted bug found, shrunk and replayed.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "./fixtures/cli.ts"
import { describe, expect, it } from "vitest"
import { planSeeds } from "../src/cli/swarm-command.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario, scenarioFromObject } from "../src/sim/scenario.ts"
import { scenarioToInput } from "../src/sim/scenario-writer.ts"
import { fixFaults, shrinkFailure } from "../src/sim/shrink.ts"
import { failureSignature, groupFailures, runSeed } from "../src/sim/swarm.ts"
import { swarmScenario } from "../src/sim/swarm-faults.ts"
import { protocols as broadcastBugs } from "./fixtures/broadcast-bugs.ts"

const directory = mkdtempSync(join(tmpdir(), "faultline-swarm-"))
const cli = (...args: Array<string>) =>
  runCli(args)
const buggy = new Map([...builtinProtocols, ...broadcastBugs.map((protocol) => [protocol.name, protocol] as const)])
const FIFO_ONLY = "test/fixtures/broadcast-fifo-only.yaml"

describe("seed planning", () => {
  it("splits a range into disjoint shards that cover it", () => {
    const all = planSeeds({ seeds: "1..100" })
    const shards = [1, 2, 3].map((index) => planSeeds({ seeds: "1..100", shard: `${index}/3` }))
    expect(shards.flat().sort((a, b) => a - b)).toEqual(all)
    expect(new Set(shards.flat()).size).toBe(100)
  })

  it("plans a shard of a range too long for one machine from the shard's own seeds", () => {
    const seeds = planSeeds({ seeds: "1..100000000", shard: "50/100" })
    expect(seeds).toHaveLength(1_000_000)
    expect([seeds[0], seeds[1], seeds.at(-1)]).toEqual([50, 150, 99_999_950])
  })

  it.each([
    [{ seeds: "5..3" }, "--seeds: the range 5..3 is empty"],
    [{ seeds: "1-9" }, "--seeds: expected a range"],
    [{ shard: "3/2" }, "--shard: 3/2 is not a shard"],
    [{ shard: "0/2" }, "--shard: 0/2 is not a shard"],
    [{ count: "0" }, "--count: must be at least 1"],
    [{ seeds: "1..99999999999999999999" }, "--seeds: 1..99999999999999999999 has a bound beyond"],
    [{ seeds: "1..100000000" }, "--seeds: 100,000,000 seeds in one swarm, above the maximum of 10,000,000"],
    [{ count: "20000000" }, "--count: 20,000,000 seeds in one swarm"]
  ])("rejects %o", (flags, message) => {
    expect(() => planSeeds(flags)).toThrow(message)
  })
})

describe("swarm mode", () => {
  it("draws the fault mix from the seed, the same every time", () => {
    const scenario = loadScenario("scenarios/raft-leader-crash.yaml")
    expect(swarmScenario(scenario, 5, builtinProtocols).draw).toEqual(swarmScenario(scenario, 5, builtinProtocols).draw)
    const kinds = new Set(Array.from({ length: 20 }, (_, seed) => swarmScenario(scenario, seed, builtinProtocols).draw.kinds.join(",")))
    expect(kinds.size).toBeGreaterThan(3)
  })

  it("groups failures by signature, keeping the one that failed first", () => {
    const scenario = loadScenario(FIFO_ONLY)
    const outcomes = [1, 2, 3, 4].map((seed) => runSeed(scenario, seed, { swarm: true, protocols: buggy }))
    const groups = groupFailures(outcomes)
    expect(groups.length).toBeGreaterThan(0)
    for (const group of groups) {
      const members = outcomes.filter((outcome) => outcome.signature === group.signature)
      expect(group.count).toBe(members.length)
      const earliest = Math.min(...members.map((outcome) => outcome.firstViolation!.timeUs))
      expect(group.fastest.firstViolation!.timeUs).toBe(earliest)
    }
    expect(failureSignature("causal-order", "node n3 delivered n2#3 before n4#1")).toBe(
      failureSignature("causal-order", "node n1 delivered n4#7 before n2#2")
    )
  })
})

describe("shrink", () => {
  it("fixing the random faults into a schedule replays the run exactly", () => {
    const scenario = loadScenario("scenarios/causal-broadcast-crashes.yaml")
    const original = runScenario(scenario, { seed: 4, protocols: builtinProtocols })
    const fixed = runScenario(fixFaults(scenario, 4), { seed: 4, protocols: builtinProtocols })
    expect(fixed.traceHash).toBe(original.traceHash)
  })

  it("a scenario written back as a file reads back the same", () => {
    const scenario = fixFaults(loadScenario("scenarios/raft-membership.yaml"), 3)
    const again = scenarioFromObject(scenarioToInput(scenario), scenario.file)
    expect(runScenario(again, { seed: 3, protocols: builtinProtocols }).traceHash).toBe(
      runScenario(scenario, { seed: 3, protocols: builtinProtocols }).traceHash
    )
  })

  it("shrinks a planted-bug failure to a handful of faults that fails the same check", () => {
    const scenario = swarmScenario(loadScenario(FIFO_ONLY), 2, buggy).scenario
    const result = shrinkFailure(scenario, 2, { protocols: buggy })
    expect(result.check).toBe("causal-order")
    expect(result.shrunk.scheduled.length).toBeLessThanOrEqual(5)
    expect(result.shrunk.scheduled.length).toBeLessThanOrEqual(result.original.scheduled.length)
    expect(result.shrunkResult.checks.find((check) => check.name === "causal-order")!.ok).toBe(false)
  })
})

describe("faultline swarm, shrink and replay (CLI)", () => {
  it("swarm finds the planted bug, groups it and prints replay and shrink commands; shrink writes a repro that replays", () => {
    // Swarm: exit 1, a group for causal-order, with its commands.
    const swarm = cli("swarm", FIFO_ONLY, "--count", "6", "--workers", "2", "--protocols", "test/fixtures/broadcast-bugs.ts", "--json")
    expect(swarm.status).toBe(1)
    const report = JSON.parse(swarm.stdout)
    expect(report.seedsRun).toBe(6)
    expect(report.failures).toBeGreaterThan(0)
    const group = report.groups.find((candidate: { signature: string }) => candidate.signature.startsWith("causal-order"))
    expect(group.replay).toContain(`--seed ${group.failure.seed} --swarm --protocols test/fixtures/broadcast-bugs.ts`)
    // Replay the report: the trace hash matches what the worker recorded.
    const reportFile = join(directory, "report.json")
    writeFileSync(reportFile, swarm.stdout)
    const replay = cli("replay", reportFile, "--protocols", "test/fixtures/broadcast-bugs.ts")
    expect(replay.stdout).toContain("✓ replay matches")
    expect(replay.status).toBe(0)
    // The report carries the knobs the seed drew, and replay runs with exactly those: other knobs, another run.
    const knobs = group.failure.knobs as Record<string, number>
    expect(Object.keys(knobs).sort()).toEqual(["maxBatch", "maxPending", "syncIntervalMs"])
    expect(replay.stdout).toContain(`knobs        syncIntervalMs ${knobs.syncIntervalMs}, maxBatch ${knobs.maxBatch}`)
    const otherInterval = knobs.syncIntervalMs === 25 ? 200 : 25
    const altered = { ...report, groups: [{ ...group, failure: { ...group.failure, knobs: { ...knobs, syncIntervalMs: otherInterval } } }] }
    writeFileSync(reportFile, JSON.stringify(altered))
    const alteredReplay = cli("replay", reportFile, "--protocols", "test/fixtures/broadcast-bugs.ts")
    expect(alteredReplay.stdout).toContain(`knobs        syncIntervalMs ${otherInterval}, `)
    expect(alteredReplay.stdout).toContain("✗ replay differs")
    writeFileSync(reportFile, JSON.stringify({ ...report, groups: [{ ...group, failure: { ...group.failure, knobs: ["no"] } }] }))
    const bad = cli("replay", reportFile, "--protocols", "test/fixtures/broadcast-bugs.ts")
    expect(bad.status).toBe(2)
    expect(bad.stderr.trim()).toBe(`faultline: ${reportFile}: groups[0].failure.knobs: expected an object of names to numbers, booleans or strings`)
    // Shrink the fastest seed into a repro file, then run the repro twice: same failure, same hash.
    const repro = join(directory, "repro.yaml")
    const shrink = cli("shrink", FIFO_ONLY, "--seed", String(group.failure.seed), "--swarm", "--protocols", "test/fixtures/broadcast-bugs.ts", "-o", repro)
    expect(shrink.status).toBe(0)
    expect(readFileSync(repro, "utf8")).toContain("protocol: causal-broadcast-fifo-only")
    const first = cli("run", repro, "--protocols", "test/fixtures/broadcast-bugs.ts", "--json")
    const second = cli("run", repro, "--protocols", "test/fixtures/broadcast-bugs.ts", "--json")
    expect(first.status).toBe(1)
    const firstSummary = JSON.parse(first.stdout)
    expect(firstSummary.checks.find((check: { name: string }) => check.name === "causal-order").ok).toBe(false)
    expect(JSON.parse(second.stdout).traceHash).toBe(firstSummary.traceHash)
    expect(shrink.stdout).toContain(firstSummary.traceHash)
  }, 120_000)

  it.each([
    [["--seeds", "9..2"], "--seeds: the range 9..2 is empty"],
    [["--shard", "3/2"], "--shard: 3/2 is not a shard"],
    [["--workers", "0"], "--workers: must be at least 1"]
  ])("swarm %o is exit 2 with one line", (flags, message) => {
    const result = cli("swarm", "scenarios/raft-leader-crash.yaml", ...flags)
    expect(result.status).toBe(2)
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain(`faultline: ${message}`)
  })

  it("a clean swarm exits 0", () => {
    const result = cli("swarm", "scenarios/causal-broadcast-crashes.yaml", "--count", "4", "--workers", "2")
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("no failures")
  }, 60_000)

  it("a swarm stopped before any seed finished does not claim there were no failures", () => {
    const result = cli("swarm", "scenarios/raft-leader-crash.yaml", "--count", "5", "--time-limit", "1ms", "--workers", "1")
    expect(result.stdout).toContain("seeds        0 of 5 (stopped: time limit reached)")
    expect(result.stdout).toContain("no seed finished, so nothing was judged")
    expect(result.stdout).not.toContain("no failures")
    expect(result.status).toBe(0)
  })
})

describe("a planted Raft bug, from swarm to a shrunk repro", () => {
  const raftBugs = join("test", "fixtures", "raft-bugs.ts")

  /** Swarm finds the bug and groups it; shrink writes a repro; the repro fails the same check with one hash. */
  const swarmThenShrink = (file: string, check: string, seeds: string) => {
    const swarm = cli("swarm", file, "--seeds", seeds, "--workers", "2", "--fixed-faults", "--protocols", raftBugs, "--json")
    expect(swarm.status).toBe(1)
    const group = JSON.parse(swarm.stdout).groups.find((candidate: { signature: string }) => candidate.signature.startsWith(check))
    expect(group, `no ${check} group in ${swarm.stdout}`).toBeDefined()
    const repro = join(directory, `${check}-repro.yaml`)
    const shrink = cli("shrink", file, "--seed", String(group.failure.seed), "--protocols", raftBugs, "-o", repro)
    expect(shrink.status).toBe(0)
    const [, before, after] = /faults (\d+) -> (\d+)/.exec(shrink.stdout)!.map(Number)
    // The summary gives the repro's size before and after: faults, clients, operations, simulated time.
    const size = /size (\d+) faults, (\d+) clients, ([\d,]+) operations, ([\d.]+) s simulated -> (\d+) faults, (\d+) clients, ([\d,]+) operations, ([\d.]+) s simulated/.exec(shrink.stdout)
    expect(size, shrink.stdout).not.toBeNull()
    expect(Number(size![5])).toBe(after)
    expect(Number(size![8])).toBeLessThanOrEqual(Number(size![4]))
    const first = JSON.parse(cli("run", repro, "--protocols", raftBugs, "--json").stdout)
    const second = JSON.parse(cli("run", repro, "--protocols", raftBugs, "--json").stdout)
    expect(first.checks.find((outcome: { name: string }) => outcome.name === check).ok).toBe(false)
    expect(second.traceHash).toBe(first.traceHash)
    expect(shrink.stdout).toContain(first.traceHash)
    // The repro is honest: with the bug fixed (the correct raft), it passes every check it judges.
    const fixed = join(directory, `${check}-fixed.yaml`)
    writeFileSync(fixed, readFileSync(repro, "utf8").replace(/^protocol: raft-bug-[a-z-]+$/m, "protocol: raft"))
    const onCorrect = cli("run", fixed)
    expect(onCorrect.stdout).toContain("protocol     raft (")
    expect(onCorrect.status, onCorrect.stdout).toBe(0)
    return { before: before!, after: after!, group }
  }

  it("old-term commit: swarm finds it, shrink leaves a handful of faults, the repro replays", () => {
    const { before, after, group } = swarmThenShrink("test/fixtures/raft-bug-commit-old-term.yaml", "node-failed", "1..12")
    expect(group.failure.message).toContain("a leader only commits entries of its own term")
    expect(after).toBeLessThanOrEqual(5)
    expect(after).toBeLessThan(before)
  }, 120_000)

  it("lost vote: swarm finds two leaders in a term, shrink cuts the faults by more than half", () => {
    // A lost vote shows only when a crash falls between a vote and the election it decides: in a
    // few percent of seeds (8 of the first 200 today, the first of them 82), so the swarm runs the
    // 20 seeds up to 90 rather than all 200, to keep the suite short.
    const { before, after, group } = swarmThenShrink("test/fixtures/raft-bug-vote-few-crashes.yaml", "election-safety", "71..90")
    expect(group.failure.message).toMatch(/term \d+ has two leaders/)
    expect(after).toBeLessThan(before / 2)
  }, 120_000)
})
