// One autocannon run for bench/identity.sh.
// Usage: node load.mjs LABEL URL CONNECTIONS SECONDS CONTENT_TYPE BODY [AUTHORIZATION] [JSON_OUT]
// Prints one line (req/s, p50, p99, counts) and, with JSON_OUT, writes the figures there.
// Exits 3 when any response was not 2xx or any request errored or timed out, so a broken
// set-up never yields a number.
import { writeFileSync } from 'node:fs';

import autocannon from 'autocannon';

const [label, url, connections, seconds, contentType, body, authorization, jsonOut] = process.argv.slice(2);
if (!label || !url || !connections || !seconds || !contentType || body === undefined) {
  console.error('usage: node load.mjs LABEL URL CONNECTIONS SECONDS CONTENT_TYPE BODY [AUTHORIZATION] [JSON_OUT]');
  process.exit(2);
}

const headers = { 'content-type': contentType, accept: 'application/json' };
if (authorization) headers.authorization = authorization;

const result = await autocannon({
  url,
  method: 'POST',
  headers,
  body,
  connections: Number(connections),
  duration: Number(seconds),
  pipelining: 1,
  timeout: 10,
});

const ok = result['2xx'];
const figures = {
  label,
  connections: Number(connections),
  seconds: Number(seconds),
  rps: ok / result.duration, // 2xx responses per second of the run
  rpsMean: result.requests.average, // autocannon's mean of the per-second samples
  p50: result.latency.p50,
  p99: result.latency.p99,
  requests: result.requests.total,
  ok,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  statusCodes: result.statusCodeStats,
};
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(figures));

const fmt = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
console.log(
  `  ${label}: ${fmt(figures.rps)} req/s  p50 ${figures.p50} ms  p99 ${figures.p99} ms`
  + `  (${figures.requests} requests: 2xx ${ok}, non-2xx ${figures.non2xx}, errors ${figures.errors}, timeouts ${figures.timeouts})`,
);

if (figures.non2xx > 0 || figures.errors > 0 || figures.timeouts > 0 || ok === 0) {
  console.log(`  FAILED: ${label} had non-2xx responses, errors or no successful request; status codes: ${JSON.stringify(figures.statusCodes)}`);
  console.error(`FAILED: ${label} had non-2xx responses, errors or no successful request; status codes: ${JSON.stringify(figures.statusCodes)}`);
  process.exit(3);
}
