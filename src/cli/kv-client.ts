// A key-value client of a real cluster for code outside Effect: the command-line client and each node's HTTP endpoint.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Fiber, Queue } from "effect"
import { Clock, Network } from "../env/index.ts"
import { makeKvSession } from "../protocols/raft/client.ts"
import { awaitReply, type ClientOutcome, isClientReply } from "../protocols/raft/client-messages.ts"
import type { KvOperation } from "../protocols/raft/types.ts"
import { type Address, type LocalHub, type OtelExport, runRealNode } from "../real/index.ts"

/** Where a client finds the cluster, and how it proves it belongs. */
export interface ClusterAccess {
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
  /** The operation's outcome, or undefined when none came in time (a write may then have happened or not). */
  readonly perform: (operation: KvOperation) => Promise<ClientOutcome | undefined>
  /** Asks `server` once whether it leads: its answer to a read, or undefined when it does not answer in time. */
  readonly probe: (server: string, timeoutMs: number) => Promise<ClientOutcome | undefined>
  readonly close: () => Promise<void>
}

/** What the session's fiber is asked to do: an operation of the session, or a one-off probe of a server. */
type Job =
  | { readonly _tag: "Perform"; readonly operation: KvOperation; readonly resolve: (outcome: ClientOutcome | undefined) => void }
  | { readonly _tag: "Probe"; readonly server: string; readonly timeoutMs: number; readonly resolve: (outcome: ClientOutcome | undefined) => void }

/** A client id no other session has: servers remember sequence numbers per client id. */
export const freshClientId = (prefix: string): string => `${prefix}-${process.pid.toString(36)}-${Math.floor(Math.random() * 2 ** 32).toString(36)}`

/**
 * Opens a client session with a real cluster: a real node of its own (no listening socket, no
 * trace, a scratch data directory) running the same KV session the simulated clients use, fed
 * operations from a queue.
 */
export const openKvClient = async (options: KvClientOptions): Promise<KvClient> => {
  const scratch = mkdtempSync(join(tmpdir(), "faultline-client-"))
  const jobs = Effect.runSync(Queue.unbounded<Job>())
  const servers = Object.keys(options.servers).sort()
  const program = Effect.gen(function*() {
    const session = yield* makeKvSession({
      servers,
      requestTimeoutMs: options.requestTimeoutMs ?? 500,
      operationTimeoutMs: options.operationTimeoutMs ?? 5000
    })
    let sequence = 0
    while (true) {
      const job = yield* Queue.take(jobs)
      // An operation takes the session's next sequence number; a probe takes none.
      switch (job._tag) {
        case "Perform":
          job.resolve(yield* session.perform(++sequence, job.operation))
          break
        case "Probe":
          job.resolve(yield* probeOnce(job.server, job.timeoutMs))
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
  const submit = (job: Job) => Effect.runSync(Queue.offer(jobs, job))
  return {
    perform: (operation) => new Promise((resolve) => submit({ _tag: "Perform", operation, resolve })),
    probe: (server, timeoutMs) => new Promise((resolve) => submit({ _tag: "Probe", server, timeoutMs, resolve })),
    close: async () => {
      await Effect.runPromise(Fiber.interrupt(fiber))
      rmSync(scratch, { recursive: true, force: true })
    }
  }
}

/** One read sent to `server`, and its answer: a leader serves it, a follower names the leader. */
const probeOnce = (server: string, timeoutMs: number): Effect.Effect<ClientOutcome | undefined, never, Network | Clock> =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const requestId = `${network.self}:probe:${yield* clock.now}`
    // Sequence 0 is never a write's, so a probe leaves the client's session untouched.
    yield* network.send(server, { _tag: "ClientRequest", requestId, clientId: network.self, sequence: 0, operation: { _tag: "Get", key: "" } })
    return yield* awaitReply({
      network,
      clock,
      timeoutMs,
      accept: (message) => (isClientReply(message) && message.requestId === requestId ? message.outcome : undefined)
    })
  })
