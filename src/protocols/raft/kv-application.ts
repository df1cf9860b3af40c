// The key-value application on top of the Raft log: it applies committed entries to the state
// machine (sessions included), answers the clients waiting on them, serves ReadIndex reads once
// applied far enough, and takes and installs snapshots. The shell (server.ts) drives it; the core
// only orders the entries it carries.
import type { JsonValue } from "../../env/json.ts"
import type { ClientOutcome, ClientRequest } from "./client-messages.ts"
import type { Raft } from "./raft.ts"
import { apply, asKvCommand, emptyKvState, type KvCommand, type KvResult, type KvState, restore, snapshotData } from "./state-machine.ts"
import type { Entry } from "./types.ts"

interface PendingWrite {
  readonly client: string
  readonly request: ClientRequest
}

interface PendingRead {
  readonly client: string
  readonly request: ClientRequest
  readonly key: string
}

/** The outcome a client sees for a state-machine result. */
const outcomeOf = (result: KvResult): ClientOutcome => {
  switch (result._tag) {
    case "Value":
      return { _tag: "Value", value: result.value }
    case "Ok":
      return { _tag: "Ok" }
    case "CasResult":
      return { _tag: "CasResult", ok: result.ok, current: result.current }
    case "StaleSequence":
      return { _tag: "Retry", reason: "stale sequence" }
    default: {
      const unreachable: never = result
      throw new Error(`unknown result ${JSON.stringify(unreachable)}`)
    }
  }
}

/** What the application needs from the shell: where to queue replies and trace events. */
export interface KvApplicationHost {
  readonly raft: Raft
  readonly reply: (client: string, requestId: string, outcome: ClientOutcome) => void
  readonly trace: (name: string, attributes: Record<string, unknown>) => void
}

/** The key-value application of one server. */
export interface KvApplication {
  /** The index of the last entry applied to the state machine. */
  readonly appliedIndex: () => number
  /** Whether clients wait on this server's answers. */
  readonly hasWaitingClients: () => boolean
  /** Answers every waiting client with Retry, when this server stops leading. */
  readonly abandonClients: (reason: string) => void
  /** Applies a committed entry (once) and answers the client waiting on it. */
  readonly applyEntry: (entry: Entry) => void
  /** A read may be served once the state machine has applied `index`. */
  readonly readReady: (readState: { readonly requestId: string; readonly index: number }) => void
  /** Serves the reads whose index has been applied. */
  readonly serveReads: () => void
  /** Replaces the state machine with a snapshot's data. */
  readonly install: (data: JsonValue) => void
  /** The state machine as snapshot data. */
  readonly snapshotData: () => JsonValue
  /** Takes a client's request: a read through ReadIndex, a write as a proposal. */
  readonly handleClient: (client: string, request: ClientRequest) => void
}

/** The application over `snapshot`'s data (or an empty state machine). */
export const makeKvApplication = (host: KvApplicationHost, snapshot: JsonValue | undefined): KvApplication => {
  const { raft, reply } = host
  let kv: KvState = snapshot === undefined ? emptyKvState() : restore(snapshot)
  const pendingWrites = new Map<number, PendingWrite>()
  /** Each client's write in this leader's log, not yet applied: its sequence, index and term. */
  const proposedBy = new Map<string, { readonly sequence: number; readonly index: number; readonly term: number }>()
  const pendingReads = new Map<string, PendingRead>()
  const readyReads: Array<{ readonly requestId: string; readonly index: number }> = []

  const abandonClients = (reason: string): void => {
    for (const [, pending] of pendingWrites) reply(pending.client, pending.request.requestId, { _tag: "Retry", reason })
    for (const [, pending] of pendingReads) reply(pending.client, pending.request.requestId, { _tag: "Retry", reason })
    pendingWrites.clear()
    proposedBy.clear()
    pendingReads.clear()
    readyReads.length = 0
  }

  const applyEntry = (entry: Entry): void => {
    if (entry.index <= kv.appliedIndex) return
    const result = apply(kv, entry)
    host.trace("apply", { index: entry.index, term: entry.term, command: entry.command })
    const command = asKvCommand(entry.command)
    if (command !== undefined && proposedBy.get(command.clientId)?.index === entry.index) proposedBy.delete(command.clientId)
    const pending = pendingWrites.get(entry.index)
    if (pending === undefined) return
    pendingWrites.delete(entry.index)
    const mine =
      result._tag === "Kv" &&
      command !== undefined &&
      command.clientId === pending.request.clientId &&
      command.sequence === pending.request.sequence
    reply(pending.client, pending.request.requestId, mine ? outcomeOf(result.result) : { _tag: "Retry", reason: "entry replaced by another leader" })
  }

  const serveReads = (): void => {
    while (readyReads.length > 0 && readyReads[0]!.index <= kv.appliedIndex) {
      const { requestId } = readyReads.shift()!
      const pending = pendingReads.get(requestId)
      if (pending === undefined) continue
      pendingReads.delete(requestId)
      reply(pending.client, requestId, { _tag: "Value", value: kv.values.get(pending.key) ?? null })
    }
  }

  const handleRead = (client: string, request: ClientRequest, key: string): void => {
    // The network may duplicate a request; the copy waits on the read already under way.
    if (pendingReads.has(request.requestId)) return
    const result = raft.readIndex(request.requestId)
    if (result._tag === "Accepted") pendingReads.set(request.requestId, { client, request, key })
    else if (result._tag === "NotLeader") reply(client, request.requestId, { _tag: "NotLeader", leaderHint: result.leaderHint })
    else reply(client, request.requestId, { _tag: "Retry", reason: "busy" })
  }

  /**
   * A retry of a write this server already applied is answered from the client's session. A retry
   * of a write this leader already holds in its log, in its current term, waits on that
   * entry instead of appending another: the entry commits unless leadership is lost (then every
   * waiting client hears Retry), and the session would apply a copy as a no-op anyway. Without
   * this, a client that retries faster than entries commit (a slow network) fills the log with
   * copies of its write, each one delaying every other client's, and the cluster stops answering
   * anyone in time. The newest attempt is the one the client waits on, so it takes the answer.
   */
  const awaitProposed = (client: string, request: ClientRequest): boolean => {
    // Already applied here, so committed: the session holds the answer the write got.
    const session = kv.sessions.get(request.clientId)
    if (session !== undefined && session.sequence === request.sequence) {
      reply(client, request.requestId, outcomeOf(session.result))
      return true
    }
    const proposed = proposedBy.get(request.clientId)
    if (proposed === undefined || proposed.sequence !== request.sequence) return false
    if (raft.role !== "Leader" || raft.term !== proposed.term || !pendingWrites.has(proposed.index)) return false
    pendingWrites.set(proposed.index, { client, request })
    return true
  }

  const handleClient = (client: string, request: ClientRequest): void => {
    if (request.operation._tag === "Get") return handleRead(client, request, request.operation.key)
    if (awaitProposed(client, request)) return
    const command: KvCommand = { _tag: "Kv", clientId: request.clientId, sequence: request.sequence, operation: request.operation }
    const result = raft.propose(command)
    switch (result._tag) {
      case "Accepted": {
        const displaced = pendingWrites.get(result.index)
        if (displaced !== undefined) reply(displaced.client, displaced.request.requestId, { _tag: "Retry", reason: "entry replaced" })
        pendingWrites.set(result.index, { client, request })
        proposedBy.set(request.clientId, { sequence: request.sequence, index: result.index, term: raft.term })
        return
      }
      case "NotLeader":
        return reply(client, request.requestId, { _tag: "NotLeader", leaderHint: result.leaderHint })
      case "Rejected":
        return reply(client, request.requestId, { _tag: "Retry", reason: result.reason })
      default: {
        const unreachable: never = result
        throw new Error(`unknown propose result ${JSON.stringify(unreachable)}`)
      }
    }
  }

  return {
    appliedIndex: () => kv.appliedIndex,
    hasWaitingClients: () => pendingWrites.size > 0 || pendingReads.size > 0,
    abandonClients,
    applyEntry,
    readReady: (readState) => {
      readyReads.push(readState)
    },
    serveReads,
    install: (data) => {
      kv = restore(data)
    },
    snapshotData: () => snapshotData(kv),
    handleClient
  }
}
