#!/usr/bin/env node
'use strict';
// Benchmark (a report, not a test; `bash scripts/test.sh` does not run it): what a relayed
// ConversationRelay session costs the worker's runtime in CPU. The built worker (build/, from
// `bash scripts/build-worker.sh`) runs in workerd via Miniflare with one relay whose upstream is a
// local WebSocket server; every handshake is signed by the `twilio` package. Measured as the
// user+sys CPU of the workerd processes (benches/proc.js) over a batch of work, divided by it:
//
// - per relayed message, Twilio to the application: `prompt` messages of ordinary speech
//   (parsed, checked for digit runs, passed on unchanged), with 1 and with 8 sessions at once;
// - per relayed message, the application to Twilio: `text` messages (parsed, passed on);
// - per capture: `gather-seal.start` of a 4-digit PIN flow, the prompt to Twilio, four `dtmf`
//   keys, the sealed and signed result to the application (one engine turn to ask, one to hand
//   over), 8 sessions capturing at once.
//
// For scale, the same messages through benches/pipe-relay.mjs, a JavaScript Worker that pipes
// both sockets unread (no signature, no parsing: the floor any relay sits on). Runtimes take
// turns batch by batch. Each batch waits until every message has arrived, so no work is left
// out; the idle runtime's own CPU over the same time is negligible (printed).
//
// Usage: node benches/relay.js [--quick] [--rounds N] [--messages N] [--captures N]
//   --rounds N    measured rounds (default 8), each one batch per runtime and kind
//   --messages N  messages per session per batch (default 400)
//   --captures N  captures per session per batch (default 25)
// Takes about a minute on a 2-core machine. Linux only (reads /proc).

const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { Miniflare } = require('miniflare');
const twilio = require('twilio');
const WebSocket = require('ws');
const h = require('../tests/worker/harness');
const { cpuOf, descendants } = require('./proc');

const SESSIONS = 8;
const SPEECH = 'I would like to check the balance on my account please';
const PIN_PROMPT = 'Enter your PIN.';

function parseArgs(argv) {
  const options = { rounds: 8, messages: 400, captures: 25 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') Object.assign(options, { rounds: 2, messages: 100, captures: 5 });
    else if (['--rounds', '--messages', '--captures'].includes(arg)) options[arg.slice(2)] = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg}`);
  }
  return options;
}

/** A WebSocket server standing in for the application: counts what arrives, per connection. */
async function startUpstream() {
  const server = http.createServer((_, res) => res.writeHead(426).end());
  const wss = new WebSocket.WebSocketServer({ server });
  const upstream = { connections: [], waiting: [] };
  wss.on('connection', (socket) => {
    const connection = { socket, count: 0, results: [], prompts: [] };
    socket.on('message', (data) => {
      connection.count++;
      const text = data.toString();
      if (text.includes('gather-seal.result')) connection.results.push(text);
      upstream.notify();
    });
    upstream.connections.push(connection);
    upstream.notify();
  });
  upstream.notify = () => {
    for (const wake of upstream.waiting.splice(0)) wake();
  };
  /** Resolves when `done()` holds, checked after every message. */
  upstream.until = (done, what, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`upstream: timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else upstream.waiting.push(check);
      };
      check();
    });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.url = `ws://127.0.0.1:${server.address().port}/agent`;
  upstream.close = () =>
    new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      server.close(resolve);
    });
  return upstream;
}

/** A ConversationRelay session as Twilio opens it: signed handshake, then `setup`. */
async function openSession(url, upstream) {
  // The relay opens the application's socket before it answers Twilio's handshake.
  const before = upstream.connections.length;
  const socket = new WebSocket(url, { headers: { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(h.TOKEN, url, {}) } });
  const session = { socket, count: 0, texts: 0, waiting: [] };
  socket.on('message', (data) => {
    session.count++;
    if (data.toString().includes('"type":"text"')) session.texts++;
    for (const wake of session.waiting.splice(0)) wake();
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({
    type: 'setup', sessionId: `VX${'0'.repeat(32)}`, accountSid: `AC${'0'.repeat(32)}`, callSid: h.newCallSid(),
    from: '+15005550006', to: '+15005550001', forwardedFrom: '', callerName: '', direction: 'inbound',
    callType: 'PSTN', callStatus: 'IN-PROGRESS', customParameters: {},
  }));
  await upstream.until(() => upstream.connections.length > before, 'the upstream connection');
  session.app = upstream.connections[upstream.connections.length - 1];
  await upstream.until(() => session.app.count >= 1, 'setup at the application');
  session.until = (done, what, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`session: timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else session.waiting.push(check);
      };
      check();
    });
  return session;
}

/** One runtime: the Rust worker or the pipe, with its sessions and its processes. */
async function startRuntime(kind, upstream, sessions) {
  const before = new Set(descendants());
  const compatibilityDate = h.wranglerConfig().compatibility_date;
  let runtime;
  if (kind === 'rust') {
    const worker = await h.startWorker({
      GATHER_FLOWS: { pin: { fields: [{ name: 'pin', kind: 'digits', length: 4, prompt: PIN_PROMPT }] } },
      GATHER_RELAYS: { agent: { upstream: upstream.url, flows: ['pin'] } },
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    });
    runtime = { url: worker.url('/relay/agent').replace(/^http/, 'ws'), dispose: () => worker.dispose() };
  } else {
    const mf = new Miniflare({
      modules: true,
      scriptPath: path.join(__dirname, 'pipe-relay.mjs'),
      compatibilityDate,
      bindings: { UPSTREAM: upstream.url },
      host: '127.0.0.1',
      port: 0,
    });
    const base = new URL(await mf.ready);
    runtime = { url: `ws://127.0.0.1:${base.port}/relay/agent`, dispose: () => mf.dispose() };
  }
  runtime.kind = kind;
  runtime.pids = descendants().filter((pid) => !before.has(pid));
  assert.ok(runtime.pids.length > 0, `no workerd process found for ${kind}`);
  runtime.sessions = [];
  for (let i = 0; i < sessions; i++) runtime.sessions.push(await openSession(runtime.url, upstream));
  return runtime;
}

/** CPU nanoseconds the runtime used while `work` ran. */
async function cpuNs(runtime, work) {
  const before = cpuOf(runtime.pids).ns;
  await work();
  return cpuOf(runtime.pids).ns - before;
}

async function promptsIn(runtime, sessions, n, upstream) {
  const targets = sessions.map((s) => s.app.count + n);
  const message = JSON.stringify({ type: 'prompt', voicePrompt: SPEECH, lang: 'en-US', last: true });
  for (let i = 0; i < n; i++) for (const s of sessions) s.socket.send(message);
  await upstream.until(() => sessions.every((s, i) => s.app.count >= targets[i]), 'prompts at the application');
}

async function textsOut(sessions, n) {
  const targets = sessions.map((s) => s.count + n);
  const message = JSON.stringify({ type: 'text', token: 'Your balance is twelve dollars.', last: true });
  for (let i = 0; i < n; i++) for (const s of sessions) s.app.socket.send(message);
  await Promise.all(sessions.map((s, i) => s.until(() => s.count >= targets[i], 'texts at Twilio')));
}

async function captures(sessions, n, upstream) {
  await Promise.all(sessions.map(async (s) => {
    for (let i = 0; i < n; i++) {
      const texts = s.texts;
      const results = s.app.results.length;
      s.app.socket.send(JSON.stringify({ type: 'gather-seal.start', flow: 'pin' }));
      await s.until(() => s.texts > texts, 'the PIN prompt');
      for (const digit of '4321') s.socket.send(JSON.stringify({ type: 'dtmf', digit }));
      await upstream.until(() => s.app.results.length > results, 'the result');
    }
  }));
  for (const s of sessions) {
    const last = JSON.parse(s.app.results.at(-1));
    assert.equal(JSON.parse(last.body).result, 'success');
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const us = (ns) => (ns / 1000).toFixed(1);

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const say = (text) => process.stderr.write(`relay bench: ${text}\n`);
  const upstream = await startUpstream();
  const runtimes = [];
  try {
    for (const kind of ['rust', 'pipe']) runtimes.push(await startRuntime(kind, upstream, SESSIONS));
    const samples = {};
    const add = (key, ns, units) => (samples[key] ??= []).push(ns / units);
    // Warm-up: every path once, not measured.
    for (const runtime of runtimes) {
      await promptsIn(runtime, runtime.sessions, 20, upstream);
      await textsOut(runtime.sessions, 20);
    }
    await captures(runtimes[0].sessions, 2, upstream);
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? runtimes : [...runtimes].reverse();
      for (const runtime of order) {
        const m = options.messages;
        add(`${runtime.kind} prompt, 1 session`, await cpuNs(runtime, () => promptsIn(runtime, runtime.sessions.slice(0, 1), m, upstream)), m);
        add(`${runtime.kind} prompt, 8 sessions`, await cpuNs(runtime, () => promptsIn(runtime, runtime.sessions, m, upstream)), m * SESSIONS);
        add(`${runtime.kind} text, 8 sessions`, await cpuNs(runtime, () => textsOut(runtime.sessions, m)), m * SESSIONS);
      }
      const rust = runtimes[0];
      add('rust capture, 8 sessions', await cpuNs(rust, () => captures(rust.sessions, options.captures, upstream)), options.captures * SESSIONS);
      say(`round ${round + 1}/${options.rounds} done`);
    }
    const idleNs = await cpuNs(runtimes[0], () => h.sleep(1000));
    const row = (what, key, peer) => {
      const value = median(samples[key]);
      const scale = peer ? `${(value / median(samples[peer])).toFixed(2)}x` : '';
      return `| ${what} | ${us(value)} µs | ${peer ? `${us(median(samples[peer]))} µs` : ''} | ${scale} |`;
    };
    console.log('| runtime CPU (median of rounds) | Rust relay | pipe (floor) | Rust/pipe |');
    console.log('|---|---|---|---|');
    console.log(row('per `prompt` to the application, 1 session', 'rust prompt, 1 session', 'pipe prompt, 1 session'));
    console.log(row('per `prompt` to the application, 8 sessions', 'rust prompt, 8 sessions', 'pipe prompt, 8 sessions'));
    console.log(row('per `text` to Twilio, 8 sessions', 'rust text, 8 sessions', 'pipe text, 8 sessions'));
    console.log(row('per capture (4-digit PIN, start to result), 8 sessions', 'rust capture, 8 sessions'));
    console.log(`\nidle Rust runtime: ${us(idleNs)} µs of CPU in 1 s. Rounds: ${options.rounds}; ${options.messages} messages per session per batch; ${options.captures} captures per session per batch.`);
    console.log('raw (µs per unit, each round):');
    for (const [key, values] of Object.entries(samples)) console.log(`  ${key}: ${values.map(us).join(' ')}`);
  } finally {
    for (const runtime of runtimes) {
      for (const s of runtime.sessions ?? []) s.socket.terminate();
      await runtime.dispose();
    }
    await upstream.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
