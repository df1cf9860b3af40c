// The wire codec shared by the simulator and the real runtime, so nothing that cannot cross a wire reaches a protocol.

/**
 * Encodes a message as JSON text. The receiver in the simulator gets exactly what decoding this
 * text gives (see `receivedCopy`), so a protocol that puts a Map, a function or `undefined` in a
 * message breaks in simulation the same way it would on a socket.
 */
export const encodeMessage = (message: unknown): string => {
  const text = JSON.stringify(message)
  if (text === undefined) {
    throw new Error(`encodeMessage: ${typeof message} cannot be encoded as JSON`)
  }
  return text
}

/** Decodes JSON text made by {@link encodeMessage}. */
export const decodeMessage = (text: string): unknown => JSON.parse(text)

/** Returned by `plainCopy` when a value needs the JSON round trip to be copied faithfully. */
const NOT_PLAIN: unique symbol = Symbol("not plain JSON data")

/**
 * A copy of plain JSON data (plain objects, arrays, strings, finite numbers, booleans, null), or
 * NOT_PLAIN for anything whose JSON round trip changes it: undefined, functions, -0, NaN,
 * class instances, toJSON, array holes, a "__proto__" key. For plain data the copy equals what
 * `JSON.parse(JSON.stringify(value))` gives, key order included. (A getter is read again here, so
 * one that returns something else each time is the one case it cannot see.)
 */
const plainCopy = (value: unknown): unknown => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN
    case "object": {
      if (value === null) return null
      // A toJSON anywhere on the chain (own, a subclass's, a polluted prototype's) changes the text.
      if ((value as { toJSON?: unknown }).toJSON !== undefined) return NOT_PLAIN
      if (Array.isArray(value)) {
        const length = value.length
        const copy = new Array<unknown>(length)
        for (let index = 0; index < length; index++) {
          const item = plainCopy(value[index])
          if (item === NOT_PLAIN) return NOT_PLAIN
          copy[index] = item
        }
        return copy
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return NOT_PLAIN
      const copy: Record<string, unknown> = {}
      // for-in rather than Object.keys: no array per object. Every key it gives is the object's
      // own: the prototype is Object.prototype, which `receivedCopy` saw lend no key.
      for (const key in value) {
        if (key === "__proto__") return NOT_PLAIN
        const item = plainCopy((value as Record<string, unknown>)[key])
        if (item === NOT_PLAIN) return NOT_PLAIN
        copy[key] = item
      }
      return copy
    }
    default:
      return NOT_PLAIN
  }
}

/**
 * Whether `prototype` has an enumerable key, which for-in would lend every plain object (and JSON
 * would skip). Checked once per message rather than with `Object.hasOwn` per key: 0.9% of the
 * simulator's instructions on the standard Raft scenario went to those calls.
 */
const lendsKeys = (prototype: object): boolean => {
  for (const _ in prototype) return true
  return false
}

/**
 * Messages longer than this (in JSON characters) are parsed rather than copied: the copy builds
 * each object key by key, which V8 turns into a dictionary object past a few dozen keys (a vector
 * clock of a large cluster), several times larger and slower to use than what JSON.parse makes.
 */
const COPY_LIMIT_CHARS = 512

/**
 * What the receiver of `message` gets: the value of decoding `text`, its encoding made at send
 * time. Short plain data is copied directly, which gives the same value as parsing the text in
 * about a third of the time; anything else is parsed. Call it when the message is sent, before the
 * sender can change the object.
 */
export const receivedCopy = (message: unknown, text: string): unknown => {
  if (text.length > COPY_LIMIT_CHARS || lendsKeys(Object.prototype)) return JSON.parse(text)
  const copy = plainCopy(message)
  return copy === NOT_PLAIN ? JSON.parse(text) : copy
}

/** Bytes of the blocks that `blockAllocator` hands out ranges of. */
const BLOCK_BYTES = 64 * 1024

/**
 * An allocator of zeroed byte ranges carved from shared blocks, each range handed out once and
 * never again, so a range stays the caller's even if a reader keeps a view of it. A buffer of its
 * own costs a backing store outside V8's heap: about 1 us for a log line's 150 bytes against 0.2
 * us for a range (V8 keeps only arrays of 64 bytes or less on its heap), and a Raft server
 * appends, and the simulated disk copies, over a thousand times a seed. Large requests get their
 * own buffer, so a block holds many ranges.
 */
export const blockAllocator = (): ((length: number) => Uint8Array) => {
  let block = new Uint8Array(0)
  let used = 0
  return (length) => {
    if (length > BLOCK_BYTES / 16) return new Uint8Array(length)
    if (used + length > block.length) {
      block = new Uint8Array(BLOCK_BYTES)
      used = 0
    }
    used += length
    return block.subarray(used - length, used)
  }
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/** Encodes text as UTF-8 bytes for storage. */
export const encodeText = (text: string): Uint8Array => textEncoder.encode(text)

/** Decodes UTF-8 bytes from storage. */
export const decodeText = (bytes: Uint8Array): string => textDecoder.decode(bytes)
