// One line naming the machine a benchmark ran on, printed first, so that figures from different machines are not compared as if they were one.
import { readFileSync } from "node:fs"
import { availableParallelism, cpus, loadavg } from "node:os"

/** The per-core cache size /proc/cpuinfo reports (Linux only), or undefined. */
const cacheSize = (): string | undefined => {
  try {
    return /^cache size\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim()
  } catch {
    return undefined
  }
}

/**
 * The CPU model (and its cache, where Linux says), core count, Node version and load average.
 * The commit that measured 1,017-1,160x real time on one machine runs at about 300-450x on
 * another whose CPU has a smaller cache, so an absolute figure means little without the machine
 * beside it.
 */
export const machineLine = (): string => {
  const model = cpus()[0]?.model.trim() ?? "unknown CPU"
  const cache = cacheSize()
  const load = loadavg().map((value) => value.toFixed(1)).join(", ")
  return `machine: ${model}${cache === undefined ? "" : ` (cache ${cache})`}, ${availableParallelism()} cores, Node ${process.version}, load average ${load}`
}
