/**
 * A throwaway PostgreSQL cluster with `wal_level=logical` for the orders
 * page's change feed (the system PostgreSQL runs with `wal_level=replica`):
 * `initdb` in a temp dir as the `postgres` user (initdb refuses root), a free
 * port, SQL through `psql`. The recipe of `sdk/test-support/logical-pg.ts`.
 * Never a mock: without PostgreSQL the orders test fails (under `CI=true`
 * too), it is never skipped.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../scripts/stack.mjs";

export interface LogicalPg {
  port: number;
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  url: string;
  /** Runs SQL (several statements allowed) as a separate client, and returns psql's unaligned output. */
  sql(statements: string): string;
  stop(): Promise<void>;
}

function binDir(): string {
  const fromEnv = process.env.HERALD_TEST_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = "/usr/lib/postgresql";
  const found = existsSync(root)
    ? readdirSync(root)
        .map((v) => join(root, v, "bin"))
        .filter((d) => existsSync(join(d, "initdb")))
        .sort()
    : [];
  const dir = found.pop();
  if (!dir) throw new Error("initdb not found under /usr/lib/postgresql/*/bin (set HERALD_TEST_PG_BIN): the orders test needs PostgreSQL");
  return dir;
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** [program, args] run as the cluster's owner. */
function asOwner(program: string, args: string[]): [string, string[]] {
  return isRoot() ? ["runuser", ["-u", "postgres", "--", program, ...args]] : [program, args];
}

export async function startLogicalPg(): Promise<LogicalPg> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "herald-nextjs-pg-"));
  if (isRoot()) execFileSync("chown", ["postgres:postgres", dir]);
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  const [initdb, initArgs] = asOwner(join(bin, "initdb"), ["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "-D", data]);
  execFileSync(initdb, initArgs, { cwd: dir, stdio: "pipe" });
  const port = await freePort();
  const [sh, shArgs] = asOwner("sh", [
    "-c",
    `'${join(bin, "postgres")}' -D '${data}' -p ${port} -k '${dir}' -c listen_addresses=127.0.0.1 ` +
      `-c wal_level=logical -c max_replication_slots=8 -c max_wal_senders=8 -c fsync=off >'${dir}/log' 2>&1 & P=$!; ` +
      // Stopped when our end of the pipe closes: by stop(), or when this process exits.
      `read _; kill -INT $P; wait $P; rm -rf '${dir}'`,
  ]);
  const server: ChildProcess = spawn(sh, shArgs, { cwd: dir, stdio: ["pipe", "ignore", "ignore"] });
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const psql = (statements: string) =>
    execFileSync("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", statements], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      psql("SELECT 1");
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not start on port ${port}: ${String(e)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    sql: psql,
    async stop() {
      server.stdin?.end("\n");
      await exited;
    },
  };
}
