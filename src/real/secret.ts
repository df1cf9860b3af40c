// The cluster secret: read from a file every node and client of a cluster is given.
import { randomBytes } from "node:crypto"
import { readFile } from "node:fs/promises"
import { Data, Effect } from "effect"
import { SECRET_BYTES_MIN } from "./handshake.ts"

/** The secret file is missing, unreadable or too short. */
export class SecretError extends Data.TaggedError("SecretError")<{
  readonly file: string
  readonly reason: string
}> {}

/**
 * Reads a cluster secret: the file's bytes, less one trailing newline (so `echo … > secret` and an
 * editor's final newline give the same secret as the bytes alone). At least 16 bytes must remain.
 */
export const readSecretFile = (path: string): Effect.Effect<Uint8Array, SecretError> =>
  Effect.gen(function*() {
    const bytes = yield* Effect.tryPromise({
      try: () => readFile(path),
      catch: (error) => new SecretError({ file: path, reason: `cannot read secret file ${path} (${(error as Error).message})` })
    })
    let length = bytes.length
    if (length > 0 && bytes[length - 1] === 0x0a) length--
    if (length > 0 && bytes[length - 1] === 0x0d) length--
    if (length < SECRET_BYTES_MIN) {
      return yield* Effect.fail(new SecretError({ file: path, reason: `secret file ${path} holds ${length} bytes; at least ${SECRET_BYTES_MIN} are needed` }))
    }
    return new Uint8Array(bytes.subarray(0, length))
  })

/** A new random secret as hex text (64 characters), for writing to a new cluster's secret file. */
export const generateSecret = (): string => randomBytes(32).toString("hex")
