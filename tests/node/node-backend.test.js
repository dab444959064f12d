'use strict';
// examples/node-backend, started in this process on a free port and driven the way the worker
// drives an `action` backend: JSON submissions signed with HMAC-SHA256 and sealed with
// AES-256-GCM, both made here with node:crypto (support.js `reference`), never with the package.
//
// The example is copied to a temporary folder beside a snapshot of pkg/ and installed with npm,
// as a user would, so its `require('gather-seal')` resolves through its package.json
// (`file:../../pkg`) and a rebuild of pkg/ during the test cannot pull the module away.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { PKG_DIR, reference, referenceKey, remember } = require('./support');

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'node-backend');

const FOUND = 'Thank you. Your account number is AC12345678 and your balance is 12.55';
const NOT_FOUND = 'We were not able to locate you in our system. Goodbye.';
const NO_DETAILS = 'Sorry, we could not get your details. Goodbye.';

const SECRET = remember(crypto.randomBytes(32).toString('hex'));
const KEY = referenceKey();
const OLD_KEYS = [referenceKey(), referenceKey()];
const ENV = {
  BACKEND_SIGNING_SECRET: SECRET,
  AES_SECRET: KEY,
  AES_SECRET_PREVIOUS: ` ${OLD_KEYS.join(' , ')} `,
};

let tmp;
let createServer;
let server;
let url;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-node-backend-'));
  fs.cpSync(PKG_DIR, path.join(tmp, 'pkg'), { recursive: true });
  const example = path.join(tmp, 'examples', 'node-backend');
  fs.cpSync(EXAMPLE, example, { recursive: true, filter: (from) => path.basename(from) !== 'node_modules' });
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefer-offline'], {
    cwd: example, stdio: 'pipe', timeout: 90_000,
  });
  const installed = fs.realpathSync(path.join(example, 'node_modules', 'gather-seal'));
  assert.equal(installed, fs.realpathSync(path.join(tmp, 'pkg')), 'gather-seal resolves to the pkg/ snapshot');
  ({ createServer } = require(path.join(example, 'server.js')));
  server = createServer(ENV);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${server.address().port}/gather-result`;
}, { timeout: 120_000 });

after(async () => {
  if (server) await new Promise((resolve) => server.close(resolve));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const newCallSid = () => `CA${crypto.randomBytes(16).toString('hex')}`;

/** A submission as the worker sends it; `digits` sealed for the call and their fields. */
function submission({ callSid = newCallSid(), flow = 'default', result = 'success', key = KEY,
  digits = { card: '1234', pin: '4321' } } = {}) {
  const out = { callSid, accountSid: `AC${'1'.repeat(32)}`, from: '+15551230001', to: '+15551230002',
    flow, result };
  const keys = { card: 'encryptedCardDigits', pin: 'encryptedPinDigits' };
  for (const [field, value] of Object.entries(digits)) {
    out[keys[field]] = reference.seal(value, key, `${callSid}:${field}`);
  }
  return out;
}

/** POSTs `value` as the worker would; `sign(body)` gives the header (null: none). */
async function post(value, { sign = (body) => reference.sign(body, SECRET), body } = {}) {
  body ??= JSON.stringify(value);
  const header = sign(body);
  const headers = { 'Content-Type': 'application/json' };
  if (header !== null) headers['X-Gather-Seal-Signature'] = header;
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  const sealed = Object.values(value ?? {}).filter((v) => typeof v === 'string' && v.length > 56);
  for (const secret of [SECRET, KEY, ...OLD_KEYS, ...sealed]) assert.ok(!text.includes(secret), 'echoes');
  return { status: res.status, type: res.headers.get('content-type'), verdict: res.headers.get('x-gather-seal-result'),
    text, body, header };
}

const twiml = (sentence, hangUp) =>
  `<?xml version="1.0" encoding="UTF-8"?><Response><Say>${sentence}</Say>${hangUp ? '<Hangup/>' : ''}</Response>`;

test('the demo caller hears the account; the TwiML is text/xml, and the answer says accepted', async () => {
  const res = await post(submission());
  assert.equal(res.status, 200);
  assert.equal(res.type, 'text/xml');
  assert.equal(res.text, twiml(FOUND, false));
  assert.equal(res.verdict, 'accepted');
});

test('anyone else hears that they were not found, the call hangs up, and the answer says rejected', async () => {
  for (const digits of [{ card: '1234', pin: '0000' }, { card: '4321', pin: '4321' }]) {
    const res = await post(submission({ digits }));
    assert.equal(res.status, 200);
    assert.equal(res.text, twiml(NOT_FOUND, true));
    assert.equal(res.verdict, 'rejected', 'a wrong PIN counts as a failed try');
  }
});

test('a caller who gave up hears the goodbye, the call hangs up, and the answer says rejected', async () => {
  for (const result of ['too-many-attempts', 'no-input']) {
    const res = await post(submission({ result, digits: {} }));
    assert.equal(res.status, 200);
    assert.equal(res.text, twiml(NO_DETAILS, true));
    assert.equal(res.verdict, 'rejected');
  }
});

test('the right card and PIN after a failed or unsent one-time code are not let in', async () => {
  // The worker hands the values gathered before a verify field on (issue 14's skipped code).
  for (const result of ['verify-failed', 'verify-unavailable', 'locked']) {
    const res = await post(submission({ result }));
    assert.equal(res.status, 200, result);
    assert.equal(res.text, twiml(NO_DETAILS, true), result);
    assert.equal(res.verdict, 'rejected', result);
  }
});

test('values sealed under a previous key still open (AES_SECRET_PREVIOUS)', async () => {
  for (const key of OLD_KEYS) {
    assert.equal((await post(submission({ key }))).text, twiml(FOUND, false));
  }
  assert.equal((await post(submission({ key: referenceKey() }))).status, 400);
});

test('401 for a missing, wrong, malformed or stale signature, or a tampered body', async () => {
  const now = Math.floor(Date.now() / 1000);
  const other = crypto.randomBytes(32).toString('hex');
  const signs = {
    missing: () => null,
    empty: () => '',
    'wrong secret': (body) => reference.sign(body, other),
    malformed: (body) => reference.sign(body, SECRET).replace(',', ';'),
    stale: (body) => reference.sign(body, SECRET, now - 301),
    future: (body) => reference.sign(body, SECRET, now + 301),
    tampered: (body) => reference.sign(body.replace('"default"', '"other"'), SECRET),
  };
  for (const [name, sign] of Object.entries(signs)) {
    const res = await post(submission(), { sign });
    assert.equal(res.status, 401, name);
    assert.doesNotMatch(res.text, /Response/, name);
    assert.equal(res.verdict, 'rejected', name);
  }
});

test('400 for values that are missing, moved or from another call', async () => {
  const other = submission();
  const cases = {
    'no pin': (value) => ({ ...value, encryptedPinDigits: undefined }),
    swapped: (value) => ({ ...value, encryptedCardDigits: value.encryptedPinDigits,
      encryptedPinDigits: value.encryptedCardDigits }),
    'from another call': (value) => ({ ...value, encryptedPinDigits: other.encryptedPinDigits }),
    'not a string': (value) => ({ ...value, encryptedPinDigits: 4321 }),
    'no callSid': (value) => ({ ...value, callSid: undefined }),
  };
  for (const [name, change] of Object.entries(cases)) {
    const res = await post(change(submission()));
    assert.equal(res.status, 400, name);
    assert.equal(res.verdict, 'rejected', name);
  }
});

test('a replayed callSid + flow is refused, even freshly signed; another flow of the call is not', async () => {
  const callSid = newCallSid();
  const first = await post(submission({ callSid }));
  assert.equal(first.status, 200);
  // The same request again, byte for byte.
  const replay = await fetch(url, {
    method: 'POST', headers: { 'X-Gather-Seal-Signature': first.header }, body: first.body,
  });
  assert.equal(replay.status, 409);
  assert.equal(replay.headers.get('x-gather-seal-result'), 'rejected');
  // A new submission of the same call and flow (new nonces, new signature).
  assert.equal((await post(submission({ callSid, digits: { card: '9999', pin: '9999' } }))).status, 409);
  assert.equal((await post(submission({ callSid, result: 'too-many-attempts', digits: {} }))).status, 409);
  // The same call in another flow is another hand-off.
  assert.equal((await post(submission({ callSid, flow: 'second' }))).status, 200);
});

test('only POST; bodies past 64 KiB are refused', async () => {
  assert.equal((await fetch(url)).status, 405);
  const big = { ...submission(), padding: 'x'.repeat(70 * 1024) };
  assert.equal((await post(big)).status, 413);
});

test('createServer refuses missing or malformed settings', () => {
  const cases = [
    {},
    { ...ENV, BACKEND_SIGNING_SECRET: undefined },
    { ...ENV, BACKEND_SIGNING_SECRET: 'too-short' },
    { ...ENV, AES_SECRET: undefined },
    { ...ENV, AES_SECRET: 'not-a-key' },
    { ...ENV, AES_SECRET_PREVIOUS: `${OLD_KEYS[0]},not-a-key` },
  ];
  for (const env of cases) {
    assert.throws(() => createServer(env), (e) => {
      for (const secret of [SECRET, KEY, ...OLD_KEYS]) assert.ok(!e.message.includes(secret));
      return true;
    });
  }
});
