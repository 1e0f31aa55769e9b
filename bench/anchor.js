// The anchor of `make bench`: a bare socket.io 4 server with the portal's live contract and nothing else.
//
//   - namespace /live; a client connects with auth = {token}; an unknown token is refused in the middleware;
//   - the server (not the client) puts every accepted socket in one room;
//   - POST /publish with `Authorization: Bearer <token>` and a JSON signal emits `signal.created`
//     {room, seq, signal} to that room, with a per-room sequence, and answers 201 {seq}.
//
// No database, no per-viewer variants: what the portal adds on top of this is what the ratio to the anchor shows.
// Usage: node anchor.js --port 4100 --tokens state.json   (listens on 127.0.0.1 only)
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const { Server } = require("socket.io");

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const port = Number(option("port", "4100"));
const state = JSON.parse(fs.readFileSync(option("tokens"), "utf8"));
const tokens = new Set(state.users.map((u) => u.token));
const ROOM = state.room;
const MAX_BODY = 64 * 1024;
let seq = 0;

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
    return;
  }
  if (req.method !== "POST" || req.url !== "/publish") {
    res.writeHead(404).end();
    return;
  }
  const auth = (req.headers.authorization || "").split(" ");
  if (auth[0] !== "Bearer" || !tokens.has(auth[1])) {
    res.writeHead(401).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on("end", () => {
    let signal;
    try {
      signal = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    seq += 1;
    live.to(ROOM).emit("signal.created", { room: ROOM, seq, signal });
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify({ seq }));
  });
});

const io = new Server(server, {
  perMessageDeflate: false, // as the portal: no compression per connection
  httpCompression: false,
  maxHttpBufferSize: 64 * 1024,
  cors: { origin: `http://127.0.0.1:${port}` },
});
const live = io.of("/live");
live.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (typeof token === "string" && tokens.has(token)) next();
  else next(new Error("unauthorized"));
});
live.on("connection", (socket) => {
  socket.join(ROOM);
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`anchor listening on 127.0.0.1:${port}\n`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
