// Real storage's frames on disk: a preallocated file still reads as exactly its synced content, a last write cut short by a crash is not content, and damage is refused.
import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { freshDirectories } from "./fixtures/fresh-directories.ts"
import { framesOf } from "./fixtures/storage-frames.ts"
import { decodeText, encodeText, StorageError } from "../src/env/index.ts"
import { aligned, encodeFrame, encodeFramedFile, FIRST_FRAME_OFFSET, FRAME_HEADER_BYTES, layoutOf, readFramedFile } from "../src/real/storage-frames.ts"
import { makeRealStorage } from "../src/real/storage.ts"

const freshDirectory = freshDirectories("faultline-real-frames")

/** Opens storage in `directory`, appends and syncs each of `appends` to `file` in turn, and closes it. */
const appendAndClose = (directory: string, file: string, appends: ReadonlyArray<string>) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const storage = yield* makeRealStorage({ directory })
    for (const text of appends) {
      yield* storage.append(file, encodeText(text))
      yield* storage.sync(file)
    }
  })))

/** What storage opened on `directory` reads of `file`. */
const readBack = (directory: string, file: string) =>
  Effect.runPromiseExit(Effect.scoped(Effect.flatMap(makeRealStorage({ directory }), (storage) => storage.read(file))))

const expectText = (exit: Exit.Exit<Uint8Array | undefined, unknown>, text: string) => {
  expect(Exit.isSuccess(exit) ? decodeText(exit.value!) : exit).toBe(text)
}

const ADVICE = "(the file is damaged; restore it, or remove this node's data so it rejoins from its peers)"

/** Where each frame of a framed file starts. */
const frameOffsets = (bytes: Buffer): Array<number> => framesOf(bytes).map((frame) => frame.offset)

/** A framed file holding one frame per payload, as a clean close leaves it, and where each frame starts. */
const framedFile = (payloads: ReadonlyArray<Uint8Array>): { bytes: Buffer; offsets: Array<number> } => {
  const first = encodeFramedFile(payloads[0]!)
  const parts: Array<Uint8Array> = [first.bytes]
  const offsets = [FIRST_FRAME_OFFSET]
  let checksum = first.checksum
  let offset = first.bytes.length
  for (const payload of payloads.slice(1)) {
    const frame = encodeFrame(payload, checksum)
    parts.push(frame.bytes)
    offsets.push(offset)
    offset += frame.bytes.length
    checksum = frame.checksum
  }
  return { bytes: Buffer.concat(parts), offsets }
}

const latin1 = (payloads: ReadonlyArray<Uint8Array>): string => payloads.map((payload) => Buffer.from(payload).toString("latin1")).join("")

/** Whether some 512-byte sector's share of `bytes` from `start` to `end` is all zeros, as a sector a crash lost reads. */
const hasZeroSectorShare = (bytes: Buffer, start: number, end: number): boolean => {
  for (let sector = Math.floor(start / 512) * 512; sector < end; sector += 512) {
    if (bytes.subarray(Math.max(sector, start), Math.min(sector + 512, end)).every((byte) => byte === 0)) return true
  }
  return false
}

const contentOf = (bytes: Buffer): string | "damaged" => {
  const read = readFramedFile(bytes)
  return read._tag === "Read" ? Buffer.from(read.content).toString("latin1") : "damaged"
}

describe("real storage on disk: preallocation", () => {
  it("a file on the append path is preallocated while open, reads back exactly, and a clean close gives the space back", async () => {
    const directory = freshDirectory()
    const path = join(directory, "log")
    const appends = Array.from({ length: 20 }, (_, index) => `entry ${index}\n`)
    let sizeWhileOpen = 0
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const storage = yield* makeRealStorage({ directory })
      for (const text of appends) {
        yield* storage.append("log", encodeText(text))
        yield* storage.sync("log")
      }
      sizeWhileOpen = statSync(path).size
    })))
    const onDisk = readFileSync(path)
    expect(layoutOf(onDisk)._tag).toBe("Framed")
    // The first sync creates the file (one frame); each later one appends a frame, at a multiple of 16.
    const offsets = frameOffsets(onDisk)
    expect(offsets).toHaveLength(appends.length)
    expect(offsets.every((offset) => offset % 16 === 0)).toBe(true)
    const framedLength = FIRST_FRAME_OFFSET + appends.reduce((sum, text) => sum + aligned(FRAME_HEADER_BYTES + text.length), 0)
    expect(sizeWhileOpen).toBeGreaterThan(framedLength + (1 << 19))
    expect(onDisk.length).toBe(framedLength)
    expectText(await readBack(directory, "log"), appends.join(""))
  })

  it("a file left preallocated by a crash (no clean close) reads back exactly, and appends go on after its last frame", async () => {
    const directory = freshDirectory()
    const path = join(directory, "log")
    await appendAndClose(directory, "log", ["one\n", "two\n"])
    // As a kill -9 leaves it: zeros past the frames.
    truncateSync(path, 3 << 20)
    await appendAndClose(directory, "log", ["three\n"])
    expectText(await readBack(directory, "log"), "one\ntwo\nthree\n")
  })

  it("syncing nothing new (an empty append, an empty write over an empty file) writes no frame and fails nothing", async () => {
    const directory = freshDirectory()
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const storage = yield* makeRealStorage({ directory })
      for (const change of [() => storage.write("log", new Uint8Array(0)), () => storage.write("log", new Uint8Array(0)), () => storage.append("log", new Uint8Array(0))]) {
        yield* change()
        yield* storage.sync("log")
      }
      yield* storage.append("log", encodeText("a"))
      yield* storage.sync("log")
    })))
    expectText(await readBack(directory, "log"), "a")
  })

  it("a file written before frames is read as it is, and framed at its first sync", async () => {
    const directory = freshDirectory()
    const path = join(directory, "log")
    writeFileSync(path, "old\n")
    expectText(await readBack(directory, "log"), "old\n")
    await appendAndClose(directory, "log", ["new\n"])
    expect(layoutOf(readFileSync(path))._tag).toBe("Framed")
    expectText(await readBack(directory, "log"), "old\nnew\n")
  })
})

describe("real storage on disk: a last write cut short", () => {
  it("a last frame cut short is not content, and the next append cuts what is left of it before anything reads past it", async () => {
    const directory = freshDirectory()
    const path = join(directory, "log")
    await appendAndClose(directory, "log", ["first\n", "second, a longer entry that a crash cuts short\n"])
    const lastFrame = frameOffsets(readFileSync(path)).at(-1)!
    truncateSync(path, lastFrame + FRAME_HEADER_BYTES + 30)
    expectText(await readBack(directory, "log"), "first\n")
    let whileOpen = Buffer.alloc(0)
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const storage = yield* makeRealStorage({ directory })
      yield* storage.append("log", encodeText("x\n"))
      yield* storage.sync("log")
      // As a kill -9 right now would leave it: what is left of the cut frame must be gone already.
      whileOpen = readFileSync(path)
    })))
    const read = readFramedFile(whileOpen)
    expect(read._tag === "Read" && { content: decodeText(read.content), torn: read.torn }).toEqual({ content: "first\nx\n", torn: false })
    expectText(await readBack(directory, "log"), "first\nx\n")
  })

  it("property: a crash cutting the last write short (the file cut in it; its sectors lost from one on, or up to one) reads as every frame before it", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 0, maxLength: 5 }),
        fc.uint8Array({ minLength: 1, maxLength: 1500 }),
        fc.constantFrom("file cut", "sectors lost from", "sectors lost up to"),
        fc.nat(),
        fc.integer({ min: 16, max: 64 }),
        (before, lastPayload, crash, seed, preallocated) => {
          const payloads = [...before, lastPayload]
          const { bytes, offsets } = framedFile(payloads)
          const last = offsets.at(-1)!
          const frameEnd = last + FRAME_HEADER_BYTES + lastPayload.length
          let file: Buffer
          if (crash === "file cut") {
            file = bytes.subarray(0, last + (seed % (frameEnd - last)))
          } else {
            // Sector boundaries inside the frame, and its start (the whole write lost).
            const boundaries = [last]
            for (let sector = Math.ceil((last + 1) / 512) * 512; sector < frameEnd; sector += 512) boundaries.push(sector)
            const boundary = boundaries[seed % boundaries.length]!
            file = Buffer.concat([bytes, Buffer.alloc(preallocated)])
            if (crash === "sectors lost from") file.fill(0, boundary, frameEnd)
            else file.fill(0, last, boundary === last ? frameEnd : boundary)
          }
          const read = readFramedFile(file)
          // A write whose lost part held zeros anyway is whole.
          const whole = crash !== "file cut" && file.subarray(0, bytes.length).equals(bytes)
          expect(read._tag === "Read" && Buffer.from(read.content).toString("latin1")).toBe(latin1(whole ? payloads : before))
        }
      ),
      { numRuns: 400 }
    )
  })
})

describe("real storage on disk: damage", () => {
  it("a flipped byte before the last frame: storage refuses to open, naming the file and the byte, and changes nothing", async () => {
    const directory = freshDirectory()
    const path = join(directory, "log")
    await appendAndClose(directory, "log", ["first entry\n", "second entry\n"])
    const damaged = readFileSync(path)
    const firstFrame = frameOffsets(damaged)[0]!
    damaged[firstFrame + FRAME_HEADER_BYTES + 3] = damaged[firstFrame + FRAME_HEADER_BYTES + 3]! ^ 0x01
    writeFileSync(path, damaged)
    expect(await readBack(directory, "log")).toEqual(Exit.fail(new StorageError({
      file: "log",
      reason: `log: the synced change at byte ${firstFrame} is damaged (its checksum does not match, and more data follows it) ${ADVICE}`
    })))
    expect(readFileSync(path).equals(damaged)).toBe(true)
  })

  it("a header zeroed in the middle (a lost sector at a frame's start) is damage when frames follow it, not the end of the content", () => {
    const { bytes, offsets } = framedFile(["one\n", "two\n", "three\n"].map(encodeText))
    const damaged = Buffer.concat([bytes, Buffer.alloc(1024)])
    damaged.fill(0, offsets[1]!, offsets[1]! + FRAME_HEADER_BYTES)
    expect(readFramedFile(damaged)).toEqual({ _tag: "Damaged", offset: offsets[1], reason: `the synced change at byte ${offsets[1]} is damaged (its header is zeros and frames follow it)` })
  })

  it("a damaged last frame of a file a clean close left is damage: a write cut short never ends the file", () => {
    const { bytes, offsets } = framedFile(["one\n", "two\n"].map(encodeText))
    const damaged = Buffer.from(bytes)
    damaged[offsets[1]! + FRAME_HEADER_BYTES] = damaged[offsets[1]! + FRAME_HEADER_BYTES]! ^ 0x10
    expect(contentOf(damaged)).toBe("damaged")
    // The same frame with preallocated zeros after it, and no sector of it left empty: damage too.
    expect(contentOf(Buffer.concat([damaged, Buffer.alloc(64)]))).toBe("damaged")
  })

  it("a damaged length in the last frame is damage even when only zeros follow it (a payload of zeros): it was not a write cut short", () => {
    // Found by the property below (seed -2017143580): a one-byte payload of 0, the length's low
    // bit flipped to 0, read back as a file with no content.
    for (const payload of [Uint8Array.of(0), new Uint8Array(40)]) {
      const { bytes, offsets } = framedFile([encodeText("kept\n"), payload])
      for (const preallocated of [0, 64]) {
        const damaged = Buffer.concat([bytes, Buffer.alloc(preallocated)])
        damaged[offsets[1]!] = damaged[offsets[1]!]! ^ 0x01
        expect(readFramedFile(damaged)).toEqual({ _tag: "Damaged", offset: offsets[1], reason: `the synced change at byte ${offsets[1]} is damaged (its length does not match its complement)` })
      }
    }
  })

  it("a damaged marker, or a marker of a layout version this code does not know, is refused rather than read as content", () => {
    const { bytes } = framedFile([encodeText("hello\n")])
    const version = Buffer.from(bytes)
    version[7] = 2
    expect(layoutOf(version)).toEqual({ _tag: "Damaged", offset: 7, reason: "it is in storage layout version 2, which this Faultline does not know" })
    for (const position of [0, 3]) {
      const flipped = Buffer.from(bytes)
      flipped[position] = flipped[position]! ^ 0x04
      expect(layoutOf(flipped)).toEqual({ _tag: "Damaged", offset: 0, reason: "its storage marker is damaged" })
    }
    expect(layoutOf(Buffer.from("{\"term\":3}\n"))).toEqual({ _tag: "Raw" })
  })

  it("property: a single flipped byte anywhere reads back as the written content (a byte of padding) or is refused; never as other content", () => {
    // Payloads of zeros too, some past a sector: zeros are what the reader takes for the end of the content.
    const payload = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 700 }).map((length) => new Uint8Array(length)))
    fc.assert(
      fc.property(
        fc.array(payload, { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.constantFrom(0, 64),
        (payloads, positionSeed, flip, preallocated) => {
          const { bytes, offsets } = framedFile(payloads)
          const position = positionSeed % bytes.length
          const damaged = Buffer.concat([bytes, Buffer.alloc(preallocated)])
          damaged[position] = damaged[position]! ^ flip
          const layout = layoutOf(damaged)
          const outcome = layout._tag === "Framed" ? contentOf(damaged) : layout._tag === "Damaged" ? "damaged" : "raw"
          const allowed = [latin1(payloads), "damaged"]
          // Only where a crash could have left the same bytes may the last frame be read as a write
          // cut short: preallocated zeros after it, and some sector's share of it all zeros (as
          // etcd's WAL decides too: a flip in such a frame cannot be told from a lost sector).
          const last = offsets.at(-1)!
          if (preallocated > 0 && position >= last && hasZeroSectorShare(damaged, last, last + FRAME_HEADER_BYTES + payloads.at(-1)!.length)) {
            allowed.push(latin1(payloads.slice(0, -1)))
          }
          expect(allowed).toContain(outcome)
        }
      ),
      { numRuns: 600 }
    )
  })
})
