// Raft's client for real clusters: `faultline client get|put|cas|append|delete` and `/kv/KEY` on a
// node's HTTP endpoint, performed through the same session the simulated clients use.
import { Effect } from "effect"
import { type ClientAnswer, parseValue, type RealClient, type ServerStatus } from "../../definition/real-client.ts"
import { Clock, Network } from "../../env/index.ts"
import { awaitReply } from "../kv/await-reply.ts"
import { checkArity, invalid, kvRoute, noKvRoute, OK_ANSWER, operation, UNKNOWN_ANSWER } from "../kv/real-requests.ts"
import { makeKvSession } from "./client.ts"
import { type ClientOutcome, isClientReply } from "./client-messages.ts"
import type { JsonValue, KvOperation } from "./types.ts"

const USAGE = { get: "KEY", put: "KEY VALUE", cas: "KEY EXPECTED NEW", append: "KEY VALUE", delete: "KEY" } as const

/** The operation `faultline client NAME ARGS...` names. */
const fromArguments: RealClient<KvOperation>["fromArguments"] = (name, args) => {
  if (!Object.hasOwn(USAGE, name)) return invalid(`client: unknown operation "${name}" (${Object.keys(USAGE).join(", ")})`)
  const wrongCount = checkArity(name, args, USAGE[name as keyof typeof USAGE])
  if (wrongCount !== undefined) return wrongCount
  const key = args[0]!
  const known = name as keyof typeof USAGE
  switch (known) {
    case "get":
      return operation({ _tag: "Get", key })
    case "put":
      return operation({ _tag: "Put", key, value: parseValue(args[1]!) })
    case "append":
      return operation({ _tag: "Append", key, value: parseValue(args[1]!) })
    case "cas":
      return operation({ _tag: "Cas", key, expected: parseValue(args[1]!), value: parseValue(args[2]!) })
    case "delete":
      return operation({ _tag: "Delete", key })
    default: {
      const unreachable: never = known
      throw new Error(`unknown operation ${String(unreachable)}`)
    }
  }
}

/**
 * The routes (bodies and answers are JSON; a body that is not JSON is taken as a string):
 * `GET /kv/KEY` → `{"value": V}` (null when absent); `PUT /kv/KEY` with body V → `{"ok": true}`;
 * `DELETE /kv/KEY`; `POST /kv/KEY/cas` with `{"expected": E, "value": V}` → `{"ok": true}` or
 * `{"ok": false, "current": C}`; `POST /kv/KEY/append` with body V.
 */
const fromHttp: RealClient<KvOperation>["fromHttp"] = (request) => {
  const route = kvRoute(request.path)
  const method = request.method
  if (route !== undefined && route.action === undefined) {
    const key = route.key
    if (method === "GET") return operation({ _tag: "Get", key })
    if (method === "DELETE") return operation({ _tag: "Delete", key })
    if (method === "PUT") return operation({ _tag: "Put", key, value: parseValue(request.body) })
  }
  if (route !== undefined && route.action === "append" && method === "POST") return operation({ _tag: "Append", key: route.key, value: parseValue(request.body) })
  if (route !== undefined && route.action === "cas" && method === "POST") {
    const parsed = parseValue(request.body) as { expected?: unknown; value?: unknown } | null
    if (typeof parsed !== "object" || parsed === null || !("value" in parsed)) return invalid(`cas needs a body {"expected": E, "value": V}`)
    return operation({ _tag: "Cas", key: route.key, expected: (parsed.expected ?? null) as JsonValue | null, value: (parsed.value ?? null) as JsonValue })
  }
  return noKvRoute(method, request.path, "/kv/KEY, /kv/KEY/cas, /kv/KEY/append")
}

/** What an operation's outcome says to each kind of client. */
export const raftAnswer = (outcome: ClientOutcome | undefined): ClientAnswer => {
  if (outcome === undefined) return UNKNOWN_ANSWER
  switch (outcome._tag) {
    case "Value":
      return { known: true, status: 200, body: { value: outcome.value }, text: JSON.stringify(outcome.value) }
    case "Ok":
      return OK_ANSWER
    case "CasResult":
      return outcome.ok
        ? OK_ANSWER
        : { known: true, status: 200, body: { ok: false, current: outcome.current }, text: `not applied: the value is ${JSON.stringify(outcome.current)}` }
    case "NotLeader":
    case "Retry":
      return { ...UNKNOWN_ANSWER, body: { error: `the cluster answered ${outcome._tag} to the end`, outcome: "unknown" }, text: `unknown: the cluster answered ${outcome._tag} to the end` }
    default: {
      const unreachable: never = outcome
      throw new Error(`unknown outcome ${JSON.stringify(unreachable)}`)
    }
  }
}

/**
 * One read sent to `server`, and what its answer says: a leader serves it, a follower names the
 * leader. Sequence 0 is never a write's, so the probe leaves the client's session untouched.
 */
const probe = (network: Network["Service"], clock: Clock["Service"], server: string, timeoutMs: number): Effect.Effect<ServerStatus | undefined> =>
  Effect.gen(function*() {
    const requestId = `${network.self}:probe:${yield* clock.now}`
    yield* network.send(server, { _tag: "ClientRequest", requestId, clientId: network.self, sequence: 0, operation: { _tag: "Get", key: "" } })
    const outcome = yield* awaitReply({
      network,
      clock,
      timeoutMs,
      accept: (message) => (isClientReply(message) && message.requestId === requestId ? message.outcome : undefined)
    })
    if (outcome === undefined) return undefined
    if (outcome._tag === "NotLeader") return { role: "follower", leader: outcome.leaderHint }
    return { role: "leader", leader: server }
  })

/** Raft's client of a real cluster: each operation takes the session's next sequence number, so a retried write applies once. */
export const raftRealClient: RealClient<KvOperation> = {
  fromArguments,
  fromHttp,
  openSession: (options) =>
    Effect.gen(function*() {
      const session = yield* makeKvSession(options)
      // A probe needs the session's own node: its replies come to this client's mailbox.
      const network = yield* Network
      const clock = yield* Clock
      let sequence = 0
      return {
        perform: (kvOperation) => Effect.map(session.perform(++sequence, kvOperation), raftAnswer),
        status: (server, timeoutMs) => probe(network, clock, server, timeoutMs)
      }
    })
}
