// Which key ranges change hands when the membership changes (Dynamo §4.9): for each range whose
// preference list differs between two placements, who hands the range to whom and who lets it go.
import { assert } from "../assert.ts"
import { HASH_SPACE } from "./hash.ts"
import { arcs, contains, type KeyRange, unionOfEnds } from "./key-range.ts"
import { type Placement, preferenceListAt, rangeEnds } from "./placement.ts"
import { changedPartitions, type RendezvousChange } from "./rendezvous.ts"

/** One node sends a range's keys to another. */
export interface Transfer {
  readonly from: string
  readonly to: string
}

/** A range whose preference list changes, and how its replicas move. */
export interface RangeMove {
  readonly range: KeyRange
  /** The preference list before and after, each of length min(N, nodes). */
  readonly before: ReadonlyArray<string>
  readonly after: ReadonlyArray<string>
  /** One per node that gains the range, from a node that held it. */
  readonly transfers: ReadonlyArray<Transfer>
  /** The nodes that no longer hold the range once the transfers are done. */
  readonly released: ReadonlyArray<string>
}

/**
 * The moves that take replication factor `n` from `before` to `after` (same strategy). Each node that
 * gains a range receives it from a node that loses it, as in Dynamo, where the nodes that no longer
 * own keys transfer them to the new node; when no node loses it (the cluster grows from fewer than `n`
 * nodes), from the range's old coordinator. Ranges whose preference list is unchanged are left out,
 * and adjacent ranges with the same move are joined into one. `before` must have a node.
 */
export const plan = (before: Placement, after: Placement, n: number): Array<RangeMove> => {
  assert(before._tag === after._tag, () => `cannot plan from a ${before._tag} to a ${after._tag} placement`)
  assert(before.nodes.length > 0, "cannot plan from a placement with no nodes: no node holds a key to send")
  assert(Number.isInteger(n), () => `replication factor ${n} is not a whole number`)
  if (before._tag === "Rendezvous" && after._tag === "Rendezvous" && before.partitions === after.partitions) {
    return planPartitions({ before, after }, n)
  }
  return planRanges(before, after, n)
}

/**
 * {@link plan} by asking each placement for the preference list of every range either of them
 * has: any two placements of one strategy. Exported for the test that holds the rendezvous plan to it.
 */
export const planRanges = (before: Placement, after: Placement, n: number): Array<RangeMove> => {
  const moves: Array<RangeMove> = []
  for (const range of arcs(unionOfEnds(rangeEnds(before), rangeEnds(after)))) {
    const owners = preferenceListAt(before, range.end, n)
    const next = preferenceListAt(after, range.end, n)
    if (!sameList(owners, next)) addMove(moves, range, owners, next)
  }
  return joinAcrossZero(moves)
}

/** {@link plan} between two rendezvous placements of the same partitions, which are the ranges of both. */
const planPartitions = (change: RendezvousChange, n: number): Array<RangeMove> => {
  const moves: Array<RangeMove> = []
  const width = HASH_SPACE / change.before.partitions
  changedPartitions(change, n, (partition, owners, next) => {
    // As `arcs` over the partitions' ends: the first range starts at the last one's end.
    const start = (partition === 0 ? change.before.partitions : partition) * width - 1
    addMove(moves, { start, end: (partition + 1) * width - 1 }, owners, next)
  })
  return joinAcrossZero(moves)
}

/** Appends the move of `range`, or widens the last move when it is the same move and ends where `range` starts. */
const addMove = (moves: Array<RangeMove>, range: KeyRange, owners: Array<string>, next: Array<string>): void => {
  const previous = moves[moves.length - 1]
  if (previous !== undefined && previous.range.end === range.start && sameList(previous.before, owners) && sameList(previous.after, next)) {
    moves[moves.length - 1] = { ...previous, range: { start: previous.range.start, end: range.end } }
  } else {
    moves.push(rangeMove(range, owners, next))
  }
}

const rangeMove = (range: KeyRange, before: Array<string>, after: Array<string>): RangeMove => {
  const gained = after.filter((node) => !before.includes(node))
  const released = before.filter((node) => !after.includes(node))
  const transfers = gained.map((to, index) => {
    const from = released[index] ?? before[0]
    assert(from !== undefined, () => `no node holds the range ending at ${range.end} to send it to ${to}`)
    return { from, to }
  })
  return { range, before, after, transfers, released }
}

const sameList = (left: ReadonlyArray<string>, right: ReadonlyArray<string>): boolean =>
  left.length === right.length && left.every((node, index) => node === right[index])

const sameMove = (left: RangeMove, right: RangeMove): boolean => sameList(left.before, right.before) && sameList(left.after, right.after)

/** The last move wraps into the first when they are one range split at position 0. */
const joinAcrossZero = (moves: Array<RangeMove>): Array<RangeMove> => {
  const first = moves[0]
  const last = moves[moves.length - 1]
  if (moves.length < 2 || first === undefined || last === undefined) return moves
  if (last.range.end !== first.range.start || !sameMove(first, last)) return moves
  return [{ ...first, range: { start: last.range.start, end: first.range.end } }, ...moves.slice(1, -1)]
}

/**
 * The owners of the key whose hash is `hash` once `moves` are applied to its owners `before`: the
 * released nodes go, the receiving nodes join. A key in no moved range keeps its owners.
 */
export const ownersAfter = (moves: ReadonlyArray<RangeMove>, hash: number, before: ReadonlyArray<string>): Array<string> => {
  const move = moves.find((candidate) => contains(candidate.range, hash))
  if (move === undefined) return [...before]
  return [...before.filter((node) => !move.released.includes(node)), ...move.transfers.map((transfer) => transfer.to)]
}
