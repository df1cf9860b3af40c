// Each node's HTTP/JSON endpoint for its protocol's client operations (the key-value stores' /kv/KEY), so that any language (curl, a load tester) can use a real cluster.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { ClientAnswer, RealClient } from "../definition/real-client.ts"
import { type Address, formatAddress } from "../real/index.ts"
import { type ClusterAccess, freshClientId, type KvClient, openKvClient } from "./kv-client.ts"

/** Options of {@link startKvHttp}. */
export interface KvHttpOptions {
  readonly listen: Address
  readonly access: Omit<ClusterAccess, "client">
  /** The protocol's client; without one, only `/status` is served. */
  readonly client: RealClient<any> | undefined
  /** The node serving the endpoint; `/status` asks it whether it leads. */
  readonly self: string
  readonly protocol: string
  /** Client sessions kept open (default 64); requests beyond this many at once wait for one. */
  readonly sessions?: number
}

/** A request body is at most this long: a key-value store's values are small. */
const MAX_BODY_BYTES = 1 << 20

/**
 * `GET /status` → `{"id", "protocol", "role"}` (such as `leader`, `follower`, `replica`, or
 * `unknown` when the node does not answer) and `"leader"` when known. Every other route is the
 * protocol client's (see its `fromHttp`, such as `/kv/KEY` for the key-value stores). An operation
 * whose outcome is unknown (no answer in time) is 503 `{"error": "...", "outcome": "unknown"}`; bad
 * input is 400 and an unknown route 404.
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
      const client = await openKvClient({ ...options.access, client: options.client!, clientId: freshClientId(`http-${options.self}`) })
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

const handle = async (
  request: IncomingMessage,
  response: ServerResponse,
  options: KvHttpOptions,
  withClient: <A>(use: (client: KvClient) => Promise<A>) => Promise<A>
): Promise<void> => {
  const url = new URL(request.url ?? "/", `http://${formatAddress(options.listen)}`)
  if (url.pathname === "/status" && request.method === "GET") {
    const probe = options.client === undefined ? undefined : await withClient((client) => client.probe(options.self, 1000))
    return answer(response, 200, { id: options.self, protocol: options.protocol, role: probe?.role ?? "unknown", leader: probe?.leader ?? null })
  }
  if (options.client === undefined) return answer(response, 501, { error: `the ${options.protocol} protocol has no client for real clusters; only /status is served` })
  // A read carries no body: it is not waited for.
  const method = request.method ?? "GET"
  const body = method === "GET" || method === "DELETE" ? "" : await readBody(request)
  if (body === undefined) return answer(response, 413, { error: `the body is over ${MAX_BODY_BYTES} bytes` })
  const parsed = options.client.fromHttp({
    node: options.self,
    method,
    path: url.pathname,
    header: (name) => {
      const value = request.headers[name]
      return Array.isArray(value) ? value.join(",") : value
    },
    body
  })
  switch (parsed._tag) {
    case "NotFound":
      return answer(response, 404, { error: parsed.message })
    case "Invalid":
      return answer(response, 400, { error: parsed.message })
    case "Operation": {
      const outcome: ClientAnswer = await withClient((client) => client.perform(parsed.operation))
      return answer(response, outcome.status, outcome.body)
    }
    default: {
      const unreachable: never = parsed
      throw new Error(`unknown parse ${JSON.stringify(unreachable)}`)
    }
  }
}
