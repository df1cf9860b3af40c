// Medians of measurements, and the interval a median of pairs is known to within: what the benches report on a shared machine.

/** The middle value (the upper of the two middle ones for an even count); NaN for none. */
export const median = (values: ReadonlyArray<number>): number => [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)] ?? Number.NaN

/**
 * The ranks (from 0, in sorted order) that bound a 95% interval of the median of `count` values,
 * from order statistics alone (the binomial's normal approximation): it assumes nothing about how
 * the machine's noise is spread.
 */
export const medianInterval = (count: number): readonly [low: number, high: number] => {
  const half = Math.ceil((1.96 * Math.sqrt(count)) / 2)
  const middle = Math.floor(count / 2)
  return [Math.max(0, middle - half), Math.min(count - 1, middle + half)]
}
