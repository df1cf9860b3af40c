// `faultline cluster up | status | down`: a local cluster of real node processes, described in its data directory.
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { unknownProtocol } from "../definition/input.ts"
import { formatAddress, generateSecret, LOOPBACK_HOST } from "../real/index.ts"
import { type ClusterDescription, type ClusterNode, formatPeers, readCluster, serverAddresses, writeCluster } from "./cluster-file.ts"
import { buildForCluster, optionFlags, parseOptionFlags } from "./cluster-options.ts"
import { parseInteger, UsageError } from "./errors.ts"
import { loadProtocols } from "./protocols.ts"

/** Flags of `faultline cluster up`. */
export interface ClusterUpFlags {
  readonly protocol?: string
  readonly nodes?: string
  readonly basePort?: string
  readonly data?: string
  readonly detach?: boolean
  readonly protocols?: string
  readonly option?: ReadonlyArray<string>
}

/**
 * Whether a process is alive (signal 0 tests without sending anything). A killed node whose
 * zombie nobody has reaped yet (its parent, `cluster up --detach`, is gone) still answers signal 0,
 * so on Linux its state in /proc decides.
 */
export const isAlive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  try {
    // The state is the field after the command's closing parenthesis: "Z" is a zombie, "X" dead.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3))
  } catch {
    return true
  }
}

/** The command line that runs this very CLI again (compiled, or from source through tsx). */
const selfCommand = (): Array<string> => [...process.execArgv, process.argv[1]!]

const sleep = (ms: number) => new Promise((resolvePromise) => setTimeout(resolvePromise, ms))

/** Waits until every node's HTTP endpoint answers /status, or a node's process exits, or time runs out. */
const waitReady = async (nodes: ReadonlyArray<ClusterNode>, timeoutMs: number): Promise<string | undefined> => {
  const deadline = Date.now() + timeoutMs
  const pending = new Set(nodes.map((node) => node.id))
  while (pending.size > 0) {
    for (const node of nodes) {
      if (!pending.has(node.id)) continue
      if (!isAlive(node.pid)) return `${node.id} exited while starting (see ${node.dataDirectory}.log)`
      try {
        const response = await fetch(`http://${node.http}/status`, { signal: AbortSignal.timeout(1500) })
        if (response.ok) pending.delete(node.id)
      } catch {
        // Not listening yet.
      }
    }
    if (pending.size === 0) break
    if (Date.now() > deadline) return `${[...pending].join(", ")} did not answer within ${timeoutMs / 1000} s`
    await sleep(100)
  }
  return undefined
}

/** Starts a local cluster: a secret, a data directory per node, one process per node. */
export const clusterUpCommand = async (flags: ClusterUpFlags): Promise<number> => {
  const protocolName = flags.protocol ?? "raft"
  const protocols = await loadProtocols(flags.protocols)
  const definition = protocols.get(protocolName)
  if (definition === undefined) throw new UsageError(`--protocol: ${unknownProtocol(protocolName, protocols.keys())}`)
  const count = flags.nodes === undefined ? 3 : parseInteger("--nodes", flags.nodes, { minimum: 1 })
  if (count > 25) throw new UsageError(`--nodes: at most 25 processes in a local cluster, got ${count}`)
  const options = parseOptionFlags(flags.option)
  // Options the protocol refuses (such as r above n) are refused here, before any process starts.
  buildForCluster({ definition, nodes: count, options, file: "cluster up" })
  const basePort = flags.basePort === undefined ? 7000 : parseInteger("--base-port", flags.basePort, { minimum: 1 })
  if (basePort + 100 + count > 65535) throw new UsageError(`--base-port: ${basePort} leaves no room for ${count} nodes and their HTTP ports (base + 100 + i)`)
  const dataRoot = resolve(flags.data ?? "data")
  // An existing cluster comes back as it was described: its stopped nodes restart, the rest keep running.
  if (existsSync(join(dataRoot, "cluster.json"))) {
    const kept = readCluster(dataRoot).options ?? {}
    if (flags.option !== undefined && JSON.stringify(options) !== JSON.stringify(kept)) {
      throw new UsageError(`--option: the cluster in ${dataRoot} keeps the options it was made with (${JSON.stringify(kept)})`)
    }
    return restartStopped(dataRoot, flags.detach === true)
  }
  mkdirSync(dataRoot, { recursive: true })
  const secretFile = join(dataRoot, "cluster.secret")
  if (!existsSync(secretFile)) writeFileSync(secretFile, generateSecret() + "\n", { mode: 0o600 })
  const nodes: Array<ClusterNode> = Array.from({ length: count }, (_, index) => ({
    id: `n${index + 1}`,
    address: formatAddress({ host: LOOPBACK_HOST, port: basePort + index + 1 }),
    http: formatAddress({ host: LOOPBACK_HOST, port: basePort + 100 + index + 1 }),
    dataDirectory: join(dataRoot, `n${index + 1}`),
    pid: undefined
  }))
  const description: ClusterDescription = {
    protocol: protocolName,
    protocolsModule: flags.protocols === undefined ? undefined : resolve(flags.protocols),
    secretFile,
    clockOriginUnixMs: Date.now(),
    options: Object.keys(options).length === 0 ? undefined : options,
    nodes
  }
  return startAndServe(dataRoot, description, nodes, flags.detach === true)
}

/** Restarts the nodes of an existing cluster whose processes are not running. */
const restartStopped = async (dataRoot: string, detach: boolean): Promise<number> => {
  const description = readCluster(dataRoot)
  const stopped = description.nodes.filter((node) => !isAlive(node.pid))
  if (stopped.length === 0) throw new UsageError(`--data: the cluster in ${dataRoot} is already running (faultline cluster status shows it)`)
  return startAndServe(dataRoot, description, stopped, detach)
}

/**
 * Starts `toStart` (some or all of the cluster's nodes), records their processes, waits until each
 * answers; then, in the foreground, serves until Ctrl-C and stops what it started.
 */
const startAndServe = async (dataRoot: string, description: ClusterDescription, toStart: ReadonlyArray<ClusterNode>, detach: boolean): Promise<number> => {
  const peers = formatPeers(serverAddresses(description))
  const children: Array<ChildProcess> = []
  const started = toStart.map((node) => {
    mkdirSync(node.dataDirectory, { recursive: true })
    const child = startNode(description, node, peers, detach)
    children.push(child)
    return { ...node, pid: child.pid }
  })
  const withPids = (pids: ReadonlyArray<ClusterNode>) => description.nodes.map((node) => pids.find((other) => other.id === node.id) ?? node)
  writeCluster(dataRoot, { ...description, nodes: withPids(started) })
  const problem = await waitReady(started, 15_000)
  if (problem !== undefined) {
    for (const child of children) child.kill("SIGTERM")
    writeCluster(dataRoot, { ...description, nodes: withPids(toStart.map((node) => ({ ...node, pid: undefined }))) })
    throw new UsageError(`cluster up: ${problem}`)
  }
  const all = withPids(started)
  const what = toStart.length === description.nodes.length ? "is up" : `is up again (restarted ${toStart.map((node) => node.id).join(", ")})`
  process.stdout.write(formatNodes(all, `${description.protocol} cluster of ${all.length} nodes ${what}; data in ${dataRoot}`) + "\n")
  if (detach) {
    process.stdout.write(`stop it with: npx faultline cluster down --data ${dataRoot}\n`)
    return 0
  }
  process.stdout.write("Ctrl-C stops it\n")
  await new Promise<void>((resolvePromise) => {
    const stop = () => resolvePromise()
    process.once("SIGINT", stop)
    process.once("SIGTERM", stop)
  })
  await stopNodes(started)
  writeCluster(dataRoot, { ...description, nodes: withPids(toStart.map((node) => ({ ...node, pid: undefined }))) })
  return 0
}

/** Starts one node's process; its output goes to `<node dir>.log` when detached, to this terminal otherwise. */
const startNode = (description: ClusterDescription, node: ClusterNode, peers: string, detach: boolean): ChildProcess => {
  const args = [
    ...selfCommand(),
    "node",
    "--protocol",
    description.protocol,
    "--id",
    node.id,
    "--listen",
    node.address,
    "--peers",
    peers,
    "--data",
    node.dataDirectory,
    "--secret-file",
    description.secretFile,
    "--http",
    node.http!,
    "--clock-origin",
    String(description.clockOriginUnixMs),
    ...(description.protocolsModule === undefined ? [] : ["--protocols", description.protocolsModule]),
    ...optionFlags(description.options)
  ]
  const log = openSync(`${node.dataDirectory}.log`, "a")
  try {
    const child = spawn(process.execPath, args, { detached: detach, stdio: ["ignore", log, log] })
    if (detach) child.unref()
    return child
  } finally {
    closeSync(log)
  }
}

/** SIGTERM to each node, then SIGKILL to any still running after `graceMs`. */
const stopNodes = async (nodes: ReadonlyArray<ClusterNode>, graceMs = 10_000): Promise<Array<string>> => {
  const stopped: Array<string> = []
  for (const node of nodes) {
    if (!isAlive(node.pid)) continue
    process.kill(node.pid!, "SIGTERM")
    stopped.push(node.id)
  }
  const deadline = Date.now() + graceMs
  while (nodes.some((node) => isAlive(node.pid)) && Date.now() < deadline) await sleep(50)
  for (const node of nodes) if (isAlive(node.pid)) process.kill(node.pid!, "SIGKILL")
  return stopped
}

/** A table of nodes, with the leader marked. */
const formatNodes = (nodes: ReadonlyArray<ClusterNode & { readonly state?: string; readonly role?: string }>, title: string): string => {
  const rows = nodes.map((node) =>
    `  ${node.id.padEnd(5)} ${node.address.padEnd(22)} http ${(node.http ?? "-").padEnd(22)} pid ${String(node.pid ?? "-").padEnd(8)}` +
      `${node.state === undefined ? "" : ` ${node.state.padEnd(8)}`}${node.role === undefined ? "" : ` ${node.role}`}`
  )
  return [title, ...rows].join("\n")
}

/** `faultline cluster status`: each node's address, process and role; the leader marked `leader`. */
export const clusterStatusCommand = async (flags: { readonly data?: string; readonly json?: boolean }): Promise<number> => {
  const description = readCluster(flags.data ?? "data")
  const nodes = await Promise.all(
    description.nodes.map(async (node) => {
      const alive = isAlive(node.pid)
      let role = "-"
      if (alive && node.http !== undefined) {
        try {
          const response = await fetch(`http://${node.http}/status`, { signal: AbortSignal.timeout(3000) })
          role = ((await response.json()) as { role?: string }).role ?? "unknown"
        } catch {
          role = "unreachable"
        }
      }
      return { ...node, state: alive ? "running" : "stopped", role }
    })
  )
  if (flags.json === true) process.stdout.write(JSON.stringify({ protocol: description.protocol, nodes }, null, 2) + "\n")
  else process.stdout.write(formatNodes(nodes, `${description.protocol} cluster in ${resolve(flags.data ?? "data")}`) + "\n")
  return 0
}

/** `faultline cluster down`: stops every node of a cluster started in the background. */
export const clusterDownCommand = async (flags: { readonly data?: string }): Promise<number> => {
  const dataRoot = flags.data ?? "data"
  const description = readCluster(dataRoot)
  const stopped = await stopNodes(description.nodes)
  writeCluster(dataRoot, { ...description, nodes: description.nodes.map((node) => ({ ...node, pid: undefined })) })
  process.stdout.write(stopped.length === 0 ? "no node was running\n" : `stopped ${stopped.join(", ")}\n`)
  return 0
}
