// JSON written straight into bytes: how a simulated run writes its exported spans (otlp-json.ts).
//
// Text built from template pieces allocates a string per piece and a tree of them per span, and
// flattening the trees costs more than the run's whole export should (about 20 ms for a seed's
// 1.6 MB, as much as JSON.stringify of the same spans as objects). Writing the pieces one by one
// into one buffer allocates nothing but the buffer's rare growth.

/** Most UTF-8 bytes one UTF-16 code unit becomes (a lone surrogate becomes three, a pair four for two units). */
const UTF8_BYTES_PER_UNIT_MAX = 3

/** Integers below this take the integer-arithmetic path whole: 2^31, where `| 0` still truncates. */
const SMALL_INTEGER_LIMIT = 2 ** 31

/** A larger integer is written as its value divided by 10^9, then the remainder as nine digits. */
const LOW_DIGITS = 9
const LOW_DIGITS_LIMIT = 10 ** LOW_DIGITS

/**
 * `Uint8Array.prototype.set`, called as itself: V8's optimized code looked `set` up on each Buffer
 * generically at every copy (about 70 instructions, some nine copies a span).
 */
const copyBytes = Uint8Array.prototype.set

/** The character codes of 00 to 99, two by two. */
const DIGIT_PAIRS = Uint8Array.from(Array.from({ length: 100 }, (_, pair) => String(pair).padStart(2, "0")).join(""), (digit) => digit.charCodeAt(0))

/** How many decimal digits `value` (a non-negative integer below 2^31) has. */
const digitCount = (value: number): number => {
  if (value < 10_000) return value < 10 ? 1 : value < 100 ? 2 : value < 1000 ? 3 : 4
  if (value < 100_000_000) return value < 100_000 ? 5 : value < 1_000_000 ? 6 : value < 10_000_000 ? 7 : 8
  return value < 1_000_000_000 ? 9 : 10
}

/** A growing buffer of UTF-8 JSON text. */
export class JsonBytes {
  private buffer: Buffer
  private size = 0

  /** `memory`, if given, is written into from its start: a buffer lent by a pool. */
  constructor(capacityBytes = 64 * 1024, memory?: Uint8Array) {
    // The declared types say Uint8Array, not Buffer, so the package's API needs no @types/node.
    this.buffer = memory === undefined ? Buffer.allocUnsafe(capacityBytes) : Buffer.isBuffer(memory) ? memory : Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength)
  }

  /** Its buffer, for a pool to lend again once nothing reads these bytes any more. */
  get memory(): Uint8Array {
    return this.buffer
  }

  /** Bytes written so far. */
  get length(): number {
    return this.size
  }

  /** Appends `text`, which the caller knows to be ASCII that needs no escaping (literal JSON syntax, hex ids, digits). */
  ascii(text: string): void {
    this.reserve(text.length)
    const bytes = this.buffer
    let at = this.size
    for (let index = 0; index < text.length; index++) bytes[at++] = text.charCodeAt(index)
    this.size = at
  }

  /** Appends `text[from, to)`, ASCII that needs no escaping, as {@link ascii} does. */
  asciiSlice(text: string, from: number, to: number): void {
    this.reserve(to - from)
    const bytes = this.buffer
    let at = this.size
    for (let index = from; index < to; index++) bytes[at++] = text.charCodeAt(index)
    this.size = at
  }

  /** Writes `text[from, to)`, ASCII that needs no escaping, over bytes already written from `position` on. */
  asciiAt(position: number, text: string, from: number, to: number): void {
    if (position < 0 || position + to - from > this.size) throw new Error(`JsonBytes.asciiAt: ${position} to ${position + to - from} is past the ${this.size} bytes written`)
    const bytes = this.buffer
    let at = position
    for (let index = from; index < to; index++) bytes[at++] = text.charCodeAt(index)
  }

  /** Appends `text` as a JSON string literal, quotes included, exactly as `JSON.stringify` writes it. */
  string(text: string): void {
    this.reserve(text.length + 2)
    const bytes = this.buffer
    let at = this.size
    bytes[at++] = 0x22
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index)
      // Printable ASCII other than the quote and the backslash goes as it is; anything else
      // (escapes, non-ASCII, lone surrogates) is left to JSON.stringify, which knows the rules.
      if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) {
        this.size = at - index - 1
        this.json(JSON.stringify(text))
        return
      }
      bytes[at++] = code
    }
    bytes[at++] = 0x22
    this.size = at
  }

  /** Appends a safe integer's decimal digits, as `String` writes them. */
  integer(value: number): void {
    if (!Number.isSafeInteger(value)) throw new Error(`JsonBytes.integer: ${value} is not a safe integer`)
    if (value < 0) {
      this.ascii("-")
      value = -value
    }
    // Past 32 bits the digits come in two parts, each small enough for integer arithmetic: a
    // division of a double per digit costs more than the rest of writing a number.
    if (value < SMALL_INTEGER_LIMIT) {
      this.smallInteger(value, 0)
    } else {
      // The remainder of doubles is exact, and so is the division of what is left by 10^9.
      const low = value % LOW_DIGITS_LIMIT
      this.smallInteger((value - low) / LOW_DIGITS_LIMIT, 0)
      this.smallInteger(low, LOW_DIGITS)
    }
  }

  /** Appends the digits of `value`, below {@link SMALL_INTEGER_LIMIT}, with zeros in front up to `width` digits. */
  private smallInteger(value: number, width: number): void {
    const count = Math.max(digitCount(value), width)
    this.reserve(count)
    const bytes = this.buffer
    const first = this.size
    // Two digits a division, from the right: a division costs more than the rest of a digit.
    let rest = value
    let at = first + count - 1
    for (; at > first; at -= 2) {
      const next = (rest / 100) | 0
      const pair = (rest - next * 100) * 2
      bytes[at] = DIGIT_PAIRS[pair + 1]!
      bytes[at - 1] = DIGIT_PAIRS[pair]!
      rest = next
    }
    // An odd count leaves the first digit, all that is left of the value.
    if (at === first) bytes[at] = 0x30 + rest
    this.size += count
  }

  /** Appends bytes already encoded. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    copyBytes.call(this.buffer, bytes, this.size)
    this.size += bytes.length
  }

  /** Appends any text as UTF-8, unescaped: JSON already made. */
  json(text: string): void {
    this.reserve(text.length * UTF8_BYTES_PER_UNIT_MAX)
    this.size += this.buffer.write(text, this.size)
  }

  /** The bytes written so far, without copying them (later writes may move or change them). */
  view(): Uint8Array<ArrayBuffer> {
    // Buffer.allocUnsafe's memory is a plain ArrayBuffer, never a shared one, whatever Buffer's type allows.
    return new Uint8Array(this.buffer.buffer as ArrayBuffer, this.buffer.byteOffset, this.size)
  }

  /** The text written so far. */
  toString(): string {
    return this.buffer.toString("utf8", 0, this.size)
  }

  private reserve(bytes: number): void {
    const needed = this.size + bytes
    if (needed <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2))
    grown.set(this.buffer.subarray(0, this.size))
    this.buffer = grown
  }
}

/** Most chunk buffers kept for reuse, of each size: 8 MiB of 64 KiB chunks, about twenty thousand spans' JSON. */
const POOLED_CHUNKS_MAX = 128

/**
 * Chunk buffers given back by chunks whose bytes were written out, by size, lent to the next. A
 * process that exports run after run (a swarm, a benchmark's rounds) thus allocates its chunks
 * once. Fresh buffers are memory outside V8's heap that V8 counts towards its old generation until
 * a full collection frees them: a run's 1.6 MB of new chunks brought the standard Raft scenario's
 * full collections from 4 to 6 over fifteen seeds, each marking the whole heap, which cost more
 * than writing the spans' JSON.
 */
const chunkPool = new Map<number, Array<Uint8Array>>()

const lendChunk = (chunkBytes: number): Uint8Array => chunkPool.get(chunkBytes)?.pop() ?? Buffer.allocUnsafe(chunkBytes)

const giveBackChunk = (buffer: Uint8Array, chunkBytes: number): void => {
  // A chunk grown for an item larger than the chunk size is not the pool's size: let it go.
  if (buffer.length !== chunkBytes) return
  let pooled = chunkPool.get(chunkBytes)
  if (pooled === undefined) {
    pooled = []
    chunkPool.set(chunkBytes, pooled)
  }
  if (pooled.length < POOLED_CHUNKS_MAX) pooled.push(buffer)
}

/**
 * JSON bytes written in chunks of about `chunkBytes`: items (whole spans) are appended to the
 * current chunk, and a chunk that has filled up is kept as it is while the next one starts. So a
 * long run's bytes are never copied to grow. Chunk buffers come from a pool, and go back to it
 * when the chunks are released.
 */
export class JsonChunks {
  private readonly full: Array<JsonBytes> = []
  private fullBytes = 0
  private current: JsonBytes | undefined = undefined
  private released = false

  constructor(private readonly chunkBytes = 64 * 1024) {}

  /** The chunk to append the next item to: call it again for every item, as it changes once one fills up. */
  get out(): JsonBytes {
    if (this.released) throw new Error("JsonChunks: written to after it was released")
    let current = this.current
    if (current === undefined || current.length >= this.chunkBytes * CHUNK_FULL_FRACTION) {
      if (current !== undefined) {
        this.full.push(current)
        this.fullBytes += current.length
      }
      current = new JsonBytes(this.chunkBytes, lendChunk(this.chunkBytes))
      this.current = current
    }
    return current
  }

  /** Bytes written so far. */
  get length(): number {
    return this.fullBytes + (this.current?.length ?? 0)
  }

  /** Hands everything written so far to `write`, chunk by chunk: views that are valid until {@link release}. */
  pieces(write: (piece: Uint8Array) => void): void {
    if (this.released) throw new Error("JsonChunks: read after it was released")
    for (const chunk of this.full) write(chunk.view())
    if (this.current !== undefined) write(this.current.view())
  }

  /** Gives the chunks' buffers back to the pool: nothing may read or write them through this after. */
  release(): void {
    this.released = true
    for (const chunk of this.full) giveBackChunk(chunk.memory, this.chunkBytes)
    if (this.current !== undefined) giveBackChunk(this.current.memory, this.chunkBytes)
    this.full.length = 0
    this.fullBytes = 0
    this.current = undefined
  }
}

/** How full a chunk may be before the next item goes into a new one: items rarely need the rest. */
const CHUNK_FULL_FRACTION = 0.95
