// Which spans a Raft server exports and how they are parented: a client write is one trace across the leader and its followers.
//
// The server calls in at four points (after stepping an input, when queueing a Ready's message,
// around persisting a Ready, after a Ready is done) and this module decides the rest, so the
// shell's loop stays as it is. With spans disabled every call returns at once.
//
// The spans of one client write, and their parents:
//
//   client.request   (the client, kind client)             a new trace, or the caller's
//   raft.propose     (the leader, kind server)             the client's span, as its request carried it;
//                                                          ends when the entry is applied
//   storage.sync     (any server, internal)                the span of the first traced entry it persists
//   raft.append      (the leader, kind producer)           the span of the first traced entry it carries
//   raft.handleAppend (a follower, kind consumer)          the leader's raft.append, as the message carried it;
//                                                          ends when the follower's Ready is done
//
// Group commit: one sync, and one AppendEntries, may carry the entries of many client writes. Such
// a span is parented by the first new entry's span (the oldest write waiting) and links the
// spans of the others (at most LINKS_MAX), so each write's trace shows the shared work, and the
// work shows every write it served.
import { Effect } from "effect"
import type { Envelope, NodeId, OpenSpan, Outgoing, Spans } from "../../env/index.ts"
import { isClientRequest } from "./client-messages.ts"
import type { Raft } from "./raft.ts"
import type { Entry, Message, Ready } from "./types.ts"

/** Most links one span carries; a larger batch names its first writes and counts the rest in `raft.entries`. */
const LINKS_MAX = 32

/** Most entries tracked at once; writes past it are not traced (a stuck leader must not grow memory). */
const TRACKED_ENTRIES_MAX = 10_000

/** What the Raft server calls; see the module comment. */
export interface RaftTraceContext {
  /** After an input was stepped: opens the spans it started (a write proposed here, entries received). */
  readonly stepped: (input: Envelope, raft: Raft) => void
  /** A Ready's message as the outbox holds it: with the span it is sent in, for AppendEntries with traced entries. */
  readonly outgoing: (message: Message) => Outgoing
  /** Persisting a Ready, inside a storage.sync span when it persists traced entries: the span ends failed if `io` fails. */
  readonly persisting: <E>(ready: Ready, io: Effect.Effect<void, E>) => Effect.Effect<void, E>
  /** Once a Ready was persisted, before anything else: ends its storage.sync span, if it has one. */
  readonly synced: () => void
  /** After a Ready was persisted and applied: ends the spans it completed. */
  readonly persisted: (ready: Ready, raft: Raft) => void
}

const untraced: RaftTraceContext = {
  stepped: () => {},
  outgoing: (message) => [message.to, message],
  persisting: (_ready, io) => io,
  synced: () => {},
  persisted: () => {}
}

const NO_LINKS: ReadonlyArray<string> = []

/**
 * The span context of the first traced entry among `entries` and the others', de-duplicated. The
 * list of links is made only when there is one: most batches carry one traced write.
 */
const parentAndLinks = (
  entries: ReadonlyArray<Entry>,
  spanOf: (index: number) => OpenSpan | undefined
): { readonly parent: string; readonly links: ReadonlyArray<string> } | undefined => {
  let parent: string | undefined
  let links: Array<string> | undefined
  for (const entry of entries) {
    const span = spanOf(entry.index)
    if (span === undefined) continue
    if (parent === undefined) parent = span.traceparent
    else if (span.traceparent !== parent && (links === undefined || (links.length < LINKS_MAX && !links.includes(span.traceparent)))) (links ??= []).push(span.traceparent)
  }
  return parent === undefined ? undefined : { parent, links: links ?? NO_LINKS }
}

/** The trace context of one Raft server incarnation. */
export const makeRaftTraceContext = (spans: Spans): RaftTraceContext => {
  if (!spans.enabled) return untraced
  /** On a leader: each traced entry's raft.propose span, until the entry is applied. */
  const proposals = new Map<number, OpenSpan>()
  /** On a follower: each traced entry's raft.handleAppend span, until its Ready is done. */
  const received = new Map<number, OpenSpan>()
  let receiving: Array<OpenSpan> = []
  /** The storage.sync span of the Ready being persisted, if it has one. */
  let syncing: OpenSpan | undefined
  const spanOf = (index: number) => proposals.get(index) ?? received.get(index)

  const proposed = (input: Envelope, raft: Raft): void => {
    const request = input.message
    if (!isClientRequest(request) || request.operation._tag === "Get" || proposals.size >= TRACKED_ENTRIES_MAX) return
    const index = raft.lastIndex
    const entry = raft.entries(index, index + 1)[0]
    const command = entry?.command
    // Only the entry this very request appended: a rejected or redirected request appended none.
    if (command?._tag !== "Kv" || command.clientId !== request.clientId || command.sequence !== request.sequence || proposals.has(index)) return
    proposals.set(
      index,
      spans.start(
        "raft.propose",
        { "raft.index": index, "raft.term": entry!.term, "kv.operation": request.operation._tag, "kv.key": request.operation.key },
        { kind: "server", parent: input.traceparent }
      )
    )
  }

  const appended = (input: Envelope, from: NodeId, message: Message): void => {
    if (message._tag !== "AppendEntries" || message.entries.length === 0 || received.size >= TRACKED_ENTRIES_MAX) return
    const span = spans.start(
      "raft.handleAppend",
      { "raft.leader": from, "raft.term": message.term, "raft.prevLogIndex": message.prevLogIndex, "raft.entries": message.entries.length },
      { kind: "consumer", parent: input.traceparent }
    )
    receiving.push(span)
    for (const entry of message.entries) received.set(entry.index, span)
  }

  return {
    stepped: (input, raft) => {
      if (input.traceparent === undefined) return
      if (isClientRequest(input.message)) proposed(input, raft)
      else appended(input, input.from, input.message as Message)
    },
    outgoing: (message) => {
      if (message._tag !== "AppendEntries" || message.entries.length === 0) return [message.to, message]
      const family = parentAndLinks(message.entries, spanOf)
      if (family === undefined) return [message.to, message]
      const span = spans.start(
        "raft.append",
        { "raft.to": message.to, "raft.term": message.term, "raft.prevLogIndex": message.prevLogIndex, "raft.entries": message.entries.length },
        { kind: "producer", parent: family.parent, links: family.links }
      )
      span.end()
      return [message.to, message, span.traceparent]
    },
    persisting: (ready, io) => {
      const family = parentAndLinks(ready.entries, spanOf)
      if (family === undefined) return io
      // The span starts when the sync does, and the server ends it once the sync is done (see
      // `synced`), ahead of what follows. Only a failure needs a handler here: ending it through
      // `Effect.onExit` cost an exit and a finalizer a sync, about 240 M instructions over 3 rounds
      // of seeds 1-5 of the standard scenario under callgrind, a fifth of what the export added.
      return Effect.suspend(() => {
        const span = spans.start(
          "storage.sync",
          { "raft.entries": ready.entries.length, "raft.firstIndex": ready.entries[0]!.index },
          { parent: family.parent, links: family.links }
        )
        syncing = span
        return Effect.catchCause(io, (cause) => {
          span.end("error")
          syncing = undefined
          return Effect.failCause(cause)
        })
      })
    },
    synced: () => {
      if (syncing === undefined) return
      syncing.end()
      syncing = undefined
    },
    persisted: (ready, raft) => {
      for (const span of receiving) {
        span.event("persisted", { lastIndex: raft.lastIndex, commitIndex: raft.commitIndex })
        span.end()
      }
      if (receiving.length > 0) {
        receiving = []
        received.clear()
      }
      // Only a leader has proposals: a follower applies without looking each entry up.
      if (proposals.size > 0) {
        for (const entry of ready.committedEntries) {
          const span = proposals.get(entry.index)
          if (span === undefined) continue
          // The protocol event the write waited for, on the span that waited: the leader applied it.
          span.event("apply", { index: entry.index, term: entry.term })
          span.end()
          proposals.delete(entry.index)
        }
      }
      // A leader that lost its role will not apply its proposals as its own: their spans end failed.
      if (ready.softState !== undefined && raft.role !== "Leader" && proposals.size > 0) {
        for (const span of proposals.values()) span.end("error")
        proposals.clear()
      }
    }
  }
}
