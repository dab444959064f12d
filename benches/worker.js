#!/usr/bin/env node
'use strict';
// Benchmark (a report, not a test; `bash scripts/test.sh` does not run it): the built Rust worker
// (build/, from `bash scripts/build-worker.sh`) against two JavaScript workers with WebCrypto:
// the reference, doing the same flow with the same security properties
// (benches/reference-worker.mjs, which says what it matches), and the smallest worker a Twilio
// developer would write by hand for the same contract (benches/small-worker.mjs, which says what
// it leaves out). All three run in workerd via Miniflare with the same bindings, driven by the
// same whole calls: the call comes in, the card digits, the PIN, and the hand-off with
// `then.action` to a local application stub answering TwiML. Every webhook is signed by the
// `twilio` package; the stub checks each submission's signature and opens the values with
// node:crypto, and every call must end in the stub's TwiML, so no worker can skip work. Before
// timing, all three must answer the same TwiML at every step, submit the same JSON, and refuse a
// bad signature, a carried value replayed into another call and a tampered one. All traffic
// stays on 127.0.0.1.
//
// It prints a markdown table, for the three workers and as Rust/reference and Rust/small
// ratios, then the raw numbers:
// - runtime CPU per request: user+sys of the workerd process Miniflare starts (/proc/<pid>/stat;
//   the process is found by walking /proc for this process's children), over rounds of whole
//   calls with 1 and with 8 concurrent callers, the workers taking turns round by round (the
//   order rotating) so machine noise hits all alike; the per-round figures (threads' schedstat, nanoseconds) show
//   how much noise there is;
// - cold start: a new runtime (new Miniflare) to the first TwiML answer, the runtime being ready
//   to that answer, and the runtime's CPU by then; median of several samples, alternating;
// - latency p50/p99 per request, client side, with 1 and 8 concurrent callers;
// - where the time goes: each kind of request (unknown path, call comes in, card, PIN with
//   redirect, PIN with action) replayed on its own.
// The build is copied when the run starts, so a rebuild meanwhile does not change what is measured.
//
// Usage: node benches/worker.js [--quick] [--build DIR] [--rounds N] [--calls N] [--cold N]
//   --quick      a short run (smoke test of the benchmark itself; numbers are rough)
//   --build DIR  the Rust worker built into DIR instead of build/ (to compare build settings:
//                copy build/ away after each variant's scripts/build-worker.sh)
//   --rounds N   measured rounds per concurrency (default 16)
//   --calls N    whole calls per worker per round (default 500; 3 requests each)
//   --cold N     cold-start samples per worker (default 9)
// Takes 2.5 to 4 minutes on a 2-core machine, depending on what else runs. Linux only (reads
// /proc).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { performance } = require('node:perf_hooks');
const { Miniflare } = require('miniflare');
const twilio = require('twilio');
const h = require('../tests/worker/harness');
const { cpuOf, descendants, readStat } = require('./proc');

const ROOT = path.join(__dirname, '..');
const SCRIPTS = { reference: path.join(__dirname, 'reference-worker.mjs'), small: path.join(__dirname, 'small-worker.mjs') };
/** The workers compared, in the order of the report's columns. */
const NAMES = ['rust', 'reference', 'small'];
const PEERS = ['reference', 'small'];
/** `list` turned left by `n`: who goes first changes from round to round. */
const rotate = (list, n) => list.map((_, i) => list[(i + n) % list.length]);
const CLK_TCK = 100; // Linux's USER_HZ on every architecture workerd ships for

// ---------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const options = { build: path.join(ROOT, 'build'), rounds: 16, calls: 500, cold: 9, warmCalls: 100, stepRounds: 6, stepRequests: 400 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const number = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 100000) throw new Error(`${arg} takes a whole number from 1 to 100000`);
      return n;
    };
    if (arg === '--quick') Object.assign(options, { rounds: 2, calls: 30, cold: 3, warmCalls: 20, stepRounds: 1, stepRequests: 50 });
    else if (arg === '--build' && i + 1 < argv.length) options.build = path.resolve(argv[++i]);
    else if (arg === '--rounds') options.rounds = number();
    else if (arg === '--calls') options.calls = number();
    else if (arg === '--cold') options.cold = number();
    else throw new Error(`unknown argument ${arg}\nusage: node benches/worker.js [--quick] [--build DIR] [--rounds N] [--calls N] [--cold N]`);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// The runtimes

/** One worker in its own workerd, started by its own Miniflare. */
class Runtime {
  constructor(name, options) {
    this.name = name;
    this.options = options;
    this.logLines = 0;
    this.otherOutput = '';
  }

  async start() {
    const before = new Set(descendants());
    let pending = '';
    this.mf = new Miniflare({
      ...this.options,
      handleRuntimeStdio: (stdout, stderr) => {
        stdout.setEncoding('utf8').on('data', (chunk) => {
          pending += chunk;
          const lines = pending.split('\n');
          pending = lines.pop();
          for (const line of lines) {
            if (line.startsWith('{"callSid"')) this.logLines++;
            else if (line.trim() !== '') this.otherOutput = (this.otherOutput + line + '\n').slice(-4000);
          }
        });
        stderr.setEncoding('utf8').on('data', (chunk) => {
          this.otherOutput = (this.otherOutput + chunk).slice(-4000);
        });
      },
    });
    let base;
    try {
      base = new URL(await this.mf.ready);
    } catch (error) {
      error.message += `\n${this.name} runtime output:\n${this.otherOutput}`;
      throw error;
    }
    this.origin = `http://127.0.0.1:${base.port}`;
    this.pids = descendants().filter((pid) => !before.has(pid));
    assert.ok(this.pids.length > 0, `no new child process found for the ${this.name} runtime`);
    this.freshConnections();
    return this;
  }

  /**
   * Drops the client's kept-alive connections. workerd closes a connection idle for 5 s, and a
   * request sent on one just as it closes fails ("socket hang up"), so each measurement starts
   * with new connections (the same few connects per measurement for both workers).
   */
  freshConnections() {
    this.agent?.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  url(pathAndQuery) {
    return `${this.origin}${pathAndQuery}`;
  }

  /** CPU used so far by the runtime's processes: ticks (stat) and nanoseconds (schedstat). */
  cpu() {
    return cpuOf(this.pids);
  }

  processNames() {
    return this.pids.map((pid) => `${readStat(pid)?.name ?? '?'}(${pid})`).join(', ');
  }

  async stop() {
    this.agent.destroy();
    await this.mf.dispose();
  }
}

function runtimeOptions(kind, snapshot, bindings, compatibilityDate) {
  const common = { compatibilityDate, bindings, host: '127.0.0.1', port: 0, modules: true };
  if (kind === 'rust') {
    return {
      ...common,
      rootPath: snapshot,
      modulesRoot: snapshot,
      scriptPath: path.join(snapshot, 'worker', 'shim.mjs'),
      modulesRules: [
        { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
        { type: 'CompiledWasm', include: ['**/*.wasm'] },
      ],
    };
  }
  return {
    ...common,
    rootPath: __dirname,
    modulesRoot: __dirname,
    scriptPath: SCRIPTS[kind],
    modulesRules: [{ type: 'ESModule', include: ['**/*.mjs'] }],
  };
}

/**
 * The files of a built worker: worker-build's usual layout (index.js, index_bg.wasm,
 * worker/shim.mjs), or its --no-panic-recovery one (worker/index.wasm beside the shim).
 */
function builtFiles(build) {
  const beside = path.join('worker', 'index.wasm');
  const wasm = fs.existsSync(path.join(build, beside)) ? beside : 'index_bg.wasm';
  return ['index.js', wasm, path.join('worker', 'shim.mjs')];
}

/** Size and modification time of each built file, as one string. */
function buildState(build) {
  return builtFiles(build).map((file) => {
    const stat = fs.statSync(path.join(build, file));
    return `${stat.size}@${stat.mtimeMs}`;
  }).join(' ');
}

/**
 * A copy of build/, taken once build/ has not changed for 3 s (scripts/build-worker.sh writes
 * the wasm twice: worker-build's, then wasm-opt's), so that neither a build in progress nor a
 * rebuild during the run changes what is measured.
 */
async function snapshotBuild(build, say) {
  const BUILT = builtFiles(build);
  for (const file of BUILT) {
    if (!fs.existsSync(path.join(build, file))) throw new Error(`${build} has no built worker: run bash scripts/build-worker.sh`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-bench-'));
  fs.mkdirSync(path.join(dir, 'worker'));
  let newest;
  for (let attempt = 0; ; attempt++) {
    const before = buildState(build);
    newest = Math.max(...BUILT.map((file) => fs.statSync(path.join(build, file)).mtimeMs));
    const quiet = Date.now() - newest >= 3000;
    if (quiet) {
      for (const file of BUILT) fs.copyFileSync(path.join(build, file), path.join(dir, file));
      if (buildState(build) === before) break;
    }
    if (attempt === 60) throw new Error(`${build} kept changing for a minute; run the benchmark when no build is running`);
    if (attempt === 0) say(`${build} is being written; waiting until it has not changed for 3 s`);
    await h.sleep(1000);
  }
  const wasm = fs.readFileSync(path.join(dir, BUILT[1]));
  return {
    dir,
    wasmBytes: wasm.length,
    wasmGzip: zlib.gzipSync(wasm, { level: 9 }).length,
    wasmSha: crypto.createHash('sha256').update(wasm).digest('hex').slice(0, 12),
    builtAt: new Date(newest).toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// The application stub: checks the submission's signature and opens the values with node:crypto

const WELCOME = '<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="alice">Welcome back, account AC12345678 &amp; balance 12.55.</Say><Hangup/></Response>';
const UNKNOWN = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>We were not able to locate you in our system. Goodbye.</Say><Hangup/></Response>';

async function startStub() {
  const stub = { submissions: 0, refused: 0, last: null };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json = null;
      if (h.signatureValid(req.headers['x-gather-seal-signature'], body)) {
        try {
          json = JSON.parse(body);
        } catch {
          // refused below
        }
      }
      if (json === null) {
        stub.refused++;
        res.writeHead(401, { 'Content-Type': 'text/plain' });
        res.end('bad signature');
        return;
      }
      stub.submissions++;
      stub.last = json;
      const card = h.openWithNodeCrypto(json.encryptedCardDigits ?? '', h.KEY, `${json.callSid}:card`);
      const pin = h.openWithNodeCrypto(json.encryptedPinDigits ?? '', h.KEY, `${json.callSid}:pin`);
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(card === '1234' && pin === '4321' ? WELCOME : UNKNOWN);
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${server.address().port}/gather-result`;
  stub.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  };
  return stub;
}

// ---------------------------------------------------------------------------------------------
// Calls

/** POSTs form parameters signed by the twilio package; `ms` is the request's time on the wire. */
function post(runtime, url, params, { signature, get = false } = {}) {
  const sig = signature ?? twilio.getExpectedTwilioSignature(h.TOKEN, url, params);
  const body = get ? '' : new URLSearchParams(params).toString();
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      url,
      {
        method: get ? 'GET' : 'POST',
        agent: runtime.agent,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(body),
          'X-Twilio-Signature': sig,
        },
        timeout: 20000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], text, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (error) => {
      error.message = `${runtime.name} worker, ${get ? 'GET' : 'POST'} ${new URL(url).pathname}: ${error.message}\n${runtime.otherOutput.slice(-1000)}`;
      reject(error);
    });
    req.end(body);
  });
}

/**
 * One whole call: it comes in, the caller types the card digits, then the PIN, and the worker
 * hands off to the stub. Returns every step's reply; checks the call went all the way.
 */
async function wholeCall(runtime, latencies) {
  const callSid = h.newCallSid();
  const steps = [];
  let url = runtime.url('/gather');
  let params = h.callParams(callSid);
  for (const digits of ['1234', '4321', null]) {
    const reply = await post(runtime, url, params);
    steps.push(reply);
    if (latencies) latencies.push(reply.ms);
    if (reply.status !== 200) throw new Error(`${runtime.name}: HTTP ${reply.status} in a call: ${reply.text.slice(0, 200)}`);
    if (digits === null) break;
    const action = h.gatherAction(reply.text);
    if (!action) throw new Error(`${runtime.name}: no <Gather> action in ${reply.text.slice(0, 300)}`);
    url = action;
    params = { ...h.callParams(callSid), Digits: digits };
  }
  if (steps[2].text !== WELCOME) throw new Error(`${runtime.name}: the call did not end in the application's TwiML: ${steps[2].text.slice(0, 300)}`);
  return { callSid, steps };
}

/**
 * `units` units of work (a unit is a whole call, or one replayed request) by `callers`
 * concurrent callers; the CPU the runtime used meanwhile, and the idle runtime's.
 */
async function measure(runtime, idle, units, callers, unit = wholeCall) {
  runtime.freshConnections();
  await h.sleep(20);
  const latencies = [];
  let next = 0;
  let requests = 0;
  const before = runtime.cpu();
  const idleBefore = idle.cpu();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < units) {
        next++;
        const done = await unit(runtime, latencies);
        requests += done.steps.length;
      }
    }),
  );
  const wallMs = performance.now() - started;
  const after = runtime.cpu();
  const idleAfter = idle.cpu();
  return {
    requests,
    ticks: after.ticks - before.ticks,
    ns: after.ns - before.ns,
    idleTicks: idleAfter.ticks - idleBefore.ticks,
    wallMs,
    latencies,
  };
}

/**
 * Signed requests for each kind of step, taken from one call, to replay one kind at a time:
 * each replay does that step's whole work again (both workers are stateless between webhooks).
 */
async function stepRequests(runtime) {
  const callSid = h.newCallSid();
  // A GET without a body: a worker that refuses a POST unread leaves its body on the connection.
  const floor = { url: runtime.url('/favicon.ico'), params: {}, status: 404, get: true };
  const steps = { floor };
  for (const [flow, prefix] of [['/gather/redirect', 'redirect'], ['/gather', '']]) {
    const comesIn = { url: runtime.url(flow), params: h.callParams(callSid), status: 200 };
    const asked = await post(runtime, comesIn.url, comesIn.params);
    const card = { url: h.gatherAction(asked.text), params: { ...h.callParams(callSid), Digits: '1234' }, status: 200 };
    const sealed = await post(runtime, card.url, card.params);
    const pin = { url: h.gatherAction(sealed.text), params: { ...h.callParams(callSid), Digits: '4321' }, status: 200 };
    if (prefix === 'redirect') {
      steps.pinRedirect = pin;
    } else {
      Object.assign(steps, { comesIn, card, pin: { ...pin, text: WELCOME } });
    }
  }
  for (const step of Object.values(steps)) step.signature = twilio.getExpectedTwilioSignature(h.TOKEN, step.url, step.params);
  return steps;
}

/** A unit of work that sends `step` again, as signed the first time. */
function replay(step) {
  return async (runtime, latencies) => {
    const reply = await post(runtime, step.url, step.params, { signature: step.signature, get: step.get });
    latencies.push(reply.ms);
    if (reply.status !== step.status || (step.text && reply.text !== step.text)) {
      throw new Error(`${runtime.name}: a replayed step answered HTTP ${reply.status}: ${reply.text.slice(0, 200)}`);
    }
    return { steps: [reply] };
  };
}

// ---------------------------------------------------------------------------------------------
// Checks before timing: both workers do the same work and refuse the same things

/** A reply with its sealed hex values masked, so the two workers' TwiML can be compared. */
const masked = (text) => text.replace(/=[0-9a-f]{64,}/g, '=<sealed>');

async function sameBehaviour(rust, peers, stub) {
  const rustCall = await wholeCall(rust);
  const rustSubmission = stub.last;
  const shape = (s) => Object.entries(s).map(([k, v]) => (k === 'callSid' || k.startsWith('encrypted') ? `${k}:${v.length}` : `${k}=${v}`));
  for (const peer of peers) {
    const peerCall = await wholeCall(peer);
    const peerSubmission = stub.last;
    for (let i = 0; i < 3; i++) {
      const [r, j] = [rustCall.steps[i], peerCall.steps[i]];
      assert.equal(masked(j.text).replaceAll(peer.origin, '<origin>'), masked(r.text).replaceAll(rust.origin, '<origin>'), `step ${i + 1}: the Rust and ${peer.name} workers answer different TwiML`);
      assert.equal(j.type, r.type, `step ${i + 1}: the Rust and ${peer.name} workers answer with different Content-Type`);
    }
    assert.deepEqual(shape(peerSubmission), shape(rustSubmission), `the Rust and ${peer.name} workers submit different JSON`);
  }
  assert.equal(stub.refused, 0, 'the stub refused a submission signature');

  for (const runtime of [rust, ...peers]) {
    const callSid = h.newCallSid();
    const first = runtime.url('/gather');
    const bad = await post(runtime, first, h.callParams(callSid), { signature: twilio.getExpectedTwilioSignature('wrong-token', first, h.callParams(callSid)) });
    assert.equal(bad.status, 403, `${runtime.name}: a bad signature must be refused`);
    const asked = await post(runtime, first, h.callParams(callSid));
    const action = h.gatherAction(asked.text);
    const afterCard = await post(runtime, action, { ...h.callParams(callSid), Digits: '1234' });
    const pinAction = h.gatherAction(afterCard.text);
    // The sealed card carried to another call must not open there.
    const otherCall = h.newCallSid();
    const replayed = await post(runtime, pinAction, { ...h.callParams(otherCall), Digits: '4321' });
    assert.equal(replayed.status, 400, `${runtime.name}: a value carried into another call must be refused`);
    // A flipped bit in the carried value must not open either.
    const flipped = pinAction.replace(/card=([0-9a-f])/, (_, c) => `card=${c === '0' ? '1' : '0'}`);
    const tampered = await post(runtime, flipped, { ...h.callParams(callSid), Digits: '4321' });
    assert.equal(tampered.status, 400, `${runtime.name}: a tampered value must be refused`);
  }
}

// ---------------------------------------------------------------------------------------------
// The phases

/** A new runtime to its first TwiML answer (the call comes in). */
async function coldStart(kind, options) {
  const runtime = new Runtime(kind, options);
  const started = performance.now();
  await runtime.start();
  const ready = performance.now();
  const reply = await post(runtime, runtime.url('/gather'), h.callParams(h.newCallSid()));
  const answered = performance.now();
  assert.equal(reply.status, 200);
  assert.ok(h.gatherAction(reply.text), `${kind}: the first answer is not the first <Gather>`);
  const cpu = runtime.cpu();
  await runtime.stop();
  return { totalMs: answered - started, firstMs: answered - ready, cpuMs: cpu.ns / 1e6 };
}

const perWorker = (make) => Object.fromEntries(NAMES.map((name) => [name, make(name)]));

/** Cold starts, the order rotating, after one of each that is not counted (disk cache). */
async function coldStarts(optionsOf, samples) {
  for (const kind of NAMES) await coldStart(kind, optionsOf[kind]);
  const cold = perWorker(() => []);
  for (let i = 0; i < samples; i++) {
    for (const kind of rotate(NAMES, i)) cold[kind].push(await coldStart(kind, optionsOf[kind]));
  }
  return cold;
}

/**
 * Rounds of whole calls with 1 and with 8 callers, the workers taking turns in a rotating order.
 * While one runs, the next in the list is the idle runtime whose CPU is reported as noise.
 */
async function callRounds(runtimes, options, say) {
  const rounds = { 1: perWorker(() => []), 8: perWorker(() => []) };
  for (let r = 0; r < options.rounds; r++) {
    for (const callers of [1, 8]) {
      for (const runtime of rotate(runtimes, r + (callers === 8 ? 1 : 0))) {
        const idle = runtimes[(runtimes.indexOf(runtime) + 1) % runtimes.length];
        rounds[callers][runtime.name].push(await measure(runtime, idle, options.calls, callers));
      }
    }
    say(`round ${r + 1}/${options.rounds} done`);
  }
  return rounds;
}

/**
 * Where the time goes: each kind of step replayed on its own, 1 caller; steps interleaved within
 * each round and the two workers alternating, so drift in the machine's load spreads over every
 * step alike.
 */
async function stepBreakdown(runtimes, options) {
  const stepsOf = {};
  for (const runtime of runtimes) stepsOf[runtime.name] = await stepRequests(runtime);
  const stepRounds = Object.fromEntries(Object.keys(stepsOf.rust).map((step) => [step, perWorker(() => [])]));
  for (let r = 0; r < options.stepRounds; r++) {
    for (const [i, step] of Object.keys(stepRounds).entries()) {
      for (const runtime of rotate(runtimes, r + i)) {
        const idle = runtimes[(runtimes.indexOf(runtime) + 1) % runtimes.length];
        const result = await measure(runtime, idle, options.stepRequests, 1, replay(stepsOf[runtime.name][step]));
        stepRounds[step][runtime.name].push(result);
      }
    }
  }
  return stepRounds;
}

// ---------------------------------------------------------------------------------------------
// The report

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const f1 = (x) => x.toFixed(1);
const f2 = (x) => x.toFixed(2);
const f3 = (x) => x.toFixed(3);
const ratio = (r, j) => `${f2(r / j)}x`;
const spread = (xs) => {
  const m = median(xs);
  const half = (100 * (Math.max(...xs) - Math.min(...xs))) / 2 / m;
  return `median ${f3(m)}, min ${f3(Math.min(...xs))}, max ${f3(Math.max(...xs))} (±${f1(half)}%)`;
};

/** CPU and latency of a set of rounds. */
function summarize(rs) {
  const requests = sum(rs.map((x) => x.requests));
  const latencies = rs.flatMap((x) => x.latencies);
  return {
    requests,
    cpuMs: (sum(rs.map((x) => x.ticks)) * 1000) / CLK_TCK / requests,
    cpuMsSched: sum(rs.map((x) => x.ns)) / 1e6 / requests,
    perRound: rs.map((x) => x.ns / 1e6 / x.requests),
    idleMs: (sum(rs.map((x) => x.idleTicks)) * 1000) / CLK_TCK,
    wallS: sum(rs.map((x) => x.wallMs)) / 1000,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  };
}

const STEP_LABELS = {
  floor: 'GET unknown path, 404 (runtime, entry, log line)',
  comesIn: 'call comes in (body, signature, settings, first <Gather>)',
  card: 'card digits (+ seal, carried in the action URL)',
  pinRedirect: 'PIN, then.redirect (+ open the card, seal, <Redirect>)',
  pin: 'PIN, then.action (+ open, seal, signed POST to the stub, TwiML check, relay)',
};

function report({ options, snapshot, cold, rounds, stepRounds, logged }) {
  const fig = {};
  for (const callers of [1, 8]) for (const name of NAMES) fig[`${name}${callers}`] = summarize(rounds[callers][name]);
  const coldOf = (key) => (name) => median(cold[name].map((c) => c[key]));
  const of = (callers, key) => (name) => fig[`${name}${callers}`][key];
  const rows = [
    ['runtime CPU per request, whole calls, 1 caller', of(1, 'cpuMs')],
    ['runtime CPU per request, whole calls, 8 callers', of(8, 'cpuMs')],
    [`cold start: new runtime to first TwiML (median of ${options.cold})`, coldOf('totalMs')],
    ['cold start: runtime ready to first TwiML', coldOf('firstMs')],
    ['cold start: runtime CPU to first TwiML', coldOf('cpuMs')],
    ['latency p50, 1 caller', of(1, 'p50')],
    ['latency p99, 1 caller', of(1, 'p99')],
    ['latency p50, 8 callers', of(8, 'p50')],
    ['latency p99, 8 callers', of(8, 'p99')],
  ];
  const out = [];
  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  out.push(`Node ${process.version}, workerd ${require('workerd/package.json').version} (Miniflare), ${os.cpus().length} × ${cpuModel}, load ${os.loadavg().map(f2).join(' ')}`);
  out.push(`${options.rounds} rounds × ${options.calls} whole calls (3 requests each) per worker and concurrency, in turns; Rust wasm ${snapshot.wasmBytes} B (${snapshot.wasmGzip} B gzip), sha256 ${snapshot.wasmSha}…`);
  out.push('');
  out.push('| Twilio-signed whole calls in workerd | Rust worker | JS reference | small JS | Rust/reference | Rust/small |');
  out.push('|---|---:|---:|---:|---:|---:|');
  for (const [label, value] of rows) {
    const [r, j, m] = NAMES.map(value);
    const digits = r < 10 ? f3 : f1;
    out.push(`| ${label} | ${digits(r)} ms | ${digits(j)} ms | ${digits(m)} ms | ${ratio(r, j)} | ${ratio(r, m)} |`);
  }
  out.push('');
  for (const callers of [1, 8]) {
    for (const peer of PEERS) {
      const paired = fig[`rust${callers}`].perRound.map((x, i) => x / fig[`${peer}${callers}`].perRound[i]);
      out.push(`CPU noise, ${callers} caller${callers === 1 ? '' : 's'}: per-round Rust/${peer} ratio median ${f2(median(paired))}x, range ${f2(Math.min(...paired))}x-${f2(Math.max(...paired))}x over ${paired.length} rounds.`);
    }
  }
  out.push('');
  out.push('Raw numbers');
  const each = (format) => NAMES.map((name) => `${name} ${format(name)}`).join(', ');
  for (const callers of [1, 8]) {
    const f = (name) => fig[`${name}${callers}`];
    out.push(`- ${callers} caller${callers === 1 ? '' : 's'}: ${f('rust').requests} requests each`);
    out.push(`  - CPU/request from stat (10 ms ticks, all rounds), ms: ${each((n) => f3(f(n).cpuMs))}`);
    out.push(`  - CPU/request from schedstat (ns, live threads), ms: ${each((n) => f3(f(n).cpuMsSched))}`);
    for (const name of NAMES) out.push(`  - per round, ${name} ms: ${f(name).perRound.map(f3).join(' ')}; ${spread(f(name).perRound)}`);
    for (const peer of PEERS) {
      const paired = f('rust').perRound.map((x, i) => x / f(peer).perRound[i]);
      out.push(`  - per-round ratio rust/${peer}: ${paired.map(f2).join(' ')}; ${spread(paired)}`);
    }
    out.push(`  - wall time, s: ${each((n) => f2(f(n).wallS))}; CPU of an idle runtime meanwhile, ms: ${each((n) => f1(f(n).idleMs))}`);
    out.push(`  - latency ms p50/p99: ${each((n) => `${f3(f(n).p50)}/${f3(f(n).p99)}`)}`);
  }
  for (const name of NAMES) {
    const c = cold[name];
    out.push(`- cold ${name}, ms: new runtime to first TwiML ${c.map((x) => f1(x.totalMs)).join(' ')}; ready to first TwiML ${c.map((x) => f1(x.firstMs)).join(' ')}; runtime CPU by then ${c.map((x) => f1(x.cpuMs)).join(' ')}`);
  }
  out.push(`- where the time goes: runtime CPU per request, one kind of step replayed at a time (signed once), 1 caller, ${options.stepRounds} × ${options.stepRequests} requests each, ms (schedstat; stat in brackets):`);
  for (const [step, label] of Object.entries(STEP_LABELS)) {
    const cpu = (name) => {
      const rs = stepRounds[step][name];
      const n = sum(rs.map((x) => x.requests));
      return { sched: sum(rs.map((x) => x.ns)) / 1e6 / n, stat: (sum(rs.map((x) => x.ticks)) * 1000) / CLK_TCK / n };
    };
    const [r, j, m] = NAMES.map(cpu);
    out.push(`  - ${label}: rust ${f3(r.sched)} [${f3(r.stat)}], reference ${f3(j.sched)} [${f3(j.stat)}], small ${f3(m.sched)} [${f3(m.stat)}]; rust − reference ${f3(r.sched - j.sched)} (${ratio(r.sched, j.sched)}), rust − small ${f3(r.sched - m.sched)} (${ratio(r.sched, m.sched)})`);
  }
  out.push(`- log lines written after the warm-up (the small worker writes none): ${each((n) => `${logged[n].lines} of ${logged[n].requests} requests`)}`);
  return out;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const runStarted = performance.now();
  const say = (line) => process.stderr.write(`bench: ${line}\n`);
  const snapshot = await snapshotBuild(options.build, say);
  const stub = await startStub();
  const bindings = {
    // `redirect`: the same fields handed off with <Redirect>, to tell the hand-off's cost apart.
    GATHER_FLOWS: { default: h.articlesFlow({ action: stub.url }), redirect: h.articlesFlow({ redirect: 'https://app.example.com/next' }) },
    AES_SECRET: h.KEY,
    TWILIO_AUTH_TOKEN: h.TOKEN,
    BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
  };
  const compatibilityDate = h.wranglerConfig().compatibility_date;
  const optionsOf = perWorker((name) => runtimeOptions(name, snapshot.dir, bindings, compatibilityDate));
  const running = [];
  try {
    const shown = path.relative(process.cwd(), options.build);
    say(`Rust worker: ${shown.startsWith('..') ? options.build : shown || '.'}/index_bg.wasm ${snapshot.wasmBytes} B, sha256 ${snapshot.wasmSha}…, built ${snapshot.builtAt}`);
    const cold = await coldStarts(optionsOf, options.cold);
    say(`cold starts done (${options.cold} each)`);

    for (const name of NAMES) running.push(await new Runtime(name, optionsOf[name]).start());
    const runtimes = running;
    const [rust, ...peers] = runtimes;
    say(runtimes.map((r) => `${r.name} runtime: ${r.processNames()}`).join('; '));
    await sameBehaviour(rust, peers, stub);
    say('checked: same TwiML at every step, same submission, bad signature 403, replayed and tampered values 400');

    // Warm-up: JIT tiers, wasm tier-up, connection pools.
    for (const [i, runtime] of runtimes.entries()) {
      const idle = runtimes[(i + 1) % runtimes.length];
      await measure(runtime, idle, options.warmCalls, 1);
      await measure(runtime, idle, options.warmCalls, 8);
    }
    const submissionsBefore = stub.submissions;
    const logBefore = perWorker((name) => runtimes[NAMES.indexOf(name)].logLines);
    const rounds = await callRounds(runtimes, options, say);
    const stepRounds = await stepBreakdown(runtimes, options);
    say('steps replayed');

    // Every measured request reached its worker, and every call (and replayed PIN) reached the
    // stub with a valid signature.
    await h.sleep(300);
    // The measured requests, and the four stepRequests() made to set up the replays.
    const requestsOf = (name) =>
      sum([...rounds[1][name], ...rounds[8][name], ...Object.values(stepRounds).flatMap((x) => x[name])].map((x) => x.requests)) + 4;
    const handOffs = sum(NAMES.flatMap((n) => [...rounds[1][n], ...rounds[8][n]]).map((x) => x.requests)) / 3 +
      sum(NAMES.flatMap((n) => stepRounds.pin[n]).map((x) => x.requests));
    assert.equal(stub.submissions - submissionsBefore, handOffs, 'every measured hand-off reached the stub once');
    assert.equal(stub.refused, 0, 'the stub refused a submission signature');
    const logged = perWorker((name) => ({ lines: runtimes[NAMES.indexOf(name)].logLines - logBefore[name], requests: requestsOf(name) }));

    const out = report({ options, snapshot, cold, rounds, stepRounds, logged });
    out.push(`- whole run ${f1((performance.now() - runStarted) / 1000)} s`);
    for (const runtime of runtimes) {
      if (runtime.otherOutput.trim()) out.push(`- the ${runtime.name} runtime also printed: ${runtime.otherOutput.trim().slice(-500)}`);
    }
    console.log(out.join('\n'));
  } finally {
    for (const runtime of running) await runtime.stop();
    await stub.close();
    fs.rmSync(snapshot.dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
