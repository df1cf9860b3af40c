// `faultline check`: checks a history file (Jepsen format) for linearizability against a model.
import { parseHistory, type Operation } from "../check/history.ts"
import { checkLinearizability } from "../check/linearizability.ts"
import { readInputFile } from "../sim/input-file.ts"
import { parseDurationFlag, UsageError } from "./errors.ts"

/** Flags of `faultline check`. */
export interface CheckFlags {
  readonly model: string
  readonly timeLimit?: string
  readonly json?: boolean
}

const describeOperation = (operation: Operation): string => {
  const span = `[${(operation.callTimeNs / 1e6).toFixed(3)} ms, ${
    Number.isFinite(operation.returnTimeNs) ? `${(operation.returnTimeNs / 1e6).toFixed(3)} ms` : "never returned"
  }]`
  const body = (() => {
    switch (operation._tag) {
      case "Read":
        return `read ${operation.key} -> ${JSON.stringify(operation.value)}`
      case "Write":
        return `write ${operation.key} := ${JSON.stringify(operation.value)}`
      case "Cas":
        return `cas ${operation.key} ${JSON.stringify(operation.expected)} -> ${JSON.stringify(operation.newValue)}`
      case "Append":
        return `append ${operation.key} += ${JSON.stringify(operation.value)}`
      case "Delete":
        return `delete ${operation.key}`
      default: {
        const unreachable: never = operation
        throw new Error(`unknown operation ${JSON.stringify(unreachable)}`)
      }
    }
  })()
  return `process ${operation.process}: ${body} (${operation.outcome}) ${span}, line ${operation.invokeIndex + 1}`
}

/** Exit codes: 0 linearizable, 1 not, 2 bad input, 3 unknown (time limit). */
export const checkCommand = (file: string, flags: CheckFlags): number => {
  if (flags.model !== "kv") throw new UsageError(`--model: unknown model "${flags.model}" (known: kv)`)
  const timeLimitMs = flags.timeLimit === undefined ? 60_000 : parseDurationFlag("--time-limit", flags.timeLimit, { minimumMs: 1 })
  const read = readInputFile(file, "history file")
  if ("problem" in read) throw new UsageError(read.problem)
  const parsed = parseHistory(read.text, file)
  if (parsed._tag === "ParseError") throw new UsageError(parsed.message)
  const started = performance.now()
  const result = checkLinearizability(parsed.operations, { timeBudgetMs: timeLimitMs })
  const elapsedMs = performance.now() - started
  const keys = new Set(parsed.operations.map((operation) => operation.key)).size
  const header = `${file}: ${parsed.operations.length} operations on ${keys} ${keys === 1 ? "key" : "keys"}, checked in ${elapsedMs.toFixed(0)} ms`
  switch (result._tag) {
    case "Linearizable":
      process.stdout.write(flags.json === true ? JSON.stringify({ result: "linearizable", operations: parsed.operations.length }) + "\n" : `${header}\n✓ linearizable\n`)
      return 0
    case "NotLinearizable":
      if (flags.json === true) {
        process.stdout.write(JSON.stringify({ result: "not-linearizable", key: result.key, operations: result.operations, explanation: result.explanation }) + "\n")
      } else {
        process.stdout.write(
          [
            header,
            `✗ not linearizable: key ${result.key}; these ${result.operations.length} operations have no valid order:`,
            ...result.operations.map((operation) => `  ${describeOperation(operation)}`),
            result.explanation
          ].join("\n") + "\n"
        )
      }
      return 1
    case "Unknown":
      process.stdout.write(flags.json === true ? JSON.stringify({ result: "unknown", reason: result.reason }) + "\n" : `${header}\n? unknown: ${result.reason}\n`)
      return 3
    default: {
      const unreachable: never = result
      throw new Error(`unknown result ${JSON.stringify(unreachable)}`)
    }
  }
}
