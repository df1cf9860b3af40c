// The Raft shell's order of sending and syncing: a follower answers only what it has synced; a
// leader may send its own new entries while it syncs them (thesis §10.2.1), and nothing else.
import { Effect, Fiber, Queue } from "effect"
import { describe, expect, it } from "vitest"
import { Clock, disabledSpans, type Envelope, Network, Random, Storage, Tracing } from "../src/env/index.ts"
import type { Message } from "../src/protocols/raft/index.ts"
import { defaultRaftServerOptions, raftServer } from "../src/protocols/raft/server.ts"
import { SimulatedDisk } from "../src/sim/disk.ts"
import { storageOf } from "./fixtures/disk-storage.ts"

/** What the shell did, in order: a message sent (its type and receiver) or a file synced. */
type Step = string

/**
 * One server of a three-node cluster on stub services: the test plays its peers and its clock.
 * Every send and every sync is logged, so the test can see which came first.
 */
const startServer = (self: string) =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<Envelope>()
    const ticks = yield* Queue.unbounded<void>()
    const steps: Array<Step> = []
    const sent: Array<Message> = []
    const disk = new SimulatedDisk()
    const record = (to: string, message: unknown) => {
      steps.push(`send ${(message as { _tag: string })._tag} to ${to}`)
      sent.push(message as Message)
    }
    const network = Network.of({
      self,
      nodes: ["n1", "n2", "n3"],
      send: (to, message) => Effect.sync(() => record(to, message)),
      sendAll: (messages) => Effect.sync(() => messages.forEach(([to, message]) => record(to, message))),
      receive: Queue.take(inbox),
      receiveAll: () => Effect.map(Queue.take(inbox), (envelope) => [envelope]),
      receiveWithin: () => Effect.undefined
    })
    const storage = Storage.of({
      ...storageOf(disk),
      sync: (file) => Effect.sync(() => {
        disk.sync(file)
        steps.push(`sync ${file}`)
      })
    })
    let draws = 0
    const services = {
      network,
      clock: Clock.of({ now: Effect.succeed(0), sleep: () => Queue.take(ticks) }),
      random: Random.of({ next: Effect.sync(() => (draws++ % 10) / 10), nextInt: (bound: number) => Effect.succeed(7 % bound) }),
      tracing: Tracing.of({ event: () => Effect.void, span: (_name, _attributes, effect) => effect, spans: disabledSpans })
    }
    const server = raftServer(["n1", "n2", "n3"], defaultRaftServerOptions).pipe(
      Effect.provideService(Network, services.network),
      Effect.provideService(Clock, services.clock),
      Effect.provideService(Random, services.random),
      Effect.provideService(Storage, storage),
      Effect.provideService(Tracing, services.tracing)
    )
    const fiber = yield* Effect.forkDetach(server)
    const settle = Effect.repeat(Effect.yieldNow, { times: 50 })
    const deliver = (from: string, message: unknown) => Effect.andThen(Queue.offer(inbox, { from, message }), settle)
    const tick = (count: number) => Effect.andThen(Effect.forEach(Array.from({ length: count }), () => Queue.offer(ticks, undefined)), settle)
    // What recovery stored at the start is not part of any test.
    yield* settle
    steps.length = 0
    return { steps, sent, fiber, deliver, tick, settle }
  })

type Server = Effect.Success<ReturnType<typeof startServer>>

/** Answers each message of `tag` that `server` sent since the last look, with what `answer` makes of it. */
const answerSent = <Tag extends Message["_tag"]>(server: Server, tag: Tag, answer: (message: Extract<Message, { _tag: Tag }>) => Message) =>
  Effect.gen(function*() {
    const sent = server.sent.splice(0).filter((message): message is Extract<Message, { _tag: Tag }> => message._tag === tag)
    for (const message of sent) yield* server.deliver(message.to, answer(message))
    return sent.length
  })

/** Elects `n1`: ticks until it asks for (pre-)votes, and grants every request from both peers. */
const electN1 = Effect.gen(function*() {
  const server = yield* startServer("n1")
  for (let round = 0; round < 60 && !server.sent.some((message) => message._tag === "AppendEntries"); round++) {
    const granted = yield* answerSent(server, "RequestVote", (request) => ({
      _tag: "RequestVoteResponse",
      from: request.to,
      to: "n1",
      term: request.term,
      preVote: request.preVote,
      voteGranted: true
    }))
    if (granted === 0) yield* server.tick(1)
  }
  // Both followers store the leader's first entry, so that its next ones stream to them.
  yield* answerSent(server, "AppendEntries", (append) => ({
    _tag: "AppendEntriesResponse",
    from: append.to,
    to: "n1",
    term: append.term,
    success: true,
    matchIndex: append.prevLogIndex + append.entries.length
  }))
  return server
})

describe("the shell's order of sending and syncing", () => {
  it("a leader sends a new entry to its followers before its own sync of that entry ends (thesis §10.2.1)", async () => {
    // Set up: n1 leads, its first entry (the Noop) stored.
    const steps = await Effect.runPromise(Effect.gen(function*() {
      const server = yield* electN1
      expect(server.sent.some((message) => message._tag === "AppendEntries")).toBe(true)
      server.steps.length = 0
      // Act: a client's write.
      yield* server.deliver("c1", {
        _tag: "ClientRequest",
        requestId: "c1:1:1",
        clientId: "c1",
        sequence: 1,
        operation: { _tag: "Put", key: "k", value: 1 }
      })
      yield* Fiber.interrupt(server.fiber)
      return [...server.steps]
    }))
    // Check: the appends went out first, then the log was synced; no reply before the sync.
    expect(steps.slice(0, 3).sort()).toEqual(["send AppendEntries to n2", "send AppendEntries to n3", "sync raft-log"].sort())
    expect(steps.indexOf("send AppendEntries to n2")).toBeLessThan(steps.indexOf("sync raft-log"))
    expect(steps.some((step) => step.startsWith("send ClientReply"))).toBe(false)
  })

  it("a leader's first Ready (the role change) is synced before its appends leave", async () => {
    const steps = await Effect.runPromise(Effect.gen(function*() {
      const server = yield* electN1
      yield* Fiber.interrupt(server.fiber)
      return [...server.steps]
    }))
    const firstAppend = steps.findIndex((step) => step.startsWith("send AppendEntries"))
    expect(firstAppend).toBeGreaterThan(0)
    expect(steps.slice(0, firstAppend)).toContain("sync raft-log")
  })

  it("a follower answers an AppendEntries only after syncing its entries (§5.3, the Ready contract)", async () => {
    const steps = await Effect.runPromise(Effect.gen(function*() {
      const server = yield* startServer("n2")
      yield* server.deliver("n1", {
        _tag: "AppendEntries",
        from: "n1",
        to: "n2",
        term: 1,
        // A fresh log holds the three voters' bootstrap entries, of term 0.
        prevLogIndex: 3,
        prevLogTerm: 0,
        entries: [{ term: 1, index: 4, command: { _tag: "Noop" } }],
        leaderCommit: 0
      })
      yield* Fiber.interrupt(server.fiber)
      return [...server.steps]
    }))
    const answer = steps.indexOf("send AppendEntriesResponse to n1")
    expect(answer).toBeGreaterThan(0)
    // The AppendEntries raised the term and brought an entry: both are synced before the answer.
    expect(steps.slice(0, answer)).toContain("sync raft-hardstate")
    expect(steps.slice(0, answer)).toContain("sync raft-log")
  })
})
