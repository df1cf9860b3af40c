// Logical clocks: Lamport timestamps and vector clocks, pure functions over plain data.
export * as LamportClock from "./lamport-clock.ts"
export * as VectorClock from "./vector-clock.ts"
export type { Ordering, VectorClock as VectorClockValue } from "./vector-clock.ts"
