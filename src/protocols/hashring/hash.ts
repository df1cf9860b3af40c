// A small, fast, portable non-cryptographic hash (32-bit MurmurHash3, Appleby) over a string's UTF-8
// bytes. Every placement and digest in the quorum store hangs on it, so it must give the same number
// on every machine and in every world: no node:crypto, no platform hash.

/** The number of distinct hash values: positions on the ring are integers in [0, 2^32). */
export const HASH_SPACE = 2 ** 32

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/** MurmurHash3's finalizer: spreads every input bit over every output bit. */
export const mix32 = (value: number): number => {
  let h = value
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The UTF-8 bytes of `text`, written by hand so that nothing outside the language is needed. */
export const utf8 = (text: string): Array<number> => {
  const bytes: Array<number> = []
  for (const character of text) {
    const code = character.codePointAt(0)!
    if (code < 0x80) bytes.push(code)
    else if (code < 0x800) bytes.push(0xc0 | (code >> 6), 0x80 | (code & 63))
    else if (code < 0x10000) bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63))
    else bytes.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63))
  }
  return bytes
}

const scramble = (block: number): number => Math.imul(rotateLeft(Math.imul(block, C1), 15), C2)

const rotateLeft = (value: number, bits: number): number => (value << bits) | (value >>> (32 - bits))

/** 32-bit MurmurHash3 of `text`'s UTF-8 bytes with `seed`: an unsigned integer in [0, 2^32). */
export const murmur3 = (text: string, seed = 0): number => {
  const bytes = utf8(text)
  const blocks = bytes.length >> 2
  let h = seed >>> 0
  for (let index = 0; index < blocks; index++) {
    const at = index * 4
    const block = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)
    h ^= scramble(block)
    h = rotateLeft(h, 13)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const rest = blocks * 4
  const tailLength = bytes.length & 3
  if (tailLength > 0) {
    let tail = bytes[rest]!
    if (tailLength > 1) tail |= bytes[rest + 1]! << 8
    if (tailLength > 2) tail |= bytes[rest + 2]! << 16
    h ^= scramble(tail)
  }
  return mix32(h ^ bytes.length)
}

/** The position of `key` on the ring. */
export const keyHash = (key: string): number => murmur3(key)

/** A hash mapped into the open interval (0, 1), never 0 or 1, so its logarithm is finite and negative. */
export const unitInterval = (hash: number): number => (hash + 0.5) / HASH_SPACE

/**
 * 32-bit MurmurHash3 of one 32-bit integer (its four little-endian bytes) with `seed`. Rendezvous
 * hashing scores every node for every lookup, and this spares it the string work of {@link murmur3}.
 */
export const murmur3Integer = (value: number, seed: number): number => {
  let h = seed >>> 0
  h ^= scramble(value | 0)
  h = rotateLeft(h, 13)
  h = (Math.imul(h, 5) + 0xe6546b64) | 0
  return mix32(h ^ 4)
}
