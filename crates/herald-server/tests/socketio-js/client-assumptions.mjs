// Checks, against the real socket.io-client 4.8 (served by a real socket.io
// 4.8 server writing raw Engine.IO messages), the client behaviours the
// Socket.IO door's conventions rely on (docs/socketio.md). Exits non-zero
// when one no longer holds. Usage: node client-assumptions.mjs
import assert from "node:assert/strict";
import http from "node:http";
import { Server } from "socket.io";
import { io } from "socket.io-client";

const httpServer = http.createServer();
const server = new Server(httpServer, { connectionStateRecovery: {} });
server.on("connection", (socket) => {
  // A recoverable event with no listener on the client, then a Herald event
  // ending with an object, then a reserved event name.
  socket.conn.write('2["herald:subscribed",{"channel":"a"},"a81Xk2pQ.0.a"]');
  socket.conn.write('2["herald:join",{"channel":"a","member":{"client":"c1"}}]');
  setTimeout(() => socket.conn.write('2["connect",1]'), 100);
});
await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
const client = io(`http://127.0.0.1:${httpServer.address().port}`, { transports: ["websocket"], reconnection: false });

const joined = new Promise((resolve) => client.on("herald:join", resolve));
const disconnected = new Promise((resolve) => client.on("disconnect", (reason, d) => resolve([reason, d?.message])));

await joined;
// 1. The last string argument of any event is the recovery offset, listener or not,
//    and an event ending with an object leaves it alone.
assert.equal(client._lastOffset, "a81Xk2pQ.0.a");
// 2. An event named like a reserved one kills the connection: the door never sends one.
assert.deepEqual(await disconnected, ["parse error", "invalid payload"]);
console.log("socket.io-client assumptions hold");
server.close();
process.exit(0);
