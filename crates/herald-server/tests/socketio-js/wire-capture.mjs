// Records the exact frames a real socket.io 4.8 server and a real
// socket.io-client 4.8 exchange, as fixtures for crates/herald-socketio.
//
// Usage: node wire-capture.mjs <output dir>
//
// A recording proxy sits between the client and the server on loopback:
// HTTP long-polling requests are forwarded as they are, WebSocket frames
// are relayed one by one. Nothing of the libraries is patched, so the files
// hold what is really on the wire. One line per event, `<tag> <json…>`:
//
//   GET <path>                      a polling GET (the random `t` parameter removed)
//   GET-> <status> <body>           its response body (an Engine.IO payload)
//   POST <path> <body>              a polling POST and its body (an Engine.IO payload)
//   POST-> <status> <body>          its response body ("ok")
//   WS <path>                       a WebSocket opened
//   C> <text> / S> <text>           a text frame from the client / the server
//   C>bin <base64> / S>bin <base64> a binary frame
//   WS-drop                         the proxy cut the WebSocket (both sides)
//   # …                             what the test did or observed
//
// Bodies, texts and paths are JSON strings, so `\x1e` and every byte survive.

import http from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Server } from "socket.io";
import { io } from "socket.io-client";
import { WebSocket, WebSocketServer } from "ws";

const outDir = process.argv[2] ?? "fixtures";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

function withoutCacheBuster(url) {
  const u = new URL(url, "http://x");
  u.searchParams.delete("t");
  return u.pathname + (u.search ? u.search : "");
}

class Recorder {
  lines = [];
  note(text) {
    this.lines.push(`# ${text}`);
  }
  add(tag, ...parts) {
    this.lines.push([tag, ...parts.map((p) => (typeof p === "number" ? String(p) : JSON.stringify(p)))].join(" "));
  }
  save(name) {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, name), this.lines.join("\n") + "\n");
    console.log(`${name}: ${this.lines.length} lines`);
  }
}

/** A real socket.io server on a free loopback port. */
async function realServer(opts, setup) {
  const httpServer = http.createServer();
  const ioServer = new Server(httpServer, opts);
  setup(ioServer);
  const port = await listen(httpServer);
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        ioServer.close(() => resolve());
      }),
  };
}

/** The recording proxy in front of `targetPort`. */
async function recordingProxy(targetPort, rec) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = withoutCacheBuster(req.url);
      if (req.method === "POST") rec.add("POST", path, body);
      else rec.add(req.method, path);
      const up = http.request(
        { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          const out = [];
          upRes.on("data", (c) => out.push(c));
          upRes.on("end", () => {
            const resBody = Buffer.concat(out);
            rec.add(`${req.method}->`, upRes.statusCode, resBody.toString("utf8"));
            res.writeHead(upRes.statusCode, upRes.headers);
            res.end(resBody);
          });
        },
      );
      up.on("error", () => res.destroy());
      up.end(body);
    });
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (client) => {
      rec.add("WS", withoutCacheBuster(req.url));
      const upstream = new WebSocket(`ws://127.0.0.1:${targetPort}${req.url}`, { perMessageDeflate: false });
      const pair = { client, upstream };
      sockets.add(pair);
      const pending = [];
      client.on("message", (data, isBinary) => {
        if (isBinary) rec.add("C>bin", Buffer.from(data).toString("base64"));
        else rec.add("C>", data.toString("utf8"));
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
        else pending.push([data, isBinary]);
      });
      upstream.on("open", () => {
        for (const [d, b] of pending) upstream.send(d, { binary: b });
      });
      upstream.on("message", (data, isBinary) => {
        if (isBinary) rec.add("S>bin", Buffer.from(data).toString("base64"));
        else rec.add("S>", data.toString("utf8"));
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      });
      const end = () => {
        sockets.delete(pair);
        client.terminate();
        upstream.terminate();
      };
      client.on("close", end);
      upstream.on("close", end);
      client.on("error", end);
      upstream.on("error", end);
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    /** Cut every relayed WebSocket without a close handshake. */
    dropWebSockets() {
      rec.add("WS-drop");
      for (const { client, upstream } of sockets) {
        client.terminate();
        upstream.terminate();
      }
      sockets.clear();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function waitFor(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

/** Echo handlers shared by the scenarios. */
function echoServer(ioServer) {
  ioServer.on("connection", (socket) => {
    socket.emit("hello", socket.handshake.auth);
    socket.on("echo", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (ack) ack(...args);
      else socket.emit("echo", ...args);
    });
    socket.on("ask-me", (data) => {
      socket.emit("question", data, (answer) => socket.emit("answered", answer));
    });
  });
}

async function scenario(name, serverOpts, setup, drive) {
  const rec = new Recorder();
  const server = await realServer(serverOpts, setup);
  const proxy = await recordingProxy(server.port, rec);
  try {
    await drive(proxy, rec);
  } finally {
    await sleep(100);
    await proxy.close().catch(() => {});
    await server.close();
  }
  rec.save(name);
}

// 1. Polling only: handshake, connect with auth, emit with ack, binary in both directions.
await scenario("polling.txt", {}, echoServer, async (proxy, rec) => {
  rec.note("transports: polling only; auth {token}; emit with ack; binary both ways; client disconnect");
  const socket = io(proxy.url, { transports: ["polling"], auth: { token: "abc" }, forceNew: true });
  await waitFor(socket, "hello");
  const reply = await socket.emitWithAck("echo", { a: 1 }, "two");
  rec.note(`ack args: ${JSON.stringify(reply)}`);
  const bin = await socket.emitWithAck("echo", Uint8Array.from([1, 2, 3]), { nested: Uint8Array.from([4, 5]) });
  rec.note(`binary ack first arg length: ${bin.length}`);
  socket.emit("echo", "back", Uint8Array.from([9]));
  await waitFor(socket, "echo");
  socket.disconnect();
});

// 2. Default transports: polling handshake, then the upgrade to WebSocket.
await scenario("upgrade.txt", {}, echoServer, async (proxy, rec) => {
  rec.note("default transports: polling, then upgrade (2probe, 3probe, pending GET ended by 6, 5)");
  const socket = io(proxy.url, { forceNew: true });
  await waitFor(socket, "hello");
  if (socket.io.engine.transport.name !== "websocket") await waitFor(socket.io.engine, "upgrade");
  rec.note(`transport after upgrade: ${socket.io.engine.transport.name}`);
  const reply = await socket.emitWithAck("echo", "over websocket");
  rec.note(`ack args: ${JSON.stringify(reply)}`);
  socket.emit("echo", Uint8Array.from([1, 2, 3, 4]));
  await waitFor(socket, "echo");
  socket.disconnect();
});

// 3. WebSocket only: server pings, namespaces refused, CONNECT_ERROR with data, server-to-client acks.
await scenario(
  "websocket.txt",
  { pingInterval: 200, pingTimeout: 1000 },
  (ioServer) => {
    echoServer(ioServer);
    ioServer.of("/private").use((socket, next) => {
      const err = new Error("not authorized");
      err.data = { code: 101, reason: "token missing" };
      next(err);
    });
  },
  async (proxy, rec) => {
    rec.note("transports: websocket only; pingInterval 200 ms; ack asked by the server; refused namespaces");
    const socket = io(proxy.url, { transports: ["websocket"], forceNew: true });
    await waitFor(socket, "hello");
    socket.on("question", (data, ack) => ack({ answer: data.n * 2 }, Uint8Array.from([7])));
    socket.emit("ask-me", { n: 21 });
    await waitFor(socket, "answered");
    await sleep(300); // one server ping
    const admin = socket.io.socket("/admin");
    const [adminErr] = await waitFor(admin, "connect_error");
    rec.note(`/admin connect_error: ${adminErr.message}`);
    const priv = socket.io.socket("/private", { auth: { token: "nope" } });
    const [privErr] = await waitFor(priv, "connect_error");
    rec.note(`/private connect_error: ${privErr.message} data=${JSON.stringify(privErr.data)}`);
    socket.disconnect();
  },
);

// 4. Connection state recovery: offsets on broadcasts, a dropped transport, replay before CONNECT.
await scenario(
  "recovery.txt",
  { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } },
  (ioServer) => {
    ioServer.on("connection", (socket) => {
      socket.join("room");
      socket.emit("welcome", { recovered: socket.recovered });
    });
    ioServer.on("broadcast", () => {});
    globalThis.__ioServer = ioServer;
  },
  async (proxy, rec) => {
    rec.note("connectionStateRecovery on; websocket only; broadcasts carry an offset; transport dropped; reconnect");
    const ioServer = globalThis.__ioServer;
    const socket = io(proxy.url, {
      transports: ["websocket"],
      auth: { token: "abc" },
      reconnectionDelay: 50,
      reconnectionDelayMax: 50,
      forceNew: true,
    });
    await waitFor(socket, "connect");
    rec.note(`first connect: recovered=${socket.recovered}`);
    const seen = [];
    socket.on("tick", (n) => seen.push(n));
    ioServer.to("room").emit("tick", 1);
    ioServer.to("room").emit("tick", 2);
    while (seen.length < 2) await sleep(10);
    socket.io.reconnection(false);
    proxy.dropWebSockets();
    await waitFor(socket, "disconnect");
    await sleep(100);
    ioServer.to("room").emit("tick", 3);
    ioServer.to("room").emit("tick", 4);
    socket.io.reconnection(true);
    socket.connect();
    await waitFor(socket, "connect");
    while (seen.length < 4) await sleep(10);
    rec.note(`reconnect: recovered=${socket.recovered} ticks=${JSON.stringify(seen)}`);
    socket.disconnect();
  },
);

// 5. Engine.IO refusals, as raw HTTP requests.
await scenario("errors.txt", {}, echoServer, async (proxy, rec) => {
  rec.note("raw HTTP requests the server refuses, with Engine.IO's error bodies");
  const paths = [
    ["GET", "/socket.io/?EIO=3&transport=polling"],
    ["GET", "/socket.io/?transport=polling"],
    ["GET", "/socket.io/?EIO=4&transport=flash"],
    ["GET", "/socket.io/?EIO=4"],
    ["GET", "/socket.io/?EIO=4&transport=polling&sid=unknown-sid"],
    ["POST", "/socket.io/?EIO=4&transport=polling&sid=unknown-sid"],
    ["POST", "/socket.io/?EIO=4&transport=polling"],
    ["PUT", "/socket.io/?EIO=4&transport=polling"],
  ];
  for (const [method, path] of paths) {
    await fetch(proxy.url + path, { method, body: method === "GET" ? undefined : "40" }).then((r) => r.text());
  }
  // A session closed by a malformed POST body: the POST is refused, then the sid is unknown.
  const open = await (await fetch(`${proxy.url}/socket.io/?EIO=4&transport=polling`)).text();
  const sid = JSON.parse(open.slice(1)).sid;
  await fetch(`${proxy.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "abc" })
    .then((r) => r.text())
    .catch(() => {});
  await fetch(`${proxy.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`).then((r) => r.text());
});

process.exit(0);
