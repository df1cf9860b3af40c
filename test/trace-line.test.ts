// The trace schema: every kind of line survives serializer → parser unchanged, and bad lines are named, not trusted.
import { describe, expect, it } from "vitest"
import {
  formatTraceLine,
  parseTraceEvents,
  parseTraceFile,
  parseTraceLine,
  TRACE_FAULT_FIELDS,
  TRACE_LINE_FIELDS,
  type TraceFault,
  type TraceLine
} from "../src/trace/index.ts"

const faults: ReadonlyArray<TraceFault> = [
  { _tag: "Partition", groups: [["n1"], ["n2", "n3"]] },
  { _tag: "PartitionOneWay", from: ["n1", "n2"], to: ["n3"] },
  { _tag: "Heal" },
  { _tag: "Crash", node: "n1" },
  { _tag: "Crash", node: "n2", torn: { file: "raft-log", keptBytes: 7 } },
  { _tag: "Restart", node: "n1" },
  { _tag: "Pause", node: "n3" },
  { _tag: "Resume", node: "n3" },
  { _tag: "Clog", from: "n1", to: "n2" },
  { _tag: "Unclog", from: "n1", to: "n2" },
  { _tag: "ClockOffset", node: "n2", offsetMs: -250 },
  { _tag: "ClockStep", node: "n2", deltaMs: 1500.5 },
  { _tag: "ClockDrift", node: "n4", drift: 0.02 },
  { _tag: "ClockReset", node: "n4" },
  { _tag: "NetworkReset" }
]

/** One line of every kind (two for kinds with an optional field), with strings that need escaping. */
const samples: ReadonlyArray<TraceLine> = [
  { t: 0, e: "run", protocol: "raft", seed: 42, nodes: 5 },
  { t: 20_000_000, e: "phase", phase: "liveness" },
  { t: 12, e: "violation", check: "causal-order", message: 'n2 delivered "n1#3" before n1#2\nsee above' },
  ...faults.map((fault, index): TraceLine => ({ t: 1000 * index, e: "fault", fault })),
  { t: 5, e: "send", id: 0, from: "n1", to: "n2", at: 1005, msg: { _tag: "Append", entries: [{ term: 1, value: "ü\u2028" }] } },
  { t: 5, e: "send", id: 1, from: "n1", to: "n9", msg: null },
  { t: 5, e: "duplicate", id: 0, at: 1900 },
  { t: 6, e: "hold", id: 0 },
  { t: 9, e: "deliver", id: 0, to: "n2" },
  { t: 9, e: "drop", id: 1, reason: "unknown-node" },
  { t: 10, e: "timer", node: "n3" },
  { t: 11, e: "sync", node: "n3", file: "hard-state" },
  { t: 11, e: "sync", node: "n3", file: "odd\\name\t\u0001\ud800 \u2028" },
  { t: 11, e: "disk-error", node: "n3", file: "raft-log", operation: "append" },
  { t: 12, e: "event", node: "n2", name: "deliver", attrs: { origin: "n1", sequence: 3, clock: { n1: 3 } } },
  { t: 12, e: "event", node: "c1", name: "weird \"name\"", attrs: {} },
  { t: 13, e: "span-start", node: "n1", span: 1, name: "persist", attrs: { entries: 2 }, localMs: 1000.013 },
  { t: 14, e: "span-end", node: "n1", span: 1, outcome: "error", localMs: 1000.014 },
  { t: 0, e: "start", node: "n1", pid: 4242, unixMs: 1_760_000_000_000 },
  { t: 99, e: "connection", node: "n1", kind: "Connected", peer: "n2", address: "127.0.0.1:7002", direction: "outbound", reason: null },
  { t: 99, e: "connection", node: "n1", kind: "Refused", peer: null, address: "127.0.0.1:5123", direction: "inbound", reason: "bad proof" }
]

describe("trace lines: serializer and parser", () => {
  it("the samples cover every kind of line and every fault", () => {
    expect(new Set(samples.map((line) => line.e))).toEqual(new Set(Object.keys(TRACE_LINE_FIELDS)))
    expect(new Set(faults.map((fault) => fault._tag))).toEqual(new Set(Object.keys(TRACE_FAULT_FIELDS)))
  })

  it.each(samples.map((line) => [`${line.e}${line.e === "fault" ? ` ${line.fault._tag}` : ""}`, line] as const))(
    "%s: parse(format(line)) is the line, with its keys in the declared order",
    (_, line) => {
      const text = formatTraceLine(line)
      expect(text).not.toContain("\n")
      // Valid JSON that means the same as the object itself.
      expect(JSON.parse(text)).toEqual(line)
      expect(parseTraceLine(text)).toEqual(line)
      const declared = ["t", "e", ...TRACE_LINE_FIELDS[line.e].map((field) => field.name).filter((name) => name in line)]
      expect(Object.keys(JSON.parse(text))).toEqual(declared)
      if (line.e === "fault") {
        const faultKeys = ["_tag", ...TRACE_FAULT_FIELDS[line.fault._tag].map((field) => field.name).filter((name) => name in line.fault)]
        expect(Object.keys(JSON.parse(text).fault)).toEqual(faultKeys)
      }
    }
  )

  it("writes the same bytes whatever the order of the object's keys", () => {
    const scrambled = { msg: [1, 2], at: 30, to: "n2", from: "n1", id: 4, e: "send", t: 10 } as const
    expect(formatTraceLine(scrambled)).toBe('{"t":10,"e":"send","id":4,"from":"n1","to":"n2","at":30,"msg":[1,2]}')
    const fault = { t: 1, e: "fault", fault: { node: "n1", deltaMs: 5, _tag: "ClockStep" } } as const
    expect(formatTraceLine(fault)).toBe('{"t":1,"e":"fault","fault":{"_tag":"ClockStep","node":"n1","deltaMs":5}}')
  })
})

describe("trace lines: the parser rejects bad lines", () => {
  it.each([
    ["not JSON", '{"t":1,"e":"timer"', "not a JSON trace line"],
    ["not an object", "[1,2]", "a trace line must be a JSON object"],
    ["no kind", '{"t":1}', 'a trace line needs "e"'],
    ["an unknown kind", '{"t":1,"e":"teleport","node":"n1"}', 'unknown kind of trace line "teleport"'],
    ["no time", '{"e":"timer","node":"n1"}', 'a "timer" line needs "t"'],
    ["a fractional time", '{"t":1.5,"e":"timer","node":"n1"}', 'a "timer" line needs "t"'],
    ["a missing field", '{"t":1,"e":"event","node":"n1","name":"x"}', 'a "event" line needs "attrs" (an object)'],
    ["a mistyped field", '{"t":1,"e":"sync","node":7,"file":"log"}', 'a "sync" line "node" must be a string'],
    ["a value outside its set", '{"t":1,"e":"drop","id":3,"reason":"bad luck"}', '"reason" must be "loss" or "partition"'],
    ["an unknown field", '{"t":1,"e":"hold","id":3,"extra":true}', 'a "hold" line has an unknown field "extra"'],
    ["a negative message id", '{"t":1,"e":"hold","id":-3}', '"id" must be a non-negative integer'],
    ["an unknown fault", '{"t":1,"e":"fault","fault":{"_tag":"Meteor"}}', '"fault" must be a fault'],
    ["a fault without its node", '{"t":1,"e":"fault","fault":{"_tag":"Crash"}}', '"fault" must be a fault'],
    ["attributes that are an array", '{"t":1,"e":"event","node":"n1","name":"x","attrs":[]}', '"attrs" must be an object']
  ])("%s", (_, text, message) => {
    const parsed = parseTraceLine(text)
    expect(typeof parsed).toBe("string")
    expect(parsed).toContain(message)
  })

  it("names the file and line of the first bad line", () => {
    const text = ['{"t":1,"e":"timer","node":"n1"}', "", '{"t":2,"e":"timer","node":"n1","late":1}', "garbage"].join("\n") + "\n"
    expect(parseTraceFile(text, "data/n1.trace.jsonl")).toBe('data/n1.trace.jsonl:3: a "timer" line has an unknown field "late"')
  })

  it("skips a last line a crash cut short, but not a cut-short line followed by more", () => {
    const whole = '{"t":1,"e":"event","node":"n1","name":"a","attrs":{}}'
    expect(parseTraceEvents(`${whole}\n{"t":2,"e":"ev`, "n1")).toEqual([{ timeUs: 1, node: "n1", name: "a", attributes: {}, place: "n1:1" }])
    expect(parseTraceEvents(`{"t":2,"e":"ev\n${whole}\n`, "n1")).toBe("n1:1: not a JSON trace line")
  })
})
