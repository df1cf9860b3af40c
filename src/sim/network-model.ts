// The network model: latency distributions, loss, duplication, reordering and long delays, per link, plus partitions and clogged links.
import type { NodeId } from "../env/index.ts"
import type { RandomStream } from "./random-streams.ts"

/** How long a message takes on a link. */
export type LatencyDistribution =
  | { readonly _tag: "Constant"; readonly ms: number }
  | { readonly _tag: "Uniform"; readonly minMs: number; readonly maxMs: number }
  | { readonly _tag: "Exponential"; readonly meanMs: number; readonly minMs: number }
  | { readonly _tag: "LongTail"; readonly medianMs: number; readonly p99Ms: number }

/** The behaviour of one directed link. */
export interface LinkModel {
  readonly latency: LatencyDistribution
  /** Probability that a message is lost. */
  readonly lossRate: number
  /** Probability that a message is delivered twice (the copy takes its own latency). */
  readonly duplicateRate: number
  /** Probability that a message is held back by an extra delay of up to `reorderWindowMs`. */
  readonly reorderRate: number
  readonly reorderWindowMs: number
  /**
   * Probability that a message is held for an extra `longDelayMs` (a retransmit after a timeout, a
   * congested queue): long enough to arrive after its sender has moved to another term. Absent or
   * zero, nothing is drawn for it, so a run without long delays draws as it always did.
   */
  readonly longDelayRate?: number | undefined
  /** The range of a long delay's extra time, in milliseconds. */
  readonly longDelayMs?: readonly [number, number] | undefined
}

/** A link override from the scenario: any field left out keeps the default. */
export interface LinkOverride extends Partial<LinkModel> {
  readonly from: NodeId
  readonly to: NodeId
}

/** The network of a run. */
export interface NetworkModel {
  readonly defaults: LinkModel
  readonly links: ReadonlyArray<LinkOverride>
  /**
   * The defaults the liveness phase runs on, when they differ from the fault phase's: a swarm that
   * drew a slow or lossy network heals it with everything else (TigerBeetle's VOPR returns its
   * packet simulator to short delays and no loss for its liveness mode), so the liveness verdict is
   * about the protocol, not about a network outside what Raft's timing requires (§5.6).
   */
  readonly liveness?: LinkModel | undefined
}

/** A network with every link at `latencyMs` and no faults. */
export const perfectNetwork = (latencyMs = 1): NetworkModel => ({
  defaults: {
    latency: { _tag: "Constant", ms: latencyMs },
    lossRate: 0,
    duplicateRate: 0,
    reorderRate: 0,
    reorderWindowMs: 0
  },
  links: []
})

/** The extra time of a long delay when a link gives a rate but no range: seconds, past any election timeout. */
export const DEFAULT_LONG_DELAY_MS: readonly [number, number] = [2000, 6000]

const linkKey = (from: NodeId, to: NodeId): string => `${from}>${to}`

/** Draws one latency in microseconds, at least one, so a reply never lands at its request's instant. */
export const drawLatencyUs = (latency: LatencyDistribution, random: RandomStream): number => {
  let ms: number
  switch (latency._tag) {
    case "Constant":
      ms = latency.ms
      break
    case "Uniform":
      ms = random.uniform(latency.minMs, latency.maxMs)
      break
    case "Exponential":
      ms = latency.minMs + random.exponential(latency.meanMs - latency.minMs)
      break
    case "LongTail": {
      // Log-normal with the given median and 99th percentile (z of the 99th percentile is 2.326).
      const sigma = Math.log(latency.p99Ms / latency.medianMs) / 2.326
      ms = latency.medianMs * Math.exp(sigma * random.normal())
      break
    }
    default: {
      const unreachable: never = latency
      throw new Error(`unknown latency ${JSON.stringify(unreachable)}`)
    }
  }
  return Math.max(1, Math.round(ms * 1000))
}

/** Returned by NetworkState.decideDelay for a message the network drops. */
export const DROPPED_BY_PARTITION = -1
export const DROPPED_BY_LOSS = -2

/** What the network decides for one message. */
export type Verdict =
  | { readonly _tag: "Drop"; readonly reason: "loss" | "partition" }
  | { readonly _tag: "Deliver"; readonly delaysUs: ReadonlyArray<number> }

/** The live state of the network: links, partitions and clogs. */
export class NetworkState {
  private readonly overrides = new Map<string, LinkModel>()
  private readonly blocked = new Set<string>()
  private readonly clogged = new Set<string>()

  /**
   * One stream per directed link (from, then to), made on first use, so that traffic on one link
   * does not shift the draws of another. Nested maps spare building a key string per message.
   */
  private readonly linkStreams = new Map<NodeId, Map<NodeId, RandomStream>>()

  /** Every link's model where no override says otherwise. */
  private defaults: LinkModel

  constructor(
    readonly model: NetworkModel,
    private readonly makeStream: (label: string) => RandomStream
  ) {
    this.defaults = model.defaults
    this.applyOverrides()
  }

  private applyOverrides(): void {
    for (const link of this.model.links) {
      const { from, to, ...rest } = link
      this.overrides.set(linkKey(from, to), { ...this.defaults, ...rest })
    }
  }

  /** Switches to the model's liveness defaults, if it has any (links keep their own overrides over them). */
  enterLiveness(): boolean {
    if (this.model.liveness === undefined) return false
    this.defaults = this.model.liveness
    this.applyOverrides()
    return true
  }

  link(from: NodeId, to: NodeId): LinkModel {
    if (this.overrides.size === 0) return this.defaults
    return this.overrides.get(linkKey(from, to)) ?? this.defaults
  }

  /** Decides the fate of a message sent now from `from` to `to`. */
  decide(from: NodeId, to: NodeId): Verdict {
    const delayUs = this.decideDelay(from, to)
    if (delayUs === DROPPED_BY_PARTITION) return { _tag: "Drop", reason: "partition" }
    if (delayUs === DROPPED_BY_LOSS) return { _tag: "Drop", reason: "loss" }
    return { _tag: "Deliver", delaysUs: this.duplicateDelayUs < 0 ? [delayUs] : [delayUs, this.duplicateDelayUs] }
  }

  /**
   * The same decision without allocating, for the simulator's hot path: the delay of the message
   * in microseconds, or DROPPED_BY_PARTITION / DROPPED_BY_LOSS; `duplicateDelayUs` is then the
   * delay of a duplicate, or -1 when there is none.
   */
  decideDelay(from: NodeId, to: NodeId): number {
    this.duplicateDelayUs = -1
    if (this.blocked.size > 0 && this.blocked.has(linkKey(from, to))) return DROPPED_BY_PARTITION
    const link = this.link(from, to)
    const random = this.stream(from, to)
    if (random.chance(link.lossRate)) return DROPPED_BY_LOSS
    const duplicated = random.chance(link.duplicateRate)
    const delayUs = this.drawDelayUs(link, random)
    if (duplicated) this.duplicateDelayUs = this.drawDelayUs(link, random)
    return delayUs
  }

  /** Set by decideDelay: the delay of the duplicate of the last message, or -1. */
  duplicateDelayUs = -1

  private drawDelayUs(link: LinkModel, random: RandomStream): number {
    let delayUs = drawLatencyUs(link.latency, random)
    if (random.chance(link.reorderRate)) delayUs += Math.round(random.uniform(0, link.reorderWindowMs) * 1000)
    const longDelayRate = link.longDelayRate
    if (longDelayRate !== undefined && random.chance(longDelayRate)) {
      const [minMs, maxMs] = link.longDelayMs ?? DEFAULT_LONG_DELAY_MS
      delayUs += Math.round(random.uniform(minMs, maxMs) * 1000)
    }
    return delayUs
  }

  private stream(from: NodeId, to: NodeId): RandomStream {
    let byTarget = this.linkStreams.get(from)
    if (byTarget === undefined) {
      byTarget = new Map()
      this.linkStreams.set(from, byTarget)
    }
    let random = byTarget.get(to)
    if (random === undefined) {
      random = this.makeStream(`network/${linkKey(from, to)}`)
      byTarget.set(to, random)
    }
    return random
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(linkKey(from, to))
  }

  /** Removes every partition. */
  healAll(): void {
    this.blocked.clear()
  }

  isClogged(from: NodeId, to: NodeId): boolean {
    return this.clogged.size > 0 && this.clogged.has(linkKey(from, to))
  }

  clog(from: NodeId, to: NodeId): void {
    this.clogged.add(linkKey(from, to))
  }

  unclog(from: NodeId, to: NodeId): void {
    this.clogged.delete(linkKey(from, to))
  }

  cloggedLinks(): Array<[NodeId, NodeId]> {
    return [...this.clogged].sort().map((key) => key.split(">") as [NodeId, NodeId])
  }
}
