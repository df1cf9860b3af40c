// What a protocol gives the clients of its real cluster (`faultline client` and each node's HTTP
// endpoint): how to read a request from the command line or HTTP, a session that performs it, and
// how to say the answer. The command-line and HTTP code in src/cli then knows no protocol.
import type { Effect } from "effect"
import type { Clock, Network, Random, Tracing } from "../env/index.ts"
import type { JsonValue } from "../env/json.ts"

/** An HTTP request as a node's endpoint hands it to the protocol, its body already read (and bounded). */
export interface ClientHttpRequest {
  /** The node serving the endpoint: a route may ask about it alone (such as its own replica of a key). */
  readonly node: string
  readonly method: string
  /** The path without the query string, such as `/kv/greeting/cas`; not yet percent-decoded. */
  readonly path: string
  /** A request header by its lower-case name (such as a version context a write names). */
  readonly header: (name: string) => string | undefined
  readonly body: string
}

/**
 * A request read from the command line or HTTP: the operation, or why it is not one. `NotFound`
 * is a path that is no route (HTTP 404); `Invalid` is a route given bad input (HTTP 400, exit 2).
 */
export type ClientRequestParse<Operation> =
  | { readonly _tag: "Operation"; readonly operation: Operation }
  | { readonly _tag: "Invalid"; readonly message: string }
  | { readonly _tag: "NotFound"; readonly message: string }

/**
 * What an operation came to, said for each way a client asks: the HTTP status and JSON body, the
 * command line's text, and whether the outcome is known (exit 0) or not (a write that got no
 * answer in time may or may not have happened: HTTP 503, exit 3).
 */
export interface ClientAnswer {
  readonly known: boolean
  readonly status: number
  readonly body: { readonly [key: string]: JsonValue }
  /** One line for a person; `body` as JSON is the machine-readable form (`faultline client --json`). */
  readonly text: string
}

/** What `/status` and `cluster status` say of a server: its role (such as `leader`), and the leader it names. */
export interface ServerStatus {
  readonly role: string
  readonly leader?: string | null | undefined
}

/** How long a session waits: one attempt at one server, and one operation in all. */
export interface ClientSessionOptions {
  /** The cluster's servers, sorted. */
  readonly servers: ReadonlyArray<string>
  readonly requestTimeoutMs: number
  readonly operationTimeoutMs: number
}

/**
 * One client's session with the cluster, run as a node of its own whose id is the client id (unique
 * per session). Operations are performed one at a time, in the order asked.
 */
export interface ClientSession<Operation> {
  readonly perform: (operation: Operation) => Effect.Effect<ClientAnswer>
  /** Asks `server` once how it stands; undefined when it does not answer within `timeoutMs`. */
  readonly status: (server: string, timeoutMs: number) => Effect.Effect<ServerStatus | undefined>
}

/**
 * A protocol's client for real clusters, written against `src/env` only like its servers. The
 * key-value stores read `get KEY`, `put KEY VALUE` and `/kv/KEY`; another protocol (a search index's
 * `insert` and `query`) reads its own operations and routes the same way.
 */
export interface RealClient<Operation> {
  /** `faultline client NAME ARGS...`. */
  readonly fromArguments: (name: string, args: ReadonlyArray<string>) => ClientRequestParse<Operation>
  /** A request to a node's HTTP endpoint (`/status` excepted: the endpoint answers that itself). */
  readonly fromHttp: (request: ClientHttpRequest) => ClientRequestParse<Operation>
  readonly openSession: (options: ClientSessionOptions) => Effect.Effect<ClientSession<Operation>, never, Network | Clock | Random | Tracing>
}

/** A value as a user typed it: JSON, or the text itself when it is not JSON (`put k hello` stores `"hello"`). */
export const parseValue = (text: string): JsonValue => {
  try {
    return JSON.parse(text) as JsonValue
  } catch {
    return text
  }
}
