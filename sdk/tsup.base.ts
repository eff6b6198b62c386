import type { Options } from "tsup";

/** The build every package of the SDK shares: ESM and CJS, `.d.ts`, ES2022, source maps; `external`: its dependencies. */
export function packageBuild(entry: string, external: string[]): Options {
  return { entry: [entry], format: ["esm", "cjs"], dts: true, clean: true, sourcemap: true, target: "es2022", external };
}
