// Liveness as measurement: Raft's metrics on constructed events (elections, lost leadership, client latency), and bounds on them in a scenario's checks.
import { describe, expect, it } from "vitest"
import type { HistoryEvent } from "../src/check/history.ts"
import { boundViolations, type Metric, percentile } from "../src/check/metrics.ts"
import { RaftChecker } from "../src/check/raft.ts"
import type { TraceFault } from "../src/trace/index.ts"
import { clientLatencyMetrics, RaftLiveness } from "../src/check/raft-liveness.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { scenarioFromObject } from "../src/sim/scenario.ts"
import { scenarioToYaml } from "../src/sim/scenario-writer.ts"
import { metricDistributions, type SeedOutcome } from "../src/sim/swarm.ts"
import { parseScenario } from "../src/sim/scenario.ts"
import { runCli } from "./fixtures/cli.ts"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const VOTERS = ["n1", "n2", "n3", "n4", "n5"]
const ms = (value: number) => value * 1000

const value = (metrics: ReadonlyArray<Metric>, name: string): number | undefined => metrics.find((metric) => metric.name === name)?.value

describe("percentile", () => {
  it("takes the nearest rank, always one of the samples", () => {
    const sorted = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    expect(percentile(sorted, 0.5)).toBe(50)
    expect(percentile(sorted, 0.9)).toBe(90)
    expect(percentile(sorted, 0.99)).toBe(100)
    expect(percentile(sorted, 1)).toBe(100)
    expect(percentile([7], 0.5)).toBe(7)
  })
})

/** One observation: a server's act (`[act, node, term, ms]`) or a fault (`["fault", fault, ms]`). */
type Step =
  | readonly ["candidate" | "leader" | "stepDown", string, number, number]
  | readonly ["fault", TraceFault, number]

/** Feeds `steps` to a fresh measurement of five voters, ends the run at `endMs`, and returns its metrics. */
const measure = (steps: ReadonlyArray<Step>, endMs: number): Array<Metric> => {
  const liveness = new RaftLiveness(VOTERS)
  for (const step of steps) {
    if (step[0] === "fault") liveness.onFault(step[1], ms(step[2]))
    else if (step[0] === "candidate") liveness.becomeCandidate(step[1], step[2], ms(step[3]))
    else if (step[0] === "leader") liveness.becomeLeader(step[1], step[2], ms(step[3]))
    else liveness.stepDown(step[1], step[2], ms(step[3]))
  }
  liveness.finish(ms(endMs))
  return liveness.metrics([])
}

const detail = (metrics: ReadonlyArray<Metric>, name: string): string | undefined => metrics.find((metric) => metric.name === name)?.detail

describe("elections per term change", () => {
  it("counts candidacies per leader term: two split votes before a leader make 3 per term change", () => {
    // Set up and act: n1 and n2 split term 1, n3 fails term 2, n3 wins term 3.
    const metrics = measure([["candidate", "n1", 1, 100], ["candidate", "n2", 1, 101], ["candidate", "n3", 2, 400], ["leader", "n3", 2, 410]], 1000)

    // Check
    expect(value(metrics, "elections")).toBe(3)
    expect(value(metrics, "elections-per-term-change")).toBe(3)
    // The first election is not a loss: there was no leader to lose.
    expect(value(metrics, "leader-losses")).toBe(0)
    expect(value(metrics, "leader-recovery-ms-max")).toBeUndefined()
  })

  it("is infinite when elections were held and no leader was ever elected", () => {
    expect(value(measure([["candidate", "n1", 1, 100]], 1000), "elections-per-term-change")).toBe(Number.POSITIVE_INFINITY)
  })
})

describe("leader recovery", () => {
  const elected: Array<Step> = [["candidate", "n1", 1, 100], ["leader", "n1", 1, 110]]

  it("runs from the leader's crash to the next leader of a later term", () => {
    // Set up and act: n1 crashes at 1 s; n2 stands at 1.3 s and wins at 1.32 s.
    const metrics = measure([...elected, ["fault", { _tag: "Crash", node: "n1" }, 1000], ["candidate", "n2", 2, 1300], ["leader", "n2", 2, 1320]], 5000)

    // Check
    expect(value(metrics, "leader-losses")).toBe(1)
    expect(value(metrics, "leader-recovery-ms-max")).toBe(320)
    expect(detail(metrics, "leader-recovery-ms-max")).toMatch(/n1 \(leader of term 1\) crashed at 1\.000 s; n2 became leader of term 2/)
  })

  it("starts when a partition cuts the leader off from a majority, not when it leaves the leader its majority", () => {
    const metrics = measure(
      [
        ...elected,
        // A partition that keeps n1 with two others leaves it able to serve: no loss.
        ["fault", { _tag: "Partition", groups: [["n1", "n2", "n3"], ["n4", "n5"]] }, 1000],
        ["fault", { _tag: "Heal" }, 1500],
        // One that leaves it with one other is a loss, from that moment.
        ["fault", { _tag: "Partition", groups: [["n1", "n2"], ["n3", "n4", "n5"]] }, 2000],
        ["candidate", "n3", 2, 2400],
        ["leader", "n3", 2, 2450]
      ],
      5000
    )
    expect(value(metrics, "leader-losses")).toBe(1)
    expect(value(metrics, "leader-recovery-ms-max")).toBe(450)
  })

  it("counts crashed followers against the leader's majority", () => {
    // n1 can serve again once n4 is back (n1, n4, n5), as nobody stood for a later term.
    const crash = (node: string, atMs: number): Step => ["fault", { _tag: "Crash", node }, atMs]
    const metrics = measure([...elected, crash("n2", 1000), crash("n3", 1100), crash("n4", 1200), ["fault", { _tag: "Restart", node: "n4" }, 1700]], 5000)
    expect(value(metrics, "leader-losses")).toBe(1)
    expect(value(metrics, "leader-recovery-ms-max")).toBe(500)
    expect(detail(metrics, "leader-recovery-ms-max")).toBe(
      "the crash of n4 left n1 (leader of term 1) without a majority at 1.200 s; n1 could serve again at 1.700 s"
    )
  })

  it("ends a paused leader's loss when it resumes before anyone stands, but not after an election began", () => {
    // Set up and act: two pauses of the leader; during the second, n2 stands for term 2.
    const pause = (atMs: number): Step => ["fault", { _tag: "Pause", node: "n1" }, atMs]
    const resume = (atMs: number): Step => ["fault", { _tag: "Resume", node: "n1" }, atMs]
    const metrics = measure([...elected, pause(1000), resume(1100), pause(2000), ["candidate", "n2", 2, 2300], resume(2350), ["leader", "n2", 2, 2600]], 5000)

    // Check: 100 ms, then 600 ms (the resume at 2.35 s did not end it: the cluster had moved on).
    expect(value(metrics, "leader-losses")).toBe(2)
    expect(value(metrics, "leader-recovery-ms-p50")).toBe(100)
    expect(value(metrics, "leader-recovery-ms-max")).toBe(600)
  })

  it("opens a loss when a server stands for a later term (lost heartbeats) or the leader steps down", () => {
    const metrics = measure(
      [...elected, ["candidate", "n4", 2, 1000], ["leader", "n4", 2, 1200], ["stepDown", "n4", 2, 3000], ["candidate", "n5", 3, 3300], ["leader", "n5", 3, 3310]],
      5000
    )
    expect(value(metrics, "leader-losses")).toBe(2)
    expect(value(metrics, "leader-recovery-ms-p50")).toBe(200)
    expect(value(metrics, "leader-recovery-ms-max")).toBe(310)
  })

  it("counts a loss still open at the end up to the end of the run", () => {
    const metrics = measure([...elected, ["fault", { _tag: "Crash", node: "n1" }, 1000]], 4000)
    expect(value(metrics, "leader-recovery-ms-max")).toBe(3000)
    expect(detail(metrics, "leader-recovery-ms-max")).toMatch(/still no leader when the run ended/)
  })

  it("is fed by the Raft checker from protocol events and faults", () => {
    const checker = new RaftChecker({ livenessBoundMs: 1000, linearizabilityBudgetMs: 1000, voters: ["n1", "n2", "n3"] })
    const event = (node: string, name: string, timeUs: number, term: number) =>
      checker.onEvent({ node, name, timeUs, attributes: { term, runs: [], snapshotIndex: 0, lastIndex: 0 } })
    event("n1", "becomeCandidate", ms(100), 1)
    event("n1", "becomeLeader", ms(110), 1)
    checker.onFault({ _tag: "Pause", node: "n1" }, ms(1000))
    event("n2", "becomeCandidate", ms(1250), 2)
    event("n2", "becomeLeader", ms(1260), 2)
    checker.finish({ timeUs: ms(3000), up: ["n1", "n2", "n3"] })
    expect(value(checker.metrics(), "leader-recovery-ms-max")).toBe(260)
    expect(value(checker.metrics(), "elections-per-term-change")).toBe(1)
  })
})

describe("client latency", () => {
  const event = (index: number, process: number, type: HistoryEvent["type"], timeMs: number): HistoryEvent =>
    ({ index, process, type, f: "read", key: "k1", time: timeMs * 1e6 })

  it("runs from invoke to ok or fail per client; an unknown outcome is left out", () => {
    const history = [
      event(0, 1, "invoke", 0),
      event(1, 2, "invoke", 5),
      event(2, 1, "ok", 10), // 10 ms
      event(3, 2, "fail", 45), // 40 ms
      event(4, 1, "invoke", 50),
      event(5, 1, "info", 2050), // a timeout: left out
      event(6, 3, "invoke", 100),
      event(7, 3, "ok", 120) // 20 ms
    ]
    const metrics = clientLatencyMetrics(history)
    expect(value(metrics, "client-latency-ms-p50")).toBe(20)
    expect(value(metrics, "client-latency-ms-p99")).toBe(40)
    expect(value(metrics, "client-latency-ms-max")).toBe(40)
  })

  it("has no figures when no operation completed", () => {
    expect(clientLatencyMetrics([event(0, 1, "invoke", 0)])).toEqual([])
  })
})

describe("bounds on metrics", () => {
  it("a metric above its bound is a violation named after it; at the bound, or unmeasured, it holds", () => {
    const metrics: Array<Metric> = [{ name: "leader-recovery-ms-max", value: 4200, detail: "n1 crashed" }, { name: "elections", value: 3 }]
    const violations = boundViolations(metrics, { "leader-recovery-ms-max": 3000, elections: 3, "client-latency-ms-max": 1 }, 7)
    expect(violations).toEqual([
      { check: "leader-recovery-ms-max", message: "leader-recovery-ms-max was 4,200, above the bound 3,000 (n1 crashed)", timeUs: 7 }
    ])
  })

  const leaderCrash = (checks: unknown) =>
    scenarioFromObject({
      protocol: "raft",
      nodes: 3,
      duration: "4s",
      liveness: "3s",
      workload: { clients: 2, operationsPerClient: 60 },
      faults: { scheduled: [{ at: "1s", crash: "n1" }, { at: "1s", crash: "n2" }, { at: "1500ms", restart: "n2" }, { at: "2s", restart: "n1" }] },
      checks
    })

  it("a run whose metric exceeds its bound fails that check alone, and is the same run as without the bound", () => {
    // Set up: a run where some server leads before the crashes, and the same with a bound of 1 ms on recovery.
    const free = runScenario(leaderCrash(undefined), { seed: 1, protocols: builtinProtocols })
    const bounded = runScenario(leaderCrash({ "leader-recovery-ms-max": 1, "elections-per-term-change": 100 }), { seed: 1, protocols: builtinProtocols })

    // Check: measured the same; the tight bound fails, the loose one holds, the others are as before.
    expect(free.ok).toBe(true)
    expect(value(free.metrics, "leader-recovery-ms-max")).toBeGreaterThan(1)
    expect(bounded.metrics).toEqual(free.metrics)
    expect(bounded.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(["leader-recovery-ms-max"])
    expect(bounded.checks.find((check) => check.name === "elections-per-term-change")?.ok).toBe(true)
  })

  it("the list form selects checks and bounds metrics; the writer writes both back", () => {
    const scenario = leaderCrash(["linearizability", { "client-latency-ms-p99": 900 }])
    expect(scenario.checks).toEqual(["linearizability"])
    expect(scenario.bounds).toEqual({ "client-latency-ms-p99": 900 })
    const again = parseScenario(scenarioToYaml(scenario, "round trip"), "again.yaml")
    expect([again.checks, again.bounds]).toEqual([scenario.checks, scenario.bounds])
    const boundsOnly = leaderCrash({ elections: 4 })
    expect(parseScenario(scenarioToYaml(boundsOnly, "round trip"), "again.yaml").bounds).toEqual({ elections: 4 })
  })

  it.each([
    [{ "no-such-metric": 3 }, /checks: cannot bound unknown metric "no-such-metric" \(raft measures: elections, /],
    [[{ elections: 3 }, { elections: 4 }], /checks\[1\]\.elections: bounded twice/],
    [{ elections: "many" }, /checks\.elections: Expected number/]
  ])("a bad bound %o is named in one line", (checks, message) => {
    expect(() => runScenario(leaderCrash(checks), { seed: 1, protocols: builtinProtocols })).toThrow(message)
  })

  it("faultline run prints the metrics, and a too-tight bound exits 1 with the metric, its value and the bound", () => {
    // Set up
    const directory = mkdtempSync(join(tmpdir(), "faultline-bounds-"))
    const file = join(directory, "tight.yaml")
    writeFileSync(
      file,
      [
        "protocol: raft",
        "nodes: 3",
        "duration: 4s",
        "liveness: 3s",
        "workload: { clients: 2, operationsPerClient: 60 }",
        "faults:",
        "  scheduled: [{ at: 1s, crash: n1 }, { at: 1s, crash: n2 }, { at: 1500ms, restart: n2 }, { at: 2s, restart: n1 }]",
        "checks: { leader-recovery-ms-max: 1 }"
      ].join("\n")
    )

    // Act
    const result = runCli(["run", file])

    // Check
    expect(result.status).toBe(1)
    expect(result.stdout).toMatch(/metrics +elections \d+, elections-per-term-change [\d.]+, leader-losses [1-9]/)
    expect(result.stdout).toMatch(/✗ leader-recovery-ms-max at [\d.]+ s: leader-recovery-ms-max was [\d,]+, above the bound 1 \(.+ at [\d.]+ s; .+\)/)
  })
})

describe("metrics across a swarm's seeds", () => {
  const outcome = (seed: number, metrics: Record<string, number>): SeedOutcome => ({
    seed,
    ok: true,
    traceHash: "",
    wallMs: 1,
    simulatedMs: 1,
    events: 1,
    firstViolation: undefined,
    signature: undefined,
    draw: undefined,
    knobsText: undefined,
    knobs: undefined,
    workloadText: undefined,
    workload: undefined,
    metrics
  })

  it("gives each metric's p50, p90 and max over the seeds that measured it", () => {
    const outcomes = Array.from({ length: 10 }, (_, index) =>
      outcome(index + 1, index < 4 ? { elections: index + 1 } : { elections: index + 1, "leader-recovery-ms-max": (index + 1) * 100 }))
    expect(metricDistributions(outcomes)).toEqual([
      { name: "elections", seeds: 10, p50: 5, p90: 9, max: 10 },
      { name: "leader-recovery-ms-max", seeds: 6, p50: 700, p90: 1000, max: 1000 }
    ])
  })

  it("faultline swarm prints the distribution in its summary and its JSON", () => {
    const text = runCli(["swarm", "scenarios/raft-leader-crash.yaml", "--count", "2", "--workers", "2"])
    expect(text.status).toBe(0)
    expect(text.stdout).toMatch(/metrics over seeds \(p50 \/ p90 \/ max\)\n +elections +\d+ \/ \d+ \/ \d+/)
    expect(text.stdout).toMatch(/leader-recovery-ms-max +[\d,]+ \/ [\d,]+ \/ [\d,]+/)
  }, 60_000)
})
