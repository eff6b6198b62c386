// Types for stack.mjs (used from the TypeScript end-to-end tests).
import type { ChildProcess } from "node:child_process";

export const EXAMPLE_DIR: string;
export const REPO_DIR: string;
export const DEFAULT_SECRET: string;
export function sleep(ms: number): Promise<void>;
export function freePort(): Promise<number>;
export function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>>;
export function heraldBinary(options?: { build?: boolean }): string;

declare class Proc {
  readonly name: string;
  child: ChildProcess | null;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export class HeraldProcess extends Proc {
  constructor(options: {
    port: number;
    dataDir: string;
    secret?: string;
    apiKey?: string;
    /** PostgreSQL whose row changes Herald publishes (`HERALD_CHANGES_URL`). */
    changesUrl?: string;
    log?: string;
    bin?: string;
  });
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
}

export class NextProcess extends Proc {
  constructor(options: {
    mode?: "start" | "dev";
    port: number;
    heraldUrl: string;
    secret?: string;
    apiKey?: string;
    /** `DATABASE_URL` of the app (the orders page); unset: the page says how to turn it on. */
    databaseUrl?: string;
    log?: string;
    extraEnv?: Record<string, string>;
  });
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
}
