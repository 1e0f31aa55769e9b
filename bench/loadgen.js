// The fan-out load generator of `make bench`: holds N authenticated socket.io clients in one process, posts signals
// and times every delivery with one clock (performance.now() of this process, from just before the POST is sent
// to the moment each client's event is handled).
//
//   node loadgen.js --config run.json
//
// run.json (written by bench/run.py):
//   url, namespace            the server and "/live"
//   tokens                    client tokens (clients use tokens[0..N), the warm-up uses the end of the list)
//   publish: {mode, url, tokens, template}
//                             mode "portal": POST the template as a new signal to /api/v1/signals with a bearer
//                             token and an Idempotency-Key; mode "anchor": POST it to the anchor's /publish
//   run                       a tag that makes every summary unique (signals are matched by their summary)
//   connectConcurrency, connectTimeoutMs, signalTimeoutMs, pauseMs, deadlineMs, deflate
//
// Commands arrive as JSON lines on stdin and each answers one JSON line on stdout:
//   {"cmd":"warm","count":20}    connect a few clients, deliver one signal to them, disconnect them
//   {"cmd":"connect","total":N}  top up to N connected clients (connects/s, failures)
//   {"cmd":"publish","signals":K} post K signals one after the other; latency percentiles, received vs expected
//   {"cmd":"quit"}
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const readline = require("node:readline");
const { performance } = require("node:perf_hooks");
const { io } = require("socket.io-client");

const configPath = process.argv[process.argv.indexOf("--config") + 1];
const cfg = JSON.parse(fs.readFileSync(configPath, "utf8"));
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

// Stops by itself, whatever the orchestrator does.
setTimeout(() => {
  process.stderr.write("loadgen: deadline reached, exiting\n");
  process.exit(3);
}, cfg.deadlineMs || 600000).unref();

const pending = new Map(); // summary -> record of a signal being delivered
let stray = 0;
let unexpectedDisconnects = 0;

function percentile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function makeClient(token) {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = io(cfg.url + cfg.namespace, {
      transports: ["websocket"],
      auth: { token },
      reconnection: false,
      forceNew: true,
      timeout: cfg.connectTimeoutMs || 20000,
      // A browser offers permessage-deflate; the servers decide whether to accept it.
      perMessageDeflate: cfg.deflate ? { threshold: 1024 } : false,
    });
    const client = { socket, seen: new Set(), closing: false };
    socket.on("signal.created", (message) => {
      const now = performance.now();
      const record = pending.get(message && message.signal && message.signal.summary);
      if (record === undefined) {
        stray += 1;
        return;
      }
      if (client.seen.has(record.key)) {
        record.duplicates += 1;
        return;
      }
      client.seen.add(record.key);
      record.latencies.push(now - record.t0);
      if (record.latencies.length >= record.expected && record.done) record.done();
    });
    socket.on("disconnect", () => {
      if (!client.closing) unexpectedDisconnects += 1;
    });
    socket.once("connect", () => resolve({ ok: true, client, ms: performance.now() - started }));
    socket.once("connect_error", (error) => {
      socket.close();
      resolve({ ok: false, error: String(error && error.message), ms: performance.now() - started });
    });
  });
}

async function connectMany(tokens) {
  const started = performance.now();
  const clients = [];
  const errors = {};
  const durations = [];
  let next = 0;
  async function worker() {
    while (next < tokens.length) {
      const token = tokens[next++];
      const result = await makeClient(token);
      durations.push(result.ms);
      if (result.ok) clients.push(result.client);
      else errors[result.error] = (errors[result.error] || 0) + 1;
    }
  }
  const workers = [];
  for (let i = 0; i < Math.min(cfg.connectConcurrency || 50, tokens.length); i++) workers.push(worker());
  await Promise.all(workers);
  const seconds = (performance.now() - started) / 1000;
  durations.sort((a, b) => a - b);
  return {
    clients,
    summary: {
      requested: tokens.length,
      connected: clients.length,
      failed: tokens.length - clients.length,
      errors,
      seconds,
      connects_per_s: clients.length / seconds,
      connect_p50_ms: percentile(durations, 0.5),
      connect_p99_ms: percentile(durations, 0.99),
    },
  };
}

function post(body, index) {
  const publish = cfg.publish;
  const url = new URL(publish.url);
  const payload = JSON.stringify(body);
  const headers = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    authorization: `Bearer ${publish.tokens[index % publish.tokens.length]}`,
  };
  if (publish.mode === "portal") headers["idempotency-key"] = `bench-${cfg.run}-${index}`;
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers, agent },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      },
    );
    req.setTimeout(cfg.signalTimeoutMs || 10000, () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ status: 0, error: String(error.message), ms: performance.now() - started }));
    req.end(payload);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let signalCounter = 0;

async function publishSignals(count, clients) {
  const records = [];
  const statuses = {};
  const postMs = [];
  for (let k = 0; k < count; k++) {
    const index = signalCounter++;
    const summary = `Benchmarksignaal ${cfg.run} nummer ${index}`;
    // Every client held is expected to receive it: a client that was dropped counts as a lost delivery.
    const record = { key: index, t0: 0, expected: clients.length, latencies: [], duplicates: 0, done: null };
    const delivered = new Promise((resolve) => {
      record.done = resolve;
    });
    pending.set(summary, record);
    records.push(record);
    const body = { ...cfg.publish.template, summary };
    record.t0 = performance.now();
    const answer = await post(body, index);
    statuses[answer.status] = (statuses[answer.status] || 0) + 1;
    postMs.push(answer.ms);
    if (record.latencies.length < record.expected) {
      await Promise.race([delivered, sleep(cfg.signalTimeoutMs || 10000)]);
    }
    await sleep(cfg.pauseMs || 250);
  }
  await sleep(500); // stragglers and duplicates
  const all = [];
  let expected = 0;
  let duplicates = 0;
  for (const record of records) {
    for (const value of record.latencies) all.push(value);
    expected += record.expected;
    duplicates += record.duplicates;
  }
  all.sort((a, b) => a - b);
  postMs.sort((a, b) => a - b);
  const perSignalP99 = records.map((r) => percentile([...r.latencies].sort((a, b) => a - b), 0.99));
  return {
    signals: count,
    expected,
    received: all.length,
    lost: expected - all.length,
    duplicates,
    stray,
    unexpected_disconnects: unexpectedDisconnects,
    open_after: clients.filter((c) => c.socket.connected).length,
    statuses,
    p50_ms: percentile(all, 0.5),
    p95_ms: percentile(all, 0.95),
    p99_ms: percentile(all, 0.99),
    max_ms: all.length ? all[all.length - 1] : null,
    post_p50_ms: percentile(postMs, 0.5),
    per_signal_p99_ms: perSignalP99,
  };
}

function closeAll(clients) {
  for (const client of clients) {
    client.closing = true;
    client.socket.close();
  }
}

let held = [];
let tokenCursor = 0;

async function handle(command) {
  switch (command.cmd) {
    case "warm": {
      const tokens = cfg.tokens.slice(cfg.tokens.length - command.count);
      const { clients, summary } = await connectMany(tokens);
      const result = await publishSignals(1, clients);
      closeAll(clients);
      await sleep(300);
      return { event: "warm", connect: summary, publish: result };
    }
    case "connect": {
      // Top up to `total` connected clients (clients dropped since the last level are replaced and counted).
      const alive = held.filter((c) => c.socket.connected);
      const dropped = held.length - alive.length;
      const tokens = [];
      for (let i = alive.length; i < command.total; i++) tokens.push(cfg.tokens[tokenCursor++ % cfg.tokens.length]);
      const { clients, summary } = await connectMany(tokens);
      held = alive.concat(clients);
      return { event: "connected", ...summary, held: held.length, dropped_before: dropped };
    }
    case "publish":
      return { event: "published", ...(await publishSignals(command.signals, held)) };
    case "quit":
      closeAll(held);
      setTimeout(() => process.exit(0), 200);
      return { event: "bye" };
    default:
      return { event: "error", error: `unknown command ${command.cmd}` };
  }
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let answer;
    try {
      answer = await handle(JSON.parse(line));
    } catch (error) {
      answer = { event: "error", error: String(error && error.stack) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  });
});
lines.on("close", () => {
  queue.then(() => {
    closeAll(held);
    setTimeout(() => process.exit(0), 200);
  });
});
