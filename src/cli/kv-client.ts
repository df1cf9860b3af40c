// A client of a real cluster, whatever its protocol, for code outside Effect: the command-line client and each node's HTTP endpoint.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Fiber } from "effect"
import type { ClientAnswer, RealClient, ServerStatus } from "../definition/real-client.ts"
import { type Address, type LocalHub, Mailbox, type OtelExport, runRealNode } from "../real/index.ts"

/** Where a client finds the cluster, and how it proves it belongs. */
export interface ClusterAccess {
  /** The cluster's protocol's client: what a session of it does. */
  readonly client: RealClient<any>
  /** The servers, by id. */
  readonly servers: Readonly<Record<string, Address>>
  readonly secret: Uint8Array
  /** The process's hub, when the client runs beside a server of the cluster: that server is then reached without a socket. */
  readonly localHub?: LocalHub | undefined
  /** The process's OpenTelemetry export, when the client runs beside a server that exports: its spans go there too. */
  readonly otel?: OtelExport | undefined
}

/** Options of {@link openKvClient}. */
export interface KvClientOptions extends ClusterAccess {
  /** The client's id; unique per session, since servers apply a client's writes once per sequence number. */
  readonly clientId: string
  readonly requestTimeoutMs?: number
  readonly operationTimeoutMs?: number
  /** Where the client's network log lines go (default: nowhere; a client's reconnects are not news). */
  readonly log?: (line: string) => void
}

/** A client of a real cluster: operations run one at a time, in the order asked. */
export interface KvClient {
  /** What the operation (as the protocol's client read it) came to; unknown when no answer came in time. */
  readonly perform: (operation: unknown) => Promise<ClientAnswer>
  /** Asks `server` once how it stands (whether it leads), or undefined when it does not answer in time. */
  readonly probe: (server: string, timeoutMs: number) => Promise<ServerStatus | undefined>
  readonly close: () => Promise<void>
}

/** What the session's fiber is asked to do: an operation of the session, or a one-off probe of a server. */
type Job =
  | { readonly _tag: "Perform"; readonly operation: unknown; readonly resolve: (answer: ClientAnswer) => void }
  | { readonly _tag: "Probe"; readonly server: string; readonly timeoutMs: number; readonly resolve: (status: ServerStatus | undefined) => void }

/** Jobs a session may have waiting: its callers wait for each answer, so more is a programmer error. */
const JOBS_WAITING_MAX = 1024

/** A client id no other session has: servers remember sequence numbers per client id. */
export const freshClientId = (prefix: string): string => `${prefix}-${process.pid.toString(36)}-${Math.floor(Math.random() * 2 ** 32).toString(36)}`

/**
 * Opens a client session with a real cluster: a real node of its own (no listening socket, no
 * trace, a scratch data directory) running the protocol's client session, fed operations from a
 * queue. For Raft that is the session the simulated clients use.
 */
export const openKvClient = async (options: KvClientOptions): Promise<KvClient> => {
  const scratch = mkdtempSync(join(tmpdir(), "faultline-client-"))
  // A Mailbox rather than an Effect Queue: a job given to the waiting session starts at once, not on
  // the event loop's next turn, which is one wait fewer on every request's path.
  const jobs = new Mailbox<Job>(JOBS_WAITING_MAX)
  const servers = Object.keys(options.servers).sort()
  const program = Effect.gen(function*() {
    const session = yield* options.client.openSession({
      servers,
      requestTimeoutMs: options.requestTimeoutMs ?? 500,
      operationTimeoutMs: options.operationTimeoutMs ?? 5000
    })
    while (true) {
      const job = yield* jobs.receive
      switch (job._tag) {
        case "Perform":
          job.resolve(yield* session.perform(job.operation))
          break
        case "Probe":
          job.resolve(yield* session.status(job.server, job.timeoutMs))
          break
        default: {
          const unreachable: never = job
          throw new Error(`unknown job ${JSON.stringify(unreachable)}`)
        }
      }
    }
  })
  const fiber = runRealNode(program, {
    self: options.clientId,
    peers: options.servers,
    secret: options.secret,
    dataDirectory: scratch,
    tracePath: null,
    network: { localHub: options.localHub },
    otel: options.otel,
    log: options.log ?? (() => {})
  })
  const submit = (job: Job) => {
    if (!jobs.offer(job)) throw new Error(`kv client: more than ${JOBS_WAITING_MAX} operations waiting in one session`)
  }
  return {
    perform: (operation) => new Promise((resolve) => submit({ _tag: "Perform", operation, resolve })),
    probe: (server, timeoutMs) => new Promise((resolve) => submit({ _tag: "Probe", server, timeoutMs, resolve })),
    close: async () => {
      await Effect.runPromise(Fiber.interrupt(fiber))
      rmSync(scratch, { recursive: true, force: true })
    }
  }
}
