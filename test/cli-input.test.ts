// The CLI's answers to input a user gets wrong or pushes too far: limits, durations, faults out of
// place, a protocol module that throws, a report replayed from elsewhere, the version, the workers.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { runCli } from "./fixtures/cli.ts"
import { describe, expect, it } from "vitest"
import { parseDuration } from "../src/definition/duration.ts"
import { LIMITS } from "../src/sim/scenario.ts"

const directory = mkdtempSync(join(tmpdir(), "faultline-input-"))
const cli = runCli

const scenario = (name: string, text: string): string => {
  const file = join(directory, name)
  writeFileSync(file, text)
  return file
}

/** A bad-input run: exit 2, nothing on stdout, one line on stderr that contains `expected`. */
const expectBadInput = (result: ReturnType<typeof cli>, expected: string) => {
  expect(result.stdout).toBe("")
  expect(result.stderr.trim().split("\n"), result.stderr).toHaveLength(1)
  expect(result.stderr).toContain(expected)
  expect(result.status).toBe(2)
}

const broadcast = (fields: string) => `protocol: causal-broadcast\nnodes: 3\n${fields}\n`

describe("durations", () => {
  it("take one set of forms everywhere: 500ms, 10s, 2m, 1h, and bare milliseconds", () => {
    expect([parseDuration("500ms"), parseDuration("10s"), parseDuration("2m"), parseDuration("1h"), parseDuration("250")]).toEqual([
      500, 10_000, 120_000, 3_600_000, 250
    ])
    expect(parseDuration(1.5)).toBe(1.5)
    expect([parseDuration("10 days"), parseDuration("-5s"), parseDuration("s"), parseDuration(-1)]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined
    ])
  })

  it("a bad duration flag is exit 2 naming the flag and the forms", () => {
    const history = join(directory, "empty.jsonl")
    writeFileSync(history, "")
    expectBadInput(cli(["check", history, "--time-limit", "soon"]), '--time-limit: expected a duration such as 500ms, 10s, 2m or 1h (a bare number is milliseconds), got "soon"')
    expect(cli(["check", history, "--time-limit", "2m"]).status).toBe(0)
  })
})

describe("limits, checked before anything runs", () => {
  it(`more than ${LIMITS.maxNodes} nodes is exit 2 with one line`, () => {
    expectBadInput(cli(["run", scenario("many.yaml", broadcast("nodes: 10000\nduration: 1s").replace("nodes: 3\n", ""))]), "nodes: 10000 is above the maximum of 128")
  })

  it("a phase longer than an hour of simulated time is exit 2 with one line", () => {
    expectBadInput(cli(["run", scenario("days.yaml", broadcast("duration: 72h"))]), "duration: 72h is above the maximum of 1 h of simulated time")
    expectBadInput(cli(["run", scenario("long-liveness.yaml", broadcast("duration: 1s\nliveness: 100m"))]), "liveness: 100m is above the maximum")
  })
})

describe("scheduled faults must fall in the safety phase", () => {
  it("a fault in the liveness phase is refused, naming the entry", () => {
    const text = broadcast("duration: 20s\nliveness: 10s\nfaults:\n  scheduled:\n    - { at: 1s, crash: n1 }\n    - { at: 25s, restart: n1 }")
    expectBadInput(cli(["run", scenario("liveness-fault.yaml", text)]), "faults.scheduled[1].at: 25s is in the liveness phase, which starts at 20 s")
  })

  it("a fault after the end is refused, naming the entry", () => {
    const text = broadcast("duration: 20s\nliveness: 10s\nfaults:\n  scheduled:\n    - { at: 31s, crash: n1 }")
    expectBadInput(cli(["run", scenario("late-fault.yaml", text)]), "faults.scheduled[0].at: 31s is after the run ends (at 30 s)")
  })
})

describe("Raft's timing options", () => {
  it("an election timeout range of one tick is refused: every server would time out together", () => {
    const raft = (options: string) => `protocol: raft\nnodes: 3\nduration: 2s\noptions: { ${options} }\nworkload: { clients: 1, operationsPerClient: 5 }\n`
    expectBadInput(
      cli(["run", scenario("narrow-timeout.yaml", raft("electionTimeoutTicksMin: 15, electionTimeoutTicksMax: 16"))]),
      "options.electionTimeoutTicksMax: must be at least electionTimeoutTicksMin + 2 (17)"
    )
    expect(cli(["run", scenario("two-timeouts.yaml", raft("electionTimeoutTicksMin: 15, electionTimeoutTicksMax: 17"))]).status).toBe(0)
  })
})

describe("a user's protocol module", () => {
  let modules = 0
  /** Runs a one-second scenario of `protocol` from the module `name` holding `lines`. */
  const runModule = (name: string, protocol: string, lines: ReadonlyArray<string>) => {
    const module = join(directory, name)
    writeFileSync(module, [...lines, ""].join("\n"))
    return cli(["run", scenario(`${protocol}.yaml`, `protocol: ${protocol}\nnodes: 3\nduration: 1s\n`), "--protocols", module])
  }

  it("whose build throws is exit 2 with its own message and where it was thrown", () => {
    const result = runModule("throwing-protocol.ts", "fragile", [
      "export const protocols = [{",
      '  name: "fragile",',
      '  description: "throws in build",',
      "  build: () => {",
      '    throw new Error("the fragile protocol cannot start")',
      "  }",
      "}]"
    ])
    expectBadInput(result, "protocol fragile: build failed: the fragile protocol cannot start (at ")
    expect(result.stderr).toContain("throwing-protocol.ts:5)")
  })

  it("whose checker throws mid-run stops the run with exit 4 and the stack, never exit 1, which means a violated check", () => {
    const definition = resolve("src/protocols/causal-broadcast/definition.ts")
    const result = runModule("broken-checker.ts", "broken-checker", [
      `import { causalBroadcastProtocol } from ${JSON.stringify(definition)}`,
      'const base = causalBroadcastProtocol("broken-checker")',
      "const broken = { checks: [\"broken\"], onEvent() {}, finish() { throw new Error(\"a checker's own bug\") }, violations: [] }",
      "export const protocols = [{ ...base, build: (run) => { const built = base.build(run); return { ...built, checkers: [...built.checkers, broken] } } }]"
    ])
    expect(result.stderr).toContain("faultline: stopped on an error of its own")
    expect(result.stderr).toContain("a checker's own bug")
    expect(result.stderr).toContain("broken-checker.ts:")
    expect(result.status).toBe(4)
  })

  it.each([
    ["[null]", "protocols[0]: expected a protocol definition (an object), found null"],
    ["[{}]", 'protocols[0]: "name" must be a non-empty string, found undefined'],
    ['[{ name: "twice", description: "", build() {} }, { name: "twice", description: "", build() {} }]', 'protocols[1]: a second protocol named "twice"'],
    ['[{ get name() { throw new Error("no name") }, description: "", build() {} }]', "protocols[0]: reading its fields threw: no name"],
    ['[{ name: "empty", description: "", build: () => null }]', "protocol empty: build returned null, not { server, clients, checkers }"],
    ['[{ name: "odd", description: "", build: () => ({ server: 5, clients: [], checkers: [] }) }]', 'protocol odd: build\'s "server" must be a function of the node id, found number'],
    ['[{ name: "odd", description: "", build: () => ({ server() {}, clients: [], checkers: [null] }) }]', "protocol odd: build's checkers[0] must be an object, found null"]
  ])("exporting %s is exit 2 naming what is wrong", (exported, message) => {
    const name = /name: "(\w+)"/.exec(exported)?.[1] ?? "causal-broadcast"
    expectBadInput(runModule(`module-${++modules}.mjs`, name, [`export const protocols = ${exported}`]), message)
  })
})

describe("replay", () => {
  it("replays a report from any directory, with no flags: the report carries the scenario and the module", () => {
    // Set up: a failing planted-bug run, reported as JSON from the repository.
    const failing = cli(["run", "test/fixtures/broadcast-fifo-only.yaml", "--seed", "2", "--swarm", "--protocols", "test/fixtures/broadcast-bugs.ts", "--json"])
    expect(failing.status).toBe(1)
    const report = join(directory, "failure.json")
    writeFileSync(report, failing.stdout)
    const recorded = JSON.parse(readFileSync(report, "utf8"))
    expect(recorded.scenarioText).toContain("protocol: causal-broadcast-fifo-only")
    expect(recorded.protocolsModule).toBe(resolve("test/fixtures/broadcast-bugs.ts"))

    // Act: replay it from another directory, where neither relative path exists.
    const replay = cli(["replay", "failure.json"], directory)

    // Check: it ran the same run, and the replay command it prints works from here too: the
    // report's, not `run` of a scenario path relative to where the report was made.
    expect(replay.stderr).toBe("")
    expect(replay.stdout).toContain(`✓ replay matches: trace hash ${recorded.traceHash}`)
    expect(replay.stdout).toContain(`replay: npx faultline replay ${report}\n`)
    expect(replay.stdout).not.toContain("replay: npx faultline run")
    expect(replay.status).toBe(0)

    // A replay that runs another protocol over the report names it in the command it prints.
    const variant = cli(["replay", "failure.json", "--protocol", "causal-broadcast-forget-others"], directory)
    expect(variant.stdout).toContain("✗ replay differs")
    expect(variant.stdout).toContain(`replay: npx faultline replay ${report} --protocol causal-broadcast-forget-others\n`)
  })

  it.each([
    ["null", "failure.json: expected a failure report (a JSON object), found null"],
    ['{"groups":[null]}', "failure.json: groups[0]: expected an object with the failure's scenario and seed"],
    ['{"groups":[{}]}', "failure.json: groups[0].failure: expected an object with the failure's scenario and seed"],
    ['{"scenario":"scenarios/raft-leader-crash.yaml","seed":1.5}', "failure.json: seed: expected a whole number"]
  ])("refuses the report %s in one line", (text, message) => {
    const report = join(mkdtempSync(join(directory, "report-")), "failure.json")
    writeFileSync(report, text)
    expectBadInput(cli(["replay", report]), message)
  })
})

describe("shrink", () => {
  it("refuses an output it cannot write, or an unknown protocol, before shrinking anything", () => {
    const file = "scenarios/raft-leader-crash.yaml"
    expectBadInput(cli(["shrink", file, "--seed", "1", "-o", join(directory, "no", "such", "repro.yaml")]), "-o: cannot write")
    const long = "p".repeat(500)
    expectBadInput(cli(["shrink", file, "--seed", "1", "--protocol", long]), `--protocol: unknown protocol "${"p".repeat(57)}..." (known: `)
  })
})

describe("flags", () => {
  it("a mistyped flag is one line, with commander's suggestion on it", () => {
    expectBadInput(cli(["run", "scenarios/raft-leader-crash.yaml", "--sed", "3"]), "faultline: unknown option '--sed' (Did you mean --seed?)")
  })

  it.each([
    ["run", "--seed", "1"],
    ["swarm", "--count", "1"],
    ["shrink", "--seed", "1"]
  ])("%s blames an unknown --protocol on the flag, not on the scenario file", (command, ...flags) => {
    const result = cli([command, "scenarios/raft-leader-crash.yaml", ...flags, "--protocol", "nope"])
    expectBadInput(result, `faultline: --protocol: unknown protocol "nope" (known: `)
    expect(result.stderr).not.toContain("raft-leader-crash.yaml")
  })
})

describe("run --history", () => {
  it("for a protocol with no clients is refused before the run writes any file", () => {
    const trace = join(directory, "kept.trace.jsonl")
    writeFileSync(trace, "what an earlier run wrote\n")
    const result = cli(["run", scenario("no-clients.yaml", broadcast("duration: 1s")), "--trace", trace, "--history", join(directory, "h.jsonl")])
    expectBadInput(result, "--history: protocol causal-broadcast has no clients, so no history")
    expect(readFileSync(trace, "utf8")).toBe("what an earlier run wrote\n")
  })
})

describe("--protocol: a variant over a shipped scenario", () => {
  it("swarm finds the planted bug in a shipped scenario, and its report replays from elsewhere with the variant", () => {
    // Set up and act: the FIFO-only broadcast swarmed over the quick-start scenario, no scenario of its own.
    const swarm = cli(["swarm", "scenarios/causal-broadcast-partitions.yaml", "--protocol", "causal-broadcast-fifo-only", "--protocols", "test/fixtures/broadcast-bugs.ts", "--count", "4", "--json"])
    expect(swarm.status).toBe(1)
    const report = JSON.parse(swarm.stdout)
    const group = report.groups.find((candidate: { signature: string }) => candidate.signature.startsWith("causal-order"))
    expect(group.replay).toContain("--protocol causal-broadcast-fifo-only --protocols test/fixtures/broadcast-bugs.ts")
    expect(group.failure.protocolOverride).toBe("causal-broadcast-fifo-only")
    writeFileSync(join(directory, "variant.json"), swarm.stdout)

    // Check: replayed from another directory, with no flags, it is the same run; the correct protocol passes that seed.
    const replay = cli(["replay", "variant.json"], directory)
    expect(replay.stdout).toContain(`✓ replay matches: trace hash ${group.failure.traceHash}`)
    expect(replay.status).toBe(0)
    const correct = cli(["run", "scenarios/causal-broadcast-partitions.yaml", "--seed", String(group.failure.seed), "--swarm"])
    expect(correct.status).toBe(0)
  })
})

describe("trace-check: a real cluster's trace files are input too", () => {
  const cluster = (trace: string): string => {
    const data = mkdtempSync(join(directory, "cluster-"))
    const nodes = [{ id: "n1", address: "127.0.0.1:7001", dataDirectory: join(data, "n1") }]
    writeFileSync(join(data, "cluster.json"), JSON.stringify({ protocol: "causal-broadcast", secretFile: join(data, "secret"), clockOriginUnixMs: 0, nodes }))
    writeFileSync(join(data, "n1.trace.jsonl"), trace)
    return data
  }
  const event = '{"t":5,"e":"event","node":"n1","name":"broadcast","attrs":{"origin":"n1","sequence":1,"dependencies":{},"lamport":1}}'

  it("names the file and line of a line the schema rejects, with exit 2 and no stack trace", () => {
    const data = cluster([event, '{"t":9,"e":"event","node":"n1","attrs":{}}', event].join("\n") + "\n")
    expectBadInput(cli(["trace-check", "--data", data]), `${join(data, "n1.trace.jsonl")}:2: a "event" line needs "name" (a string)`)
  })

  it("names the line of an event whose attributes the protocol's checkers cannot read", () => {
    const data = cluster([event, '{"t":9,"e":"event","node":"n1","name":"deliver","attrs":{"origin":"n1"}}'].join("\n") + "\n")
    expectBadInput(cli(["trace-check", "--data", data]), `${join(data, "n1.trace.jsonl")}:2: the checkers cannot read this "deliver" event (`)
  })

  it("judges a valid trace, and a last line a crash cut short is not an error", () => {
    const result = cli(["trace-check", "--data", cluster(`${event}\n{"t":9,"e":"eve`)])
    expect(result.stderr).toBe("")
    expect(result.stdout).toContain("1 trace files, 1 events")
    expect(result.status).toBe(0)
  })

  it("judges a long run's trace: more events than one call can take as arguments", () => {
    // A spread of 200,000 events into one push overflowed the call stack (exit 1 and a stack trace).
    const count = 200_000
    const lines = Array.from({ length: count }, (_, index) => {
      const sequence = index + 1
      return `{"t":${sequence},"e":"event","node":"n1","name":"broadcast","attrs":{"origin":"n1","sequence":${sequence},"dependencies":{},"lamport":${sequence}}}`
    })
    const result = cli(["trace-check", "--data", cluster(lines.join("\n") + "\n")])
    expect(result.stderr).toBe("")
    expect(result.stdout).toContain(`1 trace files, ${count.toLocaleString("en-US")} events`)
    expect(result.status).toBe(0)
  })
})

describe("the command line itself", () => {
  it("the operating system refusing a call is one line and exit 4, an environment failure, not a bug", () => {
    const file = join(directory, "a-file")
    writeFileSync(file, "")
    const result = cli(["cluster", "up", "--data", join(file, "data")])
    expect(result.stderr).toBe(`faultline: mkdir ${join(file, "data")} failed (ENOTDIR)\n`)
    expect(result.status).toBe(4)
  })

  it("--version prints the package's version", () => {
    const result = cli(["--version"])
    expect(result.stdout.trim()).toBe(JSON.parse(readFileSync("package.json", "utf8")).version)
    expect(result.status).toBe(0)
  })

  it.each(["run", "swarm", "shrink", "replay", "check"])("%s --help lists its exit codes", (command) => {
    const result = cli([command, "--help"])
    expect(result.stdout).toMatch(/Exit codes: 0 .*2 bad input/s)
  })

  it("--workers is capped at the number of seeds", () => {
    const result = cli(["swarm", "scenarios/causal-broadcast-crashes.yaml", "--count", "1", "--workers", "8"])
    expect(result.stderr).toMatch(/workers {6}1 \(capped from 8: 1 seeds, \d+ cores\)/)
    expect(result.stdout).toContain("  workers      1")
    expect(result.status).toBe(0)
  })
})
