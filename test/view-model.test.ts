// The viewer's data from a trace: arrows for sends, copies, holds and drops; outages and partitions as stretches of time;
// marks for protocol events and clock faults. Also the command's bad input, and that a view leaves the run's trace as it was.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parseTraceFile, type TraceLine } from "../src/trace/index.ts"
import { buildView } from "../src/view/build-view.ts"
import { MessageFate } from "../src/view/view-data.ts"
import { runCli } from "./fixtures/cli.ts"

const directory = mkdtempSync(join(tmpdir(), "faultline-view-model-"))

const lines = (text: string): Array<TraceLine> => {
  const parsed = parseTraceFile(text.trim(), "trace")
  if (typeof parsed === "string") throw new Error(parsed)
  return parsed
}

const trace = `
{"t":0,"e":"run","protocol":"causal-broadcast","seed":7,"nodes":2}
{"t":100,"e":"send","id":0,"from":"n1","to":"n2","at":900,"msg":{"_tag":"Data","payload":"a"}}
{"t":100,"e":"duplicate","id":0,"at":1500}
{"t":200,"e":"send","id":1,"from":"n2","to":"n1","msg":{"_tag":"Sync"}}
{"t":200,"e":"drop","id":1,"reason":"partition"}
{"t":300,"e":"send","id":2,"from":"n1","to":"n2","at":700,"msg":{"_tag":"Data","payload":"b"}}
{"t":400,"e":"fault","fault":{"_tag":"Crash","node":"n2"}}
{"t":500,"e":"fault","fault":{"_tag":"Partition","groups":[["n1"],["n2"]]}}
{"t":600,"e":"send","id":3,"from":"n1","to":"n2","at":650,"msg":{"_tag":"Sync"}}
{"t":600,"e":"hold","id":3}
{"t":700,"e":"drop","id":2,"reason":"down"}
{"t":800,"e":"fault","fault":{"_tag":"ClockStep","node":"n1","deltaMs":-50}}
{"t":1000,"e":"fault","fault":{"_tag":"Restart","node":"n2"}}
{"t":1100,"e":"deliver","id":3,"to":"n2"}
{"t":1200,"e":"event","node":"n1","name":"deliver","attrs":{"origin":"n1","sequence":1}}
{"t":2000,"e":"phase","phase":"liveness"}
{"t":2000,"e":"fault","fault":{"_tag":"Heal"}}
{"t":2500,"e":"violation","check":"causal-order","message":"node n2 delivered n1#2 before n1#1"}
`

describe("the view of a trace", () => {
  const view = buildView(lines(trace), undefined, "trace.jsonl")
  const messages = view.messages

  it("draws one arrow per send and per copy, each ending where the trace says", () => {
    expect(messages.id).toEqual([0, 0, 1, 2, 3])
    expect(messages.copy).toEqual([0, 1, 0, 0, 0])
    expect(messages.sendUs).toEqual([100, 100, 200, 300, 600])
    // A message dropped at once ends where it started; one dropped on arrival ends at its drop; a held one at its delivery.
    expect(messages.endUs).toEqual([900, 1500, 200, 700, 1100])
    expect(messages.fate).toEqual([MessageFate.delivered, MessageFate.delivered, MessageFate.dropped, MessageFate.dropped, MessageFate.held])
    expect(messages.text[3]).toContain("dropped: down")
    expect(view.types).toEqual(["Data", "Sync"])
    expect(view.summary.counts).toEqual({ sent: 4, duplicated: 1, dropped: 2, held: 1, arrows: 5 })
  })

  it("turns faults into stretches of time on their lanes, and clock faults and events into marks", () => {
    expect(view.lanes).toEqual(["n1", "n2"])
    expect(view.outages).toEqual([{ lane: 1, kind: "crash", startUs: 400, endUs: 1000, text: "crash n2" }])
    expect(view.networkFaults).toEqual([{ startUs: 500, endUs: 2000, lanes: [0, 1], text: "partition n1 | n2" }])
    expect(view.marks.map((mark) => [mark.kind, mark.lane, mark.timeUs])).toEqual([
      ["clock", 0, 800],
      ["event", 0, 1200],
      ["violation", -1, 2500]
    ])
  })

  it("summarises what the trace alone records: run, phases and violated checks", () => {
    expect(view.summary).toMatchObject({ protocol: "causal-broadcast", seed: 7, nodes: 2, endUs: 2500, livenessStartUs: 2000, checksComplete: false, replay: null })
    expect(view.summary.checks).toEqual([{ name: "causal-order", ok: false }])
    expect(view.operations).toEqual([])
    expect(view.witness).toBeNull()
  })
})

describe("faultline view", () => {
  const expectBadInput = (args: Array<string>, expected: string) => {
    const result = runCli(args)
    expect(result.stderr.trim().split("\n"), result.stderr).toHaveLength(1)
    expect(result.stderr).toContain(expected)
    expect(result.status).toBe(2)
  }

  it("refuses a missing file, a damaged trace, a trace without its run line, run flags on a trace and an unwritable page, in one line each", () => {
    const damaged = join(directory, "damaged.jsonl")
    writeFileSync(damaged, '{"t":0,"e":"run","protocol":"raft","seed":1,"nodes":3}\n{"t":5,"e":"send","id":"x"}\n')
    const headless = join(directory, "headless.jsonl")
    writeFileSync(headless, '{"t":5,"e":"timer","node":"n1"}\n')
    expectBadInput(["view", join(directory, "missing.jsonl")], "cannot read the trace file (ENOENT)")
    expectBadInput(["view", damaged], "damaged.jsonl:2:")
    expectBadInput(["view", headless], 'not a simulator trace (expected a "run" line first')
    expectBadInput(["view", damaged, "--seed", "3"], "--seed, --swarm and --protocol apply to a scenario file")
    const good = join(directory, "good.jsonl")
    writeFileSync(good, '{"t":0,"e":"run","protocol":"raft","seed":1,"nodes":3}\n')
    expectBadInput(["view", good, "-o", join(directory, "no-such-directory", "page.html")], "--output: cannot write")
  })

  it("leaves the run as it was: run --view gives the trace and trace hash that run --trace gives", () => {
    const plain = runCli(["run", "scenarios/causal-broadcast-partitions.yaml", "--json", "--trace", join(directory, "plain.jsonl")])
    const viewed = runCli([
      "run", "scenarios/causal-broadcast-partitions.yaml", "--json", "--trace", join(directory, "viewed.jsonl"), "--view", join(directory, "viewed.html")
    ])
    expect(viewed.status).toBe(0)
    expect((JSON.parse(viewed.stdout) as { traceHash: string }).traceHash).toBe((JSON.parse(plain.stdout) as { traceHash: string }).traceHash)
    expect(readFileSync(join(directory, "viewed.jsonl"), "utf8")).toBe(readFileSync(join(directory, "plain.jsonl"), "utf8"))
    const page = readFileSync(join(directory, "viewed.html"), "utf8")
    expect(page.startsWith("<!doctype html>")).toBe(true)
    expect(page).toContain("default-src 'none'")
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//)
  })
})
