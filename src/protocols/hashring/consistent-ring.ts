// Consistent hashing with virtual nodes (Karger et al.; Dynamo §4.2): each physical node owns many
// tokens on a ring of 2^32 positions, as many as its weight asks, and a key belongs to the first
// token at or after its hash, walking clockwise.
import { assert } from "../assert.ts"
import { murmur3 } from "./hash.ts"

/** A physical node and its weight: a node of weight 2 gets twice the tokens, so about twice the keys. */
export interface WeightedNode {
  readonly id: string
  readonly weight: number
}

/** One virtual node: a position on the ring owned by a physical node. */
export interface Token {
  readonly position: number
  readonly node: string
}

/** A consistent-hash ring. Tokens are sorted by position (ties by node id), so lookups binary-search. */
export interface ConsistentRing {
  readonly _tag: "ConsistentRing"
  readonly nodes: ReadonlyArray<WeightedNode>
  /** Tokens a node of weight 1 gets; a node of weight `w` gets `round(w × tokensPerWeight)`, at least one. */
  readonly tokensPerWeight: number
  readonly tokens: ReadonlyArray<Token>
}

/** How many tokens a node of `weight` owns. */
export const tokenCount = (weight: number, tokensPerWeight: number): number => Math.max(1, Math.round(weight * tokensPerWeight))

/** Where `node`'s `index`-th token sits: a hash of both, so every machine puts it in the same place. */
export const tokenPosition = (node: string, index: number): number => murmur3(`${node}#${index}`)

/** Orders node ids the same way on every machine (code units, not locale). */
export const compareIds = (left: string, right: string): number => (left < right ? -1 : left > right ? 1 : 0)

const byPosition = (left: Token, right: Token): number => left.position - right.position || compareIds(left.node, right.node)

/** A ring over `nodes` (distinct ids, positive weights). */
export const makeConsistentRing = (nodes: ReadonlyArray<WeightedNode>, tokensPerWeight: number): ConsistentRing => {
  assert(Number.isInteger(tokensPerWeight) && tokensPerWeight > 0, () => `tokensPerWeight ${tokensPerWeight} is not a positive integer`)
  const tokens: Array<Token> = []
  for (const node of nodes) {
    for (let index = 0; index < tokenCount(node.weight, tokensPerWeight); index++) {
      tokens.push({ position: tokenPosition(node.id, index), node: node.id })
    }
  }
  tokens.sort(byPosition)
  return { _tag: "ConsistentRing", nodes, tokensPerWeight, tokens }
}

/** The index of the first token at or after `hash`, wrapping to 0 past the last one. */
export const successorIndex = (tokens: ReadonlyArray<Token>, hash: number): number => {
  let low = 0
  let high = tokens.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (tokens[middle]!.position < hash) low = middle + 1
    else high = middle
  }
  return low === tokens.length ? 0 : low
}

/**
 * The first `n` distinct physical nodes met walking clockwise from `hash`: Dynamo's preference list.
 * With fewer than `n` nodes, all of them; with none, none.
 */
export const ringPreferenceList = (ring: ConsistentRing, hash: number, n: number): Array<string> => {
  const wanted = Math.min(n, ring.nodes.length)
  const result: Array<string> = []
  if (wanted === 0) return result
  const first = successorIndex(ring.tokens, hash)
  for (let step = 0; step < ring.tokens.length && result.length < wanted; step++) {
    const node = ring.tokens[(first + step) % ring.tokens.length]!.node
    if (!result.includes(node)) result.push(node)
  }
  assert(result.length === wanted, () => `walked the ring and found ${result.length} of ${wanted} nodes`)
  return result
}

/** The ends of the ring's ranges: the distinct token positions, ascending. */
export const ringRangeEnds = (ring: ConsistentRing): Array<number> => {
  const ends: Array<number> = []
  for (const token of ring.tokens) if (ends[ends.length - 1] !== token.position) ends.push(token.position)
  return ends
}
