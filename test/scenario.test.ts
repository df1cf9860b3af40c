// Bad scenario files and flags: exit 2 and one line that names the file and the field, no stack trace.
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "./fixtures/cli.ts"
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { loadScenario, parseScenario } from "../src/sim/scenario.ts"

const bad = (text: string) => {
  try {
    parseScenario(text, "bad.yaml")
  } catch (error) {
    return (error as Error).message
  }
  throw new Error("expected the scenario to be rejected")
}

const minimal = "protocol: causal-broadcast\nnodes: 3\nduration: 1s\n"

describe("scenario validation", () => {
  it("accepts every shipped scenario", () => {
    expect(loadScenario("scenarios/causal-broadcast-partitions.yaml").nodes).toBe(5)
  })

  it("names the file for a missing file", () => {
    expect(() => loadScenario("no/such.yaml")).toThrow("no/such.yaml: cannot read scenario file (no such file)")
  })

  it("names the line of malformed YAML", () => {
    expect(bad("protocol: [unclosed\n")).toMatch(/^bad\.yaml:\d+:\d+: malformed YAML/)
  })

  it("takes an anchor named in every fault, and refuses aliases that expand without end", () => {
    // The yaml package's default limit (100 aliases) refused this valid file with a stack trace.
    const faults = Array.from({ length: 75 }, (_, index) => `  - { at: ${index * 10 + 10}ms, pause: *node }\n  - { at: ${index * 10 + 15}ms, resume: *node }`)
    const scenario = parseScenario(`${minimal}description: &node n2\nfaults:\n  scheduled:\n${faults.join("\n")}\n`, "aliases.yaml")
    expect(scenario.scheduled).toHaveLength(150)
    const levels = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for (let level = 1; level < 9; level++) levels.push(`l${level}: &l${level} [${Array(10).fill(`*l${level - 1}`).join(", ")}]`)
    expect(bad(`${minimal}${levels.join("\n")}\n`)).toBe("bad.yaml: malformed YAML: its aliases expand too far")
    expect(bad(`${minimal}description: *nowhere\n`)).toBe("bad.yaml: malformed YAML: Unresolved alias (the anchor must be set before the alias): nowhere")
  })

  it("refuses YAML nested deeper than the parser's stack, in one line", () => {
    expect(bad(`${minimal}description: ${"[".repeat(3000)}${"]".repeat(3000)}\n`)).toBe("bad.yaml: malformed YAML: nested too deeply")
  })

  it("says what a latency is when one is not, rather than Effect's union of shapes", () => {
    expect(bad(minimal + "network:\n  latency: 5\n")).toMatch(/^bad\.yaml: network\.latency: Expected a latency: \{distribution: constant, ms\}/)
  })

  it("refuses a fault rate that would only fill memory", () => {
    // 1e30 crashes a second planned every one of them before the run, until V8 gave up.
    expect(bad(minimal + "faults:\n  random:\n    crashes: { ratePerSecond: 1e30 }\n")).toBe(
      "bad.yaml: faults.random.crashes.ratePerSecond: Expected a value between 0 and 1000"
    )
  })

  it("names the field of a negative latency", () => {
    expect(bad(minimal + "network:\n  latency: {distribution: constant, ms: -5}\n")).toBe(
      "bad.yaml: network.latency.ms: Expected a value greater than or equal to 0"
    )
  })

  it("names an unknown field, however deep", () => {
    expect(bad(minimal + "netwrk: {}\n")).toBe("bad.yaml: netwrk: unknown field")
    expect(bad(minimal + "network: {lossRat: 0.1}\n")).toBe("bad.yaml: network.lossRat: unknown field")
  })

  it("names a scheduled fault with an unknown node or two kinds", () => {
    expect(bad(minimal + "faults:\n  scheduled:\n    - {at: 500ms, crash: n9}\n")).toBe(
      "bad.yaml: faults.scheduled[0].crash: unknown node n9 (this scenario has n1..n3)"
    )
    expect(bad(minimal + "faults:\n  scheduled:\n    - {at: 500ms, crash: n1, pause: n2}\n")).toMatch(
      /^bad\.yaml: faults\.scheduled\[0\]: needs exactly one fault/
    )
  })

  it("parses durations in ms, s and m", () => {
    expect(parseScenario(minimal.replace("1s", "1.5m"), "x.yaml").durationMs).toBe(90_000)
    expect(parseScenario(minimal.replace("1s", "250ms"), "x.yaml").durationMs).toBe(250)
    expect(bad(minimal.replace("1s", "soon"))).toMatch(/^bad\.yaml: duration: /)
  })
})

describe("faultline CLI", () => {
  const directory = mkdtempSync(join(tmpdir(), "faultline-"))
  const run = (...args: Array<string>) =>
    runCli(args)

  it.each([
    ["missing file", "missing.yaml", "missing.yaml: cannot read scenario file"],
    ["malformed YAML", "malformed.yaml", "malformed.yaml:2:1: malformed YAML"],
    ["unknown protocol", "protocol.yaml", 'protocol: unknown protocol "paxos"'],
    ["negative latency", "latency.yaml", "network.latency.ms: Expected a value greater than or equal to 0"],
    ["unknown field", "field.yaml", "field.yaml: netwrk: unknown field"]
  ])("%s: exit 2, one line naming it", (_, name, expected) => {
    writeFileSync(join(directory, "malformed.yaml"), "protocol: [unclosed\n")
    writeFileSync(join(directory, "protocol.yaml"), "protocol: paxos\nnodes: 3\nduration: 1s\n")
    writeFileSync(join(directory, "latency.yaml"), minimal + "network:\n  latency: {distribution: constant, ms: -5}\n")
    writeFileSync(join(directory, "field.yaml"), minimal + "netwrk: {}\n")
    const result = run("run", join(directory, name))
    expect(result.status).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain(expected)
  })

  it("a bad --seed is exit 2", () => {
    const result = run("run", "scenarios/causal-broadcast-partitions.yaml", "--seed", "seven")
    expect(result.status).toBe(2)
    expect(result.stderr.trim()).toBe('faultline: --seed: expected a whole number, got "seven"')
  })

  it("a good run prints the summary with its trace hash, and exit 0", () => {
    const result = run("run", "scenarios/causal-broadcast-crashes.yaml", "--seed", "3", "--json")
    expect(result.status).toBe(0)
    const summary = JSON.parse(result.stdout)
    expect(summary.ok).toBe(true)
    expect(summary.traceHash).toMatch(/^[0-9a-f]{64}$/)
    expect(summary.replay).toBe("npx faultline run scenarios/causal-broadcast-crashes.yaml --seed 3 --trace trace-3.jsonl")
  })
})

describe("options of real clusters", () => {
  it("every built-in protocol's cluster options are valid options of that protocol", () => {
    for (const definition of builtinProtocols.values()) {
      const run = { file: "test", protocol: definition.name, nodes: 3, options: definition.clusterOptions ?? {}, workload: {} }
      expect(() => definition.build(run).server("n1"), definition.name).not.toThrow()
    }
    // Raft's are not its scenario defaults: a real cluster snapshots far less often.
    expect(builtinProtocols.get("raft")!.clusterOptions).toEqual({ snapshotEveryEntries: 10_000 })
  })
})
