'use strict';
// The sealing ConversationRelay relay (`GET /relay/<name>`) end to end in workerd, between the
// ConversationRelay stand-in (tests/support/conversation-relay.js: Twilio's side, which checks
// every message it is sent against Twilio's documented types) and the application stand-in
// (tests/support/agent-app.js). Every handshake is signed by the official twilio package; every
// result is checked and opened with the npm package (pkg/). What breaks (the application down,
// slow or gone, Twilio gone, oversized messages) is in relay-failures.test.js.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');
const { startAgentApp } = require('../support/agent-app');
const { assertNoPlaintextInMessages } = require('../support/plaintext');
const { maskedCards, openSubmission, verifyRelayHandshake, verifySubmission } = require('../../pkg');
const { startVerify, SERVICE_SID, API_KEY_SID, API_KEY_SECRET } = require('../../scripts/verify-mock');

// Where Twilio is told to connect (PUBLIC_URL): signatures are over this URL, not the one dialled.
const PUBLIC_URL = 'https://ivr.example.com';
const wss = (name) => `wss://ivr.example.com/relay/${name}`;
// Throwaway test secrets.
const SHARED_KEY = 'whsk_test_relay_0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const SHARED_SETTINGS = 'key=webhooks_sharedkey_0123456789abcdef,algorithm=HMAC_SHA256';
const OTHER_SECRET = 'another-signing-secret-0123456789abcdef012345';

const CARD_PROMPT = 'Card number, then pound.';
const CVV_PROMPT = 'Security code.';
const PIN_PROMPT = 'Enter your PIN.';
const VISA = '4242424242424242'; // Stripe's published test number
const CVV = '468';
const PIN = '7315';
// Spoken, never typed: the transcript text that must not reach the log.
const SPOKEN_CARD = 'my card is 4242 4242 4242 4242';
const SPOKEN_DURING_CAPTURE = 'purple elephant 7 3 1 5';

const THEN = { redirect: 'https://app.example.com/unused' };
const pinField = { name: 'pin', kind: 'digits', length: 4, prompt: PIN_PROMPT };
const FLOWS = {
  pin: { fields: [pinField], then: THEN },
  pay: {
    fields: [
      { name: 'card', kind: 'card-number', card_types: ['visa', 'mastercard', 'amex'], prompt: CARD_PROMPT },
      { name: 'cvv', kind: 'security-code', card: 'card', prompt: CVV_PROMPT },
      pinField,
    ],
    then: THEN,
  },
  // Waits a second for a key, twice.
  quick: { fields: [pinField], timeout: 1, attempts: 2, then: THEN },
  // One try per field, and two failed captures lock a caller out.
  limited: { fields: [pinField], attempts: 1, limits: { failures: 2, window_minutes: 60 }, then: THEN },
};

let application;
let worker;
// Every entry typed in this file, for the log check at the end.
const TYPED = new Set([VISA, CVV, PIN]);

before(async () => {
  application = await startAgentApp();
  worker = await h.startWorker({
    GATHER_FLOWS: FLOWS,
    GATHER_RELAYS: {
      agent: { upstream: application.url('/agent'), flows: ['pin', 'pay', 'quick', 'limited'] },
      open: { upstream: application.url('/open'), flows: ['pin'], speech: 'pass' },
    },
    AES_SECRET: h.KEY,
    TWILIO_AUTH_TOKEN: h.TOKEN,
    TWILIO_WEBHOOK_SHARED_KEY: SHARED_KEY,
    BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    PUBLIC_URL,
  });
});

after(async () => {
  await worker?.dispose();
  await application?.close();
});

/**
 * A session of relay `name` on `on` (a worker): ConversationRelay's end (`relay`), the
 * application's connection (`app`, its setup message taken) and the call's SID. `options` go to
 * openRelay; `setup` fields over the setup message.
 */
async function session(name = 'agent', { on = worker, setup = {}, ...options } = {}) {
  const callSid = h.newCallSid();
  const relay = await h.openRelay(on, name, { signUrl: wss(name), setup: { callSid, ...setup }, ...options });
  const app = await application.connected();
  assert.equal((await app.nextMessage('setup')).callSid, callSid, 'the setup reaches the application');
  return { relay, app, callSid };
}

/** Twilio hangs up: both ends close. */
async function hangUp({ relay, app }) {
  relay.assertClean();
  await relay.close();
  await app.closed;
}

/** The application starts `flow`; each prompt Twilio hears is answered with the next entry. */
async function capture({ relay, app }, flow, entries) {
  app.send({ type: 'gather-seal.start', flow });
  const prompts = [];
  for (const entry of entries) {
    prompts.push((await relay.nextMessage('text')).token);
    relay.press(entry);
  }
  const result = await app.nextMessage('gather-seal.result');
  return { prompts, result, submission: verifySubmission(result.body, result.signature, h.SIGNING_SECRET) };
}

/**
 * Everything the relay sent Twilio so far has arrived: the application sends a message that
 * passes straight through (a `language`), and Twilio's socket delivers in order.
 */
async function flushToTwilio({ relay, app }) {
  app.send({ type: 'language', ttsLanguage: 'en-US' });
  await relay.nextMessage('language');
}

function sealedMembers(submission) {
  return Object.keys(submission).filter((k) => k.startsWith('encrypted'));
}

describe('the handshake', () => {
  test('unsigned, a wrong token, or signed for another URL: 403, and the application is never dialled', async () => {
    const upgrades = application.upgrades.length;
    const refusals = worker.logLines().filter((l) => l.outcome === 'bad-signature').length;
    const forged = [
      ['unsigned', { signature: null }],
      ['a wrong auth token', { token: 'f'.repeat(32), signUrl: wss('agent') }],
      ['signed for another relay', { signUrl: wss('open') }],
      ['signed for another host', { signUrl: 'wss://other.example.com/relay/agent' }],
      ['signed for the URL dialled, not the public one', {}],
      ['signed with parameters', { signUrl: `${wss('agent')}?CallSid=CAabc` }],
      ['a shared-key signature without its settings header', { token: SHARED_KEY, algorithm: 'HMAC_SHA256', signUrl: wss('agent') }],
    ];
    for (const [why, options] of forged) {
      await assert.rejects(h.openRelay(worker, 'agent', options), (e) => e.status === 403 && e.body === 'Forbidden', why);
    }
    assert.equal(application.upgrades.length, upgrades, 'nothing was opened upstream');
    const logged = async () => worker.logLines().filter((l) => l.outcome === 'bad-signature').length - refusals;
    for (let waited = 0; (await logged()) < forged.length && waited < 3000; waited += 20) await h.sleep(20);
    assert.equal(await logged(), forged.length, 'each refusal is logged as bad-signature');
  });

  test('the wss:// URL Twilio was given, or the same spelled https://: accepted', async () => {
    for (const signUrl of [wss('agent'), `${PUBLIC_URL}/relay/agent`]) {
      const upgrades = application.upgrades.length;
      const s = await session('agent', { signUrl });
      assert.equal(application.upgrades.length, upgrades + 1);
      assert.equal(s.app.upgrade.path, '/agent');
      await hangUp(s);
    }
  });

  test('a shared-key signature with X-Twilio-Webhooks-Signature-Settings: accepted', async () => {
    const s = await session('agent', { token: SHARED_KEY, algorithm: 'HMAC_SHA256', settings: SHARED_SETTINGS });
    await hangUp(s);
  });
});

test('the relay signs its upgrade to the application: verifyRelayHandshake holds under the secret only', async () => {
  const s = await session();
  const header = s.app.upgrade.headers['x-gather-seal-signature'];
  assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.equal(verifyRelayHandshake(application.url('/agent'), header, h.SIGNING_SECRET), true);
  assert.equal(verifyRelayHandshake(application.url('/agent'), header, [OTHER_SECRET, h.SIGNING_SECRET]), true);
  assert.throws(() => verifyRelayHandshake(application.url('/agent'), header, OTHER_SECRET), /relay handshake/);
  assert.throws(() => verifyRelayHandshake(application.url('/open'), header, h.SIGNING_SECRET), /relay handshake/);
  await hangUp(s);
});

describe('a capture', () => {
  test('a card, its security code and a PIN: the result opens to them; the application never hears one', async () => {
    const s = await session();
    const { prompts, submission } = await capture(s, 'pay', [`${VISA}#`, CVV, PIN]);
    assert.deepEqual(prompts, [CARD_PROMPT, CVV_PROMPT, PIN_PROMPT]);
    assert.equal(submission.result, 'success');
    assert.equal(submission.callSid, s.callSid);
    assert.equal(submission.flow, 'pay');
    assert.deepEqual(openSubmission(submission, h.KEY), { card: VISA, cvv: CVV, pin: PIN });
    assert.deepEqual(maskedCards(submission), { card: { last4: '4242', brand: 'visa' } });
    assert.equal(s.app.messages.filter((m) => m.type === 'dtmf').length, 0, 'no key reached the application');
    assertNoPlaintextInMessages(s.app.messages, [VISA, CVV, PIN], 'the application');
    await hangUp(s);
  });

  test("no key for the flow's timeout: asked again, and keys after it count", async () => {
    const s = await session();
    s.app.send({ type: 'gather-seal.start', flow: 'quick' });
    assert.equal((await s.relay.nextMessage('text')).token, PIN_PROMPT);
    const again = await s.relay.nextMessage('text', 3000);
    assert.notEqual(again.token, PIN_PROMPT, 'the timeout has its own sentence');
    assert.ok(again.token.endsWith(PIN_PROMPT), again.token);
    s.relay.press(PIN);
    const result = await s.app.nextMessage('gather-seal.result');
    const submission = verifySubmission(result.body, result.signature, h.SIGNING_SECRET);
    assert.deepEqual(openSubmission(submission, h.KEY), { pin: PIN });
    await hangUp(s);
  });

  test('`*` cancels it: result cancelled, nothing sealed', async () => {
    TYPED.add('73');
    const s = await session();
    const { submission } = await capture(s, 'pin', ['73*']);
    assert.equal(submission.result, 'cancelled');
    assert.deepEqual(sealedMembers(submission), []);
    assertNoPlaintextInMessages(s.app.messages, ['73'], 'the application');
    await hangUp(s);
  });
});

describe("the caller's speech", () => {
  test('a spoken card number reaches the application as [redacted]', async () => {
    const s = await session();
    s.relay.say(SPOKEN_CARD);
    const prompt = await s.app.nextMessage('prompt');
    assert.deepEqual(prompt, { type: 'prompt', voicePrompt: 'my card is [redacted]', lang: 'en-US', last: true });
    await hangUp(s);
  });

  test('speech = "pass": the prompt arrives as Twilio sent it', async () => {
    const s = await session('open');
    s.relay.say(SPOKEN_CARD);
    assert.deepEqual(await s.app.nextMessage('prompt'), { type: 'prompt', voicePrompt: SPOKEN_CARD, lang: 'en-US', last: true });
    await hangUp(s);
  });

  test('speech during a capture never reaches the application', async () => {
    const s = await session();
    s.app.send({ type: 'gather-seal.start', flow: 'pin' });
    assert.equal((await s.relay.nextMessage('text')).token, PIN_PROMPT);
    s.relay.say(SPOKEN_DURING_CAPTURE);
    s.relay.say(PIN);
    s.relay.press(PIN);
    await s.app.nextMessage('gather-seal.result');
    s.relay.say('thank you');
    // Twilio's messages arrive in order: had the earlier ones been passed on, they would be here.
    await s.app.nextMessage((m) => m.type === 'prompt' && m.voicePrompt === 'thank you');
    assert.deepEqual(s.app.messages.filter((m) => m.type === 'prompt').map((m) => m.voicePrompt), ['thank you']);
    assertNoPlaintextInMessages(s.app.messages, [PIN], 'the application');
    await hangUp(s);
  });
});

test("the application's text and play during a capture reach Twilio only after its result", async () => {
  const s = await session();
  s.app.send({ type: 'gather-seal.start', flow: 'pin' });
  await s.relay.nextMessage((m) => m.type === 'text' && m.token === PIN_PROMPT);
  s.relay.press(PIN.slice(0, 2));
  const held = [
    { type: 'text', token: 'One moment while I check that.', last: true },
    { type: 'play', source: 'https://app.example.com/hold.mp3' },
  ];
  for (const message of held) s.app.send(message);
  // A message that is not held, sent after them: once Twilio has it, the relay has read them.
  await flushToTwilio(s);
  assert.deepEqual(s.relay.messages.map((m) => m.type), ['text', 'language'], 'held while the capture runs');
  s.relay.press(PIN.slice(2));
  const result = await s.app.nextMessage('gather-seal.result');
  assert.equal(verifySubmission(result.body, result.signature, h.SIGNING_SECRET).result, 'success');
  assert.deepEqual(await s.relay.nextMessage('text'), held[0]);
  assert.deepEqual(await s.relay.nextMessage('play'), held[1]);
  assert.deepEqual(s.relay.messages.map((m) => m.type), ['text', 'language', 'text', 'play'], 'released in order');
  await hangUp(s);
});

test("the application's end cancels a capture and reaches Twilio", async () => {
  const s = await session();
  s.app.send({ type: 'gather-seal.start', flow: 'pin' });
  await s.relay.nextMessage('text');
  s.relay.press('73');
  const end = { type: 'end', handoffData: '{"reason":"agent"}' };
  s.app.send(end);
  assert.deepEqual(await s.relay.nextMessage('end'), end);
  await hangUp(s);
  const line = await h.relaySessionLine(worker, s.callSid);
  assert.deepEqual(line.captures, [{ flow: 'pin', result: 'cancelled-by-app' }]);
  assert.equal(s.app.messages.some((m) => m.type === 'gather-seal.result'), false);
});

describe('lockout (a flow with limits)', () => {
  test('failed captures count; once locked, a start is answered locked at once', async () => {
    TYPED.add('12');
    const from = '+15005550171';
    const s = await session('agent', { setup: { from } });
    for (let i = 0; i < 2; i++) {
      const { submission } = await capture(s, 'limited', ['12#']);
      assert.equal(submission.result, 'too-many-attempts', `capture ${i + 1}`);
    }
    const asked = s.relay.messages.length;
    s.app.send({ type: 'gather-seal.start', flow: 'limited' });
    const locked = await s.app.nextMessage('gather-seal.result');
    const submission = verifySubmission(locked.body, locked.signature, h.SIGNING_SECRET);
    assert.equal(submission.result, 'locked');
    assert.deepEqual(sealedMembers(submission), []);
    await flushToTwilio(s);
    assert.deepEqual(s.relay.messages.slice(asked).map((m) => m.type), ['language'], 'the caller was asked nothing');
    await hangUp(s);
    // The next call from the same number too; another caller is asked.
    const again = await session('agent', { setup: { from } });
    again.app.send({ type: 'gather-seal.start', flow: 'limited' });
    const result = await again.app.nextMessage('gather-seal.result');
    assert.equal(JSON.parse(result.body).result, 'locked');
    await hangUp(again);
    const other = await session('agent', { setup: { from: '+15005550173' } });
    const { submission: theirs } = await capture(other, 'limited', [PIN]);
    assert.equal(theirs.result, 'success');
    await hangUp(other);
    const line = await h.relaySessionLine(worker, s.callSid);
    assert.deepEqual(line.captures.map((c) => c.result), ['too-many-attempts', 'too-many-attempts', 'locked']);
  });

  test('a successful capture gives its try back', async () => {
    // Two tries: a third success in a row is asked only if the first two gave theirs back.
    const s = await session('agent', { setup: { from: '+15005550172' } });
    const results = [];
    for (let i = 0; i < 3; i++) {
      s.app.send({ type: 'gather-seal.start', flow: 'limited' });
      const asked = s.relay.nextMessage('text');
      const result = s.app.nextMessage('gather-seal.result');
      // The first of the two: asked, or answered at once (locked).
      if ((await Promise.race([asked.then(() => 'asked'), result.then(() => 'answered')])) === 'asked') {
        s.relay.press(PIN);
      }
      const submission = verifySubmission((await result).body, (await result).signature, h.SIGNING_SECRET);
      results.push(submission.result);
      if (submission.result !== 'success') break;
      assert.deepEqual(openSubmission(submission, h.KEY), { pin: PIN });
    }
    await hangUp(s);
    assert.deepEqual(results, ['success', 'success', 'success'], 'each success gave its try back');
  });
});

describe("the application's mistakes", () => {
  test('a flow not listed for the relay: unknown-flow', async () => {
    const s = await session('open');
    for (const start of [{ flow: 'nope' }, { flow: 'pay' }, {}, { flow: 7 }]) {
      s.app.send({ type: 'gather-seal.start', ...start });
      assert.deepEqual(await s.app.nextMessage('gather-seal.error'), { type: 'gather-seal.error', reason: 'unknown-flow' });
    }
    await flushToTwilio(s);
    assert.deepEqual(s.relay.messages.map((m) => m.type), ['language'], 'Twilio heard nothing of them');
    await hangUp(s);
  });

  test('a start during a capture: busy, and the capture goes on', async () => {
    const s = await session();
    s.app.send({ type: 'gather-seal.start', flow: 'pin' });
    await s.relay.nextMessage('text');
    for (const flow of ['pin', 'pay']) {
      s.app.send({ type: 'gather-seal.start', flow });
      assert.deepEqual(await s.app.nextMessage('gather-seal.error'), { type: 'gather-seal.error', reason: 'busy' });
    }
    s.relay.press(PIN);
    const result = await s.app.nextMessage('gather-seal.result');
    const submission = verifySubmission(result.body, result.signature, h.SIGNING_SECRET);
    assert.deepEqual(openSubmission(submission, h.KEY), { pin: PIN });
    await flushToTwilio(s);
    assert.deepEqual(s.relay.messages.map((m) => m.type), ['text', 'language'], 'asked once');
    await hangUp(s);
  });

  test('another gather-seal.* message: unknown-message, during a capture or not', async () => {
    const s = await session();
    const unknown = { type: 'gather-seal.stop', flow: 'pin' };
    s.app.send(unknown);
    assert.deepEqual(await s.app.nextMessage('gather-seal.error'), { type: 'gather-seal.error', reason: 'unknown-message' });
    s.app.send({ type: 'gather-seal.start', flow: 'pin' });
    await s.relay.nextMessage('text');
    s.app.send(unknown);
    assert.deepEqual(await s.app.nextMessage('gather-seal.error'), { type: 'gather-seal.error', reason: 'unknown-message' });
    s.relay.press(PIN);
    await s.app.nextMessage('gather-seal.result');
    await flushToTwilio(s);
    assert.deepEqual(s.relay.messages.map((m) => m.type), ['text', 'language'], 'Twilio heard none of them');
    await hangUp(s);
  });
});

test('20 sessions at once, each capturing its own PIN', async () => {
  const pins = Array.from({ length: 20 }, (_, i) => String(1009 + 397 * i));
  for (const pin of pins) TYPED.add(pin);
  const callSids = pins.map(() => h.newCallSid());
  const relays = await Promise.all(
    callSids.map((callSid) => h.openRelay(worker, 'agent', { signUrl: wss('agent'), setup: { callSid } })),
  );
  // The application's connections, by the call their setup names.
  const apps = new Map();
  for (let i = 0; i < pins.length; i++) {
    const app = await application.connected();
    apps.set((await app.nextMessage('setup')).callSid, app);
  }
  const results = await Promise.all(
    pins.map(async (pin, i) => {
      const s = { relay: relays[i], app: apps.get(callSids[i]), callSid: callSids[i] };
      assert.ok(s.app, `session ${i} reached the application`);
      const { submission } = await capture(s, 'pin', [pin]);
      assertNoPlaintextInMessages(s.app.messages, pins, `the application of session ${i}`);
      await hangUp(s);
      return submission;
    }),
  );
  results.forEach((submission, i) => {
    assert.equal(submission.callSid, callSids[i]);
    assert.deepEqual(openSubmission(submission, h.KEY), { pin: pins[i] });
  });
});

describe('the log', () => {
  test('one relay-session line per session: relay, call, captures, redactions, why it closed', async () => {
    const s = await session();
    s.relay.say(SPOKEN_CARD);
    await s.app.nextMessage('prompt');
    await capture(s, 'pin', [PIN]);
    await capture(s, 'pay', ['7*']);
    await hangUp(s);
    const line = await h.relaySessionLine(worker, s.callSid);
    assert.equal(typeof line.ms, 'number');
    assert.deepEqual(line, {
      outcome: 'relay-session',
      relay: 'agent',
      callSid: s.callSid,
      captures: [
        { flow: 'pin', result: 'success' },
        { flow: 'pay', result: 'cancelled' },
      ],
      redactions: 1,
      dropped: 0,
      closed: 'twilio-closed',
      ms: line.ms,
    });
    await h.sleep(100);
    assert.equal(worker.logLines().filter((l) => l.callSid === s.callSid).length, 1, 'and no other line');
  });

  test('no line holds a typed digit or what the caller said', async () => {
    const output = worker.output();
    h.assertNoPlaintext(output.replace(/"ms":\d+/g, '"ms":0'), [...TYPED], "the worker's log");
    for (const said of [SPOKEN_CARD, '4242 4242', 'my card', 'purple elephant', 'thank you']) {
      assert.ok(!output.includes(said), `the log holds what the caller said: "${said}"`);
    }
    for (const line of worker.logLines().filter((l) => l.outcome === 'relay-session')) {
      assert.deepEqual(
        Object.keys(line).sort(),
        ['callSid', 'captures', 'closed', 'dropped', 'ms', 'outcome', 'redactions', 'relay'],
      );
    }
  });
});

describe('a Verify code inside a capture, against Twilio Verify as its OpenAPI description says', () => {
  const CODE = '864209';
  const FROM = '+15005550123';
  const OTP_PROMPT = 'Enter the code we just sent you, then press pound.';
  let verify;
  let verifyWorker;

  before(async () => {
    verify = await startVerify({ code: CODE });
    verifyWorker = await h.startWorker({
      GATHER_FLOWS: {
        otp: {
          fields: [pinField, { name: 'otp', kind: 'verify', channel: 'sms', prompt: OTP_PROMPT }],
          then: THEN,
        },
      },
      GATHER_RELAYS: { agent: { upstream: application.url('/agent'), flows: ['otp'] } },
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
      TWILIO_API_KEY_SID: API_KEY_SID,
      TWILIO_API_KEY_SECRET: API_KEY_SECRET,
      TWILIO_VERIFY_SERVICE_SID: SERVICE_SID,
      TWILIO_VERIFY_URL: verify.url,
      PUBLIC_URL,
    });
  });

  after(async () => {
    await verifyWorker?.dispose();
    await verify?.close();
  });

  test('the code is sent, typed and approved: verified, and nobody but Verify hears it', async () => {
    const s = await session('agent', { on: verifyWorker, setup: { from: FROM } });
    const { prompts, submission } = await capture(s, 'otp', [PIN, `${CODE}#`]);
    assert.deepEqual(prompts, [PIN_PROMPT, OTP_PROMPT]);
    assert.equal(submission.result, 'success');
    assert.deepEqual(submission.verified, ['otp']);
    assert.deepEqual(openSubmission(submission, h.KEY, { verified: ['otp'] }), { pin: PIN });
    await verify.settle();
    assert.deepEqual(verify.violations, []);
    assert.deepEqual(
      verify.requests.map((r) => [r.operation, r.serviceSid, r.form]),
      [
        ['verification', SERVICE_SID, { To: FROM, Channel: 'sms' }],
        ['check', SERVICE_SID, { To: FROM, Code: CODE }],
      ],
    );
    assertNoPlaintextInMessages(s.app.messages, [PIN, CODE], 'the application');
    await hangUp(s);
    const line = await h.relaySessionLine(verifyWorker, s.callSid);
    assert.deepEqual(line.captures, [{ flow: 'otp', result: 'success' }]);
    h.assertNoPlaintext(verifyWorker.output().replace(/"ms":\d+/g, '"ms":0'), [PIN, CODE], "the worker's log");
    assert.ok(!verifyWorker.output().includes(API_KEY_SECRET));
  });
});
