// The quorum store's client for real clusters: `faultline client get|put|replica` and `/kv/KEY` on a
// node's HTTP endpoint. A get returns every sibling and the context they share; a put that names that
// context supersedes them (read-modify-write), a put without one is a blind write.
import { Effect } from "effect"
import { type ClientAnswer, type ClientRequestParse, parseValue, type RealClient, type ServerStatus } from "../../definition/real-client.ts"
import { Clock, Network } from "../../env/index.ts"
import type { JsonValue } from "../../env/json.ts"
import type { VectorClock } from "../clocks/vector-clock.ts"
import { awaitReply } from "../kv/await-reply.ts"
import { checkArity, invalid, kvRoute, noKvRoute, OK_ANSWER, operation, UNKNOWN_ANSWER } from "../kv/real-requests.ts"
import { makeQuorumSession } from "./client.ts"
import { asMessage, type KeyState } from "./messages.ts"
import { valuesOf } from "./state.ts"

/** What a real client of the store asks: a quorum read, a write, or one node's own replica of a key. */
export type QuorumOperation =
  | { readonly _tag: "Get"; readonly key: string }
  | { readonly _tag: "Put"; readonly key: string; readonly value: JsonValue; readonly context: VectorClock }
  | { readonly _tag: "Replica"; readonly key: string; readonly node: string }

const USAGE = { get: "KEY", put: "KEY VALUE [CONTEXT]", replica: "KEY NODE" } as const

/** The HTTP header a put names the context it supersedes in (Riak's `X-Riak-Vclock`). */
export const CONTEXT_HEADER = "x-context"

/** A context as a get printed it (`{"n1":2,"n3":1}`), or why the text is not one. */
export const parseContext = (text: string, where: string): VectorClock | string => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return `${where}: expected a context as a get prints it, such as {"n1":2}, got ${text}`
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return `${where}: expected a JSON object of counters, such as {"n1":2}, got ${text}`
  for (const [node, counter] of Object.entries(parsed)) {
    if (!Number.isSafeInteger(counter) || (counter as number) < 0) return `${where}: the counter of ${node} must be a whole number of at least 0, got ${JSON.stringify(counter)}`
  }
  return parsed as VectorClock
}

const put = (key: string, value: JsonValue, contextText: string | undefined, where: string): ClientRequestParse<QuorumOperation> => {
  const context = contextText === undefined ? {} : parseContext(contextText, where)
  return typeof context === "string" ? invalid(context) : operation({ _tag: "Put", key, value, context })
}

const fromArguments: RealClient<QuorumOperation>["fromArguments"] = (name, args) => {
  if (!Object.hasOwn(USAGE, name)) return invalid(`client: unknown operation "${name}" for the quorum store (${Object.keys(USAGE).join(", ")})`)
  const wrongCount = checkArity(name, args, USAGE[name as keyof typeof USAGE])
  if (wrongCount !== undefined) return wrongCount
  const known = name as keyof typeof USAGE
  switch (known) {
    case "get":
      return operation({ _tag: "Get", key: args[0]! })
    case "put":
      return put(args[0]!, parseValue(args[1]!), args[2], "client put: CONTEXT")
    case "replica":
      return operation({ _tag: "Replica", key: args[0]!, node: args[1]! })
    default: {
      const unreachable: never = known
      throw new Error(`unknown operation ${String(unreachable)}`)
    }
  }
}

/**
 * The routes: `GET /kv/KEY` → `{"values": [...], "context": {...}}` (a quorum read: every sibling);
 * `PUT /kv/KEY` with body V, and the context it supersedes in an `X-Context` header (none: a blind
 * write) → `{"ok": true}`; `GET /kv/KEY/replica` → what this node's own replica holds, no quorum.
 */
const fromHttp: RealClient<QuorumOperation>["fromHttp"] = (request) => {
  const route = kvRoute(request.path)
  if (route !== undefined && route.action === undefined && request.method === "GET") return operation({ _tag: "Get", key: route.key })
  if (route !== undefined && route.action === undefined && request.method === "PUT") {
    return put(route.key, parseValue(request.body), request.header(CONTEXT_HEADER), `the ${CONTEXT_HEADER} header`)
  }
  if (route !== undefined && route.action === "replica" && request.method === "GET") return operation({ _tag: "Replica", key: route.key, node: request.node })
  return noKvRoute(request.method, request.path, "GET and PUT /kv/KEY, GET /kv/KEY/replica")
}

/** Siblings and their context, as every kind of client is told them. */
const valuesAnswer = (values: ReadonlyArray<JsonValue>, context: VectorClock): ClientAnswer => ({
  known: true,
  status: 200,
  body: { values, context },
  text: `${JSON.stringify(values)} context ${JSON.stringify(context)}`
})

/** A read that got no answer: it changed nothing, but there is no value to tell (exit 3, HTTP 503). */
const failed = (reason: string): ClientAnswer => ({ known: false, status: 503, body: { error: reason, outcome: "failed" }, text: `failed: ${reason}` })

/** The state of `key` in `node`'s own replica, asked of that node alone; undefined when it does not answer in time. */
const fetchReplica = (network: Network["Service"], clock: Clock["Service"], node: string, key: string, requestId: string, timeoutMs: number) =>
  Effect.andThen(
    network.send(node, { _tag: "Fetch", requestId, key }),
    awaitReply<KeyState>({
      network,
      clock,
      timeoutMs,
      accept: (reply) => {
        const message = asMessage(reply)
        return message?._tag === "FetchReply" && message.requestId === requestId ? message.set : undefined
      }
    })
  )

/** A session: reads and writes through makeQuorumSession, and fetches of one node's replica. */
const openSession: RealClient<QuorumOperation>["openSession"] = (options) =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    // A person's client: a write that got no answer goes to another node (a node that is down must
    // not fail it), after waiting long enough for a coordinator that replaces a replica; a node that
    // did not answer is passed over for a while, so a long-lived session (the HTTP endpoint's) stops asking it.
    const session = yield* makeQuorumSession({
      ...options,
      retryUnansweredWrites: true,
      writeTimeoutMs: Math.max(4 * options.requestTimeoutMs, 2000),
      avoidUnansweredMs: 5000
    })
    let sequence = 0
    const perform = (request: QuorumOperation): Effect.Effect<ClientAnswer> => {
      sequence++
      switch (request._tag) {
        case "Get":
          return Effect.map(session.read(sequence, request.key), (outcome) =>
            outcome === undefined
              ? failed("no replicas answered in time")
              : valuesAnswer(outcome.values, outcome.context))
        case "Put":
          return Effect.map(session.write(sequence, request.key, request.value, request.context), (outcome) => (outcome === undefined ? UNKNOWN_ANSWER : OK_ANSWER))
        case "Replica":
          if (!options.servers.includes(request.node)) return Effect.succeed(failed(`${request.node} is not a server of the cluster (${options.servers.join(", ")})`))
          return Effect.map(fetchReplica(network, clock, request.node, request.key, `${network.self}:${sequence}`, options.operationTimeoutMs), (set) =>
            set === undefined
              ? failed(`${request.node} did not answer in time`)
              : valuesAnswer(valuesOf(set), set.context))
        default: {
          const unreachable: never = request
          throw new Error(`unknown operation ${JSON.stringify(unreachable)}`)
        }
      }
    }
    // Any node coordinates: a server that answers a fetch is up, and there is no leader to name.
    const status = (server: string, timeoutMs: number): Effect.Effect<ServerStatus | undefined> =>
      Effect.map(fetchReplica(network, clock, server, "", `${network.self}:status:${++sequence}`, timeoutMs), (set) =>
        set === undefined ? undefined : { role: "replica", leader: null })
    return { perform, status }
  })

/** The quorum store's client of a real cluster: a write that gets no answer is sent again elsewhere (see QuorumSessionOptions). */
export const quorumRealClient: RealClient<QuorumOperation> = {
  fromArguments,
  fromHttp,
  openSession
}
