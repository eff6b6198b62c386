import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["./test-support/global-setup.ts"],
    include: ["client/test/**/*.test.ts", "react/test/**/*.test.tsx", "next/test/**/*.test.ts", "yjs/test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
