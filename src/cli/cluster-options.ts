// A real cluster's protocol options: the definition's clusterOptions, overridden by `--option NAME=VALUE`
// flags of `cluster up` (kept in the cluster's description) or `faultline node`.
import { ScenarioError } from "../definition/input.ts"
import type { ProtocolBuild, ProtocolDefinition } from "../definition/protocol.ts"
import { buildProblem } from "../definition/protocol-shape.ts"
import { parseValue } from "../definition/real-client.ts"
import type { JsonValue } from "../env/json.ts"
import { UsageError } from "./errors.ts"

/** `--option n=3 --option sloppyQuorum=false` (or `--workload` fields) as an object; a value that is not JSON is a string. */
export const parseOptionFlags = (values: ReadonlyArray<string> | undefined, flag = "--option"): Record<string, JsonValue> => {
  const options: Record<string, JsonValue> = {}
  for (const text of values ?? []) {
    const equals = text.indexOf("=")
    if (equals <= 0) throw new UsageError(`${flag}: expected NAME=VALUE (such as n=3), got "${text}"`)
    options[text.slice(0, equals)] = parseValue(text.slice(equals + 1))
  }
  return options
}

/**
 * Builds the protocol for a real cluster of `nodes` servers with the definition's cluster options
 * and `options` over them; an option the protocol refuses is a one-line UsageError naming it.
 */
export const buildForCluster = (options: {
  readonly definition: ProtocolDefinition
  readonly nodes: number
  readonly options: Readonly<Record<string, unknown>> | undefined
  /** The workload, for commands that run the protocol's clients (none: a cluster's servers only). */
  readonly workload?: Readonly<Record<string, unknown>>
  readonly file: string
}): ProtocolBuild => {
  const { definition } = options
  let built: ProtocolBuild
  try {
    built = definition.build({
      file: options.file,
      protocol: definition.name,
      nodes: options.nodes,
      options: { ...definition.clusterOptions, ...options.options },
      workload: options.workload ?? {}
    })
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message.replace(/^(.*?): options\./, "$1: --option ").replace(/^(.*?): workload\./, "$1: --workload "))
    throw error
  }
  const problem = buildProblem(built)
  if (problem !== undefined) throw new UsageError(`${options.file}: protocol ${definition.name}: ${problem}`)
  return built
}

/** The flags that pass `options` on to `faultline node`. */
export const optionFlags = (options: Readonly<Record<string, unknown>> | undefined): Array<string> =>
  Object.entries(options ?? {}).flatMap(([name, value]) => ["--option", `${name}=${JSON.stringify(value)}`])
