// The search checker's recall rule on hand-made histories: an id whose insert's fate was open neither earns nor costs recall.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { nearest, SearchChecker } from "../src/check/search.ts"

/** Vector i is the point i on a line, so the exact order of neighbours of the query (vector 0) is 1, 2, 3, ... */
const judge = (answer: ReadonlyArray<number>): Array<string> => {
  const checker = new SearchChecker({
    vector: (index) => Float32Array.of(index === 100 ? 0 : index),
    distance: (left, right) => (left[0]! - right[0]!) ** 2,
    shards: ["s0"],
    k: 3,
    minRecall: 0.95
  })
  let timeUs = 0
  const event = (node: string, name: string, attributes: Record<string, unknown>) => checker.onEvent({ timeUs: ++timeUs, node, name, attributes })
  for (const id of [1, 2, 3, 4, 5]) event("c1", "invoke", { op: "insert", id, shard: "s0" })
  // (No replica logs: this history is about recall only, so the holdings checks are not read.)
  // Insert 2 timed out: some replicas may hold it, and the client never learned whether it took.
  for (const id of [1, 3, 4, 5]) event("c1", "ok", { op: "insert", id, shard: "s0" })
  event("c1", "timeout", { op: "insert", id: 2, shard: "s0" })
  event("c1", "queryInvoke", { query: 0, vectorIndex: 100 })
  event("n1", "served", { client: "c1", query: 0, shard: "s0" })
  event("c1", "queryResult", { query: 0, ids: answer, partial: false, answered: ["s0"], missing: [], latencyMs: 1 })
  checker.finish({ timeUs: ++timeUs, up: ["n1"] })
  return checker.violations.filter((violation) => violation.check === "recall").map((violation) => `${violation.check}: ${violation.message}`)
}

describe("search checker: recall", () => {
  it("passes the exact answer whether or not it holds the insert whose fate was open", () => {
    expect(judge([1, 2, 3])).toEqual([])
    expect(judge([1, 3, 4])).toEqual([])
  })

  it("still fails an answer that misses an acknowledged neighbour, open ids or not", () => {
    expect(judge([1, 2, 5])).toEqual(["recall: mean recall@3 is 0.6667 over 1 complete answers, below 0.95"])
    expect(judge([1, 3, 5])).toEqual(["recall: mean recall@3 is 0.6667 over 1 complete answers, below 0.95"])
  })
})

describe("the exact answer a recall is judged against", () => {
  it("is the k nearest ids, nearest first, ties to the smaller id: what sorting every id by distance gives", () => {
    // Few distinct distances, so that ties are common.
    const points = fc.uniqueArray(fc.record({ id: fc.nat(1000), distance: fc.integer({ min: 0, max: 8 }) }), { selector: (point) => point.id, maxLength: 60 })
    fc.assert(
      fc.property(points, fc.nat(12), (candidates, k) => {
        const sorted = [...candidates].sort((left, right) => left.distance - right.distance || left.id - right.id).slice(0, k).map(({ id }) => id)
        expect(nearest(k, (visit) => candidates.forEach(({ id, distance }) => visit(id, distance)))).toEqual(sorted)
      })
    )
  })
})
