// Swarm knobs (FoundationDB's randomized knobs): each seed draws the options a protocol declares drawable, within their declared values.
import type { Knob, KnobValues } from "../definition/protocol.ts"
import type { RandomStream } from "./random-streams.ts"

/**
 * Draws one value for every knob, in the order declared; the same stream gives the same values.
 * A harsh draw takes each knob that declares a `stress` from that part of its values alone.
 */
export const drawKnobs = (knobs: ReadonlyArray<Knob>, stream: RandomStream, options: { readonly harsh: boolean } = { harsh: false }): KnobValues => {
  const values: Record<string, number | boolean | string> = {}
  for (const knob of knobs) values[knob.name] = options.harsh ? drawStressed(knob, stream) : drawKnob(knob, stream)
  return values
}

const drawKnob = (knob: Knob, stream: RandomStream): number | boolean | string => {
  switch (knob._tag) {
    case "Flag":
      return stream.next() < 0.5
    case "Integer":
      return knob.min + stream.nextInt(knob.max - knob.min + 1)
    case "OneOf":
      return stream.pick(knob.values)
    default: {
      const unreachable: never = knob
      throw new Error(`unknown knob ${JSON.stringify(unreachable)}`)
    }
  }
}

/** One value from the knob's `stress` values, or from all its values when it declares none. */
const drawStressed = (knob: Knob, stream: RandomStream): number | boolean | string => {
  switch (knob._tag) {
    case "Flag":
      return knob.stress ?? drawKnob(knob, stream)
    case "Integer":
      return drawKnob(knob.stress === undefined ? knob : { ...knob, min: knob.stress[0], max: knob.stress[1] }, stream)
    case "OneOf":
      return drawKnob(knob.stress === undefined ? knob : { ...knob, values: knob.stress }, stream)
    default: {
      const unreachable: never = knob
      throw new Error(`unknown knob ${JSON.stringify(unreachable)}`)
    }
  }
}

/** Whether `value` is one `knob` may take: what a test asserts of every draw. */
export const knobAllows = (knob: Knob, value: unknown): boolean => {
  switch (knob._tag) {
    case "Flag":
      return typeof value === "boolean"
    case "Integer":
      return Number.isInteger(value) && (value as number) >= knob.min && (value as number) <= knob.max
    case "OneOf":
      return (typeof value === "number" || typeof value === "string") && knob.values.includes(value)
    default: {
      const unreachable: never = knob
      throw new Error(`unknown knob ${JSON.stringify(unreachable)}`)
    }
  }
}

/** Knob values as text, such as "preVote false, heartbeatTicks 3". */
export const describeKnobs = (values: KnobValues): string =>
  Object.entries(values)
    .map(([name, value]) => `${name} ${String(value)}`)
    .join(", ")
