// One conformance suite, two worlds: each case runs the same node programs on the simulator's services and on the real ones.
//
// turmoil runs one test suite against its simulated and its real backends; this is that suite for
// src/env. A case is a few node programs and a check of what they report. A world runs the
// programs (in the simulator, or as real nodes on loopback with files and a child process to
// kill) and hands back the reports, so what passes in the simulator is shown to mean the same on
// real sockets, files and timers.
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Exit, Fiber } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { Clock, type Envelope, Network, type NodeId, type NodeProgram, Random } from "../src/env/index.ts"
import { LOOPBACK_HOST, runRealNode } from "../src/real/index.ts"
import { perfectNetwork } from "../src/sim/network-model.ts"
import { Simulation } from "../src/sim/simulation.ts"
import { simulate } from "../src/testing/index.ts"
import { CRASH_POINT_EVENT, FINISHED_EVENT, REPORT_EVENT, report, withFinished } from "./fixtures/conformance-report.ts"
import {
  type CrashProgramName,
  crashPrograms,
  type StorageSnapshot,
  storageAfterRestart
} from "./fixtures/conformance-storage.ts"
import { freePorts } from "./fixtures/real-ports.ts"

// ---------------------------------------------------------------- worlds

/** Each node's reports, in the order it made them. A node that reported nothing has no entry. */
type Reports = Readonly<Record<NodeId, ReadonlyArray<unknown>>>

/** Node programs run together; the run ends when every `awaited` node's program has returned. */
interface ClusterScenario {
  readonly _tag: "Cluster"
  /** The servers that run, by id. With `down`, the ids are n1, n2, … (the simulator names servers so). */
  readonly programs: Readonly<Record<NodeId, NodeProgram>>
  /**
   * Nodes whose return ends the run; every node is then stopped. A real node that returns closes its
   * sockets at once, dropping what it has not written yet, so a node others still need never
   * returns (it ends in `Effect.never`) and is stopped with the rest.
   */
  readonly awaited: ReadonlyArray<NodeId>
  /** Servers of the cluster that are down the whole run: crashed in the simulator, never started for real. */
  readonly down?: ReadonlyArray<NodeId>
}

/** One node (n1) runs `beforeCrash` until it reaches its crash point, is crashed, and starts again with `afterRestart`. */
interface CrashScenario {
  readonly _tag: "Crash"
  /** By name, because the real world runs it in a child process that it kills with SIGKILL. */
  readonly beforeCrash: CrashProgramName
  readonly afterRestart: NodeProgram
}

/** What a crash scenario's incarnations of n1 reported. */
// A type rather than an interface, so that it fits where Reports (an index signature) is expected.
type CrashReports = {
  readonly beforeCrash: ReadonlyArray<unknown>
  readonly afterRestart: ReadonlyArray<unknown>
}

interface World {
  readonly name: string
  readonly runCluster: (scenario: ClusterScenario) => Promise<Reports>
  readonly runCrash: (scenario: CrashScenario) => Promise<CrashReports>
}

/** Simulated time a cluster run may take; every case finishes in a few simulated seconds. */
const SIMULATED_RUN_MS = 60_000
/** How long a real run may take before it is called stuck: generous, since the machine is shared. */
const REAL_RUN_MS = 20_000
const SEED = 1

const addReport = (reports: Record<NodeId, Array<unknown>>, node: NodeId, value: unknown): void => {
  const list = reports[node] ?? []
  list.push(value)
  reports[node] = list
}

const simulatedWorld: World = {
  name: "simulated",
  runCluster: async (scenario) => {
    const down = scenario.down ?? []
    const ids = [...Object.keys(scenario.programs), ...down]
    const servers = ids.map((_, index) => `n${index + 1}`)
    if ([...ids].sort().join() !== [...servers].sort().join()) throw new Error(`a simulated cluster's nodes are n1..n${ids.length}, not ${ids.join(", ")}`)
    // The library API a user's test calls, on its default network: 1 ms on every link, nothing
    // lost, duplicated or reordered. A down node is crashed at the start and never restarted.
    const result = simulate({
      seed: SEED,
      nodes: ids.length,
      node: (id) => {
        const program = scenario.programs[id]
        return program === undefined ? Effect.never : withFinished(program)
      },
      durationMs: SIMULATED_RUN_MS,
      faults: down.map((node) => ({ atMs: 0, fault: { _tag: "Crash", node, torn: false } }))
    })
    if (!result.ok) throw new Error(`simulated run failed: ${result.violations.map((violation) => violation.message).join("; ")}`)
    const finished = new Map(result.events.filter((event) => event.name === FINISHED_EVENT).map((event) => [event.node, event.timeUs]))
    const unfinished = scenario.awaited.filter((id) => !finished.has(id))
    if (unfinished.length > 0) throw new Error(`simulated nodes ${unfinished.join(", ")} did not finish within ${SIMULATED_RUN_MS} ms`)
    // The run ends when the last awaited node finishes, as a real run does.
    const endUs = Math.max(...scenario.awaited.map((id) => finished.get(id)!))
    const reports: Record<NodeId, Array<unknown>> = {}
    for (const event of result.events) {
      if (event.name === REPORT_EVENT && event.timeUs <= endUs) addReport(reports, event.node, event.attributes["value"])
    }
    return reports
  },
  runCrash: async (scenario) => {
    // The Simulation itself rather than simulate(): the crash comes when the node says it may, as
    // the real world's SIGKILL does, not at a time chosen in advance.
    const simulation = new Simulation({ seed: SEED, network: perfectNetwork(), keepTrace: false })
    const incarnations = [crashPrograms[scenario.beforeCrash], scenario.afterRestart]
    const reports = { beforeCrash: [] as Array<unknown>, afterRestart: [] as Array<unknown> }
    let starts = 0
    let finished = false
    // The simulator runs a restarted node's program again from the start, so the program picks its incarnation.
    simulation.addNode("n1", Effect.suspend(() => withFinished(incarnations[starts++] ?? Effect.die(new Error("started a third time")))))
    simulation.onProtocolEvent((event) => {
      if (event.name === REPORT_EVENT) (starts === 1 ? reports.beforeCrash : reports.afterRestart).push(event.attributes["value"])
      if (event.name === FINISHED_EVENT) finished = true
      if (event.name === CRASH_POINT_EVENT) {
        // Crashed as an event of its own, never from inside the node's running fiber. No torn write:
        // the case asks for exactly the synced content, and a killed real process never tears one
        // either, since its unsynced changes never left its memory.
        simulation.schedule(simulation.timeUs, () => simulation.crash("n1", { tornWrite: false }))
        simulation.schedule(simulation.timeUs + 1000, () => simulation.restart("n1"))
      }
    })
    simulation.runUntil(SIMULATED_RUN_MS * 1000)
    if (simulation.violations.length > 0) throw new Error(`simulated run failed: ${simulation.violations.map((violation) => violation.message).join("; ")}`)
    if (starts !== 2 || !finished) throw new Error(`n1 started ${starts} times and ${finished ? "finished" : "did not finish"}; expected a crash, a restart and a return`)
    return reports
  }
}

const secret = Buffer.from("a cluster secret of more than sixteen bytes")
const directories: Array<string> = []
const runningFibers: Array<Fiber.Fiber<void, unknown>> = []
const children: Array<ChildProcess> = []

const freshDirectory = (): string => {
  const directory = mkdtempSync(join(tmpdir(), "faultline-conformance-"))
  directories.push(directory)
  return directory
}

// Whatever a failed test left running is stopped here: nodes by interruption, children by SIGKILL.
afterEach(async () => {
  await Effect.runPromise(Fiber.interruptAll(runningFibers.splice(0)))
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

/** The fiber's exit, or undefined if it has not ended within `timeoutMs`. */
const awaitWithin = async <A, E>(fiber: Fiber.Fiber<A, E>, timeoutMs: number): Promise<Exit.Exit<A, E> | undefined> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))
  try {
    return await Promise.race([Effect.runPromise(Fiber.await(fiber)), timeout])
  } finally {
    clearTimeout(timer)
  }
}

const describeExit = (node: NodeId, exit: Exit.Exit<unknown, unknown> | undefined): string | undefined => {
  if (exit === undefined) return `real node ${node} did not finish within ${REAL_RUN_MS} ms`
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) return `real node ${node} failed: ${Cause.pretty(exit.cause)}`
  return undefined
}

/** Runs `program` as a real node on loopback (listening when `peers` names it), handing each report to `onReport`. */
const startRealNode = (options: {
  readonly self: NodeId
  readonly program: NodeProgram
  readonly peers: Readonly<Record<NodeId, { host: string; port: number }>>
  readonly dataDirectory: string
  readonly onReport: (value: unknown) => void
}): Fiber.Fiber<void, unknown> => {
  const port = options.peers[options.self]?.port
  const fiber = runRealNode(withFinished(options.program), {
    self: options.self,
    ...(port === undefined ? {} : { listen: { host: LOOPBACK_HOST, port } }),
    peers: options.peers,
    secret,
    dataDirectory: options.dataDirectory,
    createDataDirectory: true,
    tracePath: null,
    // Connection logs (a down peer refuses every dial) are noise here; failures surface as exits.
    log: () => {},
    onEvent: (event) => {
      if (event.name === REPORT_EVENT) options.onReport(event.attributes["value"])
    }
  })
  runningFibers.push(fiber)
  return fiber
}

/** Runs the named program in a child process, collects its reports, and kills it with SIGKILL at its crash point. */
const runChildUntilCrashPoint = (name: CrashProgramName, directory: string) =>
  new Promise<ReadonlyArray<unknown>>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures/conformance-crash-child.ts"), name, directory], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(child)
    const reports: Array<unknown> = []
    let stdout = ""
    let stderr = ""
    let killed = false
    const giveUp = setTimeout(() => child.kill("SIGKILL"), REAL_RUN_MS)
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      // A chunk may end inside a line; only whole lines are read.
      let newline = stdout.indexOf("\n")
      while (newline >= 0) {
        const line = JSON.parse(stdout.slice(0, newline)) as { report?: unknown; crashPoint?: true }
        stdout = stdout.slice(newline + 1)
        if ("report" in line) reports.push(line.report)
        if (line.crashPoint === true && !killed) {
          killed = true
          child.kill("SIGKILL")
        }
        newline = stdout.indexOf("\n")
      }
    })
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      clearTimeout(giveUp)
      if (killed && signal === "SIGKILL") resolve(reports)
      else reject(new Error(`crash child ${killed ? "was killed late" : "never reached its crash point"} (exit ${code ?? signal}): ${stderr}`))
    })
  })

const naturalOrder = (a: string, b: string): number => a.localeCompare(b, "en", { numeric: true })

const realWorld: World = {
  name: "real",
  runCluster: async (scenario) => {
    const ids = [...Object.keys(scenario.programs), ...(scenario.down ?? [])].sort(naturalOrder)
    const ports = await freePorts(ids.length)
    // A down node is a peer like any other, on a port nobody listens on: its peers dial it and are refused.
    const peers = Object.fromEntries(ids.map((id, index) => [id, { host: LOOPBACK_HOST, port: ports[index]! }]))
    const root = freshDirectory()
    const reports: Record<NodeId, Array<unknown>> = {}
    let open = true
    const fibers = new Map(Object.entries(scenario.programs).map(([self, program]) => [
      self,
      startRealNode({ self, program, peers, dataDirectory: join(root, self), onReport: (value) => open && addReport(reports, self, value) })
    ]))
    const problems: Array<string> = []
    try {
      for (const id of scenario.awaited) {
        const problem = describeExit(id, await awaitWithin(fibers.get(id)!, REAL_RUN_MS))
        if (problem !== undefined) problems.push(problem)
        if (problem !== undefined) break
      }
    } finally {
      // Reports made after the awaited nodes finished are not part of the run, as in the simulator.
      open = false
      await Effect.runPromise(Fiber.interruptAll(fibers.values()))
    }
    // A node that was not awaited may have failed meanwhile; stopping it does not hide that.
    for (const [id, fiber] of fibers) {
      const problem = describeExit(id, await awaitWithin(fiber, REAL_RUN_MS))
      if (problem !== undefined && !problems.includes(problem)) problems.push(problem)
    }
    if (problems.length > 0) throw new Error(problems.join("\n"))
    return reports
  },
  runCrash: async (scenario) => {
    const directory = freshDirectory()
    const beforeCrash = await runChildUntilCrashPoint(scenario.beforeCrash, directory)
    // The restart: a new node on the same data directory, taking over the dead child's lock.
    const afterRestart: Array<unknown> = []
    const fiber = startRealNode({ self: "n1", program: scenario.afterRestart, peers: {}, dataDirectory: directory, onReport: (value) => afterRestart.push(value) })
    const problem = describeExit("n1", await awaitWithin(fiber, REAL_RUN_MS))
    if (problem !== undefined) throw new Error(problem)
    return { beforeCrash, afterRestart }
  }
}

// ---------------------------------------------------------------- cases

/** How long a program waits for a message that should come: generous, and on the node's own clock. */
const WAIT_MS = 10_000
/** How much later than asked a real timer may fire on a loaded, shared machine before that is a failure. */
const LATE_MS_MAX = 5_000

/** Three long waits, then many short ones: a timer that fires early shows on some short waits. */
const DURATIONS_MS = [100, 100, 100, ...Array<number>(100).fill(10)]

interface TimedWait {
  readonly durationMs: number
  readonly elapsedMs: number
}

interface ConformanceCase {
  readonly name: string
  /** The sentence of the src/env contract the case checks. */
  readonly reference: string
  readonly scenario: ClusterScenario | CrashScenario
  readonly check: (reports: Reports & CrashReports) => void
}

/** Receives `count` messages, or as many as come with no gap longer than WAIT_MS. */
const receiveMany = (count: number) =>
  Effect.gen(function*() {
    const network = yield* Network
    const received: Array<Envelope> = []
    while (received.length < count) {
      const envelope = yield* network.receiveWithin(WAIT_MS)
      if (envelope === undefined) break
      received.push(envelope)
    }
    return received
  })

/** Answers the first message with `{ ack: true }`, then stays up (see ClusterScenario.awaited). */
const acknowledgeFirst = (reportIt: boolean): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const envelope = yield* network.receive
    if (reportIt) yield* report({ from: envelope.from, message: envelope.message })
    yield* network.send(envelope.from, { ack: true })
    yield* Effect.never
  })

/** Checks timed waits: none late beyond a generous bound, then none early by the node's own clock. */
const checkTimedWaits = (waits: ReadonlyArray<TimedWait>, what: string): void => {
  expect(waits.map((wait) => wait.durationMs)).toEqual(DURATIONS_MS)
  expect(waits.filter((wait) => wait.elapsedMs > wait.durationMs + LATE_MS_MAX), `${what} far later than asked`).toEqual([])
  // Early by even a fraction of a millisecond breaks a protocol that sleeps until a deadline and
  // then checks `now >= deadline` (a lease, an election timeout). Listed, so a failure shows by how much.
  expect(waits.filter((wait) => wait.elapsedMs < wait.durationMs), `${what} shorter than asked, by the node's own clock`).toEqual([])
}

const MESSAGES = 200

/** receiveAll's bound in its conformance case: a divisor of MESSAGES. */
const RECEIVE_ALL_MAX = 50

/** Text, keys and numbers a codec could get wrong: several scripts, astral emoji and ZWJ sequences, escapes, lone surrogates, extreme doubles. */
const RICH_MESSAGE = {
  text: ["", "naïve café", "日本語のテキスト", "😀👍🏽👨‍👩‍👧", "e\u0301", "مرحبا", "quote \" backslash \\ newline \n tab \t", "\u0000\u001f\u007f", "\u2028\u2029", "\ufeffbom", "lone \ud83d high", "lone \udc00 low"],
  keys: { "ключ": 1, "🔑": 2, "": 3, "with space": 4, "0": 5, "constructor": 6 },
  numbers: [0, 1, -1, 0.1 + 0.2, -1.5, 2 ** 53 + 2, 1e21, 5e-324, Number.MAX_VALUE, -Number.MAX_SAFE_INTEGER],
  flags: [true, false, null],
  empty: { object: {}, array: [], nested: [[], [{}], [[[]]]] },
  deep: Array.from({ length: 20 }).reduce<unknown>((inner, _, depth) => ({ depth, inner: [inner] }), "bottom"),
  padding: "x".repeat(600)
}

/** A small plain message: the simulator copies such messages rather than parsing their text. */
const SMALL_MESSAGE = { a: [1, "é", { b: null }] }

/** Values JSON cannot carry: they must arrive as the JSON round trip turns them, in both worlds (toEqual tells -0 from 0). */
const LOSSY_MESSAGE = { kept: 1, missing: undefined, notANumber: Number.NaN, negativeZero: -0, infinite: Number.POSITIVE_INFINITY, date: new Date(0), holes: [undefined, () => 1] }
const LOSSY_ARRIVES = { kept: 1, notANumber: null, negativeZero: 0, infinite: null, date: "1970-01-01T00:00:00.000Z", holes: [null, null] }

/** A key that JSON.parse makes an own property, not the prototype: the classic codec hazard. */
const PROTO_MESSAGE_TEXT = '{"__proto__":{"polluted":true},"x":1}'

const DRAWS = 50

/** Sends n2 the messages {sequence: 0} to {sequence: MESSAGES - 1} at once, then waits forever. */
const sendNumbered: NodeProgram = Effect.gen(function*() {
  const network = yield* Network
  for (let sequence = 0; sequence < MESSAGES; sequence++) yield* network.send("n2", { sequence })
  yield* Effect.never
})

const cases: ReadonlyArray<ConformanceCase> = [
  {
    name: "per-link FIFO: 200 numbered messages arrive in order when nothing is lost",
    reference: "network.ts: a message may be lost, delayed, duplicated or reordered; on a lossless link that reorders nothing, none is",
    scenario: {
      _tag: "Cluster",
      programs: {
        n1: sendNumbered,
        n2: Effect.gen(function*() {
          const received = yield* receiveMany(MESSAGES)
          yield* report(received.map((envelope) => ({ from: envelope.from, sequence: (envelope.message as { sequence: number }).sequence })))
        })
      },
      awaited: ["n2"]
    },
    check: (reports) => {
      const [received] = reports["n2"] as ReadonlyArray<ReadonlyArray<{ from: NodeId; sequence: number }>>
      expect(received!.map((entry) => entry.sequence)).toEqual(Array.from({ length: MESSAGES }, (_, index) => index))
      expect(new Set(received!.map((entry) => entry.from))).toEqual(new Set(["n1"]))
    }
  },
  {
    name: "receiveAll: takes the messages already waiting, in order, at most max at a time",
    reference: "network.ts: receiveAll waits for the next message, then takes every message already waiting behind it, up to max",
    scenario: {
      _tag: "Cluster",
      programs: {
        n1: sendNumbered,
        n2: Effect.gen(function*() {
          const network = yield* Network
          const clock = yield* Clock
          // Every message is sent at once on a lossless link: after this pause, all of them wait.
          yield* clock.sleep(500)
          const batches: Array<ReadonlyArray<number>> = []
          let received = 0
          while (received < MESSAGES) {
            const batch = yield* network.receiveAll(RECEIVE_ALL_MAX)
            batches.push(batch.map((envelope) => (envelope.message as { sequence: number }).sequence))
            received += batch.length
          }
          yield* report(batches)
        })
      },
      awaited: ["n2"]
    },
    check: (reports) => {
      const [batches] = reports["n2"] as ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>
      expect(batches!.flat()).toEqual(Array.from({ length: MESSAGES }, (_, index) => index))
      expect(batches!.every((batch) => batch.length >= 1 && batch.length <= RECEIVE_ALL_MAX)).toBe(true)
      // The messages were all waiting, so each take is a full one: they are not handed out one by one.
      expect(batches!.map((batch) => batch.length)).toEqual(Array.from({ length: MESSAGES / RECEIVE_ALL_MAX }, () => RECEIVE_ALL_MAX))
    }
  },
  {
    name: "receiveWithin: undefined after the deadline on the node's clock, a message that comes before it",
    reference: "network.ts: receiveWithin waits for at most durationMs of this node's clock; undefined if none came in time",
    scenario: {
      _tag: "Cluster",
      programs: {
        n1: Effect.gen(function*() {
          const network = yield* Network
          const clock = yield* Clock
          // Nobody sends to n1 until it asks, so every one of these waits must run out.
          const waits: Array<TimedWait & { readonly arrived: boolean }> = []
          for (const durationMs of DURATIONS_MS) {
            const started = yield* clock.now
            const envelope = yield* network.receiveWithin(durationMs)
            waits.push({ durationMs, elapsedMs: (yield* clock.now) - started, arrived: envelope !== undefined })
          }
          yield* network.send("n2", { ask: true })
          const started = yield* clock.now
          const answer = yield* network.receiveWithin(WAIT_MS)
          yield* report({ waits, answer: answer ?? null, answerElapsedMs: (yield* clock.now) - started })
        }),
        n2: acknowledgeFirst(false)
      },
      awaited: ["n1"]
    },
    check: (reports) => {
      const [result] = reports["n1"] as ReadonlyArray<{ waits: ReadonlyArray<TimedWait & { arrived: boolean }>; answer: Envelope | null; answerElapsedMs: number }>
      expect(result!.waits.filter((wait) => wait.arrived)).toEqual([])
      expect(result!.answer).toEqual({ from: "n2", message: { ack: true } })
      expect(result!.answerElapsedMs).toBeLessThan(WAIT_MS)
      checkTimedWaits(result!.waits, "receiveWithin waits that ran out")
    }
  },
  {
    name: "timers: clock.sleep(ms) advances clock.now by at least ms, and not far more",
    reference: "clock.ts: sleep suspends the calling fiber for durationMs of local time",
    scenario: {
      _tag: "Cluster",
      programs: {
        n1: Effect.gen(function*() {
          const clock = yield* Clock
          const waits: Array<TimedWait> = []
          for (const durationMs of DURATIONS_MS) {
            const started = yield* clock.now
            yield* clock.sleep(durationMs)
            waits.push({ durationMs, elapsedMs: (yield* clock.now) - started })
          }
          yield* report(waits)
        })
      },
      awaited: ["n1"]
    },
    check: (reports) => {
      const [waits] = reports["n1"] as ReadonlyArray<ReadonlyArray<TimedWait>>
      checkTimedWaits(waits!, "sleeps")
    }
  },
  {
    name: "storage: after a crash, exactly the synced content is there",
    reference: "storage.ts: only sync makes a change durable; a crash loses every change since the file's last sync",
    scenario: { _tag: "Crash", beforeCrash: "storageBeforeCrash", afterRestart: storageAfterRestart },
    check: (reports) => {
      // Reads see every change at once, synced or not.
      expect(reports.beforeCrash).toEqual([{
        list: ["fresh", "gone", "log", "state"],
        files: {
          fresh: "created, never synced",
          gone: "recreated, never synced",
          log: "entry 0\nentry 1\nentry 2\nentry 3, never synced\n",
          state: "third, never synced"
        }
      } satisfies StorageSnapshot])
      // After the restart: the replacing write, the append after a sync and the synced removal
      // held; the unsynced append, write, creation, re-creation and removal are gone.
      expect(reports.afterRestart).toEqual([{
        list: ["kept", "log", "state"],
        files: { kept: "kept", log: "entry 0\nentry 1\nentry 2\n", state: "second, synced" }
      } satisfies StorageSnapshot])
    }
  },
  {
    name: "sends never fail: sending to a node that is down leaves the sender running",
    reference: "network.ts: send never fails and never waits for the receiver",
    scenario: {
      _tag: "Cluster",
      programs: {
        n1: Effect.gen(function*() {
          const network = yield* Network
          const clock = yield* Clock
          // Before and after a pause: a real node is by then retrying the refused connection.
          for (let index = 0; index < 10; index++) yield* network.send("n2", { index })
          yield* clock.sleep(200)
          for (let index = 10; index < 20; index++) yield* network.send("n2", { index })
          yield* network.sendAll([["n2", { index: 20 }], ["n3", { probe: true }]])
          const answer = yield* network.receiveWithin(WAIT_MS)
          yield* report({ nodes: network.nodes, answer: answer ?? null })
        }),
        n3: acknowledgeFirst(true)
      },
      down: ["n2"],
      awaited: ["n1"]
    },
    check: (reports) => {
      // The down node is still a member of the cluster, and the sender went on to reach n3.
      expect(reports["n1"]).toEqual([{ nodes: ["n1", "n2", "n3"], answer: { from: "n3", message: { ack: true } } }])
      expect(reports["n3"]).toEqual([{ from: "n1", message: { probe: true } }])
      expect(reports["n2"]).toBeUndefined()
    }
  },
  {
    name: "codec and randomness: messages arrive as the JSON round trip gives them, random draws in range",
    reference: "network.ts: every message is encoded with the wire codec on send and decoded on receipt; random.ts: next in [0, 1), nextInt in [0, bound)",
    scenario: {
      _tag: "Cluster",
      programs: {
        n1: Effect.gen(function*() {
          const network = yield* Network
          const random = yield* Random
          const draws = { next: [] as Array<number>, nextInt: [] as Array<number>, nextIntOfOne: [] as Array<number> }
          for (let index = 0; index < DRAWS; index++) {
            draws.next.push(yield* random.next)
            draws.nextInt.push(yield* random.nextInt(1000))
            draws.nextIntOfOne.push(yield* random.nextInt(1))
          }
          const rich = { ...RICH_MESSAGE, draws }
          const proto = JSON.parse(PROTO_MESSAGE_TEXT) as unknown
          yield* network.sendAll([["n2", rich], ["n2", SMALL_MESSAGE], ["n2", LOSSY_MESSAGE], ["n2", proto]])
          // A message to oneself crosses the codec too: a copy, never the sender's object.
          yield* network.send("n1", rich)
          const own = (yield* network.receiveWithin(WAIT_MS))!
          yield* report({ draws, own: own.message, ownIsACopy: own.message !== rich })
          // n2 acknowledges after it has reported; n1 then ends the run.
          const answer = yield* network.receiveWithin(WAIT_MS)
          yield* report({ answer: answer ?? null })
        }),
        n2: Effect.gen(function*() {
          const network = yield* Network
          const received = yield* receiveMany(4)
          yield* report(received.map((envelope) => ({ from: envelope.from, message: envelope.message })))
          // The __proto__ key as JSON text, since object equality is not where it would show.
          yield* report(JSON.stringify(received[3]?.message))
          yield* network.send("n1", { ack: true })
          yield* Effect.never
        })
      },
      awaited: ["n1"]
    },
    check: (reports) => {
      const [sender, acknowledged] = reports["n1"] as [{ draws: { next: Array<number>; nextInt: Array<number>; nextIntOfOne: Array<number> }; own: unknown; ownIsACopy: boolean }, unknown]
      const { draws } = sender
      expect(draws.next.filter((draw) => !(draw >= 0 && draw < 1))).toEqual([])
      expect(draws.nextInt.filter((draw) => !(Number.isInteger(draw) && draw >= 0 && draw < 1000))).toEqual([])
      expect(draws.nextIntOfOne).toEqual(Array<number>(DRAWS).fill(0))
      // Fifty draws that are all the same would be no stream at all.
      expect(new Set(draws.next).size).toBeGreaterThan(1)
      const rich = { ...RICH_MESSAGE, draws }
      expect(sender.own).toEqual(rich)
      expect(sender.ownIsACopy).toBe(true)
      expect(acknowledged).toEqual({ answer: { from: "n2", message: { ack: true } } })
      const [received, protoText] = reports["n2"] as [ReadonlyArray<Envelope>, string]
      expect(received).toEqual([
        { from: "n1", message: rich },
        { from: "n1", message: SMALL_MESSAGE },
        { from: "n1", message: LOSSY_ARRIVES },
        { from: "n1", message: JSON.parse(PROTO_MESSAGE_TEXT) }
      ])
      expect(protoText).toBe(PROTO_MESSAGE_TEXT)
    }
  }
]

// ---------------------------------------------------------------- the suite

const runCase = async (world: World, scenario: ClusterScenario | CrashScenario): Promise<Reports & CrashReports> => {
  if (scenario._tag === "Cluster") return { beforeCrash: [], afterRestart: [], ...(await world.runCluster(scenario)) }
  return await world.runCrash(scenario)
}

// A loop rather than describe.each/it.each, whose titles quote and cut the names.
for (const world of [simulatedWorld, realWorld]) {
  describe(`conformance in the ${world.name} world`, () => {
    for (const conformanceCase of cases) {
      it(conformanceCase.name, async () => {
        // Set up: the case's scenario, the same programs in each world. Act: run them.
        const reports = await runCase(world, conformanceCase.scenario)
        // Check: what the nodes reported.
        conformanceCase.check(reports)
      }, 30_000)
    }
  })
}
