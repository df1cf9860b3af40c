// Shard movement when nodes join or leave, as plain data: which shards change hands (from the hash
// ring's plan), and how a client routes writes and queries while a new owner builds its copy.
import { assert } from "../assert.ts"
import { contains, keyHash, plan } from "../hashring/index.ts"
import { replicasOf, type ShardMap, withMembers } from "./shards.ts"

/** One shard whose replicas change: each gaining node copies the shard from a node that held it. */
export interface ShardMove {
  readonly shard: string
  readonly before: ReadonlyArray<string>
  readonly after: ReadonlyArray<string>
  readonly transfers: ReadonlyArray<{ readonly from: string; readonly to: string }>
}

/**
 * The shards that move from `before` to `after`, read off the node ring's plan (Dynamo §4.9): a
 * shard's replicas are the preference list of its name, so the plan's range holding the name's hash
 * says who gains it and from whom. Shards whose replicas stay the same are left out.
 */
export const shardMoves = (before: ShardMap, after: ShardMap): Array<ShardMove> => {
  assert(before.replicationFactor === after.replicationFactor, "a membership change keeps the replication factor")
  const moves = plan(before.nodeRing, after.nodeRing, after.replicationFactor)
  const result: Array<ShardMove> = []
  for (const shard of after.shards) {
    const move = moves.find((candidate) => contains(candidate.range, keyHash(shard)))
    if (move === undefined) continue
    result.push({ shard, before: replicasOf(before, shard), after: replicasOf(after, shard), transfers: move.transfers })
  }
  return result
}

/** The shards `node` gains in `moves`, each with the node it copies from. */
export const incomingOf = (moves: ReadonlyArray<ShardMove>, node: string): Array<{ readonly shard: string; readonly source: string }> =>
  moves.flatMap((move) => move.transfers.filter((transfer) => transfer.to === node).map((transfer) => ({ shard: move.shard, source: transfer.from })))

/**
 * A client's view of the shard map across one membership change. Until every node that gains a
 * shard has said it holds a complete copy, the shard is moving: writes go to the old and the new
 * replicas but count towards the quorum only at the old ones (which hold everything acknowledged),
 * and queries go to the old replicas. Once the new owners are ready they take over.
 */
export class Routing {
  epoch = 0
  private moving = new Map<string, ShardMove>()
  private readonly ready = new Set<string>()

  constructor(public current: ShardMap) {}

  /** Adopts the membership of `epoch` (older or repeated announcements change nothing); returns the moves it starts. */
  adopt(epoch: number, nodes: ReadonlyArray<string>): Array<ShardMove> {
    if (epoch <= this.epoch) return []
    const previous = this.current
    this.current = withMembers(this.current, nodes)
    this.epoch = epoch
    this.ready.clear()
    const moves = shardMoves(previous, this.current)
    this.moving = new Map(moves.map((move) => [move.shard, move]))
    return moves
  }

  /** A new owner of `shard` said it is caught up for `epoch`; the shard takes over once all of them have. */
  onReady(epoch: number, shard: string, node: string): boolean {
    const move = this.moving.get(shard)
    if (epoch !== this.epoch || move === undefined || !move.transfers.some((transfer) => transfer.to === node)) return false
    this.ready.add(`${shard}/${node}`)
    if (!move.transfers.every((transfer) => this.ready.has(`${shard}/${transfer.to}`))) return false
    this.moving.delete(shard)
    return true
  }

  isMoving(shard: string): boolean {
    return this.moving.has(shard)
  }

  /** The nodes a write of `shard` goes to. */
  writeTargets(shard: string): Array<string> {
    const move = this.moving.get(shard)
    if (move === undefined) return [...replicasOf(this.current, shard)]
    return [...move.before, ...move.after.filter((node) => !move.before.includes(node))]
  }

  /** The nodes whose acknowledgements make a write of `shard` durable at the quorum. */
  quorumOf(shard: string): Array<string> {
    return [...(this.moving.get(shard)?.before ?? replicasOf(this.current, shard))]
  }

  /** The replicas a query of `shard` may ask: the old ones while it moves. */
  queryReplicas(shard: string): ReadonlyArray<string> {
    return this.moving.get(shard)?.before ?? replicasOf(this.current, shard)
  }
}
