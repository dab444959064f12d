'use strict';
// The two WebSocket stand-ins (conversation-relay.js for Twilio's ConversationRelay,
// agent-app.js for the application) proven against each other, without the worker: a relay
// of a few lines here pipes messages both ways, signs its upstream handshake as the worker's
// relay will, and on an upstream failure ends the session as the worker's relay will.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { after, describe, test } = require('node:test');
const twilio = require('twilio');
const WebSocket = require('ws');
const {
  connect,
  problemsToTwilio,
  problemsFromTwilio,
  setupMessage,
} = require('./conversation-relay');
const { startAgentApp } = require('./agent-app');

const AUTH_TOKEN = 'an-auth-token-for-tests-only';
const SIGNING_SECRET = 'a-backend-signing-secret-for-tests-only';
const UPSTREAM_UNAVAILABLE = {
  type: 'end',
  handoffData: JSON.stringify({ gatherSeal: 'upstream-unavailable' }),
};

/** `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<url>")>`, as the relay signs its upstream. */
function relaySignature(url, t = Math.floor(Date.now() / 1000)) {
  const v1 = crypto.createHmac('sha256', SIGNING_SECRET).update(`${t}.${url}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

/**
 * A relay that only pipes: each ConversationRelay connection opens `upstreamUrl`, Twilio's
 * messages wait until it is open, then text frames go both ways as they are; either side
 * closing closes the other. Records the X-Twilio-Signature each connection came with.
 */
async function startPipe(upstreamUrl) {
  const server = http.createServer();
  const wss = new WebSocket.WebSocketServer({ server });
  const twilioSignatures = [];
  wss.on('connection', (caller, request) => {
    twilioSignatures.push(request.headers['x-twilio-signature']);
    const upstream = new WebSocket(upstreamUrl, {
      headers: { 'X-Gather-Seal-Signature': relaySignature(upstreamUrl) },
    });
    const waiting = [];
    caller.on('message', (data) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data.toString());
      else waiting.push(data.toString());
    });
    upstream.on('open', () => waiting.splice(0).forEach((text) => upstream.send(text)));
    upstream.on('message', (data) => caller.send(data.toString()));
    upstream.on('error', () => {
      caller.send(JSON.stringify(UPSTREAM_UNAVAILABLE));
      caller.close(1000);
    });
    upstream.on('close', () => caller.close(1000));
    caller.on('close', () => upstream.readyState === WebSocket.OPEN && upstream.close(1000));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${server.address().port}/relay/agent`,
    twilioSignatures,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A stand-in for ConversationRelay, connected through a new pipe to a new application. */
async function call(setup = {}) {
  const app = await startAgentApp();
  const pipe = await startPipe(app.url('/agent'));
  const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, pipe.url, {});
  let relay = null;
  const done = async () => {
    await relay?.close();
    await pipe.close();
    await app.close();
  };
  try {
    relay = await connect(pipe.url, { headers: { 'X-Twilio-Signature': signature }, setup });
    await app.connected();
  } catch (error) {
    await done();
    throw error;
  }
  return { app, pipe, relay, done };
}

// [message, the problem expected (a substring), why]
const BAD_TO_TWILIO = [
  [{ type: 'text' }, 'text: missing "token"', 'text without its token'],
  [{ type: 'text', token: 'Hi' }, 'text: missing "last"', 'text without last'],
  [{ type: 'txt', token: 'Hi', last: true }, 'unknown type "txt"', 'a misspelt type'],
  [{ token: 'Hi', last: true }, 'unknown type undefined', 'no type at all'],
  [{ type: 'text', token: 5, last: true }, '"token" must be a string, got number', 'a number for a string'],
  [{ type: 'text', token: 'Hi', last: 'true' }, '"last" must be a boolean, got string', 'a string for a boolean'],
  [{ type: 'text', token: 'Hi', last: true, lang: null }, '"lang" must be a string, got null', 'null for an optional string'],
  [{ type: 'text', token: 'Hi', last: true, interruptible: 'sometimes' }, '"interruptible" must be', 'an unknown interruptible'],
  [{ type: 'text', token: 'Hi', last: true, voice: 'Polly' }, 'text: unknown field "voice"', 'a field text does not have'],
  [{ type: 'play', source: 'https://example.com/a.mp3', loop: 1.5 }, '"loop" must be a whole number', 'a fractional loop'],
  [{ type: 'play' }, 'play: missing "source"', 'play without a source'],
  [{ type: 'sendDigits', digits: 1234 }, '"digits" must be a string, got number', 'digits as a number'],
  [{ type: 'end', handoffData: { gatherSeal: 'x' } }, '"handoffData" must be a string, got object', 'handoffData not stringified'],
  [{ type: 'end', reason: 'x' }, 'end: unknown field "reason"', 'a field end does not have'],
  [{ type: 'prompt', voicePrompt: 'hi', lang: 'en-US', last: true }, 'unknown type "prompt"', 'a message only Twilio sends'],
  [['text'], 'not a JSON object', 'an array'],
];

// [message, why]
const GOOD_TO_TWILIO = [
  [{ type: 'text', token: 'Enter your card number', last: true }, 'the least text'],
  [{ type: 'text', token: 'Bonjour', last: false, lang: 'fr-FR', interruptible: 'dtmf', preemptible: true }, 'every text field'],
  [{ type: 'text', token: 'Hi', last: true, interruptible: false }, 'interruptible as a boolean'],
  [{ type: 'play', source: 'https://example.com/hold.mp3', loop: 0, preemptible: false, interruptible: 'none' }, 'every play field'],
  [{ type: 'sendDigits', digits: 'ww1234#' }, 'sendDigits'],
  [{ type: 'language', ttsLanguage: 'es-ES', transcriptionLanguage: 'es-ES' }, 'language, both'],
  [{ type: 'language', ttsLanguage: 'es-ES' }, 'language, one'],
  [{ type: 'end' }, 'end without hand-off data'],
  [UPSTREAM_UNAVAILABLE, "the relay's end when the application is unavailable"],
];

describe('the validator of messages sent to ConversationRelay', () => {
  for (const [message, expected, why] of BAD_TO_TWILIO) {
    test(`refuses ${why}`, () => {
      const problems = problemsToTwilio(message);
      assert.ok(
        problems.some((p) => p.includes(expected)),
        `expected "${expected}" among ${JSON.stringify(problems)}`,
      );
    });
  }
  for (const [message, why] of GOOD_TO_TWILIO) {
    test(`passes ${why}`, () => assert.deepEqual(problemsToTwilio(message), []));
  }
  test('the default setup message is a documented one', () => {
    assert.deepEqual(problemsFromTwilio(setupMessage()), []);
    assert.match(problemsFromTwilio(setupMessage({ extra: 'x' }))[0], /unknown field "extra"/);
  });
});

describe('a call through a relay that only pipes', () => {
  test('setup first; the caller\'s messages reach the application, its text the caller', async () => {
    const setup = { callSid: 'CAfixed', customParameters: { flow: 'pay' } };
    const { app, pipe, relay, done } = await call(setup);
    try {
      // The X-Twilio-Signature the caller of connect() computed went out with the handshake.
      assert.equal(pipe.twilioSignatures.length, 1);
      assert.ok(twilio.validateRequest(AUTH_TOKEN, pipe.twilioSignatures[0], pipe.url, {}));

      // The application stand-in recorded the upstream handshake: its signature checks out.
      assert.equal(app.upgrades.length, 1);
      assert.equal(app.upgrades[0].path, '/agent');
      const header = app.upgrades[0].headers['x-gather-seal-signature'];
      const { t, v1 } = Object.fromEntries(header.split(',').map((kv) => kv.split('=')));
      const expected = relaySignature(app.url('/agent'), Number(t)).split('v1=')[1];
      assert.ok(crypto.timingSafeEqual(Buffer.from(v1, 'hex'), Buffer.from(expected, 'hex')));

      const received = await app.nextMessage('setup');
      assert.deepEqual(received, relay.setup);
      assert.equal(received.callSid, 'CAfixed');
      assert.deepEqual(received.customParameters, { flow: 'pay' });
      assert.equal(app.messages[0], received, 'setup is the first message');

      app.send({ type: 'text', token: 'Please enter your card number', last: true, lang: 'en-US' });
      assert.equal((await relay.nextMessage('text')).token, 'Please enter your card number');

      relay.press('12#');
      for (const digit of ['1', '2', '#']) {
        assert.deepEqual(await app.nextMessage('dtmf'), { type: 'dtmf', digit });
      }
      relay.say('hello', { last: false });
      relay.interrupt();
      relay.error('Invalid message received');
      assert.deepEqual(await app.nextMessage('prompt'), {
        type: 'prompt',
        voicePrompt: 'hello',
        lang: 'en-US',
        last: false,
      });
      assert.equal((await app.nextMessage('interrupt')).durationUntilInterruptMs, 460);
      assert.equal((await app.nextMessage('error')).description, 'Invalid message received');

      app.send(UPSTREAM_UNAVAILABLE);
      await relay.nextMessage('end');
      relay.assertClean();
      assert.deepEqual(relay.violations, []);

      // Hanging up closes the application's connection too.
      await relay.close();
      assert.equal((await app.connection.closed).code, 1000);
    } finally {
      await done();
    }
  });

  test('undocumented messages are violations, and assertClean lists them all', async () => {
    const { app, relay, done } = await call();
    try {
      app.send({ type: 'text' });
      app.send({ type: 'txt', token: 'Hi', last: true });
      app.send({ type: 'text', token: 5, last: true });
      app.send('not json');
      app.send({ type: 'end' }); // a good one, last, to know the others have arrived
      await relay.nextMessage('end');
      // {"type":"text"} lacks both token and last: two problems in one message.
      assert.equal(relay.violations.length, 5, relay.violations.join('\n'));
      assert.throws(
        () => relay.assertClean(),
        (error) => {
          assert.match(error.message, /undocumented messages \(5 problems\)/);
          assert.match(error.message, /text: missing "token" in \{"type":"text"\}/);
          assert.match(error.message, /text: missing "last" in \{"type":"text"\}/);
          assert.match(error.message, /unknown type "txt"/);
          assert.match(error.message, /"token" must be a string, got number/);
          assert.match(error.message, /not JSON: not json/);
          return true;
        },
      );
    } finally {
      await done();
    }
  });

  test('the stand-in refuses to send what Twilio would not', async () => {
    await assert.rejects(
      call({ callSid: 5 }),
      /setup overrides: setup: "callSid" must be a string/,
    );
    const { app, relay, done } = await call();
    try {
      assert.throws(() => relay.say('hi', { lang: 5 }), /"lang" must be a string/);
      assert.throws(() => relay.press('1x'), /"x" is not a DTMF key/);
      assert.throws(() => relay.interrupt({ durationUntilInterruptMs: '460' }), /must be a number/);
      relay.sendRaw({ type: 'dtmf', digit: 7 }); // unchecked, on purpose
      assert.deepEqual(await app.nextMessage('dtmf'), { type: 'dtmf', digit: 7 });
      const dtmf = app.messages.filter((m) => m.type === 'dtmf');
      assert.equal(dtmf.length, 1, 'press("1x") sent nothing');
    } finally {
      await done();
    }
  });
});

describe('nextMessage', () => {
  test('times out, saying what it waited for and what came', async () => {
    const { app, relay, done } = await call();
    try {
      app.send({ type: 'sendDigits', digits: 'w' });
      await relay.nextMessage('sendDigits');
      const started = Date.now();
      await assert.rejects(
        relay.nextMessage('text', 100),
        (error) => {
          assert.match(error.message, /^ConversationRelay stand-in: no message matching type "text"/);
          assert.match(error.message, /within 100 ms \(received so far: sendDigits\)$/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 1000);
      await assert.rejects(
        app.nextMessage((m) => m.type === 'gather-seal.start', 50),
        /application stand-in: no message matching \(m\) => m.type === 'gather-seal.start' within 50/,
      );
    } finally {
      await done();
    }
  });

  test('hands each message out once, including those that came before it was asked', async () => {
    const { app, relay, done } = await call();
    try {
      app.send({ type: 'text', token: 'one', last: false });
      app.send({ type: 'text', token: 'two', last: true });
      const second = relay.nextMessage((m) => m.token === 'two');
      assert.equal((await second).token, 'two');
      assert.equal((await relay.nextMessage('text')).token, 'one');
      await assert.rejects(relay.nextMessage('text', 50), /within 50 ms/);
    } finally {
      await done();
    }
  });

  test('fails at once when the connection closes', async () => {
    const { app, relay, done } = await call();
    try {
      const waiting = relay.nextMessage('text', 5000);
      const started = Date.now();
      await app.closeConnection(4000);
      await assert.rejects(
        waiting,
        /connection closed \(code 1000\) before a message matching type "text"/,
      );
      assert.ok(Date.now() - started < 1000);
      assert.equal((await relay.closed).code, 1000);
    } finally {
      await done();
    }
  });
});

describe('the application stand-in at the handshake', () => {
  const apps = [];
  after(() => Promise.all(apps.map((app) => app.close())));
  const start = async (options) => {
    const app = await startAgentApp(options);
    apps.push(app);
    return app;
  };

  test('refuse: answers HTTP 403, and a relay ends the session', async () => {
    const app = await start({ refuse: true });
    await assert.rejects(connect(app.url(), { setup: false }), (error) => error.status === 403);
    assert.equal(app.upgrades.length, 1);

    const pipe = await startPipe(app.url('/agent'));
    try {
      const relay = await connect(pipe.url);
      assert.deepEqual(await relay.nextMessage('end'), UPSTREAM_UNAVAILABLE);
      relay.assertClean();
      await relay.closed;
    } finally {
      await pipe.close();
    }
    app.refuse = 401;
    await assert.rejects(connect(app.url(), { setup: false }), (error) => error.status === 401);
  });

  test('delayMs: answers the upgrade no sooner than asked', async () => {
    const app = await start({ delayMs: 300 });
    const started = Date.now();
    const relay = await connect(app.url(), { setup: false });
    assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
    await relay.close();
  });

  test('neverAnswer: the upgrade hangs until the client gives up; close() still returns', async () => {
    const app = await start({ neverAnswer: true });
    await assert.rejects(connect(app.url(), { timeoutMs: 200 }), /timed out/);
    assert.equal(app.upgrades.length, 1);
    await assert.rejects(app.connected(50), /no message matching/);
  });
});
