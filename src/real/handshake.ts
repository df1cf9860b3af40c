// The handshake of a real connection: both ends prove, with an HMAC over fresh nonces, that they hold the cluster secret.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import type { NodeId } from "../env/index.ts"

/**
 * Why an HMAC challenge–response and not TLS: a cluster of Faultline nodes runs on loopback by
 * default, for tests and demos, where TLS's confidentiality buys nothing, and TLS would need a
 * certificate authority, certificates per node and their renewal. A shared secret file is needed
 * anyway (it is what a node must be given to join), and HMAC-SHA256 over both ends' fresh nonces
 * lets each side prove it holds that secret without sending it, and without a recorded handshake
 * being replayable. What it does not give: encryption, or protection of the frames that follow
 * from an attacker who can already inject into the host's TCP streams (see frame.ts).
 *
 * The exchange, on a connection opened by the dialer D to the listener L:
 *
 * 1. D → L  Hello      { node: D, nonce: nD }
 * 2. L → D  Challenge  { node: L, nonce: nL, proof: HMAC(secret, "listener" | D | L | nD | nL) }
 * 3. D → L  Proof      { proof: HMAC(secret, "dialer" | D | L | nD | nL) }
 *
 * D checks L's proof (and that L is the node it meant to dial) before it sends its own; L checks
 * D's before it accepts any message. The role label keeps one side's proof from being reflected
 * back as the other's. Proofs are compared with `timingSafeEqual`.
 */
export const HANDSHAKE_LABEL = "faultline-handshake-v1"

/** The shortest secret accepted, in bytes: anything shorter is too easy to guess. */
export const SECRET_BYTES_MIN = 16

/** Bytes of each nonce. */
const NONCE_BYTES = 32

/** A node id as it may appear on the wire: short, printable, and safe to put in a log line. */
const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/

/** Whether `id` is a node id this runtime accepts, on the wire or in a configuration. */
export const isValidNodeId = (id: string): boolean => NODE_ID_PATTERN.test(id)

/** Step 1, dialer to listener. */
export interface Hello {
  readonly node: NodeId
  readonly nonce: string
}

/** Step 2, listener to dialer. */
export interface Challenge {
  readonly node: NodeId
  readonly nonce: string
  readonly proof: string
}

/** Step 3, dialer to listener. */
export interface Proof {
  readonly proof: string
}

/** Who proves what to whom in one handshake. */
export interface HandshakeParties {
  readonly dialer: NodeId
  readonly listener: NodeId
  readonly dialerNonce: string
  readonly listenerNonce: string
}

/** A fresh nonce, hex. */
export const makeNonce = (): string => randomBytes(NONCE_BYTES).toString("hex")

/** The proof that the `role` side of a handshake holds `secret`. */
export const computeProof = (secret: Uint8Array, role: "dialer" | "listener", parties: HandshakeParties): string =>
  createHmac("sha256", secret)
    .update([HANDSHAKE_LABEL, role, parties.dialer, parties.listener, parties.dialerNonce, parties.listenerNonce].join("\n"))
    .digest("hex")

/** Whether `proof` is the `role` side's proof; constant-time in the proof's content. */
export const verifyProof = (
  secret: Uint8Array,
  role: "dialer" | "listener",
  parties: HandshakeParties,
  proof: string
): boolean => {
  const expected = Buffer.from(computeProof(secret, role, parties), "hex")
  const actual = Buffer.from(proof, "hex")
  // A proof of the wrong length (or not hex) cannot match; timingSafeEqual needs equal lengths.
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

const isNonce = (value: unknown): value is string => typeof value === "string" && /^[0-9a-f]{64}$/.test(value)

const isNode = (value: unknown): value is string => typeof value === "string" && isValidNodeId(value)

const isProof = (value: unknown): value is string => typeof value === "string" && /^[0-9a-f]{64}$/.test(value)

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined

/** A Hello frame's decoded payload, or why it is not one. */
export const parseHello = (value: unknown): Hello | string => {
  const fields = record(value)
  if (fields === undefined) return "hello is not an object"
  if (!isNode(fields["node"])) return "hello names no valid node id"
  if (!isNonce(fields["nonce"])) return "hello carries no valid nonce"
  return { node: fields["node"], nonce: fields["nonce"] }
}

/** A Challenge frame's decoded payload, or why it is not one. */
export const parseChallenge = (value: unknown): Challenge | string => {
  const fields = record(value)
  if (fields === undefined) return "challenge is not an object"
  if (!isNode(fields["node"])) return "challenge names no valid node id"
  if (!isNonce(fields["nonce"])) return "challenge carries no valid nonce"
  if (!isProof(fields["proof"])) return "challenge carries no valid proof"
  return { node: fields["node"], nonce: fields["nonce"], proof: fields["proof"] }
}

/** A Proof frame's decoded payload, or why it is not one. */
export const parseProof = (value: unknown): Proof | string => {
  const fields = record(value)
  if (fields === undefined) return "proof is not an object"
  if (!isProof(fields["proof"])) return "proof carries no valid proof"
  return { proof: fields["proof"] }
}
