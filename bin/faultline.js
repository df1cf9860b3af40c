#!/usr/bin/env node
// Launches the TypeScript CLI through tsx so that `npx faultline` works from a clone without a build step.
import { register } from "tsx/esm/api"

register()
await import("../src/cli/main.ts")
