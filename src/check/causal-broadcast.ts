// Checks reliable causal broadcast from its trace: causal order, exactly-once delivery, Lamport consistency, eventual delivery.
import type { Checker, FinalState, ProtocolEvent, Violation } from "./checker.ts"

type Clock = Readonly<Record<string, number>>

/**
 * What was observed of a message when its origin broadcast it. Its causal past is what the origin
 * had delivered by then (in its current incarnation, and recovered from its disk), as the trace
 * shows it, never what the message declares: a protocol that under-declares its dependencies is
 * caught by the deliveries that then come too early. Kept as node indices and counts, in the order
 * of the node names: a delivery then checks them without a string lookup.
 */
interface MessageFacts {
  readonly dependencyNodes: Int32Array
  readonly dependencyCounts: Int32Array
  readonly lamport: number
  /** Whether any node has delivered the message (its origin included). */
  delivered: boolean
}

/** What one node has delivered in its current incarnation (and recovered from its disk). */
interface NodeDeliveries {
  /** By origin index, n such that messages 1..n are all delivered. */
  readonly prefix: Array<number>
  /** Delivered messages above the prefix (only a buggy protocol has any). */
  readonly extra: Set<string>
}

const messageKey = (origin: string, sequence: number): string => `${origin}#${sequence}`

/** The message an event is about; an event without a string origin and a positive integer sequence cannot be read. */
const messageId = (event: ProtocolEvent): { readonly origin: string; readonly sequence: number } => {
  const { origin, sequence } = event.attributes as { origin?: unknown; sequence?: unknown }
  if (typeof origin !== "string" || !Number.isSafeInteger(sequence) || (sequence as number) < 1) {
    throw new TypeError(`a ${event.name} event needs an origin and a positive sequence, got ${JSON.stringify({ origin, sequence })}`)
  }
  return { origin, sequence: sequence as number }
}

const compareNumbers = (left: number, right: number): number => left - right

/**
 * Rules:
 * - `causal-order`: a node delivers a message only after every message it causally depends on
 *   (the origin's earlier messages and everything the origin had delivered when it broadcast).
 * - `no-duplicates`: within one incarnation a node delivers each message at most once.
 * - `lamport-consistency`: a message's Lamport time is above those of the messages it depends on.
 * - `eventual-delivery`: at the end, every node that is up has delivered every message broadcast.
 */
export class CausalBroadcastChecker implements Checker {
  readonly checks = ["causal-order", "no-duplicates", "lamport-consistency", "eventual-delivery"]
  readonly livenessChecks = ["eventual-delivery"]
  readonly violations: Array<Violation> = []
  /** Per origin, the facts of each of its messages by sequence (index 0 unused). */
  private readonly messages = new Map<string, Array<MessageFacts | undefined>>()
  /** Per origin, the sequences of its messages, in the order they were first reported. */
  private readonly sequences = new Map<string, Array<number>>()
  private readonly nodes = new Map<string, NodeDeliveries>()
  /** Node names to small integers, in the order they were first seen. */
  private readonly nodeIndices = new Map<string, number>()
  private readonly nodeNames: Array<string> = []
  /** Messages whose Lamport time has been checked: it is a fact of the message, checked once. */
  private readonly lamportChecked = new Set<MessageFacts>()
  /** At most this many violations per rule are kept; the first one is what matters. */
  private readonly maxViolationsPerCheck = 5

  onEvent(event: ProtocolEvent): void {
    switch (event.name) {
      case "broadcast":
        this.broadcast(event)
        break
      case "deliver":
        this.deliver(event)
        break
      case "recover":
        this.recover(event)
        break
      default:
        break
    }
  }

  finish(final: FinalState): void {
    // Each origin's sequences are sorted once; each node is then checked in O(messages).
    const origins = [...this.sequences.keys()].sort()
    const sorted = origins.map((origin) => [origin, [...this.sequences.get(origin)!].sort(compareNumbers)] as const)
    for (const node of final.up) {
      const deliveries = this.deliveries(node)
      const missing: Array<string> = []
      let missingCount = 0
      for (const [origin, sequences] of sorted) {
        const originIndex = this.index(origin)
        for (const sequence of sequences) {
          if (this.has(deliveries, originIndex, origin, sequence)) continue
          missingCount++
          if (missing.length < 5) missing.push(messageKey(origin, sequence))
        }
      }
      if (missingCount > 0) {
        const shown = missing.join(", ") + (missingCount > 5 ? `, … (${missingCount} in all)` : "")
        this.report("eventual-delivery", `node ${node} never delivered ${shown}`, final.timeUs)
      }
    }
  }

  private facts(origin: string, sequence: number): MessageFacts | undefined {
    return this.messages.get(origin)?.[sequence]
  }

  private broadcast(event: ProtocolEvent): void {
    const { origin, sequence } = messageId(event)
    const lamport = event.attributes["lamport"]
    if (typeof lamport !== "number") throw new TypeError(`a broadcast event needs a numeric lamport, got ${JSON.stringify(lamport)}`)
    let byOrigin = this.messages.get(origin)
    if (byOrigin === undefined) {
      byOrigin = []
      this.messages.set(origin, byOrigin)
      this.sequences.set(origin, [])
    }
    const earlier = byOrigin[sequence]
    if (earlier?.delivered === true) {
      this.report("no-duplicates", `${origin} broadcast ${messageKey(origin, sequence)} again after it was delivered`, event.timeUs)
      return
    }
    // A message is reported when it is made, before its origin stores it; if a crash lost it, the
    // restarted origin makes another with the same number, which replaces it (it was never sent).
    if (earlier === undefined) this.sequences.get(origin)!.push(sequence)
    byOrigin[sequence] = { ...this.causalPast(origin), lamport, delivered: false }
  }

  /** Per origin, the highest message `node` has delivered: its causal past, as far as anyone saw. */
  private causalPast(node: string): Pick<MessageFacts, "dependencyNodes" | "dependencyCounts"> {
    const deliveries = this.deliveries(node)
    const highest = [...deliveries.prefix]
    for (const key of deliveries.extra) {
      const mark = key.lastIndexOf("#")
      const originIndex = this.index(key.slice(0, mark))
      highest[originIndex] = Math.max(highest[originIndex] ?? 0, Number(key.slice(mark + 1)))
    }
    const dependencyNodes: Array<number> = []
    const dependencyCounts: Array<number> = []
    highest.forEach((count, originIndex) => {
      if (count === undefined || count === 0) return
      dependencyNodes.push(originIndex)
      dependencyCounts.push(count)
    })
    return { dependencyNodes: Int32Array.from(dependencyNodes), dependencyCounts: Int32Array.from(dependencyCounts) }
  }

  private deliver(event: ProtocolEvent): void {
    const { origin, sequence } = messageId(event)
    const facts = this.facts(origin, sequence)
    if (facts === undefined) {
      this.report("causal-order", `node ${event.node} delivered ${messageKey(origin, sequence)}, which ${origin} never broadcast`, event.timeUs)
      return
    }
    facts.delivered = true
    const originIndex = this.index(origin)
    const deliveries = this.deliveries(event.node)
    if (this.has(deliveries, originIndex, origin, sequence)) {
      this.report("no-duplicates", `node ${event.node} delivered ${origin}#${sequence} twice`, event.timeUs)
      return
    }
    // The origin's own earlier messages are its past by FIFO order, whatever it had delivered.
    const { dependencyNodes, dependencyCounts } = facts
    const prefix = deliveries.prefix
    for (let position = 0; position < dependencyNodes.length; position++) {
      const dependency = dependencyNodes[position]!
      const needed = dependency === originIndex ? sequence - 1 : dependencyCounts[position]!
      const have = prefix[dependency] ?? 0
      if (have < needed) {
        this.report(
          "causal-order",
          `node ${event.node} delivered ${origin}#${sequence} before ${this.nodeNames[dependency]}#${have + 1}, which it depends on`,
          event.timeUs
        )
        break
      }
    }
    if (!this.lamportChecked.has(facts)) {
      this.lamportChecked.add(facts)
      this.checkLamport(origin, sequence, facts, event.timeUs)
    }
    this.add(deliveries, originIndex, origin, sequence)
  }

  private checkLamport(origin: string, sequence: number, facts: MessageFacts, timeUs: number): void {
    const originIndex = this.index(origin)
    facts.dependencyNodes.forEach((dependencyIndex, position) => {
      const dependency = this.nodeNames[dependencyIndex]!
      const latest = dependencyIndex === originIndex ? sequence - 1 : facts.dependencyCounts[position]!
      const before = latest > 0 ? this.facts(dependency, latest) : undefined
      if (before !== undefined && before.lamport >= facts.lamport) {
        this.report(
          "lamport-consistency",
          `${origin}#${sequence} has Lamport time ${facts.lamport}, not above ${dependency}#${latest}'s ${before.lamport}`,
          timeUs
        )
      }
    })
  }

  private recover(event: ProtocolEvent): void {
    const { delivered } = event.attributes as { delivered: Clock }
    const before = this.deliveries(event.node)
    const prefix: Array<number> = []
    for (const origin of Object.keys(delivered).sort()) {
      const originIndex = this.index(origin)
      prefix[originIndex] = delivered[origin]!
      // A node's own last broadcast may survive a crash in a torn write without having been
      // reported, so only other origins are held to "nothing recovered that was not delivered".
      if (origin === event.node) continue
      if (delivered[origin]! > (before.prefix[originIndex] ?? 0)) {
        this.report(
          "causal-order",
          `node ${event.node} recovered ${origin}#${delivered[origin]} from disk but never delivered it`,
          event.timeUs
        )
      }
    }
    this.nodes.set(event.node, { prefix, extra: new Set() })
  }

  private index(node: string): number {
    let index = this.nodeIndices.get(node)
    if (index === undefined) {
      index = this.nodeNames.length
      this.nodeIndices.set(node, index)
      this.nodeNames.push(node)
    }
    return index
  }

  private deliveries(node: string): NodeDeliveries {
    let deliveries = this.nodes.get(node)
    if (deliveries === undefined) {
      deliveries = { prefix: [], extra: new Set() }
      this.nodes.set(node, deliveries)
    }
    return deliveries
  }

  private has(deliveries: NodeDeliveries, originIndex: number, origin: string, sequence: number): boolean {
    if (sequence <= (deliveries.prefix[originIndex] ?? 0)) return true
    return deliveries.extra.size > 0 && deliveries.extra.has(messageKey(origin, sequence))
  }

  private add(deliveries: NodeDeliveries, originIndex: number, origin: string, sequence: number): void {
    const prefix = deliveries.prefix
    if (sequence !== (prefix[originIndex] ?? 0) + 1) {
      deliveries.extra.add(messageKey(origin, sequence))
      return
    }
    prefix[originIndex] = sequence
    if (deliveries.extra.size === 0) return
    let next = sequence + 1
    while (deliveries.extra.delete(messageKey(origin, next))) {
      prefix[originIndex] = next
      next++
    }
  }

  private report(check: string, message: string, timeUs: number): void {
    if (this.violations.filter((violation) => violation.check === check).length >= this.maxViolationsPerCheck) return
    this.violations.push({ check, message, timeUs })
  }
}
