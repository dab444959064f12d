'use strict';
// verifyRelayHandshake: the application's check that a WebSocket connection comes from the
// sealing relay (src/relay.rs sign_upstream): `X-Gather-Seal-Signature: t=<t>,v1=<hex
// HMAC-SHA256(secret, "<t>.<upstream URL>")>`. Handshakes are signed here with node:crypto the
// way the relay signs (support.js `reference.sign` over the URL), and checked against vectors
// made with Python's hmac, which tests/relay.rs checks the Rust signer against.

const { test } = require('node:test');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { PKG_DIR, gs, reference, remember, expectSealError, flipByte } = require('./support');

const BAD = /^gather-seal: relay handshake signature is malformed or does not match$/;
const MISSING = /^gather-seal: relay handshake has no X-Gather-Seal-Signature header$/;
const STALE = /^gather-seal: relay handshake signature is too old or too far in the future$/;
const NOT_A_SOCKET = /^gather-seal: url must be the whole ws:\/\/ or wss:\/\/ URL the relay dialled/;

const SECRET = remember(crypto.randomBytes(32).toString('base64'));
const OLD_SECRET = remember(crypto.randomBytes(32).toString('hex'));
const UPSTREAM = 'wss://agent.example.com/ws?relay=agent';

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** The header the relay opens `url` with, signed with `secret` at `t`. */
const signed = (url = UPSTREAM, secret = SECRET, t = nowSeconds()) => reference.sign(url, secret, t);

// The vectors of tests/relay.rs (Python: hmac.new(secret, f"{t}.{url}".encode(),
// hashlib.sha256).hexdigest()), which the Rust core's sign_upstream gives byte for byte.
const PY_SECRET = 'whsec-relay-0123456789abcdef0123456789';
const PY_OTHER_SECRET = 'another-secret-fedcba9876543210fedcba98';
const PY_T = 1764892800;
const VECTORS = [
  [PY_SECRET, PY_T, UPSTREAM, 't=1764892800,v1=b51385cdfbc08a9386d0a4ad2060fa1a8515fdce6afb5b0661dd5351bd714cc1'],
  [PY_SECRET, PY_T, 'wss://agent.example.com/ws?relay=agenT',
    't=1764892800,v1=758b996ed2c0ff6bfb13656707dafbd3382d5802eb52a2352346d4fc45dc1080'],
  [PY_OTHER_SECRET, PY_T, UPSTREAM, 't=1764892800,v1=04d7bac66cc29bb1539beae8006851c288c3885a4f1a0c25af8cfbf0afc90e28'],
  [PY_SECRET, 1700000000, 'ws://127.0.0.1:8080/socket',
    't=1700000000,v1=d55461b2bd720c517d5af7c9ca79779ef0d7e19416ae84770b7678e3a475bc68'],
];

test('the vectors the Rust signer gives are accepted at their time, and only for their URL and secret', () => {
  for (const [secret, t, url, header] of VECTORS) {
    assert.equal(reference.sign(url, secret, t), header, 'node:crypto signs as Python did');
    assert.equal(gs.verifyRelayHandshake(url, header, secret, { now: new Date(t * 1000) }), true, url);
    assert.equal(gs.verifyRelayHandshake(url, header, [secret], { now: t * 1000 + 999 }), true, url);
  }
  const [, , , header] = VECTORS[0];
  const at = { now: PY_T * 1000 };
  expectSealError(gs.verifyRelayHandshake, ['wss://agent.example.com/ws?relay=agenT', header, PY_SECRET, at], BAD);
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, header, PY_OTHER_SECRET, at], BAD);
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, VECTORS[2][3], PY_SECRET, at], BAD);
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, header, PY_SECRET, { now: (PY_T + 301) * 1000 }], STALE);
  // Without `now`, today's clock: a vector from 2025 is stale.
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, header, PY_SECRET], STALE);
});

test('a handshake signed now is accepted, with one secret or during a rotation', () => {
  assert.equal(gs.verifyRelayHandshake(UPSTREAM, signed(), SECRET), true);
  assert.equal(gs.verifyRelayHandshake(UPSTREAM, signed(), [OLD_SECRET, SECRET]), true);
  assert.equal(gs.verifyRelayHandshake(UPSTREAM, signed(UPSTREAM, OLD_SECRET), [SECRET, OLD_SECRET]), true);
  // ws:// to a loopback host (local development), and either case of the scheme as dialled.
  for (const url of ['ws://127.0.0.1:8080/ws', 'ws://localhost/', 'wss://[::1]:8443/x', 'WSS://AGENT.EXAMPLE.COM/ws']) {
    assert.equal(gs.verifyRelayHandshake(url, signed(url), SECRET), true, url);
  }
  // A relay in the middle of a rotation signs with both.
  const t = nowSeconds();
  const both = `${signed(UPSTREAM, OLD_SECRET, t)},v1=${signed(UPSTREAM, SECRET, t).split('v1=')[1]}`;
  assert.equal(gs.verifyRelayHandshake(UPSTREAM, both, SECRET), true);
  assert.equal(gs.verifyRelayHandshake(UPSTREAM, both, OLD_SECRET), true);
});

test('a handshake for another URL is refused: every byte of the URL is signed', () => {
  const header = signed();
  for (const other of [
    'wss://agent.example.com/ws?relay=agenT',
    'wss://agent.example.com/ws?relay=agent&x=1',
    'wss://agent.example.com/ws?relay=agent ',
    'wss://agent.example.com/ws',
    'wss://agent.example.com/ws/?relay=agent',
    'wss://evil.example.com/ws?relay=agent',
    'wss://agent.example.com:443/ws?relay=agent',
    'ws://agent.example.com/ws?relay=agent',
    'WSS://agent.example.com/ws?relay=agent',
  ]) {
    expectSealError(gs.verifyRelayHandshake, [other, header, SECRET], BAD);
  }
  // A URL object's href is another text (a / added): pass the upstream as written.
  const bare = 'wss://agent.example.com';
  assert.equal(new URL(bare).href, 'wss://agent.example.com/');
  expectSealError(gs.verifyRelayHandshake, [new URL(bare).href, signed(bare), SECRET], BAD);
});

test('a wrong secret, a changed tag or a changed time is refused as not matching', () => {
  const header = signed();
  const [tPart, vPart] = header.split(',');
  const t = Number(tPart.slice(2));
  const wrong = remember(crypto.randomBytes(32).toString('hex'));
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, header, wrong], BAD);
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, header, [wrong, OLD_SECRET]], BAD);
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, `t=${t - 1},${vPart}`, SECRET], BAD);
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, `${tPart},v1=${flipByte(vPart.slice(3), 31)}`, SECRET], BAD);
  // A submission's signature over another body does not open a socket.
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, reference.sign('{}', SECRET, t), SECRET], BAD);
});

test('300 s either way is accepted, 301 s is stale; a wrong signature is wrong even when also stale', () => {
  const t = nowSeconds();
  for (const off of [-300, 300]) {
    assert.equal(gs.verifyRelayHandshake(UPSTREAM, signed(UPSTREAM, SECRET, t + off), SECRET, { now: t * 1000 }), true);
  }
  for (const off of [-301, 301, -86400]) {
    expectSealError(gs.verifyRelayHandshake, [UPSTREAM, signed(UPSTREAM, SECRET, t + off), SECRET, { now: t * 1000 }],
      STALE);
  }
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, signed(UPSTREAM, OLD_SECRET, t - 1000), SECRET], BAD);
  // toleranceSeconds narrows or widens it.
  const old = signed(UPSTREAM, SECRET, t - 10);
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, old, SECRET, { toleranceSeconds: 5, now: t * 1000 }], STALE);
  assert.equal(gs.verifyRelayHandshake(UPSTREAM, old, SECRET, { toleranceSeconds: 10, now: new Date(t * 1000) }), true);
  assert.equal(gs.verifyRelayHandshake(UPSTREAM, signed(UPSTREAM, SECRET, t - 3600), SECRET,
    { toleranceSeconds: 3600, now: t * 1000 }), true);
});

test('a missing or blank header is refused as missing', () => {
  for (const header of [undefined, null, '', '   ']) {
    expectSealError(gs.verifyRelayHandshake, [UPSTREAM, header, SECRET], MISSING);
  }
});

test('a malformed header, or one with more than 8 v1 entries, is refused', () => {
  const t = nowSeconds();
  const [tPart, vPart] = signed(UPSTREAM, SECRET, t).split(',');
  const tag = vPart.slice(3);
  for (const header of ['nonsense', tPart, vPart, `t=soon,${vPart}`, `${tPart},${tPart},${vPart}`,
    `${tPart},v1=${tag.slice(0, 63)}`, `${tPart},v0=${tag}`, `${tPart};${vPart}`]) {
    expectSealError(gs.verifyRelayHandshake, [UPSTREAM, header, SECRET], BAD);
  }
  const wrong = (i) => signed(UPSTREAM, `not-the-secret-${i}-${'x'.repeat(24)}`, t).split('v1=')[1];
  const withTags = (count) => `${tPart},${[...Array.from({ length: count - 1 }, (_, i) => wrong(i)), tag]
    .map((v) => `v1=${v}`).join(',')}`;
  assert.equal(gs.verifyRelayHandshake(UPSTREAM, withTags(8), SECRET), true, 'eight, the right one last');
  expectSealError(gs.verifyRelayHandshake, [UPSTREAM, withTags(9), SECRET], BAD);
});

test('wrong argument types are TypeErrors, before any check', () => {
  const header = signed();
  const typeError = (args, message) => {
    assert.throws(() => gs.verifyRelayHandshake(...args), (e) => e instanceof TypeError && message.test(e.message),
      `${args.map((a) => typeof a)}`);
  };
  // The URL: a string that starts with ws:// or wss://, the whole URL the relay dialled.
  for (const url of [undefined, null, 42, new URL(UPSTREAM), Buffer.from(UPSTREAM), [UPSTREAM], { href: UPSTREAM },
    '', '/ws?relay=agent', 'agent.example.com/ws', 'https://agent.example.com/ws', 'http://127.0.0.1/ws',
    ' wss://agent.example.com/ws', 'wss:/agent.example.com']) {
    typeError([url, header, SECRET], NOT_A_SOCKET);
  }
  typeError(['wss://agent.example.com/\uD800', header, SECRET], /^gather-seal: url must be well-formed text/);
  for (const bad of [42, {}, ['t=1,v1=00'], Buffer.from(header)]) {
    typeError([UPSTREAM, bad, SECRET], /^gather-seal: signatureHeader must be a string$/);
  }
  for (const secrets of [undefined, null, '', 'short', [], ['x'.repeat(31)], [SECRET, 42], Buffer.from(SECRET)]) {
    typeError([UPSTREAM, header, secrets], /^gather-seal: secrets must be a signing secret of at least 32 characters/);
  }
  for (const options of [42, 'now', [], { toleranceSeconds: -1 }, { toleranceSeconds: '300' }, { now: 'today' },
    { now: NaN }, { now: new Date(NaN) }]) {
    typeError([UPSTREAM, header, SECRET, options], /^gather-seal: options/);
  }
  // The checks come first: a bad URL with a missing header is a TypeError, not a missing header.
  typeError(['/ws', undefined, SECRET], NOT_A_SOCKET);
  // And the function says how many arguments it takes.
  assert.equal(gs.verifyRelayHandshake.length, 4);
});

test('no refusal contains the URL, the secret or the signature', () => {
  const secret = remember(`relay-secret-${crypto.randomBytes(16).toString('hex')}`);
  const url = remember(`wss://${crypto.randomBytes(6).toString('hex')}.example.com/ws`);
  const header = remember(signed(url, secret));
  for (const args of [
    [url, header, OLD_SECRET],
    [url.replace('/ws', '/wx'), header, secret],
    [url, undefined, secret],
    [url, signed(url, secret, nowSeconds() - 1000), secret],
    [url, header, [secret, 'x'.repeat(3)]],
    [url, `${header},v1=${'zz'.repeat(32)}`, 'y'.repeat(31)],
  ]) {
    const message = expectSealError(gs.verifyRelayHandshake, args);
    for (const value of [url, secret, header, header.split('v1=')[1]]) {
      assert.ok(!message.includes(value), message);
    }
  }
});

// As the README shows it, with Node's own HTTP server: the header read from the upgrade
// request as Node hands it over, the URL the configured upstream (the request itself only
// says /ws?relay=agent).
test('a WebSocket upgrade is let through only with the relay\'s signature', async () => {
  const server = http.createServer();
  server.on('upgrade', (req, socket) => {
    let ok = false;
    try {
      ok = gs.verifyRelayHandshake(UPSTREAM, req.headers['x-gather-seal-signature'], SECRET);
    } catch {
      // refused
    }
    socket.end(ok
      ? 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
      : 'HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const dial = (headers) => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/ws?relay=agent', headers: {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'), ...headers,
    } });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end();
  });
  try {
    assert.equal(await dial({ 'X-Gather-Seal-Signature': signed() }), 101);
    assert.equal(await dial({}), 401);
    assert.equal(await dial({ 'X-Gather-Seal-Signature': signed(UPSTREAM, OLD_SECRET) }), 401);
    assert.equal(await dial({ 'X-Gather-Seal-Signature': signed('wss://agent.example.com/ws?relay=other') }), 401);
  } finally {
    server.close();
  }
});

// As tests/node/memory.test.js checks verifySubmission: the secrets enter the module through
// its wiped input buffer, so no 12-byte window of either is left in the memory of the instance
// that did the work (the ES entry and its glue, one module graph). The URL is not a secret.
test('the signing secrets leave no copy in the module\'s memory', async () => {
  const esm = await import(pathToFileURL(path.join(PKG_DIR, 'index.js')).href);
  const glue = await import(pathToFileURL(path.join(PKG_DIR, 'gather_seal_wasm_bg.js')).href);
  const secret = `whsec-${crypto.randomBytes(24).toString('base64url')}`;
  const older = `whsec-${crypto.randomBytes(12).toString('hex')}-Grüße-${crypto.randomBytes(12).toString('hex')}`;
  assert.equal(esm.verifyRelayHandshake(UPSTREAM, signed(UPSTREAM, secret), [older, secret]), true);
  assert.throws(() => esm.verifyRelayHandshake(UPSTREAM, signed(UPSTREAM, secret), older), { message: BAD });
  const bytes = Buffer.from(glue.wasmMemory().buffer);
  for (const value of [secret, older]) {
    const needle = Buffer.from(value, 'utf8');
    for (let at = 0; at + 12 <= needle.length; at++) {
      assert.equal(bytes.indexOf(needle.subarray(at, at + 12)), -1, 'a piece of a secret is left in wasm memory');
    }
  }
});
