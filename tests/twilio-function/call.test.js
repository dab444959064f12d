'use strict';
// End-to-end: the Twilio Functions project in examples/twilio-function under Twilio's own local
// runtime (`twilio-run start`), driven over HTTP the way Twilio drives a call: form-encoded POSTs
// carrying CallSid and, after each <Gather>, Digits, to the URL in the Gather's action.
//
// twilio-run does not check X-Twilio-Signature locally (neither its built-in server nor
// @twilio/runtime-handler's dev server does), so the protected encrypted-gather answers these
// unsigned requests; on Twilio the signature check happens before the function runs.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const gatherSeal = require('../../pkg');
const { assertNoPlaintext } = require('../support/plaintext');

const ROOT = path.resolve(__dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples', 'twilio-function');
const TWILIO_RUN = path.join(ROOT, 'node_modules', '.bin', 'twilio-run');

const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

const SAY_CARD = 'Please enter the last 4 digits of your payment card number.';
const SAY_PIN = 'Please enter your 4 digit PIN.';
const SAY_NOT_FOUR = 'Sorry, that was not 4 digits.';
const SAY_ACCOUNT = 'Thank you. Your account number is AC12345678 and your balance is 12.55.';
const SAY_NOT_FOUND = 'We were not able to locate you in our system. Goodbye.';
const SAY_UNAVAILABLE = 'Sorry, we cannot check your details right now. Please call again later.';

// Fresh keys for this run: the current one and two older ones still accepted by the backend.
const AES_SECRET = gatherSeal.generateKey();
const AES_SECRET_PREVIOUS = [gatherSeal.generateKey(), gatherSeal.generateKey()];

let server; // { child, port, baseUrl, output(), stop() }
const entered = new Set(); // every Digits value sent, to look for in twilio-run's output

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-twilio-'));
  try {
    const project = await snapshotProject(dir);
    installDependencies(project);
    server = await startTwilioRun(dir, project.example);
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}, { timeout: 120_000 });

after(async () => {
  if (server) await server.stop();
});

test('a whole call: card digits sealed into the action URL, PIN sealed, account read out', async () => {
  const call = newCall();

  const first = await call.post(`${server.baseUrl}/encrypted-gather`);
  assert.deepEqual(first.says, []);
  assert.equal(first.gather.numDigits, '4');
  assert.equal(first.gather.method, 'POST');
  assert.deepEqual(first.gather.says, [SAY_CARD]);
  assert.equal(first.gather.url.pathname, '/encrypted-gather');
  assert.equal(first.gather.url.searchParams.get('step'), 'pin');

  const second = await call.post(first.gather.url, { Digits: '1234' });
  assert.deepEqual(second.says, []);
  assert.deepEqual(second.gather.says, [SAY_PIN]);
  const params = second.gather.url.searchParams;
  assert.deepEqual([...params.keys()].sort(), ['encryptedCardDigits', 'step']);
  assert.equal(params.get('step'), 'lookup');
  const sealedCard = params.get('encryptedCardDigits');
  assert.match(sealedCard, /^[0-9a-f]{64}$/, 'nonce 12 + 4 bytes + tag 16, as lowercase hex');
  assertNoPlaintext(second.xml, ['1234'], 'the TwiML after the card');
  assert.equal(gatherSeal.decrypt(sealedCard, AES_SECRET, { context: `${call.sid}:card` }), '1234');
  assert.throws(() => gatherSeal.decrypt(sealedCard, AES_SECRET, { context: `${call.sid}:pin` }));
  assert.throws(() => gatherSeal.decrypt(sealedCard, AES_SECRET, { context: `${newSid()}:card` }));
  assert.throws(() => gatherSeal.decrypt(sealedCard, AES_SECRET_PREVIOUS));

  const third = await call.post(second.gather.url, { Digits: '4321' });
  assert.equal(third.gather, null);
  assert.deepEqual(third.says, [SAY_ACCOUNT]);
  assert.ok(third.hangup);
});

test('every seal takes a fresh nonce: the same digits in the same call never repeat', async () => {
  const call = newCall();
  const nonces = new Set();
  for (let i = 0; i < 3; i += 1) {
    const answer = await call.post(`${server.baseUrl}/encrypted-gather?step=pin`, { Digits: '1234' });
    nonces.add(answer.gather.url.searchParams.get('encryptedCardDigits').slice(0, 24));
  }
  assert.equal(nonces.size, 3);
});

for (const [card, pin] of [['5678', '8765'], ['1234', '9999'], ['4321', '1234']]) {
  test(`card ${card} with PIN ${pin} is not found: the caller hears so and the call ends`, async () => {
    const third = await callThrough(newCall(), card, pin);
    assert.equal(third.gather, null);
    assert.deepEqual(third.says, [SAY_NOT_FOUND]);
    assert.ok(third.hangup);
  });
}

test('anything but exactly 4 digits re-asks the same step', async () => {
  const call = newCall();
  const first = await call.post(`${server.baseUrl}/encrypted-gather`);

  for (const bad of [undefined, '', '123', '12345', '12*4']) {
    const again = await call.post(first.gather.url, bad === undefined ? {} : { Digits: bad });
    assert.deepEqual(again.says, [SAY_NOT_FOUR]);
    assert.deepEqual(again.gather.says, [SAY_CARD]);
    assert.equal(again.gather.url.searchParams.get('step'), 'pin');
    assert.equal(again.gather.url.searchParams.get('encryptedCardDigits'), null);
  }

  const second = await call.post(first.gather.url, { Digits: '1234' });
  const sealedCard = second.gather.url.searchParams.get('encryptedCardDigits');
  for (const bad of ['', '432', '43210', '4#21']) {
    const again = await call.post(second.gather.url, { Digits: bad });
    assert.deepEqual(again.says, [SAY_NOT_FOUR]);
    assert.deepEqual(again.gather.says, [SAY_PIN]);
    assert.equal(again.gather.url.searchParams.get('step'), 'lookup');
    assert.equal(
      again.gather.url.searchParams.get('encryptedCardDigits'),
      sealedCard,
      'the sealed card digits are carried over unchanged',
    );
  }

  const third = await call.post(second.gather.url, { Digits: '4321' });
  assert.deepEqual(third.says, [SAY_ACCOUNT]);
});

test('the lookup step without sealed card digits starts the call over', async () => {
  const call = newCall();
  for (const query of ['step=lookup', 'step=lookup&encryptedCardDigits=not-hex']) {
    const answer = await call.post(`${server.baseUrl}/encrypted-gather?${query}`, { Digits: '4321' });
    assert.deepEqual(answer.gather.says, [SAY_CARD]);
    assert.equal(answer.gather.url.searchParams.get('step'), 'pin');
  }
});

test('card digits sealed under a previous key still open (key rotation)', async () => {
  for (const oldKey of AES_SECRET_PREVIOUS) {
    const call = newCall();
    const sealedCard = gatherSeal.encrypt('1234', oldKey, { context: `${call.sid}:card` });
    const third = await call.post(lookupUrl(sealedCard), { Digits: '4321' });
    assert.deepEqual(third.says, [SAY_ACCOUNT]);
  }
});

test('sealed card digits that do not open end the call without a lookup result', async () => {
  const call = newCall();
  const otherCall = newSid();
  const cases = {
    'an unknown key': gatherSeal.encrypt('1234', gatherSeal.generateKey(), { context: `${call.sid}:card` }),
    'another call': gatherSeal.encrypt('1234', AES_SECRET, { context: `${otherCall}:card` }),
    'the PIN context': gatherSeal.encrypt('1234', AES_SECRET, { context: `${call.sid}:pin` }),
    'a flipped bit': flipLastBit(gatherSeal.encrypt('1234', AES_SECRET, { context: `${call.sid}:card` })),
  };
  for (const [what, sealedCard] of Object.entries(cases)) {
    const third = await call.post(lookupUrl(sealedCard), { Digits: '4321' });
    assert.deepEqual(third.says, [SAY_UNAVAILABLE], what);
    assert.ok(third.hangup, what);
  }
});

test('decrypt-gather answers 200, 404 or 400 and never echoes what it was sent', async () => {
  const callSid = newSid();
  const seal = (digits, kind) => gatherSeal.encrypt(digits, AES_SECRET, { context: `${callSid}:${kind}` });

  const found = await postJson({ callSid, encryptedCardDigits: seal('1234', 'card'), encryptedPinDigits: seal('4321', 'pin') });
  assert.equal(found.status, 200, found.body.slice(0, 300));
  assert.deepEqual(JSON.parse(found.body), { account: 'AC12345678', balance: '12.55' });

  const unknown = { callSid, encryptedCardDigits: seal('2468', 'card'), encryptedPinDigits: seal('8642', 'pin') };
  const notFound = await postJson(unknown);
  assert.equal(notFound.status, 404);
  assertEchoesNothing(notFound.body, unknown, ['2468', '8642']);

  const sealedCard = seal('1234', 'card');
  const sealedPin = seal('4321', 'pin');
  const bad = [
    {},
    { callSid, encryptedCardDigits: sealedCard },
    { callSid: 'not-a-call', encryptedCardDigits: sealedCard, encryptedPinDigits: sealedPin },
    { callSid, encryptedCardDigits: 1234, encryptedPinDigits: 4321 },
    { callSid, encryptedCardDigits: '1234', encryptedPinDigits: '4321' },
    { callSid, encryptedCardDigits: sealedPin, encryptedPinDigits: sealedCard },
    { callSid: newSid(), encryptedCardDigits: sealedCard, encryptedPinDigits: sealedPin },
  ];
  for (const body of bad) {
    const answer = await postJson(body);
    assert.equal(answer.status, 400, JSON.stringify(Object.keys(body)));
    assertEchoesNothing(answer.body, body, ['1234', '4321']);
  }
});

test('studio-check-pin opens the PIN a Studio flow got back from the worker, and checks it', async () => {
  const callSid = newSid();
  const sealPin = (digits, sid = callSid) => gatherSeal.encrypt(digits, AES_SECRET, { context: `${sid}:pin` });
  // What Studio's Run Function widget posts (examples/studio/flow.json): form parameters.
  const check = async (params) => {
    const response = await fetch(`${server.baseUrl}/studio-check-pin`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: callSid, From: '+15005550001', ...params }).toString(),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    assert.equal(response.status, 200);
    return response.json();
  };

  assert.deepEqual(await check({ result: 'success', encryptedPinDigits: sealPin('4321') }), { verified: true });
  assert.deepEqual(await check({ result: 'success', encryptedPinDigits: sealPin('4322') }), { verified: false });
  assert.deepEqual(await check({ result: 'too-many-attempts' }), { verified: false, reason: 'too-many-attempts' });
  // The right PIN under any other result is not checked, let alone accepted.
  for (const result of ['verify-failed', 'verify-unavailable', 'locked']) {
    assert.deepEqual(await check({ result, encryptedPinDigits: sealPin('4321') }), { verified: false, reason: result });
  }
  assert.deepEqual(await check({ encryptedPinDigits: sealPin('4321') }), { verified: false, reason: 'missing-result' });
  // Sealed for another call, under another key, as another field, or in clear: never opened.
  for (const encryptedPinDigits of [
    sealPin('4321', newSid()),
    gatherSeal.encrypt('4321', gatherSeal.generateKey(), { context: `${callSid}:pin` }),
    gatherSeal.encrypt('4321', AES_SECRET, { context: `${callSid}:card` }),
    '4321',
  ]) {
    assert.deepEqual(await check({ result: 'success', encryptedPinDigits }), { verified: false, reason: 'unopenable' });
  }
  // An older key still opens (rotation).
  const old = gatherSeal.encrypt('4321', AES_SECRET_PREVIOUS[1], { context: `${callSid}:pin` });
  assert.deepEqual(await check({ result: 'success', encryptedPinDigits: old }), { verified: true });
});

// Runs last (tests in a file run in order): everything above went through this one server.
test("twilio-run's output never contains the entered digits", () => {
  const output = server.output();
  assert.match(output, /POST \/encrypted-gather/, 'request logging was captured');
  // Sealed values are logged on purpose (they are in the action URLs); the check looks for
  // whole tokens, so neither they nor the port count.
  assert.ok(entered.has('1234') && entered.has('4321'));
  assertNoPlaintext(output, [...entered], "twilio-run's output");
});

// ---- the caller, as Twilio plays it ----

function newSid() {
  return `CA${crypto.randomBytes(16).toString('hex')}`;
}

// One call: every request carries the parameters Twilio sends on a voice webhook.
function newCall() {
  const sid = newSid();
  const base = {
    AccountSid: 'AC00000000000000000000000000000000',
    ApiVersion: '2010-04-01',
    CallSid: sid,
    CallStatus: 'in-progress',
    Direction: 'inbound',
    From: '+15005550006',
    To: '+15005550009',
  };
  return {
    sid,
    async post(url, extra = {}) {
      if (typeof extra.Digits === 'string') entered.add(extra.Digits);
      const target = new URL(url);
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...base, ...extra }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const xml = await response.text();
      assert.equal(response.status, 200, `${target.pathname}: ${xml.slice(0, 200)}`);
      assert.match(response.headers.get('content-type'), /^text\/xml/);
      return parseVoiceTwiml(xml, target);
    },
  };
}

async function callThrough(call, card, pin) {
  const first = await call.post(`${server.baseUrl}/encrypted-gather`);
  const second = await call.post(first.gather.url, { Digits: card });
  return call.post(second.gather.url, { Digits: pin });
}

function lookupUrl(sealedCard) {
  const query = new URLSearchParams({ step: 'lookup', encryptedCardDigits: sealedCard });
  return `${server.baseUrl}/encrypted-gather?${query}`;
}

async function postJson(body) {
  const response = await fetch(`${server.baseUrl}/decrypt-gather`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: response.status, body: await response.text() };
}

function assertEchoesNothing(answer, sent, digits) {
  for (const value of Object.values(sent)) {
    if (typeof value === 'string' && value.length >= 8) {
      assert.ok(!answer.includes(value), 'the answer echoes a value it was sent');
    }
  }
  assertNoPlaintext(answer, digits, 'the answer');
}

function flipLastBit(hex) {
  const last = parseInt(hex.slice(-1), 16) ^ 1;
  return hex.slice(0, -1) + last.toString(16);
}

// The few TwiML shapes these functions answer with: an optional <Gather> holding <Say>s, and
// top-level <Say>s and <Hangup/> outside it. The action is resolved against the request URL,
// as Twilio resolves a relative action.
function parseVoiceTwiml(xml, requestUrl) {
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?><Response>[\s\S]*<\/Response>$/);
  const says = (text) => [...text.matchAll(/<Say>([\s\S]*?)<\/Say>/g)].map((m) => unescapeXml(m[1]));
  const gatherMatch = xml.match(/<Gather\b([^>]*)>([\s\S]*?)<\/Gather>/);
  let gather = null;
  let outside = xml;
  if (gatherMatch) {
    const attributes = Object.fromEntries(
      [...gatherMatch[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], unescapeXml(m[2])]),
    );
    gather = { ...attributes, says: says(gatherMatch[2]), url: new URL(attributes.action, requestUrl) };
    // What follows the Gather only plays when the caller enters nothing.
    outside = xml.slice(0, gatherMatch.index);
    const after = xml.slice(gatherMatch.index + gatherMatch[0].length);
    assert.equal(after, '<Say>We did not receive any input. Goodbye.</Say><Hangup/></Response>');
  }
  return {
    xml,
    gather,
    says: says(outside),
    hangup: /<Hangup\/>/.test(outside),
  };
}

function unescapeXml(text) {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');
}

// ---- set-up ----

// The example runs from a copy in a temporary directory, beside a tarball of pkg/ made by
// `npm pack` (what `npm publish` would upload): a rebuild of pkg/ while this test runs cannot
// pull the module away from under twilio-run, and the repository's example is left untouched.
async function snapshotProject(dir) {
  const example = path.join(dir, 'twilio-function');
  let tarball;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: path.join(ROOT, 'pkg'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      });
      tarball = path.join(dir, path.basename(JSON.parse(out)[0].filename));
      break;
    } catch (error) {
      if (attempt === 5) {
        throw new Error(`pkg/ is missing or incomplete (run \`bash scripts/build-node.sh\`): ${error.message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // a rebuild is under way
    }
  }
  const skip = new Set(['node_modules', '.env', '.twiliodeployinfo']);
  fs.cpSync(EXAMPLE, example, { recursive: true, filter: (from) => !skip.has(path.basename(from)) });
  return { example, tarball };
}

// The example depends on gather-seal by version, as Twilio's build service installs it once the
// package is published; here the tarball stands in for the registry's copy. --no-save leaves
// package.json as committed, and --offline proves nothing is fetched.
function installDependencies({ example, tarball }) {
  const manifest = JSON.parse(fs.readFileSync(path.join(example, 'package.json'), 'utf8'));
  const wanted = manifest.dependencies['gather-seal'];
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'pkg', 'package.json'), 'utf8')).version;
  assert.equal(wanted, `^${version}`, 'the example depends on the built version, from the registry');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--offline', tarball], {
    cwd: example,
    stdio: 'pipe',
    timeout: 90_000,
  });
  const installed = path.join(example, 'node_modules', 'gather-seal');
  assert.ok(!fs.lstatSync(installed).isSymbolicLink(), 'installed as a copy, not a link');
  assert.equal(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')).version, version);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(example, 'package.json'), 'utf8')), manifest,
    'package.json is left as committed');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// twilio-run reads the .env given by --env (a temporary file here, never the example's own) and
// then replaces its process.env with exactly those values, so the functions see nothing else.
// It asks on the terminal for another port when the port is taken; that is treated as a retry.
async function startTwilioRun(dir, example) {
  const envFile = path.join(dir, '.env');
  fs.writeFileSync(
    envFile,
    `AES_SECRET=${AES_SECRET}\nAES_SECRET_PREVIOUS=${AES_SECRET_PREVIOUS.join(',')}\n`,
    { mode: 0o600 },
  );
  const script = fs.realpathSync(TWILIO_RUN); // node_modules/twilio-run/bin/twilio-run.js

  let lastError;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const child = spawn(process.execPath, [script, 'start', '--port', String(port), '--env', envFile], {
      cwd: example,
      detached: true, // its own process group, so stop() also ends the per-request forks
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const stop = () => stopGroup(child, exited, dir);
    killWithThisProcess(child, dir);

    try {
      await waitUntilAnswering(`http://127.0.0.1:${port}/`, exited, () => output);
      return { child, port, baseUrl: `http://127.0.0.1:${port}`, output: () => output, stop };
    } catch (error) {
      await stopGroup(child, exited, null);
      lastError = error;
      if (!/already in use/.test(output)) break;
    }
  }
  throw lastError;
}

async function waitUntilAnswering(url, exited, output) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let gone = false;
  exited.then(() => { gone = true; });
  while (Date.now() < deadline) {
    if (gone) throw new Error(`twilio-run exited before answering:\n${output()}`);
    if (/already in use/.test(output())) throw new Error('port taken');
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return; // any HTTP answer (a 404 for /) means it is serving
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`twilio-run did not answer within ${START_TIMEOUT_MS} ms:\n${output()}`);
}

// A safety net for when the after() hook never runs (the runner interrupted, a crash): the
// detached group would otherwise outlive this process, and the temporary copy with its .env stay.
function killWithThisProcess(child, dir) {
  const kill = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', kill);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      kill();
      process.exit(1);
    });
  }
}

async function stopGroup(child, exited, dir) {
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is already gone
    }
  };
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup('SIGTERM');
    const timer = (ms) => new Promise((resolve) => setTimeout(resolve, ms, 'timeout').unref());
    if ((await Promise.race([exited.then(() => 'exited'), timer(STOP_TIMEOUT_MS)])) === 'timeout') {
      signalGroup('SIGKILL');
      await Promise.race([exited, timer(STOP_TIMEOUT_MS)]);
    }
  }
  signalGroup('SIGKILL'); // forks still running after their parent exited
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
