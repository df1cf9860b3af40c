// faultline check: exit 0 linearizable, 1 not (with the witness), 2 bad input (with the line number), 3 unknown.
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "./fixtures/cli.ts"
import { describe, expect, it } from "vitest"
import { generateHistory } from "../src/check/history-generator.ts"
import { serializeHistoryEvent } from "../src/check/history.ts"

const directory = mkdtempSync(join(tmpdir(), "faultline-check-"))
const check = (lines: ReadonlyArray<string>, ...flags: Array<string>) => {
  const file = join(directory, `h${Math.random().toString(36).slice(2)}.jsonl`)
  writeFileSync(file, lines.join("\n") + "\n")
  return { file, ...runCli(["check", file, ...flags]) }
}

const event = (index: number, process: number, type: string, f: string, value: unknown, time: number) =>
  JSON.stringify({ index, process, type, f, key: "k1", ...(value === undefined ? {} : { value }), time })

const staleRead = [
  event(0, 1, "invoke", "write", 1, 0),
  event(1, 1, "ok", "write", 1, 10),
  event(2, 2, "invoke", "write", 2, 20),
  event(3, 2, "ok", "write", 2, 30),
  event(4, 3, "invoke", "read", undefined, 40),
  event(5, 3, "ok", "read", 1, 50)
]

describe("faultline check", () => {
  it("exit 0 for a linearizable history (a generated one of 2,000 operations)", () => {
    const lines = generateHistory({ seed: 3, operations: 2000, clients: 5, keys: 4 }).map(serializeHistoryEvent)
    const result = check(lines)
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("✓ linearizable")
  })

  it("exit 1 for a stale read, naming the operations that cannot be ordered", () => {
    const result = check(staleRead)
    expect(result.status).toBe(1)
    expect(result.stdout).toContain("✗ not linearizable: key k1")
    expect(result.stdout).toContain("read k1 -> 1")
  })

  it.each([
    ["a malformed line", [staleRead[0]!, "{not json"], ":2:"],
    ["an ok without an invoke", [event(0, 1, "ok", "write", 1, 0)], ':1: "ok" for process 1 without an "invoke"'],
    ["an unknown f", [event(0, 1, "invoke", "increment", 1, 0)], ":1:"]
  ])("exit 2 for %s, with the line number", (_, lines, expected) => {
    const result = check(lines)
    expect(result.status).toBe(2)
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain(`${result.file}${expected}`)
  })

  it("checks the history a Raft run writes with --history", () => {
    const history = join(directory, "raft-history.jsonl")
    const cli = (...args: Array<string>) => runCli(args)
    const run = cli("run", "scenarios/raft-minority-partition.yaml", "--seed", "2", "--history", history)
    expect(run.status).toBe(0)
    const result = cli("check", history, "--model", "kv")
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/\d+ operations on \d+ keys/)
  }, 60_000)

  it("exit 2 for an unknown model", () => {
    const result = check(staleRead, "--model", "graph")
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('--model: unknown model "graph"')
  })
})
