// The discrete-event simulator: one seed, one event queue, and every node's environment served from them.
import { Cause, Clock as EffectClock, Context, Duration, Effect, Exit, type Fiber, Random as EffectRandom } from "effect"
import {
  Clock,
  decodeMessage,
  disabledSpans,
  encodeMessage,
  type Envelope,
  Network,
  type NodeId,
  type NodeProgram,
  Random,
  receivedCopy,
  Storage,
  StorageError,
  type TraceAttributes,
  type TraceParent,
  Tracing
} from "../env/index.ts"
import { type CrashOptions, SimulatedDisk } from "./disk.ts"
import { EventQueue, type QueuedEvent } from "./event-queue.ts"
import {
  DROPPED_BY_PARTITION,
  type LatencyDistribution,
  type NetworkModel,
  NetworkState
} from "./network-model.ts"
import { NodeClock } from "./node-clock.ts"
import { nodeStorage } from "./node-storage.ts"
import { RandomStream } from "./random-streams.ts"
import { SimulatorScheduler } from "./scheduler.ts"
import type { SpanExport } from "./span-export.ts"
import { TraceRecorder } from "./trace.ts"
import {
  dropLineText,
  type DropReason,
  eventLineText,
  sendLineText,
  syncLineText,
  timerLineText,
  type TraceFault,
  type TraceLine
} from "../trace/index.ts"

/** Disk behaviour of a run. */
export interface DiskModel {
  /** How long a sync takes; none means instant. */
  readonly syncLatency?: LatencyDistribution | undefined
  /** Probability that a write, append or sync fails with a StorageError. */
  readonly writeErrorRate: number
}

/** Options of one simulation. */
export interface SimulationOptions {
  readonly seed: number
  readonly network: NetworkModel
  readonly disk?: DiskModel | undefined
  /** Keep every trace line in memory (for `--trace` and the determinism audit). */
  readonly keepTrace: boolean
  /** Messages a node's mailbox may hold; more are dropped. */
  readonly mailboxCapacity?: number | undefined
  /** Where exported spans go (`--otlp`); without it, `Tracing.spans` is disabled and records nothing. */
  readonly spanExport?: SpanExport | undefined
}

/** A protocol event as the checkers see it. */
export interface ProtocolEvent {
  readonly timeUs: number
  readonly node: NodeId
  readonly name: string
  readonly attributes: TraceAttributes
}

/** A problem the simulator found itself, such as a node whose program died. */
export interface SimulationViolation {
  readonly check: string
  readonly message: string
  readonly timeUs: number
}

type NodeStatus = "up" | "paused" | "crashed"

interface SimulatedNode {
  readonly id: NodeId
  readonly kind: "server" | "client"
  readonly program: NodeProgram
  status: NodeStatus
  incarnation: number
  fiber: Fiber.Fiber<void, unknown> | undefined
  mailbox: Array<Envelope>
  mailboxHead: number
  /** The fiber waiting for this node's next message, if one is: handed the message as it arrives. */
  receiver: ((envelope: Envelope) => void) | undefined
  deferred: Array<() => void>
  readonly clock: NodeClock
  readonly disk: SimulatedDisk
  /** This incarnation's randomness; each start draws from a stream of its own (see start). */
  random: RandomStream
  spanCount: number
}

/** Counters for the run summary. */
export interface SimulationStats {
  messagesSent: number
  messagesDelivered: number
  messagesDropped: number
  messagesDuplicated: number
  timersFired: number
  syncs: number
  faults: number
}

const DEFAULT_MAILBOX_CAPACITY = 100_000

const EVENT_DELIVER = 0
const EVENT_TIMER = 1
const EVENT_CALLBACK = 2

interface Delivery extends QueuedEvent {
  readonly id: number
  readonly from: NodeId
  readonly to: NodeId
  readonly payload: string
  /** The receiving node, looked up once when the message is sent. */
  readonly target: SimulatedNode
  /** Whether a clog held it back, so that it arrives later than its send line says. */
  readonly held: boolean
  /** The sender's span, when spans are exported; it is not in the payload, so not in the trace. */
  readonly traceparent: TraceParent | undefined
  // `data` holds the receiver's copy of the message, made when it was sent; null for a duplicate.
}

/** A timer is its own queue event, which spares allocating one per sleep. */
interface Timer extends QueuedEvent {
  cancelled: boolean
  readonly node: SimulatedNode
  readonly incarnation: number
  /** Called when the timer fires: resumes the sleeping fiber (or ends a receive's wait). */
  readonly resume: (effect: Effect.Effect<void>) => void
}

/** The simulator. Single-threaded; `runUntil` advances simulated time by running events in order. */
export class Simulation {
  readonly trace: TraceRecorder
  readonly stats: SimulationStats = {
    messagesSent: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
    messagesDuplicated: 0,
    timersFired: 0,
    syncs: 0,
    faults: 0
  }
  readonly violations: Array<SimulationViolation> = []
  readonly network: NetworkState
  private readonly queue = new EventQueue()
  private readonly scheduler = new SimulatorScheduler()
  private readonly nodes = new Map<NodeId, SimulatedNode>()
  private readonly serverIds: Array<NodeId> = []
  private readonly faultRandom: RandomStream
  private readonly diskRandom: RandomStream
  private readonly listeners: Array<(event: ProtocolEvent) => void> = []
  private readonly faultListeners: Array<(fault: TraceFault, timeUs: number) => void> = []
  private readonly mailboxCapacity: number
  private nowUs = 0
  private nextMessageId = 0
  private eventsRun = 0

  constructor(readonly options: SimulationOptions) {
    this.trace = new TraceRecorder({ keepLines: options.keepTrace })
    this.network = new NetworkState(options.network, (label) => new RandomStream(options.seed, label))
    this.faultRandom = new RandomStream(options.seed, "faults")
    this.diskRandom = new RandomStream(options.seed, "disk")
    this.mailboxCapacity = options.mailboxCapacity ?? DEFAULT_MAILBOX_CAPACITY
  }

  /** Simulated time in microseconds. */
  get timeUs(): number {
    return this.nowUs
  }

  /** Events run so far. */
  get events(): number {
    return this.eventsRun
  }

  /** Server ids in the order they were added. */
  get servers(): ReadonlyArray<NodeId> {
    return this.serverIds
  }

  /** Adds a node; it starts at the current time, once the caller yields to `runUntil`. Servers are listed in `Network.nodes`; clients are not. */
  addNode(id: NodeId, program: NodeProgram, kind: "server" | "client" = "server"): void {
    if (this.nodes.has(id)) throw new Error(`node ${id} added twice`)
    const node: SimulatedNode = {
      id,
      kind,
      program,
      status: "crashed",
      incarnation: 0,
      fiber: undefined,
      mailbox: [],
      mailboxHead: 0,
      receiver: undefined,
      deferred: [],
      clock: new NodeClock(),
      disk: new SimulatedDisk(),
      random: new RandomStream(this.options.seed, `node/${id}`),
      spanCount: 0
    }
    this.nodes.set(id, node)
    if (kind === "server") this.serverIds.push(id)
    // Start as an event, so that every node added at one instant exists before any of them runs.
    this.queue.push(this.nowUs, EVENT_CALLBACK, () => this.start(node))
  }

  /** Subscribes to protocol events (Tracing.event calls), in order. */
  onProtocolEvent(listener: (event: ProtocolEvent) => void): void {
    this.listeners.push(listener)
  }

  /** Subscribes to the faults injected and healed, as the trace records them, in order. */
  onFault(listener: (fault: TraceFault, timeUs: number) => void): void {
    this.faultListeners.push(listener)
  }

  /** Runs `callback` at simulated time `timeUs` (harness events: faults, phase changes). */
  schedule(timeUs: number, callback: () => void): void {
    if (timeUs < this.nowUs) throw new Error(`cannot schedule in the past (${timeUs} < ${this.nowUs})`)
    this.queue.push(Math.round(timeUs), EVENT_CALLBACK, callback)
  }

  /** Runs events until simulated time would pass `timeUs`, then sets the time to `timeUs`. */
  runUntil(timeUs: number): void {
    const queue = this.queue
    while (true) {
      const next = queue.peek()
      if (next === undefined || next.time > timeUs) break
      queue.pop()
      this.nowUs = next.time
      this.eventsRun++
      this.runEvent(next)
    }
    if (timeUs > this.nowUs) this.nowUs = timeUs
  }

  /** Records a violation found by the harness or a checker, so the run fails. */
  addViolation(check: string, message: string): void {
    this.violations.push({ check, message, timeUs: this.nowUs })
    this.writeLine({ t: this.nowUs, e: "violation", check, message })
  }

  /** Writes a harness line into the trace (the run, its phases, violations). */
  writeLine(line: TraceLine): void {
    this.trace.write(line)
  }

  // ---------------------------------------------------------------- faults

  status(id: NodeId): NodeStatus {
    return this.node(id).status
  }

  /** Crashes a node: its fibers stop, its mailbox and timers are lost, and so are its unsynced writes. */
  crash(id: NodeId, options: CrashOptions = { tornWrite: false }): void {
    const node = this.node(id)
    if (node.status === "crashed") return
    const fiber = node.fiber
    node.status = "crashed"
    node.incarnation++
    node.fiber = undefined
    node.receiver = undefined
    node.mailbox = []
    node.mailboxHead = 0
    node.deferred = []
    fiber?.interruptUnsafe()
    this.scheduler.drain()
    const torn = node.disk.crash(options, this.diskRandom)
    this.fault({ _tag: "Crash", node: id, ...(torn === undefined ? {} : { torn }) })
  }

  /** Restarts a crashed node: its program runs again, on what its disk had synced. */
  restart(id: NodeId): void {
    const node = this.node(id)
    if (node.status !== "crashed") return
    this.fault({ _tag: "Restart", node: id })
    this.start(node)
  }

  /** Pauses a node: it keeps its state, but runs nothing (messages queue, timers wait) until resumed. */
  pause(id: NodeId): void {
    const node = this.node(id)
    if (node.status !== "up") return
    node.status = "paused"
    this.fault({ _tag: "Pause", node: id })
  }

  resume(id: NodeId): void {
    const node = this.node(id)
    if (node.status !== "paused") return
    node.status = "up"
    this.fault({ _tag: "Resume", node: id })
    const deferred = node.deferred
    node.deferred = []
    for (const fire of deferred) fire()
    this.wakeReceiver(node)
    this.scheduler.drain()
  }

  /** Blocks messages from each node of `from` to each node of `to` (one direction only). */
  partitionOneWay(from: ReadonlyArray<NodeId>, to: ReadonlyArray<NodeId>): void {
    for (const source of from) for (const target of to) if (source !== target) this.network.block(source, target)
    this.fault({ _tag: "PartitionOneWay", from, to })
  }

  /** Splits the servers into groups that cannot talk to each other (clients keep reaching everyone). */
  partition(groups: ReadonlyArray<ReadonlyArray<NodeId>>): void {
    for (const group of groups) {
      for (const other of groups) {
        if (other === group) continue
        for (const source of group) for (const target of other) this.network.block(source, target)
      }
    }
    this.fault({ _tag: "Partition", groups })
  }

  heal(): void {
    this.network.healAll()
    this.fault({ _tag: "Heal" })
  }

  /** Holds messages on a link until `unclog`, then delivers them in order. */
  clog(from: NodeId, to: NodeId): void {
    this.network.clog(from, to)
    this.fault({ _tag: "Clog", from, to })
  }

  unclog(from: NodeId, to: NodeId): void {
    this.network.unclog(from, to)
    this.fault({ _tag: "Unclog", from, to })
    const held = this.held.get(`${from}>${to}`) ?? []
    this.held.delete(`${from}>${to}`)
    held.forEach((delivery, index) => this.queue.pushEvent<Delivery>({ ...delivery, time: this.nowUs + 1 + index }))
  }

  /** Returns every link to the network's liveness defaults, when it has them (see NetworkModel.liveness). */
  resetNetwork(): void {
    if (this.network.enterLiveness()) this.fault({ _tag: "NetworkReset" })
  }

  unclogAll(): void {
    for (const [from, to] of this.network.cloggedLinks()) this.unclog(from, to)
  }

  setClockOffset(id: NodeId, offsetMs: number): void {
    this.node(id).clock.setOffset(this.nowUs, offsetMs)
    this.fault({ _tag: "ClockOffset", node: id, offsetMs })
  }

  stepClock(id: NodeId, deltaMs: number): void {
    this.node(id).clock.step(deltaMs)
    this.fault({ _tag: "ClockStep", node: id, deltaMs })
  }

  setClockDrift(id: NodeId, drift: number): void {
    this.node(id).clock.setDrift(this.nowUs, drift)
    this.fault({ _tag: "ClockDrift", node: id, drift })
  }

  resetClock(id: NodeId): void {
    this.node(id).clock.reset(this.nowUs)
    this.fault({ _tag: "ClockReset", node: id })
  }

  /** The local clock of a node in milliseconds (for tests and checkers). */
  localTimeMs(id: NodeId): number {
    return this.node(id).clock.localUs(this.nowUs) / 1000
  }

  /** Direct access to a node's disk, for tests and checkers. */
  disk(id: NodeId): SimulatedDisk {
    return this.node(id).disk
  }

  /** Draws from the fault stream (for nemesis decisions made by the harness). */
  get faultStream(): RandomStream {
    return this.faultRandom
  }

  /** Fault lines written to the trace so far, by kind (`Crash`, `Heal`, …). */
  readonly faultsByKind = new Map<string, number>()

  private fault(fault: TraceFault): void {
    this.stats.faults++
    this.faultsByKind.set(fault._tag, (this.faultsByKind.get(fault._tag) ?? 0) + 1)
    this.writeLine({ t: this.nowUs, e: "fault", fault })
    for (const listener of this.faultListeners) listener(fault, this.nowUs)
  }

  private readonly held = new Map<string, Array<Delivery>>()

  // ---------------------------------------------------------------- nodes

  private node(id: NodeId): SimulatedNode {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`unknown node ${id}`)
    return node
  }

  private start(node: SimulatedNode): void {
    node.status = "up"
    // Each incarnation gets a stream keyed by when it starts, not by how many starts came before:
    // removing an earlier crash (as shrinking does) then leaves this incarnation's draws unchanged.
    if (node.incarnation > 0) node.random = new RandomStream(this.options.seed, `node/${node.id}/${this.nowUs}`)
    const incarnation = node.incarnation
    const context = this.makeContext(node, incarnation)
    const fiber = Effect.runForkWith(context)(node.program, { scheduler: this.scheduler })
    node.fiber = fiber
    fiber.addObserver((exit) => {
      if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
        this.addViolation("node-failed", `node ${node.id} failed: ${describeFailure(exit.cause)}`)
      }
    })
    this.scheduler.drain()
  }

  private alive(node: SimulatedNode, incarnation: number): boolean {
    return node.incarnation === incarnation && node.status !== "crashed"
  }

  /** Every service a node incarnation's program is given: the env's, and Effect's own clock and random. */
  private makeContext(node: SimulatedNode, incarnation: number): Context.Context<any> {
    const sleep = (durationMs: number): Effect.Effect<void> =>
      Effect.callback<void>((resume) => {
        const timer = this.startTimer(node, incarnation, durationMs, resume)
        return Effect.sync(() => {
          timer.cancelled = true
        })
      })
    const clock = Clock.of({
      now: Effect.sync(() => node.clock.localUs(this.nowUs) / 1000),
      sleep
    })
    const random = Random.of({
      next: Effect.sync(() => node.random.next()),
      nextInt: (bound) => Effect.sync(() => node.random.nextInt(bound))
    })
    // Effect's own clock and random are replaced too, so Effect.sleep, Effect.timeout and
    // Effect's Random stay inside the simulation even if a protocol reaches for them.
    const effectClock: EffectClock.Clock = {
      currentTimeMillisUnsafe: () => node.clock.localUs(this.nowUs) / 1000,
      currentTimeMillis: clock.now,
      currentTimeNanosUnsafe: () => BigInt(Math.round(node.clock.localUs(this.nowUs) * 1000)),
      currentTimeNanos: Effect.sync(() => BigInt(Math.round(node.clock.localUs(this.nowUs) * 1000))),
      monotonicTimeNanosUnsafe: () => BigInt(this.nowUs * 1000),
      monotonicTimeNanos: Effect.sync(() => BigInt(this.nowUs * 1000)),
      sleep: (duration) => sleep(Duration.toMillis(duration))
    }
    const effectRandom: EffectRandom.Random = {
      nextIntUnsafe: () => node.random.nextInt(2147483647),
      nextDoubleUnsafe: () => node.random.next()
    }
    let context: Context.Context<any> = Context.make(Network, this.makeNetwork(node, incarnation))
    context = Context.add(context, Clock, clock)
    context = Context.add(context, Random, random)
    context = Context.add(
      context,
      Storage,
      nodeStorage({
        disk: node.disk,
        random: this.diskRandom,
        writeErrorRate: this.options.disk?.writeErrorRate ?? 0,
        syncLatency: this.options.disk?.syncLatency,
        alive: () => this.alive(node, incarnation),
        sleep,
        onSync: (file) => {
          this.stats.syncs++
          this.trace.writeText(syncLineText(this.nowUs, node.id, file))
        },
        onInjectedError: (file, operation) => this.trace.write({ t: this.nowUs, e: "disk-error", node: node.id, file, operation })
      })
    )
    context = Context.add(context, Tracing, this.makeTracing(node, incarnation))
    context = Context.add(context, EffectClock.Clock, effectClock)
    context = Context.add(context, EffectRandom.Random, effectRandom)
    return context
  }

  private makeNetwork(node: SimulatedNode, incarnation: number): Network["Service"] {
    const servers = this.serverIds
    // One cancel effect per incarnation rather than one per receive: receive is the hottest path.
    const cancelReceive = Effect.sync(() => {
      node.receiver = undefined
    })
    const receive = Effect.callback<Envelope>((resume) => {
      const waiting = this.takeNow(node)
      if (waiting !== undefined) return resume(Effect.succeed(waiting))
      node.receiver = (envelope) => resume(Effect.succeed(envelope))
      return cancelReceive
    })
    // The first message resumes the fiber with the whole batch, gathered here rather than in an
    // Effect.sync when the fiber runs: a resumed fiber runs at once, inside `resume`, so nothing can
    // arrive in between, and a delivery (two thirds of the standard scenario's events) then
    // allocates no thunk and no Sync effect.
    const batchFrom = (first: Envelope, max: number): Effect.Effect<ReadonlyArray<Envelope>> => {
      const batch = [first]
      while (batch.length < max && node.mailboxHead < node.mailbox.length && node.status === "up") {
        batch.push(this.takeFromMailbox(node))
      }
      return Effect.succeed(batch)
    }
    return Network.of({
      self: node.id,
      nodes: servers,
      send: (to, message, traceparent) =>
        Effect.sync(() => {
          if (this.alive(node, incarnation)) this.send(node.id, to, message, encodeMessage(message), traceparent)
        }),
      sendAll: (messages) =>
        Effect.sync(() => {
          if (!this.alive(node, incarnation)) return
          // One message to many peers (a broadcast) is encoded once: nothing can change it
          // between these sends, which run without yielding.
          let encoded: unknown = undefined
          let payload = ""
          for (const outgoing of messages) {
            const message = outgoing[1]
            if (message !== encoded || payload === "") {
              encoded = message
              payload = encodeMessage(message)
            }
            this.send(node.id, outgoing[0], message, payload, outgoing[2])
          }
        }),
      receive,
      receiveAll: (max) =>
        Effect.callback<ReadonlyArray<Envelope>>((resume) => {
          const waiting = this.takeNow(node)
          if (waiting !== undefined) return resume(batchFrom(waiting, max))
          node.receiver = (envelope) => resume(batchFrom(envelope, max))
          return cancelReceive
        }),
      receiveWithin: (durationMs) =>
        Effect.callback<Envelope | undefined>((resume) => {
          const waiting = this.takeNow(node)
          if (waiting !== undefined) return resume(Effect.succeed(waiting))
          // Whichever comes first, a message or the timer, cancels the other.
          const receiver = (envelope: Envelope) => {
            timer.cancelled = true
            resume(Effect.succeed(envelope))
          }
          node.receiver = receiver
          const timer = this.startTimer(node, incarnation, durationMs, () => {
            if (node.receiver === receiver) node.receiver = undefined
            resume(Effect.undefined)
          })
          return Effect.sync(() => {
            timer.cancelled = true
            if (node.receiver === receiver) node.receiver = undefined
          })
        })
    })
  }

  private makeTracing(node: SimulatedNode, incarnation: number): Tracing["Service"] {
    const exported = this.options.spanExport?.forNode(node.id, () => this.nowUs, () => this.alive(node, incarnation))
    return Tracing.of({
      event: (name, attributes) =>
        Effect.sync(() => {
          if (!this.alive(node, incarnation)) return
          this.protocolEvent(node, name, attributes ?? {})
          exported?.event(name, attributes ?? {})
        }),
      spans: exported ?? disabledSpans,
      span: (name, attributes, effect) =>
        Effect.suspend(() => {
          const span = ++node.spanCount
          const exportedSpan = exported?.startActive(name, attributes)
          // Spans carry the node's own clock as well as true time, as a real node's spans would.
          const localMs = node.clock.localUs(this.nowUs) / 1000
          this.trace.write({ t: this.nowUs, e: "span-start", node: node.id, span, name, attrs: attributes, localMs })
          return Effect.onExit(effect, (exit) =>
            Effect.sync(() => {
              if (this.alive(node, incarnation)) {
                const endMs = node.clock.localUs(this.nowUs) / 1000
                const outcome = Exit.isSuccess(exit) ? "ok" : "error"
                exportedSpan?.end(outcome)
                this.trace.write({ t: this.nowUs, e: "span-end", node: node.id, span, outcome, localMs: endMs })
              }
            }))
        })
    })
  }

  private takeFromMailbox(node: SimulatedNode): Envelope {
    const envelope = node.mailbox[node.mailboxHead]!
    node.mailboxHead++
    if (node.mailboxHead === node.mailbox.length) {
      node.mailbox = []
      node.mailboxHead = 0
    }
    return envelope
  }

  private wakeReceiver(node: SimulatedNode): void {
    const receiver = node.receiver
    if (receiver === undefined || node.status !== "up" || node.mailboxHead >= node.mailbox.length) return
    node.receiver = undefined
    receiver(this.takeFromMailbox(node))
  }

  /** Starts a timer of `durationMs` on the node's own clock; `resume` runs when it fires. */
  private startTimer(node: SimulatedNode, incarnation: number, durationMs: number, resume: Timer["resume"]): Timer {
    const delayUs = Math.max(0, Math.round(node.clock.trueDurationUs(durationMs * 1000)))
    const timer: Timer = { time: this.nowUs + delayUs, sequence: 0, kind: EVENT_TIMER, data: null, cancelled: false, node, incarnation, resume }
    return this.queue.pushEvent(timer)
  }

  /**
   * The start of every receive: hands over a message at once if the mailbox has one (returns
   * true), else checks that no other fiber of the node is waiting, as only one may.
   */
  /** Takes the node's next waiting message; undefined when the fiber must wait (asserting no other fiber waits). */
  private takeNow(node: SimulatedNode): Envelope | undefined {
    if (node.mailboxHead < node.mailbox.length && node.status === "up") return this.takeFromMailbox(node)
    if (node.receiver !== undefined) throw new Error(`node ${node.id}: two fibers receive at once`)
    return undefined
  }

  private fireTimer(timer: Timer): void {
    const node = timer.node
    if (timer.cancelled || !this.alive(node, timer.incarnation)) return
    if (node.status === "paused") {
      node.deferred.push(() => this.fireTimer(timer))
      return
    }
    this.stats.timersFired++
    this.trace.writeText(timerLineText(this.nowUs, node.id))
    timer.resume(Effect.void)
  }

  private runEvent(event: QueuedEvent): void {
    switch (event.kind) {
      case EVENT_DELIVER:
        this.deliver(event as Delivery)
        break
      case EVENT_TIMER:
        this.fireTimer(event as Timer)
        break
      case EVENT_CALLBACK:
        ;(event.data as () => void)()
        break
      default:
        throw new Error(`unknown event kind ${event.kind}`)
    }
    this.scheduler.drain()
  }

  // ---------------------------------------------------------------- messages

  // A message's trace: its send line says when it will arrive (`at`), or a drop line follows at
  // once. Nothing more is written for a message that arrives as planned; a drop on arrival (the
  // receiver is down, its mailbox full) or a delivery held back by a clog gets a line of its own.
  private send(from: NodeId, to: NodeId, message: unknown, payload: string, traceparent: TraceParent | undefined): void {
    const id = this.nextMessageId++
    this.stats.messagesSent++
    const target = this.nodes.get(to)
    const delayUs = target === undefined ? 0 : this.network.decideDelay(from, to)
    if (target === undefined || delayUs < 0) {
      this.trace.writeText(sendLineText(this.nowUs, id, from, to, undefined, payload))
      this.drop(id, target === undefined ? "unknown-node" : delayUs === DROPPED_BY_PARTITION ? "partition" : "loss")
      return
    }
    const atUs = this.nowUs + delayUs
    this.trace.writeText(sendLineText(this.nowUs, id, from, to, atUs, payload))
    // The receiver's copy is made now, before the sender can change the object; a duplicate
    // decodes the text when it arrives, as the receiver may have changed the first copy by then.
    const copy = receivedCopy(message, payload)
    this.queue.pushEvent<Delivery>({ time: atUs, sequence: 0, kind: EVENT_DELIVER, data: copy, id, from, to, payload, target, held: false, traceparent })
    const duplicateDelayUs = this.network.duplicateDelayUs
    if (duplicateDelayUs >= 0) {
      this.stats.messagesDuplicated++
      const duplicateAtUs = this.nowUs + duplicateDelayUs
      this.trace.write({ t: this.nowUs, e: "duplicate", id, at: duplicateAtUs })
      this.queue.pushEvent<Delivery>({
        time: duplicateAtUs,
        sequence: 0,
        kind: EVENT_DELIVER,
        data: null,
        id,
        from,
        to,
        payload,
        target,
        held: false,
        traceparent
      })
    }
  }

  private deliver(delivery: Delivery): void {
    const { id, from, to, payload } = delivery
    if (this.network.isClogged(from, to)) {
      const key = `${from}>${to}`
      let held = this.held.get(key)
      if (held === undefined) {
        held = []
        this.held.set(key, held)
      }
      this.trace.write({ t: this.nowUs, e: "hold", id })
      held.push({ ...delivery, held: true })
      return
    }
    const node = delivery.target
    if (node.status === "crashed") {
      this.drop(id, "down")
      return
    }
    if (node.mailbox.length - node.mailboxHead >= this.mailboxCapacity) {
      this.drop(id, "mailbox-full")
      return
    }
    this.stats.messagesDelivered++
    // A held message arrives later than its send line said; say when.
    if (delivery.held) this.trace.write({ t: this.nowUs, e: "deliver", id, to })
    const message = delivery.data === null ? decodeMessage(payload) : delivery.data
    delivery.data = null
    const envelope: Envelope = { from, message, traceparent: delivery.traceparent }
    const receiver = node.receiver
    if (receiver !== undefined && node.status === "up") {
      node.receiver = undefined
      receiver(envelope)
    } else {
      node.mailbox.push(envelope)
    }
  }

  private drop(id: number, reason: DropReason): void {
    this.stats.messagesDropped++
    this.trace.writeText(dropLineText(this.nowUs, id, reason))
  }

  // ---------------------------------------------------------------- tracing

  private protocolEvent(node: SimulatedNode, name: string, attributes: TraceAttributes): void {
    this.trace.writeText(eventLineText(this.nowUs, node.id, name, attributes))
    if (this.listeners.length === 0) return
    const event: ProtocolEvent = { timeUs: this.nowUs, node: node.id, name, attributes }
    for (const listener of this.listeners) listener(event)
  }

}

const firstLine = (text: string): string => text.split("\n")[0] ?? text

/** One line on why a node program died; a storage error names its file and reason. */
const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (error instanceof StorageError) return `StorageError on ${error.file}: ${error.reason}`
  return firstLine(Cause.pretty(cause))
}
