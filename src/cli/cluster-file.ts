// A local cluster's description, kept in its data directory, so that the node, client, status and trace commands find it from --data alone.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Effect } from "effect"
import { type Address, formatAddress, parseAddress, readSecretFile } from "../real/index.ts"
import { UsageError } from "./errors.ts"

/** One node of a local cluster. */
export interface ClusterNode {
  readonly id: string
  /** Where it listens for its peers (and clients of the protocol). */
  readonly address: string
  /** Its HTTP/JSON endpoint, if it has one. */
  readonly http: string | undefined
  readonly dataDirectory: string
  /** The process running it, while one does. */
  readonly pid: number | undefined
}

/** What `faultline cluster up` writes as `<data>/cluster.json`. */
export interface ClusterDescription {
  readonly protocol: string
  /** The module the protocol came from (`--protocols`), as an absolute path. */
  readonly protocolsModule: string | undefined
  /** The shared secret's file, as an absolute path. */
  readonly secretFile: string
  /** Every node's clock counts from this wall-clock instant, so their traces merge on one time line. */
  readonly clockOriginUnixMs: number
  /** The protocol's options from `cluster up --option` (over its cluster options); none in clusters made before they existed. */
  readonly options?: Readonly<Record<string, unknown>> | undefined
  readonly nodes: ReadonlyArray<ClusterNode>
}

/** The description's file in a cluster's data directory. */
export const clusterFile = (dataRoot: string): string => join(resolve(dataRoot), "cluster.json")

/** Reads a cluster's description; a one-line UsageError naming the file when it is missing or damaged. */
export const readCluster = (dataRoot: string): ClusterDescription => {
  const file = clusterFile(dataRoot)
  if (!existsSync(file)) throw new UsageError(`--data: no cluster in ${dataRoot} (${file} does not exist; start one with faultline cluster up)`)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, "utf8"))
  } catch (error) {
    throw new UsageError(`${file}: not a cluster description (${(error as Error).message.split("\n")[0]})`)
  }
  const description = raw as Partial<ClusterDescription>
  if (typeof description.protocol !== "string" || typeof description.secretFile !== "string" || !Array.isArray(description.nodes)) {
    throw new UsageError(`${file}: not a cluster description (it needs protocol, secretFile and nodes)`)
  }
  description.nodes.forEach((node, index) => {
    if (typeof node.id !== "string" || typeof node.address !== "string" || typeof parseAddress(node.address) === "string") {
      throw new UsageError(`${file}: nodes[${index}]: needs an id and an address host:port`)
    }
  })
  return description as ClusterDescription
}

/** Writes a cluster's description atomically (a reader never sees half of it). */
export const writeCluster = (dataRoot: string, description: ClusterDescription): void => {
  const file = clusterFile(dataRoot)
  writeFileSync(`${file}.tmp`, JSON.stringify(description, null, 2) + "\n")
  renameSync(`${file}.tmp`, file)
}

/** The servers' addresses by id, as a client or a node needs them. */
export const serverAddresses = (description: ClusterDescription): Record<string, Address> =>
  Object.fromEntries(description.nodes.map((node) => [node.id, parseAddress(node.address) as Address]))

/** A peer list as `faultline node --peers` takes it. */
export const formatPeers = (peers: Readonly<Record<string, Address>>): string =>
  Object.entries(peers)
    .map(([id, address]) => `${id}=${formatAddress(address)}`)
    .join(",")

/** The cluster secret in `file`; a one-line UsageError naming the flag and what is wrong with the file. */
export const readSecret = async (file: string): Promise<Uint8Array> => {
  const secret = await Effect.runPromise(Effect.result(readSecretFile(file)))
  if (secret._tag === "Failure") throw new UsageError(`--secret-file: ${secret.failure.reason}`)
  return secret.success
}

/** Where `faultline load` keeps the workload it ran (in `<data>/clients/`), so that `trace-check` judges the clients' traces by it. */
export const LOAD_WORKLOAD_FILE = "workload.json"
