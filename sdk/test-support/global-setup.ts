import type { TestProject } from "vitest/node";
import { findHeraldBin, startHerald } from "./herald.js";

declare module "vitest" {
  export interface ProvidedContext {
    heraldBin: string;
    heraldWsUrl: string;
    heraldHttpUrl: string;
  }
}

/** One shared ephemeral server for tests that don't restart it; tests that do start their own. */
export default async function setup(project: TestProject) {
  const bin = findHeraldBin();
  const server = await startHerald({ bin });
  project.provide("heraldBin", bin);
  project.provide("heraldWsUrl", server.wsUrl);
  project.provide("heraldHttpUrl", server.httpUrl);
  return async () => {
    await server.stop("SIGTERM");
  };
}
