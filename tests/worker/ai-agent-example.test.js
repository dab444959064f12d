'use strict';
// examples/ai-agent behind the sealing relay of the local demo, as a developer runs them: the
// development build with [env.dev.vars] as committed (the relay "agent" and its flow "card"),
// its upstream pointed at the example's port; the example exactly as shipped (copied beside a
// snapshot of pkg/, npm-installed, run with `node server.js`); and scripts/relay-call.js
// playing Twilio's side as a child process, its handshake signed by the twilio package. The
// example's own log is its model's transcript: it must never hold a card digit the caller said
// or typed, beyond the last four the agent speaks.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');
const { connect } = require('../support/conversation-relay');
const { startAgentExample } = require('../support/agent-example');
const { API_KEY_SID, API_KEY_SECRET } = require('../../scripts/verify-mock');

const ROOT = path.join(__dirname, '..', '..');
const GREETING = 'Hello, this is the billing assistant. How can I help you today?';
const HANDING_OVER = 'Sure. Please type your card details on your keypad; they go to a secure system, not to me.';
const VISA = '4242424242424242';

/** The throwaway dev secrets scripts/dev.sh gives the worker and the example. */
function devSecrets() {
  const text = fs.readFileSync(path.join(ROOT, '.dev.vars.example'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2].trim()]));
}

describe('examples/ai-agent behind the relay of [env.dev], played by scripts/relay-call.js', () => {
  const secrets = devSecrets();
  let example; // { port, url, output(), stop() }
  let worker;

  before(async () => {
    example = await startAgentExample(secrets);
    const vars = h.devVars();
    worker = await h.startWorker(
      {
        ...vars,
        GATHER_RELAYS: { agent: { ...vars.GATHER_RELAYS.agent, upstream: example.url } },
        AES_SECRET: secrets.AES_SECRET,
        TWILIO_AUTH_TOKEN: secrets.TWILIO_AUTH_TOKEN,
        BACKEND_SIGNING_SECRET: secrets.BACKEND_SIGNING_SECRET,
        TWILIO_API_KEY_SID: API_KEY_SID,
        TWILIO_API_KEY_SECRET: API_KEY_SECRET,
      },
      { build: 'build-dev' },
    );
  }, { timeout: 120_000 });

  after(async () => {
    await worker?.dispose();
    await example?.stop();
  });

  /** scripts/relay-call.js against the worker, as a call SID of letters only: its exit and output. */
  function relayCall(steps) {
    const callSid = h.newCallSid();
    const args = ['--base', worker.origin, '--token', secrets.TWILIO_AUTH_TOKEN, '--call-sid', callSid, ...steps];
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'relay-call.js'), ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out, callSid }));
    });
  }

  /** The example's log lines about one call, once its session has ended. */
  async function transcriptOf(callSid) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const lines = example.output().split('\n').filter((line) => line.includes(callSid));
      if (lines.some((line) => / ended after /.test(line)) || Date.now() > deadline) return lines.join('\n');
      await h.sleep(20);
    }
  }

  test('[env.dev] has the relay "agent" on port 8789 and its relay-only flow "card"', () => {
    const vars = h.devVars();
    assert.deepEqual(vars.GATHER_RELAYS, { agent: { upstream: 'ws://127.0.0.1:8789/agent', flows: ['card'] } });
    const card = vars.GATHER_FLOWS.card;
    assert.equal(card.then, undefined, 'only the relay runs it');
    assert.deepEqual(
      card.fields.map((f) => [f.name, f.kind, f.card_types ?? f.card ?? null]),
      [
        ['card', 'card-number', ['visa', 'mastercard', 'amex']],
        ['cvv', 'security-code', 'card'],
        ['expiry', 'expiry', null],
      ],
    );
  });

  test('"I want to pay my bill", then the card typed: the agent hears only "ending 4242"', async () => {
    const typed = [`${VISA}#`, '123', '1228'];
    const call = await relayCall(['I want to pay my bill', ...typed]);
    assert.equal(call.code, 0, call.out);
    assert.doesNotMatch(call.out, /upstream-unavailable|the session ends/, 'the caller hangs up; nothing ends the session before');
    const hears = (sentence) => assert.ok(call.out.includes(`caller hears: "${sentence}"`), `the caller hears "${sentence}":\n${call.out}`);
    hears(GREETING);
    hears(HANDING_OVER);
    for (const field of h.devVars().GATHER_FLOWS.card.fields) hears(field.prompt);
    assert.match(call.out, /caller hears: "[^"]*your card ending 4242 is accepted/i);

    const transcript = await transcriptOf(call.callSid);
    assert.match(transcript, /caller\s+"I want to pay my bill"/);
    assert.match(transcript, /start-card-capture/);
    assert.match(transcript, /agent\s+"Thank you\. Your card ending 4242 is accepted\."/);
    h.assertNoPlaintext(transcript, [VISA, '123', '1228'], "the example's transcript");
    h.assertNoPlaintext(example.output(), [VISA, '123', '1228'], "the example's log");
    h.assertNoPlaintext(worker.output(), [VISA, '123', '1228'], "the worker's log");
  });

  test('a card number said aloud reaches the model as [redacted]; a session longer than the relay\'s 5 s upstream wait', async () => {
    const said = '4111 1111 1111 1111';
    const call = await relayCall(['Hi there', `My card number is ${said}`, `${VISA}#`, '321', '0130']);
    assert.equal(call.code, 0, call.out);
    assert.ok(call.out.includes('caller hears: "I can help you pay your bill. Just say that you would like to pay."'), call.out);
    assert.doesNotMatch(call.out, /upstream-unavailable|the session ends/, 'the relay keeps the session open past its upstream wait');
    assert.match(call.out, /your card ending 4242 is accepted/i);
    const transcript = await transcriptOf(call.callSid);
    assert.match(transcript, /caller\s+"My card number is \[redacted\]"/);
    // Whole digit runs, said or typed, as tokens (tests/support/plaintext.js): the groups as said,
    // the number run together, and what was typed.
    const runs = [...new Set([...said.split(' '), said.replace(/ /g, ''), VISA, '321', '0130'])];
    h.assertNoPlaintext(transcript, runs, "the example's transcript");
    h.assertNoPlaintext(example.output(), runs, "the example's log");
  });

  test('an upgrade straight to the example, unsigned or signed with another secret, is refused 401', async () => {
    const url = `ws://127.0.0.1:${example.port}/agent`;
    await assert.rejects(connect(url, { setup: false }), (e) => e.status === 401);
    // The relay's signature over the right URL, but under a secret the example does not hold.
    const t = Math.floor(Date.now() / 1000);
    const v1 = crypto.createHmac('sha256', 'not-the-relay-secret-0123456789abcdef').update(`${t}.${url}`).digest('hex');
    await assert.rejects(
      connect(url, { setup: false, headers: { 'X-Gather-Seal-Signature': `t=${t},v1=${v1}` } }),
      (e) => e.status === 401,
    );
  });
});

