// The HTTP load client of `make bench`: a bounded loop of GET requests from a few concurrent keep-alive clients.
//
//   node httpload.js --config http.json
//
// http.json: {base, concurrency, requests, deadlineMs, targets: [{path, headers}]}
// Each client takes the next target round-robin until `requests` have been sent or the deadline passes. Prints one
// JSON line: requests/s, p50/p99/max latency, statuses, and the X-Query-Count header (SQL statements per request,
// sent by the portal in bench mode) per target and overall.
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const { performance } = require("node:perf_hooks");

const cfg = JSON.parse(fs.readFileSync(process.argv[process.argv.indexOf("--config") + 1], "utf8"));
const base = new URL(cfg.base);
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency });
setTimeout(() => {
  process.stderr.write("httpload: deadline reached, exiting\n");
  process.exit(3);
}, (cfg.deadlineMs || 120000) + 15000).unref();

function percentile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function get(target) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      { host: base.hostname, port: base.port, path: target.path, method: "GET", headers: target.headers || {}, agent },
      (res) => {
        let bytes = 0;
        res.on("data", (chunk) => {
          bytes += chunk.length;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            ms: performance.now() - started,
            queries: res.headers["x-query-count"] === undefined ? null : Number(res.headers["x-query-count"]),
            bytes,
          }),
        );
      },
    );
    req.setTimeout(10000, () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ status: 0, ms: performance.now() - started, error: String(error.message) }));
    req.end();
  });
}

async function main() {
  const deadline = performance.now() + (cfg.deadlineMs || 120000);
  const latencies = [];
  const statuses = {};
  const perTarget = cfg.targets.map(() => ({ queries: new Set(), count: 0, bytes: 0 }));
  const queryCounts = [];
  let sent = 0;
  const started = performance.now();
  async function client() {
    while (sent < cfg.requests && performance.now() < deadline) {
      const index = sent % cfg.targets.length;
      sent += 1;
      const result = await get(cfg.targets[index]);
      latencies.push(result.ms);
      statuses[result.status] = (statuses[result.status] || 0) + 1;
      const target = perTarget[index];
      target.count += 1;
      if (result.bytes) target.bytes += result.bytes;
      if (result.queries !== null && result.queries !== undefined) {
        target.queries.add(result.queries);
        queryCounts.push(result.queries);
      }
    }
  }
  const clients = [];
  for (let i = 0; i < cfg.concurrency; i++) clients.push(client());
  await Promise.all(clients);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  queryCounts.sort((a, b) => a - b);
  const ok = statuses["200"] || 0;
  process.stdout.write(
    `${JSON.stringify({
      requests: latencies.length,
      seconds,
      rps: latencies.length / seconds,
      ok,
      statuses,
      p50_ms: percentile(latencies, 0.5),
      p99_ms: percentile(latencies, 0.99),
      max_ms: latencies.length ? latencies[latencies.length - 1] : null,
      queries_min: queryCounts.length ? queryCounts[0] : null,
      queries_max: queryCounts.length ? queryCounts[queryCounts.length - 1] : null,
      queries_median: percentile(queryCounts, 0.5),
      per_target: perTarget.map((t, i) => ({
        path: cfg.targets[i].path,
        count: t.count,
        queries: [...t.queries].sort((a, b) => a - b),
        avg_bytes: t.count ? Math.round(t.bytes / t.count) : 0,
      })),
    })}\n`,
  );
  process.exit(0);
}

main();
