#!/usr/bin/env node
'use strict';
// A stand-in for Twilio Verify v2, for the end-to-end tests and for local development: Prism (@stoplight/prism-cli) in
// proxy mode, checking every request against Twilio's own OpenAPI description of Verify v2
// (twilio_verify_v2.json, shipped in @twilio-alpha/mcp's copy of twilio-oai), in front of a
// node:http stub that decides the outcome.
//
//   client (the worker) ──> Prism :url ──> stub (this process)
//
// Prism refuses, without forwarding, a request that breaks the description: no or malformed
// HTTP Basic `Authorization` (401), a service SID that is not VA + 32 hex digits, a missing
// required form field (`To`, `Channel` for a new verification), a body that is not
// application/x-www-form-urlencoded (422), an unknown path (404) or method (405). What reaches
// the stub is in `requests`; what Prism refused or flagged is in `violations` (from its log).
//
// Caveat measured with Prism 5.14.2: for a new verification (201) Prism does not check the
// response body at all (the schema has untyped `nullable` members that its JSON-schema
// compiler rejects, and the failure is silently skipped). verify-mock.test.js checks the
// stub's bodies against the description itself. VerificationCheck bodies are checked by Prism.
//
// The caller's phone, too (option `handset`, on from the command line): the stub remembers the
// code of each verification it "sent" (`sent`), and a small front on the same port answers
// `GET /handset/messages?To=<number>` with them, passing every other request to Prism
// unchanged:
//
//   client ──> front :url ──> Prism ──> stub          GET /handset/messages: answered by the front
//
// That is what the call simulator page (development build) shows as the text the caller
// received; it is no part of Twilio's API, and the real Verify has nothing like it.
//
// From the command line (what the dev flow "otp" in wrangler.toml's [env.dev] calls):
//
//   node scripts/verify-mock.js [--port 4010] [--code 123456]
//
// serves Verify on http://127.0.0.1:PORT until Ctrl-C, approving only CODE, with the handset,
// and prints every request it answers (the code a caller typed included: this is a local mock).

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const PRISM_BIN = path.join(
  path.dirname(require.resolve('@stoplight/prism-cli/package.json')),
  require('@stoplight/prism-cli/package.json').bin.prism,
);
const SPEC = path.join(
  path.dirname(require.resolve('@twilio-alpha/mcp/package.json')),
  'twilio-oai',
  'spec',
  'json',
  'twilio_verify_v2.json',
);

// Throwaway test identifiers (the shapes the description demands: prefix + 32 hex digits). The
// API key SID differs from the one published in .dev.vars.example, which the production build
// refuses to run with.
const SERVICE_SID = 'VA0123456789abcdef0123456789abcdef';
const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const API_KEY_SID = 'SK00112233445566778899aabbccddeeff';
const API_KEY_SECRET = 'test-verify-secret-0123456789abcd';

const CHANNELS = ['sms', 'call', 'email', 'whatsapp', 'sna'];

/**
 * Starts the stub and Prism in front of it. Options (all optional):
 * - `code`: the code a VerificationCheck must carry to be approved (default '123456');
 * - `mode`: 'ok' (default), 'down' (the stub answers 503 with Twilio's error shape), 'hangup'
 *   (the stub drops the connection; Prism answers 500), 'slow' (the stub waits `slowMs`,
 *   default 10000, before answering normally). `verify.mode` can be changed at any time;
 * - `credentials`: `{ username, password }`: the stub then answers 401 (Twilio error 20003)
 *   to other Basic credentials (Prism only checks that Basic credentials are present);
 * - `accountSid`: the account SID in answers;
 * - `answer(request)`: return `{ status, json }` to answer a request your way (or nothing);
 * - `startTimeoutMs`: how long Prism may take to become ready (default 30000);
 * - `handset`: serve `GET /handset/messages?To=` (the codes sent to that number) at `url`, in
 *   front of Prism (`prismUrl`); off by default, so that `url` is Prism itself;
 * - `port`: the port of `url` (default: a free one).
 *
 * Returns `{ url, prismUrl, serviceSid, requests, sent, violations, log(), waitForViolations(),
 * reset(), mode, settle(), code, startupMs, pid, stubUrl, close() }`.
 */
async function startVerify(options = {}) {
  const verify = {
    mode: options.mode ?? 'ok',
    code: options.code ?? '123456',
    slowMs: options.slowMs ?? 10000,
    accountSid: options.accountSid ?? ACCOUNT_SID,
    credentials: options.credentials ?? null,
    answer: options.answer ?? null,
    serviceSid: SERVICE_SID,
    /** Every request that reached the stub (so passed Prism), in order. */
    requests: [],
    /** The verification SID (and channel) of the latest verification per `To`. */
    verifications: new Map(),
    /** Each code "sent" (a verification created): { to, channel, code, sid, at }, in order. */
    sent: [],
  };
  const stub = await startStub(verify);
  let prism;
  try {
    prism = await startPrism(stub.origin, options.startTimeoutMs ?? 30000, options.handset ? undefined : options.port);
  } catch (error) {
    await stub.close();
    throw error;
  }
  let front = null;
  if (options.handset) {
    try {
      front = await startFront(verify, prism.origin, options.port);
    } catch (error) {
      await prism.close();
      await stub.close();
      throw error;
    }
  }
  verify.url = front ? front.origin : prism.origin;
  verify.prismUrl = prism.origin;
  verify.pid = prism.pid;
  verify.stubUrl = stub.origin;
  verify.startupMs = prism.startupMs;
  verify.log = () => prism.output();
  Object.defineProperty(verify, 'violations', {
    enumerable: true,
    /** What Prism refused or flagged, parsed from its log: { method, path, severity, message }. */
    get: () => parseViolations(prism.output()),
  });
  verify.waitForViolations = async (atLeast, timeoutMs = 2000) => {
    const deadline = Date.now() + timeoutMs;
    while (verify.violations.length < atLeast && Date.now() < deadline) await sleep(20);
    return verify.violations;
  };
  /**
   * Waits until Prism has logged the end of every request it received and then been quiet for
   * a moment (its lines about a refused request come after the answer). Call it before
   * asserting on `violations`. A request still in progress (mode 'slow') ends the wait after
   * `timeoutMs`.
   */
  verify.settle = async (timeoutMs = 2000) => {
    const deadline = Date.now() + timeoutMs;
    let seen = -1;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      const output = prism.output();
      if (output.length !== seen) {
        seen = output.length;
        quietSince = Date.now();
      }
      const received = count(output, /Request received/g);
      const ended = count(output, /Request terminated with error|< Received forward response/g);
      if (ended >= received && Date.now() - quietSince >= 50) return;
      await sleep(10);
    }
  };
  /** Forgets the requests, verifications and violations so far (after settle()). */
  verify.reset = async () => {
    await verify.settle();
    verify.requests.length = 0;
    verify.verifications.clear();
    verify.sent.length = 0;
    prism.clearOutput();
  };
  let closing;
  verify.close = () => {
    closing ??= (async () => {
      await front?.close();
      await prism.close();
      await stub.close();
    })();
    return closing;
  };
  return verify;
}

// ---------------------------------------------------------------------------------------------
// The stub upstream

async function startStub(verify) {
  const timers = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://stub');
      const match = /^\/v2\/Services\/([^/]+)\/(Verifications|VerificationCheck)$/.exec(url.pathname);
      const request = {
        method: req.method,
        path: url.pathname,
        headers: req.headers,
        body,
        form: Object.fromEntries(new URLSearchParams(body)),
        auth: basicCredentials(req.headers.authorization),
        serviceSid: match ? match[1] : null,
        operation: match ? (match[2] === 'Verifications' ? 'verification' : 'check') : null,
      };
      verify.requests.push(request);

      const mode = verify.mode;
      if (mode === 'hangup') {
        request.status = 'hangup';
        req.socket.destroy();
        return;
      }
      if (mode === 'slow') {
        // Wait, unless the connection closes first (Prism was stopped).
        await new Promise((resolve) => {
          const done = () => {
            clearTimeout(timer);
            timers.delete(timer);
            resolve();
          };
          const timer = setTimeout(done, verify.slowMs);
          timers.add(timer);
          res.on('close', done);
        });
        if (res.destroyed || res.writableEnded) return;
      }
      const reply = decide(verify, request, mode);
      request.status = reply.status;
      request.reply = reply.json;
      res.writeHead(reply.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(reply.json));
    });
  });
  server.on('clientError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** What the stub answers: { status, json }. */
function decide(verify, request, mode) {
  const custom = verify.answer?.(request);
  if (custom) return custom;
  if (mode === 'down') return twilioError(503, 20503, 'Service Unavailable');
  const { username, password } = verify.credentials ?? {};
  if (verify.credentials && (request.auth?.username !== username || request.auth?.password !== password)) {
    return twilioError(401, 20003, 'Authenticate');
  }
  const now = twilioDate(new Date());
  const { form, serviceSid } = request;
  if (request.operation === 'verification') {
    if (!CHANNELS.includes(form.Channel)) {
      return twilioError(400, 60200, `Invalid parameter \`Channel\`: ${form.Channel}`);
    }
    const sid = `VE${crypto.randomBytes(16).toString('hex')}`;
    verify.verifications.set(form.To, { sid, channel: form.Channel });
    verify.sent.push({ to: form.To, channel: form.Channel, code: verify.code, sid, at: Date.now() });
    return {
      status: 201,
      json: {
        sid,
        service_sid: serviceSid,
        account_sid: verify.accountSid,
        to: form.To,
        channel: form.Channel,
        status: 'pending',
        valid: false,
        date_created: now,
        date_updated: now,
        lookup: {},
        amount: null,
        payee: null,
        send_code_attempts: [
          { time: now, channel: form.Channel.toUpperCase(), attempt_sid: `VL${crypto.randomBytes(16).toString('hex')}` },
        ],
        sna: null,
        url: `https://verify.twilio.com/v2/Services/${serviceSid}/Verifications/${sid}`,
      },
    };
  }
  if (request.operation === 'check') {
    const known = verify.verifications.get(form.To);
    const approved = form.Code === verify.code;
    return {
      status: 200,
      json: {
        sid: known?.sid ?? `VE${crypto.randomBytes(16).toString('hex')}`,
        service_sid: serviceSid,
        account_sid: verify.accountSid,
        to: form.To ?? null,
        channel: known?.channel ?? 'sms',
        status: approved ? 'approved' : 'pending',
        valid: approved,
        amount: null,
        payee: null,
        sna_attempts_error_codes: [],
        date_created: now,
        date_updated: now,
      },
    };
  }
  return twilioError(404, 20404, 'The requested resource was not found');
}

/** Twilio's error body. */
function twilioError(status, code, message) {
  return { status, json: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

/** 2015-07-30T20:00:00Z, as in the description's examples. */
function twilioDate(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function basicCredentials(header) {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return null;
  const text = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? null : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

// ---------------------------------------------------------------------------------------------
// The handset front

/** Answers GET /handset/messages?To= itself and passes everything else to Prism as it came. */
async function startFront(verify, prismOrigin, port) {
  const target = new URL(prismOrigin);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://front');
    if (url.pathname === '/handset/messages') {
      const status = req.method === 'GET' ? 200 : 405;
      const to = url.searchParams.get('To') ?? '';
      const messages = verify.sent
        .filter((m) => m.to === to)
        .map(({ to, channel, code, sid, at }) => ({ to, channel, code, sid, at, body: `Your verification code is: ${code}` }));
      res.writeHead(status, { 'Content-Type': 'application/json', ...(status === 405 ? { Allow: 'GET' } : {}) });
      res.end(JSON.stringify(status === 200 ? { to, messages } : { error: 'GET only' }));
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end();
    });
    req.pipe(upstream);
  });
  server.on('clientError', () => {});
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, '127.0.0.1', resolve);
  });
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Prism

/** Starts `prism proxy SPEC UPSTREAM -p PORT --errors`; retries on another port if it is taken. */
async function startPrism(upstream, timeoutMs, fixedPort) {
  let lastError;
  for (let attempt = 0; attempt < (fixedPort ? 1 : 3); attempt++) {
    const port = fixedPort ?? (await freePort());
    try {
      return await spawnPrism(upstream, port, timeoutMs);
    } catch (error) {
      lastError = error;
      if (!/EADDRINUSE/.test(error.message)) break;
    }
  }
  throw lastError;
}

async function spawnPrism(upstream, port, timeoutMs) {
  const started = Date.now();
  const args = [PRISM_BIN, 'proxy', SPEC, upstream, '--host', '127.0.0.1', '--port', String(port), '--errors'];
  // Its own process group, so that close() can end it and anything it starts.
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let gone = false;
  exited.then(() => (gone = true));
  // If the test process ends without close(), do not leave Prism behind.
  const killOnExit = () => killGroup(child.pid, 'SIGKILL');
  process.on('exit', killOnExit);

  const close = async () => {
    process.removeListener('exit', killOnExit);
    if (gone) return;
    killGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  const origin = `http://127.0.0.1:${port}`;
  const deadline = started + timeoutMs;
  for (;;) {
    if (gone) {
      await close();
      throw new Error(
        `Prism exited before it was ready (${args.slice(1).join(' ')}).\nstderr:\n${stderr}\nstdout (tail):\n${stdout.slice(-2000)}`,
      );
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(
        `Prism was not ready within ${timeoutMs} ms (${args.slice(1).join(' ')}).\nstderr:\n${stderr}\nstdout (tail):\n${stdout.slice(-2000)}`,
      );
    }
    // Ready once it says so and answers (404 with its problem type to `/`), so that another
    // server that took the port meanwhile is not mistaken for Prism.
    if (stdout.includes('Prism is listening') && (await answers(origin))) break;
    await sleep(50);
  }
  const startupMs = Date.now() - started;
  // Leave out the start-up lines (one per operation) and those about the readiness probes.
  const probeLogged = () => /\[HTTP SERVER\] get \/ .*Request terminated/.test(stdout);
  for (let i = 0; i < 100 && !probeLogged(); i++) await sleep(10);
  let from = stdout.length;
  return {
    origin,
    pid: child.pid,
    startupMs,
    output: () => stdout.slice(from) + (stderr ? `\n[stderr]\n${stderr}` : ''),
    clearOutput: () => (from = stdout.length),
    close,
  };
}

async function answers(origin) {
  try {
    const response = await fetch(`${origin}/`, { signal: AbortSignal.timeout(1000) });
    const text = await response.text();
    return text.includes('stoplight.io/prism');
  } catch {
    return false;
  }
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Prism's log lines about refused or flagged exchanges:
 *   [HTTP SERVER] post /v2/… ✖  error  Request terminated with error: <type>: <title>
 *   [VALIDATOR] ⚠  warning   Violation: <location> <message>   (tied to the last request seen)
 */
function parseViolations(output) {
  const violations = [];
  let last = { method: null, path: null };
  for (const raw of output.split('\n')) {
    const line = raw.replace(/\x1b\[[0-9;]*m/g, '');
    const received = /\[HTTP SERVER\] (\w+) (\S+) .*Request received/.exec(line);
    if (received) {
      last = { method: received[1].toUpperCase(), path: received[2] };
      continue;
    }
    const refused = /\[HTTP SERVER\] (\w+) (\S+) .*Request terminated with error: (.*)$/.exec(line);
    if (refused) {
      violations.push({ method: refused[1].toUpperCase(), path: refused[2], severity: 'error', message: refused[3].trim() });
      continue;
    }
    const flagged = /\[VALIDATOR\]\s+\S+\s+(\w+)\s+Violation: (.*)$/.exec(line);
    if (flagged) violations.push({ ...last, severity: flagged[1], message: flagged[2].trim() });
  }
  return violations;
}

/** A port nothing listens on (now). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function count(text, regex) {
  return (text.match(regex) ?? []).length;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

module.exports = { startVerify, SPEC, PRISM_BIN, SERVICE_SID, ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET };

if (require.main === module) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const port = Number(option('--port', '4010'));
  const code = option('--code', '123456');
  if (!Number.isInteger(port) || port < 1 || port > 65535 || !/^[0-9]{4,10}$/.test(code)) {
    console.error('usage: node scripts/verify-mock.js [--port 4010] [--code 123456]');
    process.exit(2);
  }
  startVerify({ port, code, handset: true }).then(
    (verify) => {
      console.log(`verify-mock: Twilio Verify v2 (checked by Prism) on ${verify.url}; the code is ${code}`);
      console.log(`verify-mock: the codes sent to a number: ${verify.url}/handset/messages?To=<number>`);
      let seen = 0;
      setInterval(() => {
        for (const r of verify.requests.slice(seen)) {
          console.log(`verify-mock: ${r.operation} ${JSON.stringify(r.form)} -> ${r.status}`);
        }
        seen = verify.requests.length;
      }, 200).unref();
      const stop = () => verify.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (error) => {
      console.error(`verify-mock: ${error.message}`);
      process.exit(1);
    },
  );
}
