/**
 * A small HTTP proxy in front of a real herald, standing in for a network
 * whose middlebox refuses WebSocket upgrades but forwards plain HTTP
 * (including streamed SSE responses). `dropAll()` cuts every open
 * connection, like a network blip.
 */
import { createServer, request, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { connect } from "node:net";

export interface TestProxy {
  port: number;
  wsUrl: string;
  httpUrl: string;
  /** Refuse (true) or tunnel (false) WebSocket upgrades. */
  blockUpgrades: boolean;
  /** Cut every new connection at once (the network is down). */
  refuseAll: boolean;
  /** Paths whose requests get no answer at all (a proxy buffering an event stream forever). */
  hangPaths: Set<string>;
  /** Requests seen, by path (without query). */
  seen: string[];
  /** Cuts every open connection. */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, opts: { blockUpgrades: boolean }): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  const state = { blockUpgrades: opts.blockUpgrades, refuseAll: false };
  const seen: string[] = [];
  const hangPaths = new Set<string>();
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0]!;
    seen.push(path);
    if (hangPaths.has(path)) return;
    const up = request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (r: IncomingMessage) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
    res.on("close", () => up.destroy());
  });
  server.on("connection", (s: Socket) => {
    if (state.refuseAll) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    seen.push(`upgrade ${(req.url ?? "").split("?")[0]!}`);
    if (state.blockUpgrades) {
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1", () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(lines.join("\r\n") + "\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => {
      sockets.delete(upstream);
      socket.destroy();
    });
    socket.on("close", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    get blockUpgrades() {
      return state.blockUpgrades;
    },
    set blockUpgrades(v: boolean) {
      state.blockUpgrades = v;
    },
    get refuseAll() {
      return state.refuseAll;
    },
    set refuseAll(v: boolean) {
      state.refuseAll = v;
    },
    seen,
    hangPaths,
    dropAll() {
      for (const s of sockets) s.destroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((res) => server.close(() => res()));
    },
  };
}
