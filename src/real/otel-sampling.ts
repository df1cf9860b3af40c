// Whether a span a real node starts is sampled, decided on the node's thread as the SDK on the export worker will decide it, so the flag a message carries matches what is exported.
import type { SpanContextRecord } from "./otel-messages.ts"

/** Decides a new span's sampled flag from its parent (if any) and its trace id. */
export type SampledDecision = (parent: SpanContextRecord | undefined, traceId: string) => boolean

/** A root sampler's decision for a trace id. */
type RootDecision = (traceId: string) => boolean

const always = (): boolean => true
const never = (): boolean => false

/**
 * A number from the environment as the SDK reads one (`getNumberFromEnv`): blank or not a number
 * is unset. Used for every OTEL_* number the node must read the same way as the worker's SDK.
 */
export const numberFromEnv = (value: string | undefined): number | undefined => {
  const trimmed = value?.trim() ?? ""
  const number = trimmed === "" ? Number.NaN : Number(trimmed)
  return Number.isNaN(number) ? undefined : number
}

/** `OTEL_TRACES_SAMPLER_ARG` as the SDK reads it: a number in [0, 1], else 1 (the SDK logs why on its side). */
const probabilityOf = (value: string | undefined): number => {
  const probability = numberFromEnv(value)
  return probability === undefined || probability < 0 || probability > 1 ? 1 : probability
}

/**
 * The sampler `OTEL_TRACES_SAMPLER` names, with the SDK's own choices (`buildSamplerFromEnv` in
 * `@opentelemetry/sdk-trace-base` 2.12): the six standard values, and `parentbased_always_on` for
 * none or any other. A ratio's decision is the SDK's `TraceIdRatioBasedSampler` itself; the
 * parent-based rule (sampled exactly when the parent is) is the specification's and the SDK's.
 */
export const makeSampledDecision = async (env: Readonly<Record<string, string | undefined>>): Promise<SampledDecision> => {
  // As the SDK reads it (getStringFromEnv): a blank value is unset, any other is taken as it is,
  // so " always_on" is, for both, an unknown name and the default.
  const raw = env.OTEL_TRACES_SAMPLER
  const name = raw === undefined || raw.trim() === "" ? "parentbased_always_on" : raw
  const ratio = async (): Promise<RootDecision> => {
    const { SamplingDecision, TraceIdRatioBasedSampler } = await import("@opentelemetry/sdk-trace-base")
    const { ROOT_CONTEXT } = await import("@opentelemetry/api")
    const sampler = new TraceIdRatioBasedSampler(probabilityOf(env.OTEL_TRACES_SAMPLER_ARG))
    return (traceId) => sampler.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED
  }
  const parentBased = (root: RootDecision): SampledDecision => (parent, traceId) => (parent === undefined ? root(traceId) : parent.sampled)
  switch (name) {
    case "always_on":
      return always
    case "always_off":
      return never
    case "traceidratio": {
      const root = await ratio()
      return (_parent, traceId) => root(traceId)
    }
    case "parentbased_always_off":
      return parentBased(never)
    case "parentbased_traceidratio":
      return parentBased(await ratio())
    default:
      return parentBased(always)
  }
}
