// The messages of reliable causal broadcast. Plain JSON: they cross the wire through the codec.
import type { VectorClock } from "../clocks/vector-clock.ts"

/** A broadcast message: the `sequence`-th broadcast of `origin`, which causally follows `dependencies`. */
export interface Data {
  readonly _tag: "Data"
  readonly origin: string
  readonly sequence: number
  /** What `origin` had delivered when it broadcast this (its own earlier messages included). */
  readonly dependencies: VectorClock
  readonly lamport: number
  readonly payload: string
}

/** Anti-entropy: "this is what I have delivered; send me what I miss". */
export interface Sync {
  readonly _tag: "Sync"
  readonly delivered: VectorClock
  /** True for the pull a node sends back when the asker had something it lacked; never answered with another. */
  readonly reply: boolean
}

export type Message = Data | Sync

/** Narrows an untrusted decoded value to a message, or undefined (a frame from a stranger is ignored). */
export const asMessage = (value: unknown): Message | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const tag = (value as { _tag?: unknown })._tag
  if (tag === "Data" || tag === "Sync") return value as Message
  return undefined
}
