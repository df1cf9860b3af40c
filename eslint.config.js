// Lint rules. The important one: protocols must not touch the world (time, chance, IO) except through src/env.
import js from "@eslint/js"
import tseslint from "typescript-eslint"

const worldAccess = "Protocols reach the world only through src/env services (determinism rule)."
const worldBoundary = "src/sim and src/real are two hosts of one contract: neither imports the other, and src/check, src/definition, src/env and src/trace import neither."

export default tseslint.config(
  { ignores: ["node_modules/**", "coverage/**", "dist/**", ".*/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "no-constant-condition": ["error", { checkLoops: false }]
    }
  },
  {
    // The worlds never import each other, and what belongs to no world imports neither: a protocol's
    // definition, its checkers and the contract between them must run unchanged in both.
    files: ["src/sim/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/real/**", "**/real"], message: worldBoundary }] }]
    }
  },
  {
    files: ["src/real/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/sim/**", "**/sim"], message: worldBoundary }] }]
    }
  },
  {
    files: ["src/check/**/*.ts", "src/definition/**/*.ts", "src/env/**/*.ts", "src/trace/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/sim/**", "**/sim", "**/real/**", "**/real"], message: worldBoundary }] }
      ]
    }
  },
  {
    files: ["src/protocols/**/*.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "Date", message: worldAccess },
        { name: "setTimeout", message: worldAccess },
        { name: "setInterval", message: worldAccess },
        { name: "setImmediate", message: worldAccess },
        { name: "clearTimeout", message: worldAccess },
        { name: "clearInterval", message: worldAccess },
        { name: "queueMicrotask", message: worldAccess },
        { name: "performance", message: worldAccess },
        { name: "process", message: worldAccess },
        { name: "crypto", message: worldAccess },
        { name: "fetch", message: worldAccess },
        { name: "Promise", message: worldAccess },
        { name: "globalThis", message: worldAccess },
        { name: "require", message: worldAccess }
      ],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: worldAccess },
        { object: "Date", property: "now", message: worldAccess }
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "NewExpression[callee.name='Date']", message: worldAccess },
        { selector: "ImportExpression", message: worldAccess }
      ],
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: worldAccess },
            { group: ["fs", "fs/*", "net", "os", "child_process", "timers", "timers/*", "crypto", "http", "https", "dgram", "worker_threads", "perf_hooks"], message: worldAccess },
            { group: ["**/sim/**", "**/real/**", "**/sim", "**/real"], message: "Protocols depend on src/env, never on a world implementation." }
          ]
        }
      ]
    }
  }
)
