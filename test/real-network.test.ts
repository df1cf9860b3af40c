// The real Network service on 127.0.0.1: per-link FIFO, refused strangers and bad frames, clients, bounded queues.
import { connect } from "node:net"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { Envelope, NodeId } from "../src/env/index.ts"
import { type Address, LOOPBACK_HOST, parsePeers } from "../src/real/address.ts"
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, FrameKind, WIRE_VERSION } from "../src/real/frame.ts"
import { makeNonce } from "../src/real/handshake.ts"
import { LocalHub } from "../src/real/local-hub.ts"
import { makeRealNetwork, type NetworkLogEntry, type RealNetwork, type RealNetworkConfig } from "../src/real/network.ts"
import { freePorts } from "./fixtures/real-ports.ts"

const secret = Buffer.from("a cluster secret of more than sixteen bytes")
/** A bound for waits that should take milliseconds: generous, so a loaded machine does not fail the test. */
const WAIT_MS = 10_000

const at = (port: number): Address => ({ host: LOOPBACK_HOST, port })

/** Starts one network per id, each listening on its port and knowing every other as a peer. */
const startCluster = (
  ids: ReadonlyArray<NodeId>,
  ports: ReadonlyArray<number>,
  logs: Array<NetworkLogEntry>,
  overrides: Partial<RealNetworkConfig> = {}
) =>
  Effect.forEach(ids, (self, index) =>
    makeRealNetwork({
      self,
      listen: at(ports[index]!),
      peers: Object.fromEntries(ids.map((peer, peerIndex) => [peer, at(ports[peerIndex]!)])),
      secret,
      log: (entry) => logs.push(entry),
      ...overrides
    }))

/** Receives `count` messages, failing if any takes longer than WAIT_MS. */
const receiveMany = (network: RealNetwork, count: number) =>
  Effect.gen(function*() {
    const received: Array<Envelope> = []
    while (received.length < count) {
      const envelope = yield* network.service.receiveWithin(WAIT_MS)
      if (envelope === undefined) throw new Error(`${network.service.self}: only ${received.length} of ${count} messages arrived`)
      received.push(envelope)
    }
    return received
  })

const run = <A, E>(effect: Effect.Effect<A, E, import("effect").Scope.Scope>) => Effect.runPromise(Effect.scoped(effect))

/** Connects a raw socket and collects what the node writes back, until the node closes it. */
const rawSocket = (port: number) => {
  const socket = connect({ host: LOOPBACK_HOST, port })
  const received: Array<Buffer> = []
  socket.on("data", (chunk: Buffer) => received.push(chunk))
  socket.on("error", () => {})
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()))
  // The local port is gone once the socket closes, so it is kept when it connects.
  const connected = new Promise<number>((resolve) => socket.on("connect", () => resolve(socket.localPort!)))
  return { socket, received, closed, connected }
}

const waitFor = async (condition: () => boolean, what: string): Promise<void> => {
  const deadline = performance.now() + WAIT_MS
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A message round trip between two nodes, proof that the node still serves. */
const pingPong = (from: RealNetwork, to: RealNetwork) =>
  Effect.gen(function*() {
    yield* from.service.send(to.service.self, { ping: 1 })
    const [ping] = yield* receiveMany(to, 1)
    expect(ping).toEqual({ from: from.service.self, message: { ping: 1 } })
  })

describe("real network", () => {
  it("three nodes exchange messages, each link in the order sent", async () => {
    const ports = await freePorts(3)
    const logs: Array<NetworkLogEntry> = []
    const perLink = 300
    await run(Effect.gen(function*() {
      const nodes = yield* startCluster(["n1", "n2", "n3"], ports, logs)
      expect(nodes[0]!.service.nodes).toEqual(["n1", "n2", "n3"])
      for (let sequence = 0; sequence < perLink; sequence++) {
        for (const node of nodes) {
          for (const peer of nodes) {
            if (peer !== node) yield* node.service.send(peer.service.self, { sequence, text: `from ${node.service.self}` })
          }
        }
      }
      for (const node of nodes) {
        const received = yield* receiveMany(node, 2 * perLink)
        for (const sender of ["n1", "n2", "n3"].filter((id) => id !== node.service.self)) {
          const sequences = received.filter((envelope) => envelope.from === sender).map((envelope) => (envelope.message as { sequence: number }).sequence)
          expect(sequences).toEqual(Array.from({ length: perLink }, (_, index) => index))
        }
        expect(node.stats.droppedQueueFull).toBe(0)
      }
    }))
    expect(logs.filter((entry) => entry._tag === "Connected")).toHaveLength(12)
    expect(logs.filter((entry) => entry._tag === "Refused")).toEqual([])
  })

  it("a node without the secret is refused, and the cluster keeps serving", async () => {
    const ports = await freePorts(3)
    const logs: Array<NetworkLogEntry> = []
    const strangerLogs: Array<NetworkLogEntry> = []
    await run(Effect.gen(function*() {
      const [n1, n2] = yield* startCluster(["n1", "n2"], ports, logs)
      // The stranger listens as n3 and dials n1, with another secret.
      const stranger = yield* makeRealNetwork({
        self: "n3",
        listen: at(ports[2]!),
        peers: { n1: at(ports[0]!) },
        secret: Buffer.from("not the cluster secret at all, no"),
        log: (entry) => strangerLogs.push(entry),
        reconnectDelayMsMin: 10_000
      })
      yield* stranger.service.send("n1", { evil: true })
      yield* Effect.promise(() => waitFor(() => strangerLogs.some((entry) => entry._tag === "Refused"), "the stranger to refuse n1"))
      // The stranger found that n1 cannot prove the secret it knows, and n1 saw the handshake abandoned.
      expect(strangerLogs.find((entry) => entry._tag === "Refused")).toMatchObject({ peer: "n1", reason: "n1 does not prove it holds the cluster secret" })
      yield* Effect.promise(() => waitFor(() => logs.some((entry) => entry._tag === "Lost" && entry.peer === "n3"), "n1 to log the stranger"))
      const lost = logs.find((entry) => entry._tag === "Lost" && entry.peer === "n3")!
      expect(lost.address).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(n1!.stats.received).toBe(0)
      yield* pingPong(n2!, n1!)
      yield* pingPong(n1!, n2!)
    }))
  })

  it("a dialer that sends a forged proof is refused and logged with its address", async () => {
    const [port] = await freePorts(1)
    const logs: Array<NetworkLogEntry> = []
    await run(Effect.gen(function*() {
      yield* startCluster(["n1"], [port!], logs)
      const raw = rawSocket(port!)
      const localPort = yield* Effect.promise(() => raw.connected)
      const hello = encodeFrame(FrameKind.Hello, Buffer.from(JSON.stringify({ node: "n9", nonce: makeNonce() })))
      raw.socket.write(hello)
      yield* Effect.promise(() => waitFor(() => raw.received.length > 0, "a challenge"))
      const [challenge] = new FrameDecoder().push(Buffer.concat(raw.received))
      expect(challenge).toMatchObject({ _tag: "Frame", kind: FrameKind.Challenge })
      raw.socket.write(encodeFrame(FrameKind.Proof, Buffer.from(JSON.stringify({ proof: "ab".repeat(32) }))))
      yield* Effect.promise(() => raw.closed)
      const refused = logs.find((entry) => entry._tag === "Refused")
      expect(refused).toMatchObject({ peer: "n9", direction: "inbound", reason: "n9 does not prove it holds the cluster secret" })
      expect(refused!.address).toBe(`127.0.0.1:${localPort}`)
    }))
  })

  it("garbage, oversized and out-of-order frames close the connection, are logged, and the node keeps running", async () => {
    const ports = await freePorts(2)
    const logs: Array<NetworkLogEntry> = []
    const oversized = Buffer.alloc(FRAME_HEADER_BYTES)
    oversized.writeUInt32BE(2 ** 31, 0)
    oversized.writeUInt8(WIRE_VERSION, 4)
    oversized.writeUInt8(FrameKind.Message, 5)
    const attacks: Array<readonly [string, Buffer, string]> = [
      ["http", Buffer.from("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), "bad wire version"],
      ["oversized", oversized, "oversized frame: 2147483648 bytes"],
      ["message first", encodeFrame(FrameKind.Message, Buffer.from('{"x":1}')), "expected a hello"],
      ["not json", encodeFrame(FrameKind.Hello, Buffer.from("{{{")), "message payload is not UTF-8 JSON"],
      ["bad hello", encodeFrame(FrameKind.Hello, Buffer.from('{"node":"../etc","nonce":"00"}')), "hello names no valid node id"],
      ["own id", encodeFrame(FrameKind.Hello, Buffer.from(JSON.stringify({ node: "n1", nonce: makeNonce() }))), "own id"]
    ]
    await run(Effect.gen(function*() {
      const [n1, n2] = yield* startCluster(["n1", "n2"], ports, logs, { maxPayloadBytes: 64 * 1024 })
      for (const [name, bytes, reason] of attacks) {
        const raw = rawSocket(ports[0]!)
        const localPort = yield* Effect.promise(() => raw.connected)
        raw.socket.write(bytes)
        yield* Effect.promise(() => raw.closed)
        const refused = logs.filter((entry) => entry._tag === "Refused").at(-1)
        expect(refused?._tag, name).toBe("Refused")
        if (refused?._tag !== "Refused") return
        expect(refused.reason, name).toContain(reason)
        expect(refused.address, name).toBe(`127.0.0.1:${localPort}`)
      }
      expect(n1!.stats.connectionsRefused).toBe(attacks.length)
      yield* pingPong(n2!, n1!)
      yield* pingPong(n1!, n2!)
    }))
  })

  it("refuses inbound connections beyond its bound, and serves again once they close", async () => {
    const ports = await freePorts(2)
    const logs: Array<NetworkLogEntry> = []
    await run(Effect.gen(function*() {
      const [n1, n2] = yield* startCluster(["n1", "n2"], ports, logs, { maxInboundConnections: 2 })
      // Two silent connections fill n1's bound; a third is refused at once.
      const silent = [rawSocket(ports[0]!), rawSocket(ports[0]!)]
      for (const raw of silent) yield* Effect.promise(() => raw.connected)
      const third = rawSocket(ports[0]!)
      yield* Effect.promise(() => third.closed)
      yield* Effect.promise(() => waitFor(() => logs.some((entry) => entry._tag === "Refused"), "the refusal"))
      expect(logs.find((entry) => entry._tag === "Refused")).toMatchObject({ direction: "inbound", reason: "already 2 inbound connections" })
      for (const raw of silent) raw.socket.destroy()
      yield* Effect.promise(() => Promise.all(silent.map((raw) => raw.closed)))
      yield* pingPong(n2!, n1!)
    }))
  })

  it("allows only small frames before the handshake, and large messages right after it", async () => {
    const ports = await freePorts(2)
    const logs: Array<NetworkLogEntry> = []
    await run(Effect.gen(function*() {
      const [n1, n2] = yield* startCluster(["n1", "n2"], ports, logs)
      // A stranger's 2 KiB hello is refused, although messages of up to 4 MiB are allowed.
      const raw = rawSocket(ports[0]!)
      yield* Effect.promise(() => raw.connected)
      raw.socket.write(encodeFrame(FrameKind.Hello, Buffer.alloc(2048, 0x20)))
      yield* Effect.promise(() => raw.closed)
      expect(logs.find((entry) => entry._tag === "Refused")).toMatchObject({ reason: "oversized frame: 2048 bytes, at most 1024 allowed" })
      // The first message on a new connection leaves right behind the proof, often in one TCP chunk.
      const big = "x".repeat(300_000)
      yield* n2!.service.send("n1", { big })
      const [received] = yield* receiveMany(n1!, 1)
      expect(received).toEqual({ from: "n2", message: { big } })
    }))
  })

  it("a client outside the peer list is answered over the connection it opened", async () => {
    const [port] = await freePorts(1)
    const logs: Array<NetworkLogEntry> = []
    await run(Effect.gen(function*() {
      const [n1] = yield* startCluster(["n1"], [port!], logs)
      const client = yield* makeRealNetwork({ self: "c1", peers: { n1: at(port!) }, secret, log: (entry) => logs.push(entry) })
      expect(client.address).toBeUndefined()
      expect(client.service.nodes).toEqual(["n1"])
      for (let index = 0; index < 50; index++) yield* client.service.send("n1", { request: index })
      const requests = yield* receiveMany(n1!, 50)
      expect(requests.map((envelope) => envelope.from)).toEqual(Array(50).fill("c1"))
      for (const request of requests) yield* n1!.service.send("c1", { reply: (request.message as { request: number }).request })
      const replies = yield* receiveMany(client, 50)
      expect(replies.map((envelope) => (envelope.message as { reply: number }).reply)).toEqual(Array.from({ length: 50 }, (_, index) => index))
      // An id that is neither a peer nor a connected client is dropped and counted, not an error.
      yield* n1!.service.send("c2", { reply: 0 })
      expect(n1!.stats.droppedUnknownDestination).toBe(1)
    }))
  })

  it("bounds the send queue of an unreachable peer, and drops messages too large to send", async () => {
    const ports = await freePorts(2)
    const logs: Array<NetworkLogEntry> = []
    await run(Effect.gen(function*() {
      // n2 never starts: n1 queues up to 10 messages for it, then drops and counts the rest.
      const n1 = yield* makeRealNetwork({
        self: "n1",
        listen: at(ports[0]!),
        peers: { n2: at(ports[1]!) },
        secret,
        sendQueueMessages: 10,
        maxPayloadBytes: 1000,
        log: (entry) => logs.push(entry)
      })
      for (let index = 0; index < 100; index++) yield* n1.service.send("n2", { index })
      expect(n1.stats.droppedQueueFull).toBe(90)
      yield* n1.service.send("n2", { big: "x".repeat(2000) })
      expect(n1.stats.droppedOversized).toBe(1)
      expect(n1.stats.sent).toBe(101)
    }))
  })

  it("redials a peer that comes back, with the messages queued meanwhile in order", async () => {
    const ports = await freePorts(2)
    const logs: Array<NetworkLogEntry> = []
    await run(Effect.gen(function*() {
      const n1 = yield* makeRealNetwork({
        self: "n1",
        listen: at(ports[0]!),
        peers: { n2: at(ports[1]!) },
        secret,
        reconnectDelayMsMin: 10,
        reconnectDelayMsMax: 100,
        log: (entry) => logs.push(entry)
      })
      for (let index = 0; index < 20; index++) yield* n1.service.send("n2", { index })
      // n1 fails to reach n2 a few times, then n2 starts on its port.
      yield* Effect.sleep(300)
      const n2 = yield* makeRealNetwork({ self: "n2", listen: at(ports[1]!), peers: { n1: at(ports[0]!) }, secret, log: (entry) => logs.push(entry) })
      const received = yield* receiveMany(n2, 20)
      expect(received.map((envelope) => (envelope.message as { index: number }).index)).toEqual(Array.from({ length: 20 }, (_, index) => index))
      // The failure streak is logged once, not once per attempt.
      expect(logs.filter((entry) => entry._tag === "Lost" && entry.direction === "outbound").length).toBe(1)
    }))
  })

  it("receiveWithin gives undefined when nothing comes in time, and the message when one does", async () => {
    const ports = await freePorts(2)
    await run(Effect.gen(function*() {
      const [n1, n2] = yield* startCluster(["n1", "n2"], ports, [])
      const started = performance.now()
      const nothing = yield* n1!.service.receiveWithin(100)
      const elapsedMs = performance.now() - started
      expect(nothing).toBeUndefined()
      // Timers may fire up to a millisecond early by the clock that measures them, and late under load.
      expect(elapsedMs).toBeGreaterThanOrEqual(98)
      expect(elapsedMs).toBeLessThan(WAIT_MS)
      yield* n2!.service.send("n1", "hello")
      expect(yield* n1!.service.receiveWithin(WAIT_MS)).toEqual({ from: "n2", message: "hello" })
      // A message to oneself arrives too, as the codec's copy.
      yield* n1!.service.send("n1", { self: true })
      expect(yield* n1!.service.receiveWithin(WAIT_MS)).toEqual({ from: "n1", message: { self: true } })
    }))
  })

  it("parses id=host:port peer lists and names the bad entry", () => {
    expect(parsePeers(["n1=127.0.0.1:7001", "n2=[::1]:7002"])).toEqual({ n1: at(7001), n2: { host: "::1", port: 7002 } })
    expect(parsePeers(["n1=127.0.0.1"])).toBe('peer n1: "127.0.0.1" is not host:port')
    expect(parsePeers(["n1=127.0.0.1:1", "n1=127.0.0.1:2"])).toBe("peer n1 is listed twice")
    expect(parsePeers(["n/1=127.0.0.1:1"])).toBe('peer "n/1=127.0.0.1:1": "n/1" is not a valid node id')
    expect(parsePeers(["n1=h:70000"])).toBe('peer n1: "h:70000": port 70000 is above 65535')
  })
})

describe("a local hub", () => {
  it("carries a client's messages to a server of its process and the replies back, in order, as decoded copies, with no connection", async () => {
    // Set up: a server and a client that only dials, both on one hub.
    const [port] = await freePorts(1)
    const logs: Array<NetworkLogEntry> = []
    const hub = new LocalHub()
    const { received, replies, serverStats } = await run(Effect.gen(function*() {
      const server = yield* makeRealNetwork({ self: "n1", listen: at(port!), peers: {}, secret, log: (entry) => logs.push(entry), localHub: hub })
      const client = yield* makeRealNetwork({ self: "c1", peers: { n1: at(port!) }, secret, log: (entry) => logs.push(entry), localHub: hub })
      const sent = { _tag: "Request", value: [1, "two", { three: null }] }
      // Act: three requests, then a reply to each.
      yield* client.service.sendAll([["n1", sent], ["n1", { _tag: "Request", value: 2 }], ["n1", { _tag: "Request", value: 3 }]])
      const received = yield* receiveMany(server, 3)
      sent.value = []
      for (const envelope of received) yield* server.service.send(envelope.from, { _tag: "Reply", to: (envelope.message as { value: unknown }).value })
      const replies = yield* receiveMany(client, 3)
      return { received, replies, serverStats: { ...server.stats } }
    }))
    // Check: everything arrived, in order, each a copy of what was sent, and no socket was opened.
    expect(received.map((envelope) => envelope.from)).toEqual(["c1", "c1", "c1"])
    expect(received.map((envelope) => (envelope.message as { value: unknown }).value)).toEqual([[1, "two", { three: null }], 2, 3])
    expect(replies.map((envelope) => [envelope.from, (envelope.message as { to: unknown }).to])).toEqual([["n1", [1, "two", { three: null }]], ["n1", 2], ["n1", 3]])
    expect(serverStats.received).toBe(3)
    expect(logs.filter((entry) => entry._tag === "Connected")).toEqual([])
  })

  it("lets a stopped member's peers reach it over the network again", async () => {
    const hub = new LocalHub()
    const leave = hub.join("n1", () => {})
    expect(hub.has("n1")).toBe(true)
    leave()
    expect(hub.has("n1")).toBe(false)
    expect(hub.send("c1", "n1", {})).toBe(false)
  })
})
