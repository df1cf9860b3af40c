// The quorum store's `stale-read` check on hand-made events: a read that starts after a write was
// acknowledged must return it or a value whose write followed it, and a read missing several names
// the first of them to be invoked, whatever order they were acknowledged in.
import { describe, expect, it } from "vitest"
import type { ProtocolEvent } from "../src/check/checker.ts"
import { QuorumStoreChecker } from "../src/check/quorum-store.ts"

const history = (timeUs: number, attributes: Record<string, unknown>): ProtocolEvent => ({ timeUs, node: "c1", name: "history", attributes })

/** Two blind writes of k1, invoked as 1 then 2 and acknowledged as 2 then 1, then a read that returns `values`. */
const staleReads = (values: Array<number>, readInvokeUs = 300): Array<string> => {
  const checker = new QuorumStoreChecker({ livenessBoundMs: 3000, ownersOf: () => ["n1", "n2", "n3"], convergenceMs: 1000, lastWriterWins: false })
  const events = [
    history(100, { process: 1, type: "invoke", f: "write", key: "k1", value: 1, supersedes: [] }),
    history(110, { process: 2, type: "invoke", f: "write", key: "k1", value: 2, supersedes: [] }),
    history(150, { process: 2, type: "ok", f: "write", key: "k1", value: 2 }),
    history(200, { process: 1, type: "ok", f: "write", key: "k1", value: 1 }),
    history(readInvokeUs, { process: 3, type: "invoke", f: "read", key: "k1", value: null }),
    history(readInvokeUs + 10, { process: 3, type: "ok", f: "read", key: "k1", value: values })
  ]
  for (const event of events) checker.onEvent(event)
  checker.finish({ timeUs: 100_000, up: ["n1", "n2", "n3"] })
  return checker.violations.filter((violation) => violation.check === "stale-read").map((violation) => violation.message)
}

describe("stale-read, on events", () => {
  it("holds for a read that returns both concurrent writes", () => {
    expect(staleReads([1, 2])).toEqual([])
  })

  it("names the first write invoked of those a read misses, though it was acknowledged last", () => {
    expect(staleReads([])).toEqual(["key k1: a read from 0.3 ms returned [], missing the write of 1 acknowledged at 0.2 ms"])
  })

  it("names the write it misses when it returns the other", () => {
    expect(staleReads([1])).toEqual(["key k1: a read from 0.3 ms returned [1], missing the write of 2 acknowledged at 0.15 ms"])
  })

  it("does not hold a read to a write acknowledged after the read began", () => {
    // Invoked at 0.17 ms: write 2 was acknowledged before it, write 1 after.
    expect(staleReads([2], 170)).toEqual([])
    expect(staleReads([], 170)).toEqual(["key k1: a read from 0.17 ms returned [], missing the write of 2 acknowledged at 0.15 ms"])
  })
})
