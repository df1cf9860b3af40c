// The wire codec shared by the simulator and the real runtime, so nothing that cannot cross a wire reaches a protocol.

/**
 * Encodes a message as JSON text. The simulator passes exactly this text to the receiver, so a
 * protocol that puts a Map, a function or `undefined` in a message breaks in simulation the same
 * way it would on a socket.
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

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/** Encodes text as UTF-8 bytes for storage. */
export const encodeText = (text: string): Uint8Array => textEncoder.encode(text)

/** Decodes UTF-8 bytes from storage. */
export const decodeText = (bytes: Uint8Array): string => textDecoder.decode(bytes)
