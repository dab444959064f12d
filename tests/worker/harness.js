'use strict';
// Shared pieces of the worker's end-to-end tests: the BUILT worker (build/, from
// scripts/build-worker.sh) running in the real workerd runtime through Miniflare, a backend
// stub, requests signed by the official `twilio` package, and reference TwiML from its
// VoiceResponse. Nothing here signs, seals or writes TwiML with the crate's own code.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { Miniflare } = require('miniflare');
const twilio = require('twilio');

const ROOT = path.join(__dirname, '..', '..');
const BUILD = path.join(ROOT, 'build');
const SHIM = path.join(BUILD, 'worker', 'shim.mjs');

/** The npm package, used only to make and open sealed values as a backend would. */
function sealingPackage() {
  const pkg = path.join(ROOT, 'pkg');
  if (!fs.existsSync(path.join(pkg, 'package.json'))) {
    throw new Error('pkg/ is missing: run bash scripts/build-node.sh');
  }
  return require(pkg);
}

// Throwaway test secrets.
const KEY = 'a154eb4c759711bc2538a7cc021e9e9f17dd8aa63151c62ca28a82a4a404203d';
const OLD_KEY = '5f3b1c7d9e2a4b6c8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e';
const OTHER_KEY = '0f'.repeat(32);
const TOKEN = 'b7e4c2a9f1d3e5a7c9b1d3f5a7c9e1b3';

/** The [vars] of wrangler.toml (string values only), so the tests run on the shipped flow. */
function wranglerVars() {
  const text = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const vars = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = line.match(/^\[([^\]]+)\]$/);
    if (header) {
      section = header[1];
      continue;
    }
    const pair = line.match(/^([A-Z0-9_]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(#.*)?$/);
    if (section === 'vars' && pair) vars[pair[1]] = JSON.parse(`"${pair[2]}"`);
  }
  return vars;
}

function compatibilityDate() {
  const text = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const match = text.match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  assert.ok(match, 'wrangler.toml has a compatibility_date');
  return match[1];
}

/** A port nothing listens on (now). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The built worker in workerd with these bindings (vars and secrets alike), listening on
 * 127.0.0.1. Collects everything the runtime prints, so tests can read the worker's log.
 */
async function startWorker(bindings, { port } = {}) {
  if (!fs.existsSync(SHIM) || !fs.existsSync(path.join(BUILD, 'index_bg.wasm'))) {
    throw new Error('build/ is missing: run bash scripts/build-worker.sh');
  }
  let output = '';
  const mf = new Miniflare({
    rootPath: ROOT,
    scriptPath: SHIM,
    modules: true,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: compatibilityDate(),
    bindings,
    host: '127.0.0.1',
    port: port ?? 0,
    handleRuntimeStdio(stdout, stderr) {
      stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
      stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    },
  });
  const base = new URL(await mf.ready);
  const origin = `http://127.0.0.1:${base.port}`;
  return {
    origin,
    url: (pathAndQuery) => `${origin}${pathAndQuery}`,
    /** Everything the runtime printed so far. */
    output: () => output,
    /** The worker's JSON log lines so far, parsed. */
    logLines: () => parseLogLines(output),
    /** Waits until the worker has written at least `count` log lines. */
    async waitForLogLines(count, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (parseLogLines(output).length < count && Date.now() < deadline) {
        await sleep(20);
      }
      return parseLogLines(output);
    },
    dispose: () => mf.dispose(),
  };
}

function parseLogLines(output) {
  const lines = [];
  for (const line of output.split('\n')) {
    const text = line.trim();
    if (!text.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(text));
    } catch {
      // not one of ours
    }
  }
  return lines;
}

/**
 * A backend on 127.0.0.1 that records what it receives. `answer(request)` decides the reply:
 * `{ status, json | body, delayMs }`; the default opens the values like a real backend would.
 */
async function startBackend(answer) {
  const requests = [];
  const backend = { requests, answer };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(request);
      const reply = (await backend.answer(request)) || { status: 500 };
      if (reply.delayMs) {
        // Wait, unless the worker gives up first (it aborts, and the connection closes).
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, reply.delayMs);
          res.on('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (res.destroyed || res.writableEnded) return;
      const payload = reply.json !== undefined ? JSON.stringify(reply.json) : reply.body ?? '';
      res.writeHead(reply.status, { 'Content-Type': reply.type ?? 'application/json' });
      res.end(payload);
    });
  });
  server.on('clientError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.url = `http://127.0.0.1:${server.address().port}/decrypt-gather`;
  backend.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return backend;
}

/** A call SID of hex letters only, so that no digit the tests type can hide inside it. */
function newCallSid() {
  const letters = 'abcdef';
  let sid = 'CA';
  for (const byte of crypto.randomBytes(32)) sid += letters[byte % letters.length];
  return sid;
}

/** What Twilio posts to a voice webhook (a representative subset). */
function callParams(callSid) {
  return {
    AccountSid: `AC${'e'.repeat(32)}`,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'in-progress',
    Called: '+15005550006',
    Caller: '+15005550001',
    Direction: 'inbound',
    From: '+15005550001',
    To: '+15005550006',
  };
}

/**
 * POSTs form parameters to `url`, signed by the twilio package unless `signature` is given
 * (`null`: no header). `signUrl`/`signParams` sign something other than what is sent.
 */
async function signedPost(url, params, options = {}) {
  const {
    token = TOKEN,
    signature,
    signUrl = url,
    signParams = params,
    headers = {},
    method = 'POST',
    body,
  } = options;
  const sig = signature === undefined ? twilio.getExpectedTwilioSignature(token, signUrl, signParams) : signature;
  const all = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
  if (sig !== null) all['X-Twilio-Signature'] = sig;
  const response = await fetch(url, {
    method,
    headers: all,
    body: method === 'GET' || method === 'HEAD' ? undefined : body ?? new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(20000),
  });
  return { status: response.status, type: response.headers.get('content-type'), headers: response.headers, text: await response.text() };
}

/** The action URL of the <Gather> in a TwiML document (entities decoded), or null. */
function gatherAction(xml) {
  const match = xml.match(/<Gather\b[^>]*\saction="([^"]*)"/);
  return match ? match[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') : null;
}

/**
 * Plays a call: the first webhook, then one action per entry of `typed` (a string of digits,
 * '' for silence), following each <Gather> action. Returns every step.
 */
async function walkCall(worker, typed, { callSid = newCallSid() } = {}) {
  const steps = [];
  let url = worker.url('/gather');
  let params = callParams(callSid);
  const queue = [...typed];
  for (let i = 0; i < 20; i++) {
    const reply = await signedPost(url, params);
    steps.push({ url, params, reply });
    const action = gatherAction(reply.text);
    if (reply.status !== 200 || !action || queue.length === 0) break;
    url = action;
    params = { ...callParams(callSid), Digits: queue.shift() };
  }
  return { callSid, steps };
}

// Reference TwiML from the twilio package, for the same verbs and attributes.
const VoiceResponse = twilio.twiml.VoiceResponse;

function expectedAsk({ action, numDigits = 4, timeout = 10, prompts }) {
  const response = new VoiceResponse();
  const gather = response.gather({ input: 'dtmf', numDigits, timeout, method: 'POST', action, actionOnEmptyResult: true });
  for (const prompt of prompts) gather.say(prompt);
  return response.toString();
}

function expectedGoodbye(message) {
  const response = new VoiceResponse();
  response.say(message);
  response.hangup();
  return response.toString();
}

function expectedThanks(account, balance) {
  const response = new VoiceResponse();
  response.say(`Thank you. Your account number is ${account} and your balance is ${balance}`);
  return response.toString();
}

const CARD_PROMPT = 'Please enter the last 4 digits of your payment card number.';
const PIN_PROMPT = 'Please enter your 4 digit PIN.';
const NOT_FOUND = 'We were not able to locate you in our system. Goodbye.';
const TOO_MANY = 'Sorry, we could not get your details. Goodbye.';
const APOLOGY = 'Sorry, we cannot take your call right now. Please try again later. Goodbye.';
const SORRY = 'Sorry, that was not 4 digits.';

/** The query of an action URL as an object. */
function queryOf(url) {
  return Object.fromEntries(new URL(url).searchParams);
}

/**
 * Asserts the worker's log holds nothing secret: no typed digits, no sealed value, no key or
 * token, and only well-formed lines of the documented shape. The `ms` field is a duration
 * and is left out of the digit check.
 */
function assertCleanLog(output, { digits = [], sealed = [], secrets = [] }) {
  const withoutDurations = output.replace(/"ms":\d+/g, '"ms":0');
  for (const d of digits) {
    if (d.length > 0) assert.ok(!withoutDurations.includes(d), `digits ${d} appear in the worker's log`);
  }
  for (const s of sealed) assert.ok(!output.includes(s), 'a sealed value appears in the log');
  for (const s of secrets) assert.ok(!output.includes(s), 'a secret appears in the log');
  for (const line of parseLogLines(output)) {
    const keys = Object.keys(line).sort().join(',');
    assert.ok(
      keys === 'callSid,ms,outcome,step' || keys === 'callSid,ms,outcome,problem,setting,step',
      `unexpected log line shape: ${JSON.stringify(line)}`,
    );
    assert.equal(typeof line.outcome, 'string');
    assert.equal(typeof line.ms, 'number');
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A stub backend answering with `answer`, and the built worker posting to it with the demo
 * backend off, the test key and token, and `vars` on top. `close()` stops both.
 */
async function startWorkerWithBackend(answer, vars = {}) {
  const backend = await startBackend(answer);
  const worker = await startWorker({
    ...wranglerVars(),
    DEMO_BACKEND: 'false',
    BACKEND_URL: backend.url,
    AES_SECRET: KEY,
    TWILIO_AUTH_TOKEN: TOKEN,
    ...vars,
  });
  return {
    worker,
    backend,
    async close() {
      await worker.dispose();
      await backend.close();
    },
  };
}

module.exports = {
  APOLOGY,
  CARD_PROMPT,
  KEY,
  NOT_FOUND,
  OLD_KEY,
  OTHER_KEY,
  PIN_PROMPT,
  SORRY,
  TOKEN,
  TOO_MANY,
  assertCleanLog,
  callParams,
  expectedAsk,
  expectedGoodbye,
  expectedThanks,
  freePort,
  gatherAction,
  newCallSid,
  queryOf,
  sealingPackage,
  signedPost,
  sleep,
  startBackend,
  startWorker,
  startWorkerWithBackend,
  walkCall,
  wranglerVars,
};
