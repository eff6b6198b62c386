import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe("published types", () => {
  it("a strict consumer compiles against the built .d.ts with no any leaking", () => {
    const tsc = join(sdk, "node_modules", "typescript", "bin", "tsc");
    let out = "";
    try {
      out = execFileSync(process.execPath, [tsc, "-p", join(sdk, "types-test", "tsconfig.json")], { encoding: "utf8" });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      throw new Error(`tsc failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    }
    expect(out).toBe("");
  }, 60_000);
});
