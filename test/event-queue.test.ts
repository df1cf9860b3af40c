// The event queue runs events in (time, insertion) order, whatever order they were added in.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { EventQueue } from "../src/sim/event-queue.ts"

describe("EventQueue", () => {
  it("pops events sorted by time, ties in insertion order", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (times) => {
        // Set up: push every time with its insertion index as data.
        const queue = new EventQueue()
        times.forEach((time, index) => queue.push(time, 0, index))
        // Act: pop everything.
        const popped: Array<[number, number]> = []
        for (let event = queue.pop(); event !== undefined; event = queue.pop()) popped.push([event.time, event.data])
        // Check: the order is exactly a stable sort of the input by time.
        const expected = times.map((time, index): [number, number] => [time, index]).sort((a, b) => a[0] - b[0])
        expect(popped).toEqual(expected)
      })
    )
  })

  it("interleaves pushes and pops correctly", () => {
    const queue = new EventQueue()
    queue.push(10, 0, "a")
    queue.push(5, 0, "b")
    expect(queue.pop()?.data).toBe("b")
    queue.push(7, 0, "c")
    queue.push(10, 0, "d")
    expect([queue.pop()?.data, queue.pop()?.data, queue.pop()?.data, queue.pop()]).toEqual(["c", "a", "d", undefined])
  })
})
