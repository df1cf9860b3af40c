#!/usr/bin/env node
// The faultline command: runs the compiled CLI in dist/ (built by `npm run build`, which `prepare` runs on install).
await import("../dist/cli/main.js")
