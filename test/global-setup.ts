// Once before the suite: the CLI tests run the compiled command (bin/faultline.js), so build it if the sources changed.
import { buildIfNeeded } from "./fixtures/build.ts"

export default function setup(): void {
  buildIfNeeded()
}
