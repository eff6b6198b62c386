import { defineConfig } from "vitest/config";

// One file, one stack, scenarios in order (two users sharing a browser session each).
export default defineConfig({
  test: {
    include: ["e2e/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    fileParallelism: false,
    reporters: ["verbose"],
  },
});
