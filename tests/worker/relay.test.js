'use strict';
// WIP (branch relay-glue): the sealing relay at /relay/<name> in workerd, between a
// ConversationRelay stand-in and an application stand-in. Handshakes signed by the official
// twilio package.

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');
const twilio = require('twilio');
const h = require('./harness');
const { connect } = require('../support/conversation-relay');
const { startAgentApp } = require('../support/agent-app');
const { verifyRelayHandshake, verifySubmission, openSubmission } = require('../../pkg');

let worker;
let app;

before(async () => {
  app = await startAgentApp();
  worker = await h.startWorker({
    GATHER_FLOWS: {
      pin: {
        fields: [{ name: 'pin', kind: 'digits', length: 4, prompt: 'Enter your PIN.' }],
        then: { redirect: 'https://app.example.com/unused' },
      },
    },
    GATHER_RELAYS: { agent: { upstream: app.url('/agent'), flows: ['pin'] } },
    AES_SECRET: h.KEY,
    TWILIO_AUTH_TOKEN: h.TOKEN,
    BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
  });
});

after(async () => {
  await worker?.dispose();
  await app?.close();
});

function socketUrl() {
  return worker.url('/relay/agent').replace(/^http/, 'ws');
}

test('unsigned handshake: 403, upstream never contacted', async () => {
  await assert.rejects(connect(socketUrl()), (e) => e.status === 403);
  assert.equal(app.upgrades.length, 0);
});

test('a PIN captured through the relay reaches the application only sealed', async () => {
  const url = socketUrl();
  const signature = twilio.getExpectedTwilioSignature(h.TOKEN, url, {});
  const relay = await connect(url, { headers: { 'X-Twilio-Signature': signature }, setup: { callSid: h.newCallSid() } });
  await app.connected();
  const [upgrade] = app.upgrades.slice(-1);
  assert.equal(verifyRelayHandshake(app.url('/agent'), upgrade.headers['x-gather-seal-signature'], h.SIGNING_SECRET), true);
  const setup = await app.nextMessage((m) => m.type === 'setup');
  assert.ok(setup.callSid);
  app.send({ type: 'gather-seal.start', flow: 'pin' });
  const prompt = await relay.nextMessage('text');
  assert.equal(prompt.token, 'Enter your PIN.');
  relay.press('4321');
  const result = await app.nextMessage((m) => m.type === 'gather-seal.result');
  const submission = verifySubmission(result.body, result.signature, h.SIGNING_SECRET);
  assert.deepEqual(openSubmission(submission, h.KEY), { pin: '4321' });
  relay.assertClean();
  relay.close();
});
