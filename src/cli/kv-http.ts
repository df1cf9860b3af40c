// Each node's HTTP/JSON endpoint for key-value operations, so that any language (curl, a load tester) can use a real cluster.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { ClientOutcome } from "../protocols/raft/client-messages.ts"
import type { JsonValue, KvOperation } from "../protocols/raft/types.ts"
import { type Address, formatAddress } from "../real/index.ts"
import { type ClusterAccess, freshClientId, type KvClient, openKvClient } from "./kv-client.ts"

/** Options of {@link startKvHttp}. */
export interface KvHttpOptions {
  readonly listen: Address
  readonly access: ClusterAccess
  /** The node serving the endpoint; `/status` asks it whether it leads. */
  readonly self: string
  readonly protocol: string
  /** Client sessions kept open (default 64); requests beyond this many at once wait for one. */
  readonly sessions?: number
}

/** A request body is at most this long: a key-value store's values are small. */
const MAX_BODY_BYTES = 1 << 20

/**
 * The routes (bodies and answers are JSON; a body that is not JSON is taken as a string):
 * - `GET /kv/KEY` → `{"value": V}` (null when absent)
 * - `PUT /kv/KEY` with body V → `{"ok": true}`
 * - `DELETE /kv/KEY` → `{"ok": true}`
 * - `POST /kv/KEY/cas` with `{"expected": E, "value": V}` → `{"ok": true}` or `{"ok": false, "current": C}`
 * - `POST /kv/KEY/append` with body V → `{"ok": true}`
 * - `GET /status` → `{"id", "protocol", "role"}` (`leader`, `follower` or `unknown`) and `"leader"` when known
 * An operation whose outcome is unknown (no answer in time) is 503 `{"error": "...", "outcome": "unknown"}`;
 * bad input is 400 and an unknown route 404.
 */
export const startKvHttp = async (options: KvHttpOptions): Promise<{ readonly server: Server; readonly close: () => Promise<void> }> => {
  const idle: Array<KvClient> = []
  const all: Array<KvClient> = []
  const waiting: Array<(client: KvClient) => void> = []
  const sessionsMax = options.sessions ?? 64
  const acquire = async (): Promise<KvClient> => {
    const free = idle.pop()
    if (free !== undefined) return free
    if (all.length < sessionsMax) {
      const client = await openKvClient({ ...options.access, clientId: freshClientId(`http-${options.self}`) })
      all.push(client)
      return client
    }
    return new Promise((resolve) => waiting.push(resolve))
  }
  const release = (client: KvClient) => {
    const next = waiting.shift()
    if (next === undefined) idle.push(client)
    else next(client)
  }
  const withClient = async <A>(use: (client: KvClient) => Promise<A>): Promise<A> => {
    const client = await acquire()
    try {
      return await use(client)
    } finally {
      release(client)
    }
  }

  const server = createServer((request, response) => {
    handle(request, response, options, withClient).catch((error: unknown) => {
      answer(response, 500, { error: String((error as Error).message ?? error) })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.listen.port, options.listen.host, () => {
      server.off("error", reject)
      resolve()
    })
  })
  return {
    server,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.all(all.map((client) => client.close()))
    }
  }
}

const answer = (response: ServerResponse, status: number, body: Record<string, unknown>): void => {
  const text = JSON.stringify(body) + "\n"
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  response.end(text)
}

/** A value as given: JSON, or the text itself when it is not JSON. */
export const parseValue = (text: string): JsonValue => {
  try {
    return JSON.parse(text) as JsonValue
  } catch {
    return text
  }
}

const readBody = (request: IncomingMessage): Promise<string | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        resolve(undefined)
        request.destroy()
      } else {
        chunks.push(chunk)
      }
    })
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

/** The operation a request asks for, or a reason it is not one. */
const operationOf = async (request: IncomingMessage, key: string, action: string | undefined): Promise<KvOperation | string> => {
  const method = request.method ?? "GET"
  if (action === undefined && method === "GET") return { _tag: "Get", key }
  if (action === undefined && method === "DELETE") return { _tag: "Delete", key }
  const body = await readBody(request)
  if (body === undefined) return `the body is over ${MAX_BODY_BYTES} bytes`
  if (action === undefined && method === "PUT") return { _tag: "Put", key, value: parseValue(body) }
  if (action === "append" && method === "POST") return { _tag: "Append", key, value: parseValue(body) }
  if (action === "cas" && method === "POST") {
    const parsed = parseValue(body) as { expected?: JsonValue; value?: JsonValue } | null
    if (typeof parsed !== "object" || parsed === null || !("value" in parsed)) return `cas needs a body {"expected": E, "value": V}`
    return { _tag: "Cas", key, expected: parsed.expected ?? null, value: parsed.value ?? null }
  }
  return `${method} /kv/KEY${action === undefined ? "" : `/${action}`} is not a route`
}

/** The answer for an operation's outcome. */
const outcomeBody = (outcome: ClientOutcome | undefined): [number, Record<string, unknown>] => {
  if (outcome === undefined) return [503, { error: "no answer from the cluster in time; a write may or may not have happened", outcome: "unknown" }]
  switch (outcome._tag) {
    case "Value":
      return [200, { value: outcome.value }]
    case "Ok":
      return [200, { ok: true }]
    case "CasResult":
      return [200, outcome.ok ? { ok: true } : { ok: false, current: outcome.current }]
    case "NotLeader":
    case "Retry":
      return [503, { error: `the cluster answered ${outcome._tag} to the end`, outcome: "unknown" }]
    default: {
      const unreachable: never = outcome
      throw new Error(`unknown outcome ${JSON.stringify(unreachable)}`)
    }
  }
}

const handle = async (
  request: IncomingMessage,
  response: ServerResponse,
  options: KvHttpOptions,
  withClient: <A>(use: (client: KvClient) => Promise<A>) => Promise<A>
): Promise<void> => {
  const url = new URL(request.url ?? "/", `http://${formatAddress(options.listen)}`)
  if (url.pathname === "/status" && request.method === "GET") {
    const probe = await withClient((client) => client.probe(options.self, 1000))
    const role = probe === undefined ? "unknown" : probe._tag === "NotLeader" ? "follower" : "leader"
    const leader = probe?._tag === "NotLeader" ? probe.leaderHint : role === "leader" ? options.self : null
    return answer(response, 200, { id: options.self, protocol: options.protocol, role, leader })
  }
  const match = /^\/kv\/([^/]+)(?:\/(cas|append))?$/.exec(url.pathname)
  if (match === null) return answer(response, 404, { error: `no route ${request.method} ${url.pathname} (see /kv/KEY and /status)` })
  const key = decodeURIComponent(match[1]!)
  const operation = await operationOf(request, key, match[2])
  if (typeof operation === "string") return answer(response, 400, { error: operation })
  const outcome = await withClient((client) => client.perform(operation))
  const [status, body] = outcomeBody(outcome)
  answer(response, status, body)
}
