'use strict';
// The sealing ConversationRelay relay when something breaks, end to end in workerd: the
// application down, refusing, slow, never answering or gone mid-capture (Twilio then hears the
// `end` that sends the call on to its <Connect action> URL, and the socket closes: never a
// hang), Twilio gone, messages over 64 KiB from either side, and sessions that outlive the wait
// for the application's upgrade. The waits for the application are OUTBOUND_TIMEOUT_MS, 300 ms
// here, so nothing waits 5 s. Handshakes are signed by the official twilio package (over the
// URL dialled: no PUBLIC_URL here); results are opened with the npm package (pkg/).

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');
const { startAgentApp } = require('../support/agent-app');
const { assertNoPlaintextInMessages } = require('../support/plaintext');
const { openSubmission, verifySubmission } = require('../../pkg');

const WAIT_MS = 300;
const PIN = '7315';
const PIN_PROMPT = 'Enter your PIN.';
const UNAVAILABLE = { type: 'end', handoffData: '{"gatherSeal":"upstream-unavailable"}' };
const MAX_MESSAGE = 64 * 1024;

// The applications: one that works, and one for each way of not answering.
const apps = {};
let worker;

before(async () => {
  apps.agent = await startAgentApp();
  apps.refusing = await startAgentApp({ refuse: true });
  apps.slow = await startAgentApp({ delayMs: WAIT_MS * 5 });
  apps.silent = await startAgentApp({ neverAnswer: true });
  const down = `ws://127.0.0.1:${await h.freePort()}/agent`;
  const relay = (upstream) => ({ upstream, flows: ['pin'] });
  worker = await h.startWorker({
    GATHER_FLOWS: {
      pin: {
        fields: [{ name: 'pin', kind: 'digits', length: 4, prompt: PIN_PROMPT }],
        then: { redirect: 'https://app.example.com/unused' },
      },
    },
    GATHER_RELAYS: {
      agent: relay(apps.agent.url('/agent')),
      down: relay(down),
      refusing: relay(apps.refusing.url('/agent')),
      slow: relay(apps.slow.url('/agent')),
      silent: relay(apps.silent.url('/agent')),
    },
    AES_SECRET: h.KEY,
    TWILIO_AUTH_TOKEN: h.TOKEN,
    BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    OUTBOUND_TIMEOUT_MS: String(WAIT_MS),
  });
});

after(async () => {
  await worker?.dispose();
  for (const app of Object.values(apps)) await app.close();
});

/** A session of the working relay: Twilio's end, the application's, and the call's SID. */
async function session() {
  const callSid = h.newCallSid();
  const relay = await h.openRelay(worker, 'agent', { setup: { callSid } });
  const app = await apps.agent.connected();
  assert.equal((await app.nextMessage('setup')).callSid, callSid);
  return { relay, app, callSid };
}

/** The relay-session line of the relay `name` (each of these relays has one session), once written. */
async function relayLine(name) {
  for (let waited = 0; waited < 3000; waited += 20) {
    const line = worker.logLines().find((l) => l.outcome === 'relay-session' && l.relay === name);
    if (line) return line;
    await h.sleep(20);
  }
  assert.fail(`no relay-session line for ${name}`);
}

/** Twilio hears that the application is unavailable, then the socket closes. */
async function assertUnavailable(relay) {
  const end = await relay.nextMessage('end');
  assert.deepEqual(end, UNAVAILABLE);
  assert.deepEqual(JSON.parse(end.handoffData), { gatherSeal: 'upstream-unavailable' });
  const closed = await Promise.race([relay.closed, h.sleep(5000).then(() => null)]);
  assert.ok(closed, 'the relay closed the socket');
  relay.assertClean();
}

describe('the application cannot be reached: Twilio hears `end`, and the socket closes', () => {
  for (const [name, why, dialled] of [
    ['down', 'nothing listens', false],
    ['refusing', 'it answers the upgrade with 403', true],
    ['slow', `it upgrades after ${WAIT_MS * 5} ms, past OUTBOUND_TIMEOUT_MS`, true],
    ['silent', 'it never answers the upgrade', true],
  ]) {
    test(`${name}: ${why}`, async () => {
      const upgrades = apps[name]?.upgrades.length;
      const started = Date.now();
      const callSid = h.newCallSid();
      const relay = await h.openRelay(worker, name, { setup: { callSid } });
      await assertUnavailable(relay);
      assert.ok(Date.now() - started < WAIT_MS + 2000, `given up after ${Date.now() - started} ms`);
      if (dialled) assert.equal(apps[name].upgrades.length, upgrades + 1, 'the application was dialled');
      // The session's line: no setup had arrived when it closed, so no call.
      const line = await relayLine(name);
      assert.equal(line.callSid, null);
      assert.equal(line.closed, 'upstream-unavailable');
      assert.deepEqual(line.captures, []);
    });
  }
});

test('the application closes mid-capture: Twilio hears `end`, the socket closes', async () => {
  const s = await session();
  s.app.send({ type: 'gather-seal.start', flow: 'pin' });
  await s.relay.nextMessage('text');
  s.relay.press(PIN.slice(0, 2));
  await s.app.close();
  await assertUnavailable(s.relay);
  const line = await h.relaySessionLine(worker, s.callSid);
  assert.equal(line.closed, 'upstream-closed');
  assert.deepEqual(line.captures, [{ flow: 'pin', result: 'abandoned' }], 'the capture cut short is in the line');
  assertNoPlaintextInMessages(s.app.messages, [PIN.slice(0, 2)], 'the application');
});

test('the application closes between captures: the same', async () => {
  const s = await session();
  await s.app.close();
  await assertUnavailable(s.relay);
  const line = await h.relaySessionLine(worker, s.callSid);
  assert.equal(line.closed, 'upstream-closed');
  assert.deepEqual(line.captures, []);
});

describe('Twilio closes', () => {
  test("between captures: the application's connection closes", async () => {
    const s = await session();
    s.relay.assertClean();
    await s.relay.close();
    const closed = await Promise.race([s.app.closed, h.sleep(5000).then(() => null)]);
    assert.ok(closed, "the application's connection closed");
    assert.equal((await h.relaySessionLine(worker, s.callSid)).closed, 'twilio-closed');
  });

  test("mid-capture: the application's connection closes, with no result", async () => {
    const s = await session();
    s.app.send({ type: 'gather-seal.start', flow: 'pin' });
    await s.relay.nextMessage('text');
    s.relay.press(PIN.slice(0, 3));
    s.relay.assertClean();
    await s.relay.close();
    const closed = await Promise.race([s.app.closed, h.sleep(5000).then(() => null)]);
    assert.ok(closed, "the application's connection closed");
    assert.equal(s.app.messages.some((m) => m.type === 'gather-seal.result'), false);
    const line = await h.relaySessionLine(worker, s.callSid);
    assert.equal(line.closed, 'twilio-closed');
    assert.deepEqual(line.captures, [{ flow: 'pin', result: 'abandoned' }]);
  });
});

test('a session lasts longer than the wait for the upgrade', async () => {
  const s = await session();
  // Three times OUTBOUND_TIMEOUT_MS: the wait is for the upgrade, not for the whole call.
  await h.sleep(WAIT_MS * 3);
  const { submission } = await capture(s, [PIN]);
  assert.deepEqual(openSubmission(submission, h.KEY), { pin: PIN });
  s.relay.say('still there');
  await s.app.nextMessage((m) => m.type === 'prompt' && m.voicePrompt === 'still there');
  s.relay.assertClean();
  await s.relay.close();
  await s.app.closed;
  assert.equal((await h.relaySessionLine(worker, s.callSid)).closed, 'twilio-closed');
});

describe('messages over 64 KiB', () => {
  /** A prompt message whose JSON text is `bytes` long. */
  function promptOf(bytes) {
    const empty = JSON.stringify({ type: 'prompt', voicePrompt: '', lang: 'en-US', last: true });
    return JSON.stringify({ type: 'prompt', voicePrompt: 'a'.repeat(bytes - empty.length), lang: 'en-US', last: true });
  }

  /** A text message whose JSON text is `bytes` long. */
  function textOf(bytes) {
    const empty = JSON.stringify({ type: 'text', token: '', last: true });
    return JSON.stringify({ type: 'text', token: 'b'.repeat(bytes - empty.length), last: true });
  }

  test('from either side: dropped, the session goes on, and its line counts them', async () => {
    const s = await session();
    // Twilio to the application: over the limit dropped, at the limit passed.
    s.relay.sendRaw(promptOf(MAX_MESSAGE + 1));
    s.relay.sendRaw(promptOf(MAX_MESSAGE));
    s.relay.say('after the big ones');
    await s.app.nextMessage((m) => m.type === 'prompt' && m.voicePrompt === 'after the big ones');
    assert.deepEqual(
      s.app.messages.filter((m) => m.type === 'prompt').map((m) => m.voicePrompt.length),
      [JSON.parse(promptOf(MAX_MESSAGE)).voicePrompt.length, 'after the big ones'.length],
    );
    // The application to Twilio: likewise.
    s.app.send(textOf(MAX_MESSAGE + 1));
    s.app.send(textOf(MAX_MESSAGE));
    s.app.send({ type: 'text', token: 'after the big ones', last: true });
    await s.relay.nextMessage((m) => m.type === 'text' && m.token === 'after the big ones');
    assert.deepEqual(
      s.relay.messages.filter((m) => m.type === 'text').map((m) => m.token.length),
      [JSON.parse(textOf(MAX_MESSAGE)).token.length, 'after the big ones'.length],
    );
    // Also during a capture, whose keys still count.
    s.app.send({ type: 'gather-seal.start', flow: 'pin' });
    await s.relay.nextMessage((m) => m.type === 'text' && m.token === PIN_PROMPT);
    s.relay.press(PIN.slice(0, 2));
    s.relay.sendRaw(JSON.stringify({ type: 'dtmf', digit: '1', padding: 'c'.repeat(MAX_MESSAGE) }));
    s.relay.press(PIN.slice(2));
    const result = await s.app.nextMessage('gather-seal.result');
    const submission = verifySubmission(result.body, result.signature, h.SIGNING_SECRET);
    assert.deepEqual(openSubmission(submission, h.KEY), { pin: PIN });
    s.relay.assertClean();
    await s.relay.close();
    await s.app.closed;
    const line = await h.relaySessionLine(worker, s.callSid);
    assert.equal(line.dropped, 3);
    assert.deepEqual(line.captures, [{ flow: 'pin', result: 'success' }]);
  });
});

/** The application starts the flow; each prompt is answered with the next entry. */
async function capture({ relay, app }, entries) {
  app.send({ type: 'gather-seal.start', flow: 'pin' });
  for (const entry of entries) {
    await relay.nextMessage((m) => m.type === 'text' && m.token === PIN_PROMPT);
    relay.press(entry);
  }
  const result = await app.nextMessage('gather-seal.result');
  return { result, submission: verifySubmission(result.body, result.signature, h.SIGNING_SECRET) };
}

test('no log line holds a typed digit', () => {
  h.assertNoPlaintext(worker.output().replace(/"ms":\d+/g, '"ms":0'), [PIN, PIN.slice(0, 2), PIN.slice(0, 3)], "the worker's log");
  assert.ok(!worker.output().includes('still there'), 'nor what the caller said');
});
