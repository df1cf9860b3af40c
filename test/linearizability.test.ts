// Tests for the key-value history parser, the linearizability checker and the history generator:
// hand-written histories, generated ones, and a cross-check against a brute-force checker.

import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { generateHistory } from "../src/check/history-generator.ts"
import {
  canonicalJson,
  type EventType,
  type HistoryEvent,
  type JsonValue,
  type Operation,
  type OperationFunction,
  operationsFromEvents,
  parseHistory,
  serializeHistoryEvent
} from "../src/check/history.ts"
import { checkLinearizability, type LinearizabilityResult } from "../src/check/linearizability.ts"

type Row = readonly [process: number, type: EventType, f: OperationFunction, key: string, value: JsonValue | undefined, time: number]

/** Builds a history from rows (process, type, f, key, value, time) through its text form, as a file would give it. */
const historyOf = (...rows: ReadonlyArray<Row>): ReadonlyArray<Operation> => {
  const text = rows
    .map(([process, type, f, key, value, time], index) =>
      serializeHistoryEvent({ index, process, type, f, key, time, ...(value === undefined ? {} : { value }) })
    )
    .join("\n")
  const parsed = parseHistory(text, "test.jsonl")
  if (parsed._tag === "ParseError") throw new Error(parsed.message)
  return parsed.operations
}

const check = (operations: ReadonlyArray<Operation>): LinearizabilityResult => checkLinearizability(operations, { timeBudgetMs: 20_000 })

const generatedOperations = (seed: number, operations: number, clients: number, keys: number, infoProbability?: number): ReadonlyArray<Operation> => {
  const events = generateHistory({ seed, operations, clients, keys, ...(infoProbability === undefined ? {} : { infoProbability }) })
  const parsed = operationsFromEvents(events, "generated")
  if (parsed._tag === "ParseError") throw new Error(parsed.message)
  return parsed.operations
}

/**
 * An independent, exponential checker: tries every order of every subset of the `info` operations,
 * over plain JSON texts. Only for a handful of operations.
 */
const bruteForceLinearizable = (operations: ReadonlyArray<Operation>): boolean => {
  const keys = new Set(operations.map((operation) => operation.key))
  return [...keys].every((key) => {
    const relevant = operations.filter(
      (operation) =>
        operation.key === key &&
        (operation._tag === "Cas" || (operation._tag === "Read" ? operation.outcome === "ok" : operation.outcome !== "fail"))
    )
    const step = (operation: Operation, state: string): string | null => {
      switch (operation._tag) {
        case "Read":
          return canonicalJson(operation.value) === state ? state : null
        case "Write":
          return canonicalJson(operation.value)
        case "Cas":
          if (operation.outcome === "fail") return canonicalJson(operation.expected) === state ? null : state
          return canonicalJson(operation.expected) === state ? canonicalJson(operation.newValue) : null
        case "Append": {
          const element = canonicalJson(operation.value)
          if (state === "null" || state === "[]") return `[${element}]`
          return state.startsWith("[") ? `${state.slice(0, -1)},${element}]` : null
        }
        case "Delete":
          return "null"
      }
    }
    const failed = new Set<string>()
    const search = (placed: number, state: string): boolean => {
      if (relevant.every((operation, index) => (placed & (1 << index)) !== 0 || operation.outcome === "info")) return true
      const memoKey = `${placed}|${state}`
      if (failed.has(memoKey)) return false
      for (const [index, operation] of relevant.entries()) {
        if ((placed & (1 << index)) !== 0) continue
        const mustWait = relevant.some(
          (other, otherIndex) => (placed & (1 << otherIndex)) === 0 && otherIndex !== index && other.returnTimeNs < operation.callTimeNs
        )
        if (mustWait) continue
        const next = step(operation, state)
        if (next !== null && search(placed | (1 << index), next)) return true
      }
      failed.add(memoKey)
      return false
    }
    return search(0, "null")
  })
}

describe("parseHistory", () => {
  it("pairs invokes with completions, and treats a call still outstanding at the end as info", () => {
    // Set up: a write that completes and a read that never does.
    const text = [
      `{"index":0,"process":1,"type":"invoke","f":"write","key":"k1","value":5,"time":100}`,
      `{"index":1,"process":2,"type":"invoke","f":"read","key":"k1","value":null,"time":150}`,
      `{"index":2,"process":1,"type":"ok","f":"write","key":"k1","value":5,"time":200}`,
      ``
    ].join("\n")
    // Act.
    const parsed = parseHistory(text, "history.jsonl")
    // Check.
    expect(parsed._tag).toBe("Parsed")
    if (parsed._tag !== "Parsed") return
    expect(parsed.operations).toHaveLength(2)
    expect(parsed.operations[0]).toMatchObject({ _tag: "Write", outcome: "ok", value: 5, callTimeNs: 100, returnTimeNs: 200 })
    expect(parsed.operations[1]).toMatchObject({ _tag: "Read", outcome: "info", returnTimeNs: Number.POSITIVE_INFINITY, completionIndex: null })
  })

  it("writes events back in the fixed key order, so that text round-trips", () => {
    const line = serializeHistoryEvent({ index: 0, process: 3, type: "invoke", f: "cas", key: "k1", value: [1, 2], time: 1_200_000 })
    expect(line).toBe(`{"index":0,"process":3,"type":"invoke","f":"cas","key":"k1","value":[1,2],"time":1200000}`)
    const deleteLine = serializeHistoryEvent({ index: 0, process: 3, type: "invoke", f: "delete", key: "k1", time: 7 })
    expect(deleteLine).toBe(`{"index":0,"process":3,"type":"invoke","f":"delete","key":"k1","time":7}`)
  })

  const invoke = `{"index":0,"process":3,"type":"invoke","f":"write","key":"k1","value":1,"time":10}`
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ["malformed JSON", `${invoke}\n{"index":1,"process":3,`, `history.jsonl:2: malformed JSON`],
    ["a completion without an invoke", `{"index":0,"process":3,"type":"ok","f":"read","key":"k1","value":null,"time":10}`, `history.jsonl:1: "ok" for process 3 without an "invoke"`],
    ["an unknown f", `{"index":0,"process":3,"type":"invoke","f":"incr","key":"k1","time":10}`, `history.jsonl:1: unknown "f" "incr"`],
    ["an unknown type", `{"index":0,"process":3,"type":"crash","f":"read","key":"k1","time":10}`, `history.jsonl:1: unknown "type" "crash"`],
    ["a missing process", `{"index":0,"type":"invoke","f":"read","key":"k1","time":10}`, `history.jsonl:1: "process" must be an integer`],
    ["a fractional time", `{"index":0,"process":1,"type":"invoke","f":"read","key":"k1","time":1.5}`, `history.jsonl:1: "time" must be`],
    ["indexes that skip", `${invoke}\n{"index":2,"process":3,"type":"ok","f":"write","key":"k1","value":1,"time":20}`, `history.jsonl:2: "index" is 2, expected 1`],
    ["a second invoke while one is outstanding", `${invoke}\n{"index":1,"process":3,"type":"invoke","f":"read","key":"k1","time":20}`, `history.jsonl:2: "invoke" for process 3 while its "invoke" on line 1 is still outstanding`],
    ["a completion whose f differs", `${invoke}\n{"index":1,"process":3,"type":"ok","f":"read","key":"k1","value":1,"time":20}`, `history.jsonl:2: "ok" for process 3 has "f" "read"`],
    ["a completion whose key differs", `${invoke}\n{"index":1,"process":3,"type":"ok","f":"write","key":"k2","value":1,"time":20}`, `history.jsonl:2: "ok" for process 3 has "key" "k2"`],
    ["a cas without [expected, new]", `{"index":0,"process":3,"type":"invoke","f":"cas","key":"k1","value":1,"time":10}`, `history.jsonl:1: a cas "invoke" needs`],
    ["a read ok without a value", `{"index":0,"process":3,"type":"invoke","f":"read","key":"k1","time":10}\n{"index":1,"process":3,"type":"ok","f":"read","key":"k1","time":20}`, `history.jsonl:2: a read "ok" needs`],
    // Nested past the call stack, a value broke the checker's recursive canonical form (a RangeError and a stack trace).
    ["a value nested thousands deep", `${invoke}\n{"index":1,"process":3,"type":"ok","f":"write","key":"k1","value":${"[".repeat(5000)}${"]".repeat(5000)},"time":20}`, `history.jsonl:2: the event nests more than 100 levels deep`],
    ["a key nested thousands deep", `{"index":0,"process":3,"type":"invoke","f":"read","key":${"[".repeat(5000)}${"]".repeat(5000)},"time":10}`, `history.jsonl:1: the event nests more than 100 levels deep`]
  ]
  for (const [name, text, message] of cases) {
    it(`reports ${name} on one line naming the file and line, without throwing`, () => {
      const parsed = parseHistory(text, "history.jsonl")
      expect(parsed._tag).toBe("ParseError")
      if (parsed._tag !== "ParseError") return
      expect(parsed.message.startsWith(message)).toBe(true)
      expect(parsed.message).not.toContain("\n")
    })
  }
})

describe("checkLinearizability on hand-written histories", () => {
  it("accepts a sequential history. Reference: Herlihy & Wing 1990, a sequential history is linearizable iff legal", () => {
    const operations = historyOf(
      [1, "invoke", "write", "x", 1, 0],
      [1, "ok", "write", "x", 1, 10],
      [2, "invoke", "read", "x", null, 20],
      [2, "ok", "read", "x", 1, 30],
      [1, "invoke", "cas", "x", [1, 2], 40],
      [1, "ok", "cas", "x", [1, 2], 50],
      [2, "invoke", "delete", "x", undefined, 60],
      [2, "ok", "delete", "x", undefined, 70],
      [1, "invoke", "read", "x", null, 80],
      [1, "ok", "read", "x", null, 90]
    )
    expect(check(operations)._tag).toBe("Linearizable")
  })

  it("accepts a read overlapping a write whichever value it returns. Reference: concurrent calls may take effect in either order", () => {
    for (const readValue of [null, 1]) {
      const operations = historyOf(
        [1, "invoke", "write", "x", 1, 0],
        [2, "invoke", "read", "x", null, 10],
        [2, "ok", "read", "x", readValue, 50],
        [1, "ok", "write", "x", 1, 100]
      )
      expect(check(operations)._tag).toBe("Linearizable")
    }
  })

  it("accepts two reads that see an overlapping write in real-time order, and rejects them reversed", () => {
    const history = (first: JsonValue, second: JsonValue): ReadonlyArray<Operation> =>
      historyOf(
        [1, "invoke", "write", "x", 1, 0],
        [2, "invoke", "read", "x", null, 10],
        [2, "ok", "read", "x", first, 20],
        [3, "invoke", "read", "x", null, 30],
        [3, "ok", "read", "x", second, 40],
        [1, "ok", "write", "x", 1, 100]
      )
    expect(check(history(null, 1))._tag).toBe("Linearizable")
    expect(check(history(1, null))._tag).toBe("NotLinearizable")
  })

  it("rejects a stale read and shrinks it to the writes and the read. Reference: real-time order must be respected", () => {
    // Set up: write 1, then write 2, then a read that still returns 1; a read of another key is noise.
    const operations = historyOf(
      [1, "invoke", "write", "x", 1, 0],
      [1, "ok", "write", "x", 1, 10],
      [4, "invoke", "read", "y", null, 12],
      [4, "ok", "read", "y", null, 14],
      [1, "invoke", "write", "x", 2, 20],
      [1, "ok", "write", "x", 2, 30],
      [3, "invoke", "read", "x", null, 35],
      [3, "ok", "read", "x", 2, 38],
      [2, "invoke", "read", "x", null, 40],
      [2, "ok", "read", "x", 1, 50]
    )
    // Act.
    const result = check(operations)
    // Check.
    expect(result._tag).toBe("NotLinearizable")
    if (result._tag !== "NotLinearizable") return
    expect(result.key).toBe("x")
    expect(result.operations.map((operation) => [operation._tag, operation.process])).toEqual([
      ["Write", 1],
      ["Write", 1],
      ["Read", 2]
    ])
    expect(result.explanation).toContain("process 2 read 1")
    expect(result.explanation).toContain("the key is 2")
  })

  it("rejects a lost acknowledged write", () => {
    const operations = historyOf(
      [1, "invoke", "write", "x", 1, 0],
      [1, "ok", "write", "x", 1, 10],
      [2, "invoke", "read", "x", null, 20],
      [2, "ok", "read", "x", null, 30]
    )
    const result = check(operations)
    expect(result._tag).toBe("NotLinearizable")
    if (result._tag !== "NotLinearizable") return
    expect(result.operations).toHaveLength(2)
    expect(result.explanation).toContain("read absent")
  })

  it("accepts an info write that must have happened, and one that must not have. Reference: Jepsen, info may or may not take effect", () => {
    const history = (readValue: JsonValue): ReadonlyArray<Operation> =>
      historyOf([1, "invoke", "write", "x", 1, 0], [1, "info", "write", "x", 1, 10], [2, "invoke", "read", "x", null, 20], [2, "ok", "read", "x", readValue, 30])
    expect(check(history(1))._tag).toBe("Linearizable")
    expect(check(history(null))._tag).toBe("Linearizable")
  })

  it("accepts an info write that takes effect long after it timed out, but never one that is undone", () => {
    const history = (first: JsonValue, second: JsonValue): ReadonlyArray<Operation> =>
      historyOf(
        [1, "invoke", "write", "x", 1, 0],
        [1, "info", "write", "x", 1, 10],
        [2, "invoke", "read", "x", null, 20],
        [2, "ok", "read", "x", first, 30],
        [2, "invoke", "read", "x", null, 40],
        [2, "ok", "read", "x", second, 50]
      )
    expect(check(history(null, 1))._tag).toBe("Linearizable")
    expect(check(history(1, null))._tag).toBe("NotLinearizable")
  })

  it("rejects two concurrent cas with the same expected value that both succeed, and accepts one ok and one fail", () => {
    const history = (secondOutcome: "ok" | "fail"): ReadonlyArray<Operation> =>
      historyOf(
        [1, "invoke", "write", "x", 0, 0],
        [1, "ok", "write", "x", 0, 10],
        [2, "invoke", "cas", "x", [0, 1], 20],
        [3, "invoke", "cas", "x", [0, 2], 21],
        [2, "ok", "cas", "x", [0, 1], 40],
        [3, secondOutcome, "cas", "x", [0, 2], 41]
      )
    const race = check(history("ok"))
    expect(race._tag).toBe("NotLinearizable")
    if (race._tag === "NotLinearizable") expect(race.operations.map((operation) => operation._tag)).toEqual(["Write", "Cas", "Cas"])
    expect(check(history("fail"))._tag).toBe("Linearizable")
  })

  it("treats a failed cas as a check that the key held something else", () => {
    const history = (expected: JsonValue): ReadonlyArray<Operation> =>
      historyOf([1, "invoke", "write", "x", 0, 0], [1, "ok", "write", "x", 0, 10], [2, "invoke", "cas", "x", [expected, 5], 20], [2, "fail", "cas", "x", [expected, 5], 30])
    expect(check(history(7))._tag).toBe("Linearizable")
    expect(check(history(0))._tag).toBe("NotLinearizable")
  })

  it("drops failed writes, appends and deletes: they did not happen", () => {
    const operations = historyOf(
      [1, "invoke", "write", "x", 1, 0],
      [1, "fail", "write", "x", 1, 10],
      [1, "invoke", "delete", "x", undefined, 20],
      [1, "fail", "delete", "x", undefined, 30],
      [2, "invoke", "read", "x", null, 40],
      [2, "ok", "read", "x", null, 50]
    )
    expect(check(operations)._tag).toBe("Linearizable")
  })

  it("checks the order of appends against the lists reads return", () => {
    const sequential = (readValue: JsonValue): ReadonlyArray<Operation> =>
      historyOf(
        [1, "invoke", "append", "x", 1, 0],
        [1, "ok", "append", "x", 1, 10],
        [2, "invoke", "append", "x", 2, 20],
        [2, "ok", "append", "x", 2, 30],
        [3, "invoke", "read", "x", null, 40],
        [3, "ok", "read", "x", readValue, 50]
      )
    expect(check(sequential([1, 2]))._tag).toBe("Linearizable")
    expect(check(sequential([2, 1]))._tag).toBe("NotLinearizable")
    expect(check(sequential([1]))._tag).toBe("NotLinearizable")
    const concurrent = historyOf(
      [1, "invoke", "append", "x", 1, 0],
      [2, "invoke", "append", "x", 2, 1],
      [1, "ok", "append", "x", 1, 10],
      [2, "ok", "append", "x", 2, 11],
      [3, "invoke", "read", "x", null, 40],
      [3, "ok", "read", "x", [2, 1], 50]
    )
    expect(check(concurrent)._tag).toBe("Linearizable")
  })

  it("checks each key on its own and names the key that fails. Reference: Herlihy & Wing 1990, locality", () => {
    const history = (yValue: JsonValue): ReadonlyArray<Operation> =>
      historyOf(
        [1, "invoke", "write", "x", 1, 0],
        [2, "invoke", "write", "y", 1, 1],
        [1, "ok", "write", "x", 1, 10],
        [2, "ok", "write", "y", 1, 11],
        [3, "invoke", "read", "x", null, 20],
        [4, "invoke", "read", "y", null, 21],
        [3, "ok", "read", "x", 1, 30],
        [4, "ok", "read", "y", yValue, 31]
      )
    expect(check(history(1))._tag).toBe("Linearizable")
    const result = check(history(2))
    expect(result._tag).toBe("NotLinearizable")
    if (result._tag !== "NotLinearizable") return
    expect(result.key).toBe("y")
    expect(result.operations.every((operation) => operation.key === "y")).toBe(true)
  })

  it("accepts an empty history", () => {
    expect(check([])._tag).toBe("Linearizable")
  })
})

describe("checkLinearizability on generated histories", () => {
  it("accepts the generated 10,000-operation, 8-client, 10-key history", () => {
    const operations = generatedOperations(1, 10_000, 8, 10)
    expect(operations).toHaveLength(10_000)
    expect(operations.some((operation) => operation.outcome === "info")).toBe(true)
    expect(check(operations)._tag).toBe("Linearizable")
  })

  it("generates the same history from the same seed", () => {
    const first = generateHistory({ seed: 7, operations: 200, clients: 4, keys: 3 })
    const second = generateHistory({ seed: 7, operations: 200, clients: 4, keys: 3 })
    expect(second).toEqual(first)
  })

  /** Generates a history and replaces the value of one successful read of a register, after the middle. */
  const corruptOneRead = (seed: number, corrupt: (events: ReadonlyArray<HistoryEvent>, target: number) => JsonValue) => {
    const events = [...generateHistory({ seed, operations: 4000, clients: 8, keys: 10 })]
    const target = events.findIndex(
      (event, index) => index > events.length / 2 && event.f === "read" && event.type === "ok" && typeof event.value === "number"
    )
    const read = events[target]!
    events[target] = { ...read, value: corrupt(events, target) }
    const parsed = operationsFromEvents(events, "corrupted")
    if (parsed._tag === "ParseError") throw new Error(parsed.message)
    return { operations: parsed.operations, read, target }
  }

  it("rejects a generated history where one read returns a value never written, and the witness is that read", () => {
    // Set up.
    const { operations, read, target } = corruptOneRead(3, () => -1)
    // Act.
    const result = check(operations)
    // Check.
    expect(result._tag).toBe("NotLinearizable")
    if (result._tag !== "NotLinearizable") return
    expect(result.key).toBe(read.key)
    expect(result.operations.map((operation) => operation.completionIndex)).toEqual([target])
    expect(result.explanation).toContain("No operation on the key writes the value it sees")
  })

  it("rejects a generated history where one read returns a stale value, with a witness of a few operations", () => {
    // Set up: the read returns the value of the sixth-latest write to its key before it.
    const { operations, read, target } = corruptOneRead(3, (events, target) => {
      const writes = events.slice(0, target).filter((event) => event.key === events[target]!.key && event.f === "write" && event.type === "ok")
      return writes[writes.length - 6]!.value ?? null
    })
    // Act.
    const result = check(operations)
    // Check: the witness holds the read, is small, and is a violation on its own.
    expect(result._tag).toBe("NotLinearizable")
    if (result._tag !== "NotLinearizable") return
    expect(result.key).toBe(read.key)
    expect(result.operations.some((operation) => operation.completionIndex === target)).toBe(true)
    expect(result.operations.length).toBeLessThanOrEqual(5)
    expect(bruteForceLinearizable(result.operations)).toBe(false)
  })

  it("returns Unknown instead of running past its budget, reading the injected clock", () => {
    const operations = generatedOperations(5, 10_000, 8, 2)
    let clockMs = 0
    const result = checkLinearizability(operations, { timeBudgetMs: 5, now: () => (clockMs += 1) })
    expect(result._tag).toBe("Unknown")
    if (result._tag === "Unknown") expect(result.reason).toContain("time budget of 5 ms")
  })

  it("always accepts generated histories (property)", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        (seed, operations, clients, keys, infoProbability) =>
          check(generatedOperations(seed, operations, clients, keys, infoProbability))._tag === "Linearizable"
      ),
      { numRuns: 150 }
    )
  })
})

describe("checkLinearizability against a brute-force checker", () => {
  const valueArbitrary = fc.constantFrom<JsonValue>(null, 1, 2, [1], [1, 2], [2, 1], [1, 1], [3, 1])
  const operationArbitrary = fc.record({
    tag: fc.constantFrom<Operation["_tag"]>("Read", "Read", "Write", "Cas", "Append", "Append", "Delete"),
    outcome: fc.constantFrom<Operation["outcome"]>("ok", "ok", "ok", "fail", "info"),
    key: fc.constantFrom("x", "x", "x", "y"),
    callTimeNs: fc.integer({ min: 0, max: 20 }),
    durationNs: fc.integer({ min: 0, max: 12 }),
    first: valueArbitrary,
    second: fc.constantFrom<JsonValue>(1, 2, 3)
  })
  const toOperation = (row: typeof operationArbitrary extends fc.Arbitrary<infer T> ? T : never, index: number): Operation => {
    const base = {
      process: index,
      key: row.key,
      outcome: row.outcome,
      callTimeNs: row.callTimeNs,
      returnTimeNs: row.outcome === "info" ? Number.POSITIVE_INFINITY : row.callTimeNs + row.durationNs,
      invokeIndex: index,
      completionIndex: index
    }
    switch (row.tag) {
      case "Read":
        return { _tag: "Read", ...base, value: row.outcome === "ok" ? row.first : null }
      case "Write":
        return { _tag: "Write", ...base, value: row.first }
      case "Cas":
        return { _tag: "Cas", ...base, expected: row.first, newValue: row.second }
      case "Append":
        return { _tag: "Append", ...base, value: row.second }
      case "Delete":
        return { _tag: "Delete", ...base }
    }
  }

  it("agrees on small random histories, and every witness is itself not linearizable", () => {
    fc.assert(
      fc.property(fc.array(operationArbitrary, { minLength: 1, maxLength: 8 }), (rows) => {
        const operations = rows.map(toOperation)
        const result = check(operations)
        expect(result._tag).not.toBe("Unknown")
        expect(result._tag === "Linearizable").toBe(bruteForceLinearizable(operations))
        if (result._tag === "NotLinearizable") {
          expect(result.operations.length).toBeGreaterThan(0)
          expect(result.operations.every((operation) => operation.key === result.key)).toBe(true)
          expect(bruteForceLinearizable(result.operations)).toBe(false)
        }
      }),
      { numRuns: 4000 }
    )
  })

  it("agrees with no memory for a memo, or says that memory ran out", () => {
    // 4 KiB is less than a memo's first arrays, so the search runs without one; lists the search
    // builds may still outgrow it, and then (only then) the answer is unknown.
    fc.assert(
      fc.property(fc.array(operationArbitrary, { minLength: 1, maxLength: 8 }), (rows) => {
        const operations = rows.map(toOperation)
        const result = checkLinearizability(operations, { timeBudgetMs: 20_000, memoryBudgetBytes: 4096 })
        if (result._tag === "Unknown") {
          expect(result.reason).toContain("outgrew the memory budget")
          expect(operations.some((operation) => operation._tag === "Append")).toBe(true)
          return
        }
        expect(result._tag === "Linearizable").toBe(bruteForceLinearizable(operations))
        if (result._tag === "NotLinearizable") expect(bruteForceLinearizable(result.operations)).toBe(false)
      }),
      { numRuns: 2000 }
    )
  })
})
