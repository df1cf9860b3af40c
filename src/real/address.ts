// Addresses of real nodes, and the `id=host:port` peer lists a command line gives.
import type { NodeId } from "../env/index.ts"
import { isValidNodeId } from "./handshake.ts"

/** A TCP address. Loopback (`127.0.0.1`) unless a deployment says otherwise. */
export interface Address {
  readonly host: string
  readonly port: number
}

/** The default host nodes listen on and dial: loopback, so a test cluster is unreachable from outside. */
export const LOOPBACK_HOST = "127.0.0.1"

/** `host:port`, with brackets around an IPv6 host. */
export const formatAddress = (address: Address): string =>
  address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`

/** Parses `host:port` or `[v6-host]:port`; a string saying what is wrong otherwise. */
export const parseAddress = (text: string): Address | string => {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  if (match === null) return `${JSON.stringify(text)} is not host:port`
  const port = Number(match[3])
  if (port > 65535) return `${JSON.stringify(text)}: port ${port} is above 65535`
  return { host: match[1] ?? match[2]!, port }
}

/**
 * Parses peers written as `id=host:port` (one per entry, as a `--peer` flag or a config list
 * gives them) into the map `makeRealNetwork` takes; a one-line message naming the bad entry otherwise.
 */
export const parsePeers = (entries: ReadonlyArray<string>): Record<NodeId, Address> | string => {
  const peers: Record<NodeId, Address> = {}
  for (const entry of entries) {
    const separator = entry.indexOf("=")
    if (separator < 0) return `peer ${JSON.stringify(entry)} is not id=host:port`
    const id = entry.slice(0, separator).trim()
    if (!isValidNodeId(id)) return `peer ${JSON.stringify(entry)}: ${JSON.stringify(id)} is not a valid node id`
    if (Object.hasOwn(peers, id)) return `peer ${id} is listed twice`
    const address = parseAddress(entry.slice(separator + 1))
    if (typeof address === "string") return `peer ${id}: ${address}`
    peers[id] = address
  }
  return peers
}
