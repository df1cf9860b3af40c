// Tests of the replicated key-value state machine: each operation, exactly-once client sessions
// (thesis §6.3, paper §8), and snapshot data that round-trips through JSON (§7).
import { describe, expect, it } from "vitest"
import {
  apply,
  emptyKvState,
  restore,
  snapshotData,
  type Entry,
  type KvOperation,
  type KvState
} from "../src/protocols/raft/index.ts"
import { TestNetwork } from "../src/protocols/raft/testing.ts"

function kvEntry(index: number, clientId: string, sequence: number, operation: KvOperation): Entry {
  return { term: 1, index, command: { _tag: "Kv", clientId, sequence, operation } }
}

/** Applies `operations` as successive entries of one client, returning the answers. */
function run(state: KvState, operations: KvOperation[]) {
  return operations.map((operation) => {
    const index = state.appliedIndex + 1
    const result = apply(state, kvEntry(index, "c1", index, operation))
    return result._tag === "Kv" ? result.result : result
  })
}

describe("key-value operations", () => {
  it("Get, Put, Delete, Cas and Append answer as specified", () => {
    // Set up.
    const state = emptyKvState()

    // Act.
    const results = run(state, [
      { _tag: "Get", key: "k" },
      { _tag: "Put", key: "k", value: { n: 1 } },
      { _tag: "Get", key: "k" },
      { _tag: "Cas", key: "k", expected: { n: 2 }, value: "no" },
      { _tag: "Cas", key: "k", expected: { n: 1 }, value: "yes" },
      { _tag: "Delete", key: "k" },
      { _tag: "Cas", key: "k", expected: null, value: "created" },
      { _tag: "Append", key: "list", value: 1 },
      { _tag: "Append", key: "list", value: [2] },
      { _tag: "Get", key: "list" }
    ])

    // Check.
    expect(results).toEqual([
      { _tag: "Value", value: null },
      { _tag: "Ok" },
      { _tag: "Value", value: { n: 1 } },
      { _tag: "CasResult", ok: false, current: { n: 1 } },
      { _tag: "CasResult", ok: true, current: { n: 1 } },
      { _tag: "Ok" },
      { _tag: "CasResult", ok: true, current: null },
      { _tag: "Ok" },
      { _tag: "Ok" },
      { _tag: "Value", value: [1, [2]] }
    ])
    expect(state.values.get("k")).toBe("created")
  })

  it("Noop and configuration entries advance the applied index and touch no data", () => {
    const state = emptyKvState()
    expect(apply(state, { term: 0, index: 1, command: { _tag: "ConfigChange", change: { _tag: "AddNode", node: "a" } } })).toEqual({ _tag: "ConfigChange" })
    expect(apply(state, { term: 1, index: 2, command: { _tag: "Noop" } })).toEqual({ _tag: "Noop" })
    expect(state.appliedIndex).toBe(2)
    expect(state.values.size).toBe(0)
    expect(() => apply(state, { term: 1, index: 4, command: { _tag: "Noop" } })).toThrow(/applying entry 4 after 2/)
  })
})

describe("thesis §6.3 exactly-once client sessions", () => {
  it("a retried request is answered from the session and not applied twice", () => {
    // Reference: thesis §6.3 "if it receives a command whose serial number has already been
    // executed, it responds immediately without re-executing the request".
    // Set up.
    const state = emptyKvState()
    const append = { _tag: "Append", key: "log", value: "once" } as const

    // Act: the same (clientId, sequence) is committed twice, e.g. retried after a leader change.
    const first = apply(state, kvEntry(1, "c1", 7, append))
    const retry = apply(state, kvEntry(2, "c1", 7, append))
    const other = apply(state, kvEntry(3, "c2", 7, append))
    const older = apply(state, kvEntry(4, "c1", 6, append))

    // Check.
    expect(first).toEqual({ _tag: "Kv", clientId: "c1", sequence: 7, result: { _tag: "Ok" }, duplicate: false })
    expect(retry).toEqual({ _tag: "Kv", clientId: "c1", sequence: 7, result: { _tag: "Ok" }, duplicate: true })
    expect(other).toMatchObject({ duplicate: false })
    expect(older).toEqual({
      _tag: "Kv", clientId: "c1", sequence: 6, result: { _tag: "StaleSequence", lastSequence: 7 }, duplicate: true
    })
    expect(state.values.get("log")).toEqual(["once", "once"])
  })

  it("a retried Cas returns the stored answer even though the value has changed since", () => {
    // Reference: thesis §6.3: the session stores the response, not just the serial number.
    const state = emptyKvState()
    apply(state, kvEntry(1, "c1", 1, { _tag: "Put", key: "k", value: 1 }))
    const cas = { _tag: "Cas", key: "k", expected: 1, value: 2 } as const
    const first = apply(state, kvEntry(2, "c1", 2, cas))
    apply(state, kvEntry(3, "c2", 1, { _tag: "Put", key: "k", value: 9 }))
    const retry = apply(state, kvEntry(4, "c1", 2, cas))
    expect(first).toMatchObject({ result: { _tag: "CasResult", ok: true, current: 1 } })
    expect(retry).toMatchObject({ result: { _tag: "CasResult", ok: true, current: 1 }, duplicate: true })
    expect(state.values.get("k")).toBe(9)
  })

  it("sessions survive replication: a request proposed twice applies once on every server", () => {
    // Reference: paper §8 "The state machine tracks the latest serial number processed for
    // each client, along with the associated response."
    // Set up.
    const net = new TestNetwork(["a", "b", "c"])
    net.elect("a")
    const command = { _tag: "Kv", clientId: "c1", sequence: 1, operation: { _tag: "Append", key: "l", value: "x" } } as const

    // Act: the client's retry is proposed again after the first copy committed.
    net.node("a").propose(command)
    net.stabilize()
    net.node("a").propose(command)
    net.stabilize()

    // Check.
    for (const id of ["a", "b", "c"]) expect(net.stateMachine(id).values.get("l")).toEqual(["x"])
  })
})

describe("§7 snapshot data", () => {
  it("round-trips through JSON, sessions included", () => {
    // Set up.
    const state = emptyKvState()
    apply(state, kvEntry(1, "c2", 3, { _tag: "Put", key: "b", value: [1, { x: null }] }))
    apply(state, kvEntry(2, "c1", 5, { _tag: "Append", key: "a", value: true }))

    // Act.
    const data = JSON.parse(JSON.stringify(snapshotData(state)))
    const restored = restore(data)
    const equalBeforeRetry = snapshotData(restored)
    const retry = apply(restored, kvEntry(3, "c1", 5, { _tag: "Append", key: "a", value: true }))

    // Check: same contents, and the session still recognises the retry.
    expect(restored.values).toEqual(state.values)
    expect(restored.sessions).toEqual(state.sessions)
    expect(equalBeforeRetry).toEqual(data)
    expect(retry).toMatchObject({ duplicate: true })
    expect(restored.values.get("a")).toEqual([true])
    expect(restore(null)).toEqual(emptyKvState())
    expect(() => restore({ values: [] })).toThrow(/appliedIndex/)
  })
})

describe("the log carries opaque commands", () => {
  it("the core replicates any application's command; the key-value state machine refuses one not its own", () => {
    // Set up: a log entry with another application's command, which the core's types accept.
    const state = emptyKvState()
    const foreign: Entry = { term: 1, index: 1, command: { _tag: "Counter", increment: 2 } }

    // Act and check: the key-value machine asserts rather than guessing what it means.
    expect(() => apply(state, foreign)).toThrow(/carries \{"_tag":"Counter","increment":2\}, not a key-value command/)
    expect(apply(emptyKvState(), { term: 1, index: 1, command: { _tag: "Noop" } })).toEqual({ _tag: "Noop" })
  })
})
