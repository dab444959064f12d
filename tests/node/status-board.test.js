'use strict';
// examples/status-board as a user runs it: copied beside a snapshot of pkg/, installed with npm
// (so its require('gather-seal') resolves through its package.json), and started as a process
// (`node server.js`, PORT=0). Status events are signed here with node:crypto the way the worker
// signs them (`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, support.js `reference`),
// never with the package; /events is read as the page's EventSource reads it.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawn } = require('node:child_process');
const { PKG_DIR, reference } = require('./support');
const { assertPresent, skipUnlessCi } = require('../support/ci');
const { assertNoPlaintext } = require('../support/plaintext');

// The whole card number the extra members tried to slip in: found only as a whole token.
const CARD = '4242424242424242';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'status-board');
const SECRET = crypto.randomBytes(32).toString('hex');
const OLD_SECRET = crypto.randomBytes(24).toString('base64'); // 32 characters
const CALL_SID = `CA${crypto.randomBytes(16).toString('hex')}`;
const FORGED_SID = `CA${'f0'.repeat(16)}`;

// One call of the dev `pay` flow, as the worker reports it (src/status.rs), in order, each with
// its members in the worker's order.
let at = 1764892800000; // when the worker took each webhook, in Unix milliseconds
const step = (field, event, { error = null, attempt = 1, ...rest } = {}) =>
  ({ callSid: CALL_SID, flow: 'pay', field, event, error, attempt, at: at += 1000, ...rest });
const STREAM = [
  step('card', 'asked'),
  step('card', 'accepted', { masked: { last4: '4242', brand: 'visa' } }),
  step('card', 'confirmed', { masked: { last4: '4242', brand: 'visa' } }),
  step('cvv', 'asked'),
  step('cvv', 'invalid', { error: 'invalid' }),
  step('cvv', 'asked', { attempt: 2 }),
  step('cvv', 'accepted', { attempt: 2 }),
  step('expiry', 'asked'),
  step('expiry', 'accepted'),
  step('expiry', 'confirmed'),
  step(null, 'handed-off', { attempt: 0, result: 'success' }),
];

let tmp;
let child;
let output = '';
let origin;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-status-board-'));
  fs.cpSync(PKG_DIR, path.join(tmp, 'pkg'), { recursive: true });
  const example = path.join(tmp, 'examples', 'status-board');
  fs.cpSync(EXAMPLE, example, { recursive: true, filter: (from) => path.basename(from) !== 'node_modules' });
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefer-offline'], {
    cwd: example, stdio: 'pipe', timeout: 90_000,
  });
  child = spawn(process.execPath, ['server.js'], {
    cwd: example,
    env: { PATH: process.env.PATH, PORT: '0', BACKEND_SIGNING_SECRET: ` ${SECRET} , ${OLD_SECRET}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server.js did not start: ${output}`)), 10_000);
    child.stdout.on('data', () => {
      const port = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    });
    child.on('exit', (code) => reject(new Error(`server.js exited (${code}): ${output}`)));
  });
}, { timeout: 120_000 });

after(() => {
  child?.kill();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** POSTs `body` to /status with `header` (none when null); the status. */
async function post(body, header) {
  const headers = { 'Content-Type': 'application/json' };
  if (header !== null) headers['X-Gather-Seal-Signature'] = header;
  const res = await fetch(`${origin}/status`, { method: 'POST', headers, body });
  await res.arrayBuffer();
  return res.status;
}

const signed = (event, secret = SECRET, t = undefined) => {
  const body = typeof event === 'string' ? event : JSON.stringify(event);
  return [body, reference.sign(body, secret, t)];
};

/**
 * A reader of /events as EventSource reads it: `messages` ({ id, data }) as they come, and
 * `until(n)` for the first n of them.
 */
function listen(lastEventId) {
  const messages = [];
  const waiting = [];
  let buffer = '';
  const headers = lastEventId === undefined ? {} : { 'Last-Event-ID': String(lastEventId) };
  const req = http.get(`${origin}/events`, { headers });
  const ready = new Promise((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'], /^text\/event-stream/);
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = { data: [] };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const [name, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            if (name === 'data') fields.data.push(value);
            else fields[name] = value;
          }
          if (fields.data.length > 0) messages.push({ id: Number(fields.id), data: fields.data.join('\n') });
        }
        for (const w of waiting.splice(0)) w();
      });
      resolve();
    });
  });
  return {
    messages,
    ready,
    async until(count, ms = 5000) {
      const deadline = Date.now() + ms;
      while (messages.length < count) {
        assert.ok(Date.now() < deadline, `only ${messages.length} of ${count} events arrived`);
        await new Promise((resolve) => {
          waiting.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return messages.slice(0, count);
    },
    close: () => req.destroy(),
  };
}

test('signed events are taken (204) and reach a listening page in order, exactly as sent', async () => {
  const page = listen();
  await page.ready;
  for (const event of STREAM) assert.equal(await post(...signed(event)), 204, event.event);
  const got = await page.until(STREAM.length);
  assert.deepEqual(got.map((m) => JSON.parse(m.data)), STREAM);
  // Exactly the event's members, in the worker's order: nothing added, nothing left behind.
  got.forEach((m, i) => assert.equal(m.data, JSON.stringify(STREAM[i])));
  assert.ok(got.every((m, i) => i === 0 || m.id > got[i - 1].id), 'ids increase');
  page.close();
});

test('forged, tampered, stale or unsigned events are refused (401) and never reach a page', async () => {
  const page = listen();
  await page.ready;
  const history = (await page.until(STREAM.length)).length; // the first test's events, replayed
  const forged = { ...STREAM[1], callSid: FORGED_SID };
  const [body, header] = signed(forged);
  const wrong = crypto.randomBytes(32).toString('hex');
  const cases = [
    signed(forged, wrong),
    [body.replace('4242', '1111'), header],
    [`${body} `, header],
    [body, null],
    [body, ''],
    // One hex digit of the MAC changed (to another digit: a '0' replaced by '0' would be no change).
    [body, header.replace(/v1=(.)/, (_, c) => `v1=${c === '0' ? '1' : '0'}`)],
    signed(forged, SECRET, Math.floor(Date.now() / 1000) - 301),
  ];
  for (const [b, h] of cases) assert.equal(await post(b, h), 401);
  // Signed, but not a status event: 400, and not shown either.
  for (const bad of [{ ...forged, event: 'typed' }, { ...forged, masked: { last4: '4242424242424242' } }, [forged]]) {
    assert.equal(await post(...signed(bad)), 400);
  }
  // Members beyond the event's are dropped before the page: a digit never rides along.
  const extra = { ...STREAM[0], callSid: `CA${'e1'.repeat(16)}`, digits: '4242424242424242' };
  assert.equal(await post(...signed(extra)), 204);
  // The old secret of a rotation (the comma-separated setting) is taken too; then a marker event.
  const marker = { ...STREAM.at(-1), callSid: `CA${'0a'.repeat(16)}` };
  assert.equal(await post(...signed(marker, OLD_SECRET)), 204);
  const got = (await page.until(history + 2)).slice(history).map((m) => m.data);
  assert.deepEqual(got, [JSON.stringify({ ...STREAM[0], callSid: extra.callSid }), JSON.stringify(marker)]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(page.messages.length, history + 2, 'nothing else arrived');
  assert.ok(!page.messages.some((m) => m.data.includes(FORGED_SID)));
  for (const { data } of page.messages) assertNoPlaintext(data, [CARD], 'an event on the stream');
  page.close();
});

test('a page that opens late gets what was taken; one that reconnects gets what it missed', async () => {
  const late = listen();
  await late.ready;
  const all = await late.until(STREAM.length + 2);
  assert.deepEqual(all.slice(0, STREAM.length).map((m) => JSON.parse(m.data)), STREAM);
  late.close();
  const again = listen(all[4].id);
  await again.ready;
  const missed = await again.until(all.length - 5);
  assert.deepEqual(missed.map((m) => m.data), all.slice(5).map((m) => m.data));
  again.close();
});

test('the page, its script and stylesheet; other routes and methods; a body too large', async () => {
  const page = await fetch(`${origin}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
  const html = await page.text();
  assert.match(html, /<script src="\/board.js" defer><\/script>/);
  for (const [route, type] of [['/board.js', /^text\/javascript/], ['/board.css', /^text\/css/]]) {
    const res = await fetch(`${origin}${route}`);
    assert.equal(res.status, 200, route);
    assert.match(res.headers.get('content-type'), type);
    await res.arrayBuffer();
  }
  const script = await (await fetch(`${origin}/board.js`)).text();
  assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, 'values go in as text');
  assert.equal((await fetch(`${origin}/nope`)).status, 404);
  assert.equal((await fetch(`${origin}/status`)).status, 405);
  assert.equal((await fetch(`${origin}/events`, { method: 'POST' })).status, 405);
  const huge = JSON.stringify({ ...STREAM[0], pad: 'x'.repeat(20_000) });
  assert.equal(await post(...signed(huge)), 413);
});

// Debian's chromium (/work/shared/TOOLCHAIN.md), when this machine has it: the page as a
// browser runs it, driven over the DevTools protocol on a pipe (no driver package needed).
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => fs.existsSync(file));

/** Chromium headless with `send(method, params, sessionId)` over --remote-debugging-pipe. */
function browser() {
  const proc = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
  });
  const pending = new Map();
  let nextId = 1;
  let buffer = '';
  proc.stdio[4].on('data', (chunk) => {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf('\0')) !== -1) {
      const message = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      const waiter = pending.get(message.id);
      if (waiter) {
        pending.delete(message.id);
        if (message.error) waiter.reject(new Error(message.error.message));
        else waiter.resolve(message.result);
      }
    }
  });
  return {
    send(method, params = {}, sessionId = undefined) {
      const id = nextId++;
      proc.stdio[3].write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    close: () => proc.kill(),
  };
}

const NO_CHROMIUM = CHROMIUM === undefined && 'no Chromium on this machine (apt-get install chromium)';

test('in Chromium, the page draws one row for the call, with the card as "Visa ending 4242"', {
  ...skipUnlessCi(NO_CHROMIUM),
  timeout: 60_000,
}, async () => {
  assertPresent(NO_CHROMIUM);
  const chrome = browser();
  try {
    const { targetId } = await chrome.send('Target.createTarget', { url: `${origin}/` });
    const { sessionId } = await chrome.send('Target.attachToTarget', { targetId, flatten: true });
    // Each call's row, its cells by class name, once the page has drawn the hand-off.
    const read = `JSON.stringify([...document.querySelectorAll('#calls tr')].map((tr) =>
      Object.fromEntries([...tr.cells].map((td) => [td.className, td.textContent]))))`;
    let rows = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const { result } = await chrome.send('Runtime.evaluate', { expression: read, returnByValue: true }, sessionId);
      rows = JSON.parse(result.value ?? '[]');
      if (rows.some((r) => r.call === CALL_SID && r.step === 'handed off')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const row = rows.find((r) => r.call === CALL_SID);
    assert.ok(row, `a row for the call among ${JSON.stringify(rows)}`);
    assert.equal(row.card, 'Visa ending 4242');
    assert.equal(row.flow, 'pay');
    assert.equal(row.step, 'handed off');
    assert.equal(row.result, 'success');
    assert.equal(row.field, 'expiry', 'the last field stays shown after the hand-off');
    assert.equal(row.error, '', 'cleared once a field was accepted');
    // The forged call never reached the page; the extra digits never did either.
    const { result } = await chrome.send('Runtime.evaluate', { expression: 'document.body.innerHTML', returnByValue: true }, sessionId);
    assert.ok(!result.value.includes(FORGED_SID));
    assertNoPlaintext(result.value, [CARD], 'the page');
    assert.equal(rows.length, 3, 'the call, the one with extra members, the marker');
  } finally {
    chrome.close();
  }
});

test('the server logged nothing but where it listens', () => {
  assert.match(output, /^status-board: http:\/\/127\.0\.0\.1:\d+\/ \(the worker posts to http:\/\/127\.0\.0\.1:\d+\/status\)\n$/);
});
