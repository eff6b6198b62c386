// Plain Node `ws` broadcast server for herald-bench (the "ws" target).
// Speaks the minimal subset of Herald's native protocol the generator uses:
// `connect` and `subscribe` are answered, `publish` is serialised once and
// sent to every subscriber of the channel as a `publication` push. No
// pings, no history, no back-pressure (ws queues without limit).
//
//   node ws-server.js PORT
"use strict";
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2] || 7801);
const wss = new WebSocketServer({ host: "127.0.0.1", port, path: "/ws", perMessageDeflate: false });
const channels = new Map(); // channel -> Set<WebSocket>
let nextId = 1;
let offset = 0;

wss.on("connection", (ws) => {
  const id = nextId++;
  const mine = new Set();
  ws.on("message", (raw, isBinary) => {
    if (isBinary) return;
    let req;
    try {
      req = JSON.parse(raw.toString());
    } catch {
      return;
    }
    switch (req.op) {
      case "connect":
        ws.send(JSON.stringify({ id: req.id, result: { client: `ws-${id}` } }));
        break;
      case "subscribe": {
        let subs = channels.get(req.channel);
        if (!subs) channels.set(req.channel, (subs = new Set()));
        subs.add(ws);
        mine.add(req.channel);
        ws.send(JSON.stringify({ id: req.id, result: { channel: req.channel, epoch: "ws", offset: 0 } }));
        break;
      }
      case "publish": {
        offset += 1;
        const text = JSON.stringify({
          push: "publication",
          channel: req.channel,
          offset,
          time: Date.now(),
          data: req.data,
        });
        const subs = channels.get(req.channel);
        if (subs) for (const s of subs) s.send(text);
        ws.send(JSON.stringify({ id: req.id, result: { epoch: "ws", offset } }));
        break;
      }
      default:
        break;
    }
  });
  ws.on("close", () => {
    for (const ch of mine) channels.get(ch)?.delete(ws);
  });
  ws.on("error", () => {});
});

wss.on("listening", () => console.log(`listening on 127.0.0.1:${port}`));
