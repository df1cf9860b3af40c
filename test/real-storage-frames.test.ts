// Real storage's frames on disk: a preallocated file still reads as exactly its synced content, a last write cut short is not content, and damage before it is refused.
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { afterEach, describe, expect, it } from "vitest"
import { decodeText, encodeText, StorageError } from "../src/env/index.ts"
import { encodeFrame, FIRST_CHECKSUM, FRAME_HEADER_BYTES, FRAMED_MARKER, isFramed, readFramedFile } from "../src/real/storage-frames.ts"
import { makeRealStorage } from "../src/real/storage.ts"

const directories: Array<string> = []

const freshDirectory = (): string => {
  const directory = mkdtempSync(join(tmpdir(), "faultline-real-frames-"))
  directories.push(directory)
  return directory
}

afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

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

/** The offsets at which each frame of a framed file starts. */
const frameOffsets = (bytes: Buffer): Array<number> => {
  const offsets: Array<number> = []
  let offset = FRAMED_MARKER.length
  while (offset + FRAME_HEADER_BYTES <= bytes.length && bytes.readUInt32LE(offset) !== 0) {
    offsets.push(offset)
    offset += FRAME_HEADER_BYTES + bytes.readUInt32LE(offset)
  }
  return offsets
}

/** A framed file holding one frame per payload, and where each frame starts. */
const framedFile = (payloads: ReadonlyArray<Uint8Array>): { bytes: Buffer; offsets: Array<number> } => {
  const parts: Array<Uint8Array> = [FRAMED_MARKER]
  const offsets: Array<number> = []
  let checksum = FIRST_CHECKSUM
  let offset = FRAMED_MARKER.length
  for (const payload of payloads) {
    const frame = encodeFrame(payload, checksum)
    parts.push(frame.bytes)
    offsets.push(offset)
    offset += frame.bytes.length
    checksum = frame.checksum
  }
  return { bytes: Buffer.concat(parts), offsets }
}

const concatText = (payloads: ReadonlyArray<Uint8Array>): string => payloads.map((payload) => Buffer.from(payload).toString("latin1")).join("")

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
    expect(isFramed(onDisk)).toBe(true)
    // The first sync creates the file (one frame); each later one appends a frame.
    expect(frameOffsets(onDisk)).toHaveLength(appends.length)
    const framedLength = FRAMED_MARKER.length + appends.reduce((sum, text) => sum + FRAME_HEADER_BYTES + text.length, 0)
    expect(sizeWhileOpen).toBeGreaterThan(framedLength + (1 << 19))
    expect(onDisk.length).toBe(framedLength)
    const read = await readBack(directory, "log")
    expect(Exit.isSuccess(read) && decodeText(read.value!)).toBe(appends.join(""))
  })

  it("a file left preallocated by a crash (no clean close) reads back exactly, and appends go on after its last frame", async () => {
    const directory = freshDirectory()
    const path = join(directory, "log")
    await appendAndClose(directory, "log", ["one\n", "two\n"])
    // As a kill -9 leaves it: zeros past the frames.
    truncateSync(path, 3 << 20)
    await appendAndClose(directory, "log", ["three\n"])
    const read = await readBack(directory, "log")
    expect(Exit.isSuccess(read) && decodeText(read.value!)).toBe("one\ntwo\nthree\n")
  })

  it("a file written before frames is read as it is, and framed at its first sync", async () => {
    const directory = freshDirectory()
    const path = join(directory, "log")
    writeFileSync(path, "old\n")
    const before = await readBack(directory, "log")
    expect(Exit.isSuccess(before) && decodeText(before.value!)).toBe("old\n")
    await appendAndClose(directory, "log", ["new\n"])
    expect(isFramed(readFileSync(path))).toBe(true)
    const after = await readBack(directory, "log")
    expect(Exit.isSuccess(after) && decodeText(after.value!)).toBe("old\nnew\n")
  })
})

describe("real storage on disk: a last write cut short", () => {
  it("a last frame cut short is not content, and the next append cuts what is left of it first", async () => {
    const directory = freshDirectory()
    const path = join(directory, "log")
    await appendAndClose(directory, "log", ["first\n", "second, cut short\n"])
    const lastFrame = frameOffsets(readFileSync(path)).at(-1)!
    truncateSync(path, lastFrame + FRAME_HEADER_BYTES + 4)
    const read = await readBack(directory, "log")
    expect(Exit.isSuccess(read) && decodeText(read.value!)).toBe("first\n")
    await appendAndClose(directory, "log", ["third\n"])
    const after = await readBack(directory, "log")
    expect(Exit.isSuccess(after) && decodeText(after.value!)).toBe("first\nthird\n")
    expect(readFileSync(path).length).toBe(lastFrame + FRAME_HEADER_BYTES + "third\n".length)
  })

  it("property: a file cut anywhere in its last frame, or whose last frame lost its bytes from any point on (zeros, as preallocated), reads as every frame before it", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.boolean(),
        fc.nat({ max: 64 }),
        (payloads, cutSeed, zeroInstead, padding) => {
          const { bytes, offsets } = framedFile(payloads)
          const last = offsets.at(-1)!
          // Somewhere inside the last frame, header included (its end excluded: that is the whole frame).
          const cut = last + (cutSeed % (bytes.length - last))
          const damaged = Buffer.from(bytes)
          if (zeroInstead) damaged.fill(0, cut)
          const file = Buffer.concat([zeroInstead ? damaged : damaged.subarray(0, cut), Buffer.alloc(padding)])
          const read = readFramedFile(file)
          const before = payloads.slice(0, -1)
          // A frame whose lost bytes were zeros anyway is still whole.
          const whole = zeroInstead && damaged.equals(bytes)
          expect(read._tag).toBe("Read")
          if (read._tag !== "Read") return
          expect(Buffer.from(read.content).toString("latin1")).toBe(concatText(whole ? payloads : before))
          expect(read.end).toBe(whole ? bytes.length : last)
        }
      ),
      { numRuns: 300 }
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
    const exit = await readBack(directory, "log")
    expect(exit).toEqual(
      Exit.fail(
        new StorageError({
          file: "log",
          reason: `log: the synced change at byte ${firstFrame} is damaged (its checksum does not match) and more data follows it (the file is damaged; restore it, or remove this node's data so it rejoins from its peers)`
        })
      )
    )
    expect(readFileSync(path).equals(damaged)).toBe(true)
  })

  it("property: no single flipped byte reads back as different content; before the last frame it is always refused", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 30 }), { minLength: 2, maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (payloads, positionSeed, flip) => {
          const { bytes, offsets } = framedFile(payloads)
          const position = FRAMED_MARKER.length + (positionSeed % (bytes.length - FRAMED_MARKER.length))
          const damaged = Buffer.from(bytes)
          damaged[position] = damaged[position]! ^ flip
          const read = readFramedFile(damaged)
          if (position < offsets.at(-1)!) {
            expect(read._tag).toBe("Damaged")
          } else if (read._tag === "Read") {
            // In the last frame a flip looks like a write cut short (that frame is not content), or,
            // in its length, like damage: either way nothing reads back that was not written.
            expect(Buffer.from(read.content).toString("latin1")).toBe(concatText(payloads.slice(0, -1)))
          }
        }
      ),
      { numRuns: 500 }
    )
  })
})
