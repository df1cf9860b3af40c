// The search protocol's client for real clusters: `faultline client insert|put|query|delete` and `/vectors`, `/query` on a
// node's HTTP endpoint. Generated vectors come from the cluster's own data set, the one its checker regenerates by id.
import { Effect } from "effect"
import type { ClientAnswer, ClientRequestParse, RealClient } from "../../definition/real-client.ts"
import { checkArity, invalid, operation } from "../kv/real-requests.ts"
import type { Mixture } from "./data.ts"
import type { Delete, Insert } from "./messages.ts"
import { makeSearchSession, type WriteOutcome } from "./real-session.ts"
import type { QueryOutcome } from "./scatter-gather.ts"
import { type ShardMap, shardOf } from "./shards.ts"

/** What the client of one real cluster knows: its shard map, write quorum and data set. */
export interface SearchClientConfig {
  readonly map: ShardMap
  readonly writeQuorum: number
  readonly mixture: Mixture
}

/** What a real client of the search asks. */
export type SearchOperation =
  | { readonly _tag: "Insert"; readonly vectors: ReadonlyArray<{ readonly id: number; readonly vector: ReadonlyArray<number> }> }
  | { readonly _tag: "Delete"; readonly ids: ReadonlyArray<number> }
  | { readonly _tag: "Query"; readonly vector: ReadonlyArray<number>; readonly k: number; readonly ef: number }

const USAGE = { insert: "COUNT [FIRST]", put: "ID VECTOR", query: "INDEX|VECTOR [K] [EF]", delete: "ID" } as const

/** A batch inserts at most this many vectors: one command, one HTTP body. */
const MAX_BATCH = 100_000
const DEFAULT_K = 10
const DEFAULT_EF = 64

const wholeNumber = (text: unknown, what: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number | string => {
  const value = typeof text === "string" && /^\d+$/.test(text) ? Number(text) : text
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < minimum || value > maximum) {
    return `${what}: expected a whole number from ${minimum} to ${maximum}, got ${JSON.stringify(text)}`
  }
  return value
}

/** A vector as JSON (text or already parsed), checked against the cluster's dimensions. */
const vectorOf = (value: unknown, what: string, dimensions: number): ReadonlyArray<number> | string => {
  let parsed = value
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value)
    } catch {
      return `${what}: expected a JSON array of ${dimensions} numbers, got ${value.slice(0, 40)}`
    }
  }
  if (!Array.isArray(parsed) || !parsed.every((entry) => typeof entry === "number" && Number.isFinite(entry))) {
    return `${what}: expected a JSON array of ${dimensions} numbers`
  }
  if (parsed.length !== dimensions) return `${what}: the cluster's vectors have ${dimensions} dimensions, this one has ${parsed.length}`
  return parsed as ReadonlyArray<number>
}

/** Reads the parts of a request, each either a value or why it is not one, into an operation or the first reason. */
const collect = <Values extends ReadonlyArray<unknown>>(
  parts: { readonly [Index in keyof Values]: Values[Index] | string },
  make: (...values: Values) => SearchOperation
): ClientRequestParse<SearchOperation> => {
  const problem = parts.find((part) => typeof part === "string")
  return typeof problem === "string" ? invalid(problem) : operation(make(...(parts as unknown as Values)))
}

const generated = (config: SearchClientConfig, count: number, first: number): SearchOperation => ({
  _tag: "Insert",
  vectors: Array.from({ length: count }, (_, offset) => ({ id: first + offset, vector: Array.from(config.mixture.vector(first + offset)) }))
})

/** A query vector: an index into the data set (generated, as the workload's queries are) or the vector itself. */
const queryVector = (config: SearchClientConfig, value: unknown, what: string): ReadonlyArray<number> | string => {
  const dimensions = config.mixture.options.dimensions
  if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value))) {
    const index = wholeNumber(value, what, 0)
    return typeof index === "string" ? index : Array.from(config.mixture.vector(index))
  }
  return vectorOf(value, what, dimensions)
}

const fromArguments = (config: SearchClientConfig): RealClient<SearchOperation>["fromArguments"] => (name, args) => {
  if (!Object.hasOwn(USAGE, name)) return invalid(`client: unknown operation "${name}" for the search protocol (${Object.keys(USAGE).join(", ")})`)
  const known = name as keyof typeof USAGE
  const wrongCount = checkArity(name, args, USAGE[known])
  if (wrongCount !== undefined) return wrongCount
  const dimensions = config.mixture.options.dimensions
  switch (known) {
    case "insert":
      return collect<[number, number]>([wholeNumber(args[0], "client insert: COUNT", 1, MAX_BATCH), wholeNumber(args[1] ?? "0", "client insert: FIRST", 0)], (count, first) => generated(config, count, first))
    case "put":
      return collect<[number, ReadonlyArray<number>]>([wholeNumber(args[0], "client put: ID", 0), vectorOf(args[1], "client put: VECTOR", dimensions)], (id, vector) => ({ _tag: "Insert", vectors: [{ id, vector }] }))
    case "query":
      return collect<[ReadonlyArray<number>, number, number]>(
        [queryVector(config, args[0], "client query: INDEX|VECTOR"), wholeNumber(args[1] ?? String(DEFAULT_K), "client query: K", 1, 1000), wholeNumber(args[2] ?? String(DEFAULT_EF), "client query: EF", 1, 100_000)],
        (vector, k, ef) => ({ _tag: "Query", vector, k, ef })
      )
    case "delete":
      return collect<[number]>([wholeNumber(args[0], "client delete: ID", 0)], (id) => ({ _tag: "Delete", ids: [id] }))
    default: {
      const unreachable: never = known
      throw new Error(`unknown operation ${String(unreachable)}`)
    }
  }
}

const jsonBody = (body: string): Record<string, unknown> | string => {
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>
  } catch {
    // Said below, as for a body that is JSON but not an object.
  }
  return "the body must be a JSON object"
}

/** `{"count": N, "first": F}` (generated vectors) or `{"vectors": [{"id": I, "vector": [...]}, ...]}`. */
const insertFromBody = (config: SearchClientConfig, body: Record<string, unknown>): ClientRequestParse<SearchOperation> => {
  if (body["vectors"] === undefined) {
    return collect<[number, number]>([wholeNumber(body["count"], "count", 1, MAX_BATCH), wholeNumber(body["first"] ?? 0, "first", 0)], (count, first) => generated(config, count, first))
  }
  const vectors = body["vectors"]
  if (!Array.isArray(vectors) || vectors.length === 0 || vectors.length > MAX_BATCH) return invalid(`vectors: expected an array of 1 to ${MAX_BATCH} {"id", "vector"} objects`)
  const parts = vectors.flatMap((entry: { id?: unknown; vector?: unknown } | null, position) => [
    wholeNumber(entry?.id, `vectors[${position}].id`, 0),
    vectorOf(entry?.vector, `vectors[${position}].vector`, config.mixture.options.dimensions)
  ])
  const ids = vectors.map((entry: { id?: unknown } | null) => entry?.id)
  const repeated = ids.find((id, position) => ids.indexOf(id) !== position)
  if (repeated !== undefined) return invalid(`vectors: id ${JSON.stringify(repeated)} is given twice`)
  return collect<Array<number | ReadonlyArray<number>>>(parts, (...values) => ({
    _tag: "Insert",
    vectors: Array.from({ length: values.length / 2 }, (_, index) => ({ id: values[2 * index] as number, vector: values[2 * index + 1] as ReadonlyArray<number> }))
  }))
}

/**
 * The routes: `POST /vectors` with `{"count": N, "first": F}` or `{"vectors": [{"id", "vector"}]}` → how many are durable;
 * `DELETE /vectors/ID`; `POST /query` with `{"vector": [...]}` or `{"index": I}`, and `"k"`, `"ef"` → the top k.
 */
const fromHttp = (config: SearchClientConfig): RealClient<SearchOperation>["fromHttp"] => (request) => {
  const deletion = /^\/vectors\/(\d+)$/.exec(request.path)
  if (deletion !== null && request.method === "DELETE") return collect<[number]>([wholeNumber(deletion[1], "id", 0)], (id) => ({ _tag: "Delete", ids: [id] }))
  const route = `${request.method} ${request.path}`
  if (route !== "POST /vectors" && route !== "POST /query") return { _tag: "NotFound", message: `no route ${route} (see POST /vectors, DELETE /vectors/ID, POST /query and /status)` }
  const body = jsonBody(request.body)
  if (typeof body === "string") return invalid(body)
  if (route === "POST /vectors") return insertFromBody(config, body)
  return collect<[ReadonlyArray<number>, number, number]>(
    [queryVector(config, body["vector"] ?? body["index"], "vector (or index)"), wholeNumber(body["k"] ?? DEFAULT_K, "k", 1, 1000), wholeNumber(body["ef"] ?? DEFAULT_EF, "ef", 1, 100_000)],
    (vector, k, ef) => ({ _tag: "Query", vector, k, ef })
  )
}

const span = (ids: ReadonlyArray<number>) => (ids.length <= 3 ? ids.join(", ") : `${ids.slice(0, 3).join(", ")}, … (${ids.length})`)

/** A batch of writes: known once every write reached its quorum. */
const writeAnswer = (verb: string, outcome: WriteOutcome): ClientAnswer => {
  const known = outcome.unknown.length === 0
  const behind = outcome.notEverywhere.length === 0 ? "" : `; not yet on every replica: ${span(outcome.notEverywhere)}`
  return {
    known,
    status: known ? 200 : 503,
    body: { ok: known, [verb]: outcome.acknowledged.length, unknown: [...outcome.unknown], notEverywhere: outcome.notEverywhere.length },
    text: known
      ? `${verb} ${outcome.acknowledged.length}, each durable on a write quorum${behind}`
      : `unknown: ${verb} ${outcome.acknowledged.length}; no write quorum in time for ${span(outcome.unknown)} (they may or may not have happened)${behind}`
  }
}

/** A query's answer: the top k, nearest first, and whether a shard is missing from it. */
const queryAnswer = (outcome: QueryOutcome, shards: number): ClientAnswer => ({
  // A partial answer is an answer, flagged; only one no shard gave is no answer at all.
  known: outcome.missing.length < shards,
  status: outcome.missing.length < shards ? 200 : 503,
  body: { ids: [...outcome.ids], distances: [...outcome.distances], partial: outcome.partial, missing: [...outcome.missing], latencyMs: outcome.latencyMs },
  text: [
    ...outcome.ids.map((id, rank) => `${id} ${outcome.distances[rank]!.toPrecision(6)}`),
    outcome.partial ? `partial: no replica of ${outcome.missing.join(", ")} answered` : `complete (${outcome.latencyMs.toFixed(1)} ms)`
  ].join("\n")
})

/** The search client of a real cluster with this shard map, write quorum and data set. */
export const searchRealClient = (config: SearchClientConfig): RealClient<SearchOperation> => ({
  fromArguments: fromArguments(config),
  fromHttp: fromHttp(config),
  openSession: (options) =>
    Effect.gen(function*() {
      const session = yield* makeSearchSession({
        map: config.map,
        writeQuorum: config.writeQuorum,
        writeWindow: 64,
        retryMs: Math.max(2 * options.requestTimeoutMs, 500),
        stragglersMs: 1000,
        hedgeDelayMs: options.requestTimeoutMs / 5,
        operationTimeoutMs: options.operationTimeoutMs
      })
      const perform = (request: SearchOperation): Effect.Effect<ClientAnswer> => {
        switch (request._tag) {
          case "Insert": {
            const messages: Array<Insert> = request.vectors.map(({ id, vector }) => ({ _tag: "Insert", shard: shardOf(config.map, id), id, vector }))
            return Effect.map(session.write(messages), (outcome) => writeAnswer("inserted", outcome))
          }
          case "Delete": {
            const messages: Array<Delete> = request.ids.map((id) => ({ _tag: "Delete", shard: shardOf(config.map, id), id }))
            return Effect.map(session.write(messages), (outcome) => writeAnswer("deleted", outcome))
          }
          case "Query":
            return Effect.map(session.query(request.vector, request.k, request.ef), (outcome) => queryAnswer(outcome, config.map.shards.length))
          default: {
            const unreachable: never = request
            throw new Error(`unknown operation ${JSON.stringify(unreachable)}`)
          }
        }
      }
      // Replicas have no roles: a server that answers a query on a shard it holds is up.
      const probeVector = Array.from(config.mixture.vector(0))
      const status = (server: string, timeoutMs: number) =>
        Effect.map(session.probe(server, probeVector, timeoutMs), (up) => (up ? { role: "replica", leader: null } : undefined))
      return { perform, status }
    })
})
