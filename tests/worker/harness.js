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
const TOML = require('smol-toml');
const twilio = require('twilio');
const { connect: connectRelay } = require('../support/conversation-relay');
const { assertNoPlaintext } = require('../support/plaintext');

const ROOT = path.join(__dirname, '..', '..');

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
const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef0123456789';

/** wrangler.toml, parsed, as plain JSON-shaped objects (what wrangler hands the worker). */
function wranglerConfig() {
  return JSON.parse(JSON.stringify(TOML.parse(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'))));
}

/** The local development settings, [env.dev.vars], which scripts/dev.sh serves. */
function devVars() {
  return wranglerConfig().env.dev.vars;
}

/**
 * The articles' flow as the local demo configures it (card digits, then PIN), with `then`
 * replaced, and any other keys of `extra` on top. The demo's `limits` are left out: a test that
 * counts failures across calls sets its own.
 */
function articlesFlow(then, extra = {}) {
  const { limits: _demoLimits, ...flow } = structuredClone(devVars().GATHER_FLOWS.default);
  return { ...flow, then, ...extra };
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
 * 127.0.0.1: the production build (build/), or with `build: 'build-dev'` the local
 * development build that adds the demo backend. Collects everything the runtime prints, so tests can read the worker's log.
 */
/**
 * The built worker in workerd, with these bindings. `lockout` replaces the LOCKOUT Durable
 * Object binding (`null`: none); `workers` adds other workers to the same runtime (a stand-in
 * Durable Object class, say).
 */
async function startWorker(bindings, { port, build = 'build', lockout, workers = [] } = {}) {
  const dir = path.join(ROOT, build);
  const shim = path.join(dir, 'worker', 'shim.mjs');
  if (!fs.existsSync(shim) || !fs.existsSync(path.join(dir, 'index_bg.wasm'))) {
    const how = build === 'build' ? 'bash scripts/build-worker.sh' : 'bash scripts/build-worker.sh --demo';
    throw new Error(`${build}/ is missing: run ${how}`);
  }
  let output = '';
  // As wrangler.toml binds it: the lockout counters, SQLite-backed, in memory for the test.
  const durableObjects =
    lockout === null ? {} : { LOCKOUT: lockout ?? { className: 'Lockout', useSQLite: true } };
  const main = {
    name: 'gather-seal',
    rootPath: ROOT,
    modulesRoot: ROOT,
    scriptPath: shim,
    modules: true,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: compatibilityDate(),
    bindings,
    durableObjects,
  };
  const mf = new Miniflare({
    ...(workers.length > 0 ? { workers: [main, ...workers] } : main),
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

/** The worker's log lines for one call, once there are `count` of them (or after 3 s). */
async function logLinesOf(worker, callSid, count) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const lines = worker.logLines().filter((l) => l.callSid === callSid);
    if (lines.length >= count || Date.now() > deadline) return lines;
    await sleep(20);
  }
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
 * Checks a submission's X-Gather-Seal-Signature with node:crypto, independently of the
 * crate: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, within 300 s.
 */
function signatureValid(header, body, secret = SIGNING_SECRET) {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header || '');
  if (!match) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${match[1]}.${body}`).digest();
  const fresh = Math.abs(Date.now() / 1000 - Number(match[1])) <= 300;
  return fresh && crypto.timingSafeEqual(expected, Buffer.from(match[2], 'hex'));
}

/**
 * An application backend on 127.0.0.1 that records what it receives. Every request's
 * signature is checked with node:crypto first: a bad one is answered 401 and recorded with
 * `signed: false`. Otherwise `answer(request)` decides the reply:
 * `{ status, json | body, type, delayMs, headers }`; `request.opened` holds the values opened
 * with node:crypto under KEY and their contexts.
 */
async function startBackend(answer) {
  const requests = [];
  const backend = { requests, answer };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signed = signatureValid(req.headers['x-gather-seal-signature'], body);
      const request = { method: req.method, url: req.url, headers: req.headers, body, signed };
      requests.push(request);
      if (!signed) {
        res.writeHead(401, { 'Content-Type': 'text/plain' });
        res.end('bad signature');
        return;
      }
      try {
        request.json = JSON.parse(body);
      } catch {
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        res.end('not JSON');
        return;
      }
      request.opened = openSubmission(request.json);
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
      res.writeHead(reply.status, { 'Content-Type': reply.type ?? 'application/json', ...reply.headers });
      res.end(payload);
    });
  });
  server.on('clientError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.origin = `http://127.0.0.1:${server.address().port}`;
  backend.url = `${backend.origin}/gather-result`;
  backend.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return backend;
}

/** Opens every encrypted<Name>Digits of a submission with node:crypto: { name: plaintext }. */
function openSubmission(submission, key = KEY) {
  const opened = {};
  for (const [member, value] of Object.entries(submission)) {
    const match = /^encrypted([A-Z][a-z0-9]*(?:[A-Z][a-z0-9]*)*)Digits$/.exec(member);
    if (!match) continue;
    const name = match[1].replace(/[A-Z]/g, (c, i) => (i === 0 ? '' : '_') + c.toLowerCase());
    opened[name] = openWithNodeCrypto(value, key, `${submission.callSid}:${name}`);
  }
  return opened;
}

/** hex(nonce 12 ‖ ciphertext ‖ tag 16) opened with node:crypto; null when it does not open. */
function openWithNodeCrypto(hex, key, context) {
  try {
    const bytes = Buffer.from(hex, 'hex');
    const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(key, 'hex'), bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
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
 * '' for silence), following each <Gather> action, from `from` (Twilio's `From`) if given.
 * Returns every step.
 */
async function walkCall(worker, typed, { callSid = newCallSid(), path: route = '/gather', from } = {}) {
  const steps = [];
  let url = worker.url(route);
  const callFrom = from === undefined ? {} : { From: from, Caller: from };
  let params = { ...callParams(callSid), ...callFrom };
  const queue = [...typed];
  for (let i = 0; i < 20; i++) {
    const reply = await signedPost(url, params);
    steps.push({ url, params, reply });
    const action = gatherAction(reply.text);
    if (reply.status !== 200 || !action || queue.length === 0) break;
    url = action;
    params = { ...callParams(callSid), ...callFrom, Digits: queue.shift() };
  }
  return { callSid, steps };
}

// Reference TwiML from the twilio package, for the same verbs and attributes.
const VoiceResponse = twilio.twiml.VoiceResponse;

function expectedAsk({ action, numDigits = 4, finishOnKey, timeout = 10, prompts, language, voice }) {
  const response = new VoiceResponse();
  const attributes = { input: 'dtmf', numDigits };
  if (finishOnKey) attributes.finishOnKey = finishOnKey;
  Object.assign(attributes, { timeout, method: 'POST', action, actionOnEmptyResult: true });
  if (language) attributes.language = language;
  const gather = response.gather(attributes);
  for (const prompt of prompts) gather.say(speech({ voice, language }), prompt);
  return response.toString();
}

/** <Say> attributes, only those set. */
function speech({ voice, language } = {}) {
  const attributes = {};
  if (voice) attributes.voice = voice;
  if (language) attributes.language = language;
  return attributes;
}

function expectedGoodbye(message, options) {
  const response = new VoiceResponse();
  response.say(speech(options), message);
  response.hangup();
  return response.toString();
}

function expectedThanks(account, balance, options) {
  const response = new VoiceResponse();
  response.say(speech(options), `Thank you. Your account number is ${account} and your balance is ${balance}`);
  return response.toString();
}

function expectedRedirect(url) {
  const response = new VoiceResponse();
  response.redirect({ method: 'POST' }, url);
  return response.toString();
}

const CARD_PROMPT = 'Please enter the last 4 digits of your payment card number.';
const PIN_PROMPT = 'Please enter your 4 digit PIN.';
const TOO_MANY = 'Sorry, we could not get your details. Goodbye.';
const APOLOGY = 'Sorry, we cannot take your call right now. Please try again later. Goodbye.';
const SORRY = 'Sorry, that was not 4 digits.';

/** The query of an action URL as an object. */
function queryOf(url) {
  return Object.fromEntries(new URL(url).searchParams);
}

/**
 * Asserts the worker's log holds nothing secret: no typed digits (as a token, see
 * tests/support/plaintext.js), no sealed value, no key, token or other secret (exact
 * substrings: they are long; a caller's number goes here too, since inside "+15005550101" the
 * digits are no token), and only well-formed lines of the documented shape. The `ms` field is
 * a duration and is left out of the digit check.
 */
function assertCleanLog(output, { digits = [], sealed = [], secrets = [] }) {
  assertNoPlaintext(output.replace(/"ms":\d+/g, '"ms":0'), digits, "the worker's log");
  for (const s of sealed) assert.ok(!output.includes(s), 'a sealed value appears in the log');
  for (const s of secrets) assert.ok(!output.includes(s), 'a secret appears in the log');
  const required = ['callSid', 'flow', 'ms', 'outcome', 'step'];
  const optional = ['result', 'setting', 'problem'];
  for (const line of parseLogLines(output)) {
    const keys = Object.keys(line);
    assert.ok(
      required.every((k) => keys.includes(k)) && keys.every((k) => required.includes(k) || optional.includes(k)),
      `unexpected log line shape: ${JSON.stringify(line)}`,
    );
    assert.equal(typeof line.outcome, 'string');
    assert.equal(typeof line.ms, 'number');
  }
}

/** The WebSocket URL of the worker's relay `name`, as dialled: ws://127.0.0.1:<port>/relay/<name>. */
function relaySocketUrl(worker, name) {
  return worker.url(`/relay/${name}`).replace(/^http/, 'ws');
}

/**
 * Opens the worker's relay `name` with the ConversationRelay stand-in, as Twilio would: the
 * handshake signed by the twilio package (`getExpectedTwilioSignature(token, signUrl, {})`: the
 * URL Twilio was given, no parameters; `signUrl` defaults to the one dialled), with `algorithm`
 * and the `settings` header for a shared key, or with `signature` as given (`null`: none).
 * `setup`: fields laid over the setup message sent first. Rejects with `status` when refused.
 */
function openRelay(worker, name, { token = TOKEN, signUrl, algorithm, settings, signature, setup = {} } = {}) {
  const url = relaySocketUrl(worker, name);
  const sig = signature === undefined ? twilio.getExpectedTwilioSignature(token, signUrl ?? url, {}, algorithm) : signature;
  const headers = {};
  if (sig !== null) headers['X-Twilio-Signature'] = sig;
  if (settings !== undefined) headers['X-Twilio-Webhooks-Signature-Settings'] = settings;
  return connectRelay(url, { headers, setup });
}

/** The relay-session log line of the call `callSid`, once written (or null after 3 s). */
async function relaySessionLine(worker, callSid) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const line = worker.logLines().find((l) => l.outcome === 'relay-session' && l.callSid === callSid);
    if (line || Date.now() > deadline) return line ?? null;
    await sleep(20);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A stub backend answering with `answer`, and the built worker whose `default` flow is the
 * articles' call handed to it with `action` (or `flows` instead), the test key, token and
 * signing secret, and `vars` on top. `close()` stops both.
 */
async function startWorkerWithBackend(answer, vars = {}, { flows, ...options } = {}) {
  const backend = await startBackend(answer);
  const worker = await startWorker({
    GATHER_FLOWS: flows ? flows(backend) : { default: articlesFlow({ action: backend.url }) },
    AES_SECRET: KEY,
    TWILIO_AUTH_TOKEN: TOKEN,
    BACKEND_SIGNING_SECRET: SIGNING_SECRET,
    ...vars,
  }, options);
  return {
    worker,
    backend,
    async close() {
      await worker.dispose();
      await backend.close();
    },
  };
}

/** The articles' backend: JSON with the account for card 1234 and PIN 4321, else 404. */
function articlesBackend({ account = 'AC12345678', balance = '12.55' } = {}) {
  return (request) =>
    request.opened.card === '1234' && request.opened.pin === '4321'
      ? { status: 200, json: { account, balance } }
      : { status: 404, body: 'No data found', type: 'text/plain' };
}

module.exports = {
  APOLOGY,
  CARD_PROMPT,
  KEY,
  OLD_KEY,
  OTHER_KEY,
  PIN_PROMPT,
  SIGNING_SECRET,
  SORRY,
  TOKEN,
  TOO_MANY,
  articlesBackend,
  articlesFlow,
  assertCleanLog,
  assertNoPlaintext,
  callParams,
  devVars,
  expectedAsk,
  expectedGoodbye,
  expectedRedirect,
  expectedThanks,
  freePort,
  gatherAction,
  logLinesOf,
  newCallSid,
  openRelay,
  openWithNodeCrypto,
  queryOf,
  relaySessionLine,
  relaySocketUrl,
  sealingPackage,
  signatureValid,
  signedPost,
  sleep,
  startBackend,
  startWorker,
  startWorkerWithBackend,
  walkCall,
  wranglerConfig,
};
