// Socket.IO 4.8 room broadcast server for herald-bench (the "socketio"
// target). WebSocket transport only. Events: `subscribe` (channel, ack)
// joins the room and acknowledges; `publish` ({channel, data}) emits
// `publication` ({channel, data}) to the room.
//
//   node socketio-server.js PORT
"use strict";
const http = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 7802);
const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ["websocket"], serveClient: false, perMessageDeflate: false });

io.on("connection", (socket) => {
  socket.on("subscribe", (channel, ack) => {
    socket.join(channel);
    if (typeof ack === "function") ack({ channel });
  });
  socket.on("publish", (msg) => {
    if (msg && typeof msg.channel === "string") io.to(msg.channel).emit("publication", msg);
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${port}`));
