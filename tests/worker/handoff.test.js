'use strict';
// The hand-off, end to end in workerd: after the last field (or when a field had all its
// tries) the worker POSTs the signed submission to the flow's `then.action` and answers Twilio
// with what the application answered, or `<Redirect>`s the call to `then.redirect` with the
// sealed values in the query. Every webhook is signed by the twilio package, every value is
// opened with node:crypto, every signature checked with node:crypto, and the reference TwiML
// is twilio's VoiceResponse.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

/** OUTBOUND_TIMEOUT_MS for the workers whose applications are slow (milliseconds). */
const WAIT_MS = 500;

const HEX = /^[0-9a-f]+$/;
/** hex(nonce 12 ‖ ciphertext ‖ tag 16) of `n` plaintext bytes. */
const sealedLength = (n) => 2 * (12 + n + 16);
/** The members every submission starts with, in this order. */
const HEAD = ['callSid', 'accountSid', 'from', 'to', 'flow', 'result'];
const FALLBACK = 'https://app.example.com/gather-fallback?from=gather&reason=app';
const STUDIO = `https://webhooks.twilio.com/v1/Accounts/AC${'d'.repeat(32)}/Flows/FW${'c'.repeat(32)}?FlowEvent=return`;
const WELCOME = '<Response><Say>Welcome back.</Say><Hangup/></Response>';

/**
 * Plays a call with these entries on `path` and checks it went all the way (one webhook per
 * entry, plus the first). Returns the call and its last reply.
 */
async function call(worker, typed, path = '/gather') {
  const played = await h.walkCall(worker, typed, { path });
  assert.equal(played.steps.length, typed.length + 1, 'the call stopped early');
  return { ...played, reply: played.steps[played.steps.length - 1].reply };
}

/** The log line of a call's last webhook (the hand-off), checking there is one per webhook. */
async function lastLine(worker, played) {
  const lines = await h.logLinesOf(worker, played.callSid, played.steps.length);
  assert.equal(lines.length, played.steps.length, 'one log line per webhook');
  return lines[lines.length - 1];
}

/** The `<Redirect>` URL of a TwiML document (entities decoded), or null. */
function redirectUrl(xml) {
  const match = xml.match(/<Redirect\b[^>]*>([^<]*)<\/Redirect>/);
  return match ? match[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') : null;
}

/** The sealed values a call's <Gather> action URLs carried, by field. */
function carried(played) {
  const values = {};
  for (const step of played.steps) {
    const action = h.gatherAction(step.reply.text);
    if (!action) continue;
    for (const [k, v] of Object.entries(h.queryOf(action))) if (k !== 'step' && k !== 'attempt') values[k] = v;
  }
  return values;
}

/** A TwiML document of exactly `size` bytes. */
function twimlOfSize(size) {
  const open = '<Response><Say>';
  const close = '</Say></Response>';
  return `${open}${'a'.repeat(size - open.length - close.length)}${close}`;
}

/**
 * A plain HTTP server (no signature check) that holds every request for `delayMs` before
 * answering TwiML, and records when each arrived and when the worker closed it. With
 * `headersFirst`, the status, headers and the start of the body go out at once and only the
 * rest waits.
 */
async function startSlowApp(delayMs, { headersFirst = false } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const request = { arrived: Date.now(), closed: null, answered: false };
    requests.push(request);
    req.resume();
    const half = WELCOME.length >> 1;
    if (headersFirst) {
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.write(WELCOME.slice(0, half));
    }
    const timer = setTimeout(() => {
      request.answered = true;
      if (headersFirst) return res.end(WELCOME.slice(half));
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(WELCOME);
    }, delayMs);
    res.on('close', () => {
      clearTimeout(timer);
      request.closed = Date.now();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    url: `http://127.0.0.1:${server.address().port}/slow`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * An application that answers 200 text/xml and then streams `total` bytes of TwiML, as fast as
 * the connection takes them, chunked (or with the true Content-Length when `declare`). It
 * counts what it could write before the worker closed the connection.
 */
async function startFloodApp(total, { declare = false } = {}) {
  const requests = [];
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const server = http.createServer((req, res) => {
    const request = { sent: 0, closed: null, finished: false };
    requests.push(request);
    req.resume();
    res.on('close', () => {
      request.closed = Date.now();
    });
    res.writeHead(200, { 'Content-Type': 'text/xml', ...(declare && { 'Content-Length': String(total) }) });
    const pump = () => {
      while (!res.destroyed && request.sent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - request.sent));
        request.sent += piece.length;
        if (!res.write(piece)) return res.once('drain', pump);
      }
      if (!res.destroyed) {
        request.finished = true;
        res.end();
      }
      return undefined;
    };
    pump();
  });
  server.on('clientError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    url: `http://127.0.0.1:${server.address().port}/flood`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('action: the application answers TwiML or an account', () => {
  let both;
  let worker;
  let backend;

  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 200, body: WELCOME, type: 'text/xml' }));
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  const documents = [
    ['a bare document, text/xml', 'text/xml', WELCOME],
    [
      'a declaration, attributes, entities, comments, CDATA and nested verbs, application/xml; charset=utf-8',
      'application/xml; charset=utf-8',
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!-- the menu -->',
        '<Response>',
        '  <Gather input="dtmf speech" numDigits="1" action="https://app.example.com/menu?a=b&amp;c=d" method=\'POST\'>',
        '    <Say voice="Polly.Joanna" language="en-US">Press one for &quot;sales&quot; &amp; two for support &lt;now&gt;, caf&#233; &#x263A; it&apos;s é.</Say>',
        '    <Play loop="2">https://cdn.example.com/hold.mp3</Play>',
        '    <Say><![CDATA[Tom & Jerry <live>]]></Say>',
        '  </Gather>',
        '  <Dial timeout="20"><Number sendDigits="ww#">+15005550009</Number></Dial>',
        '</Response>',
        '',
      ].join('\n'),
    ],
    ['an empty Response with a single-quoted declaration, Text/XML', 'Text/XML;charset=UTF-8', "<?xml version='1.0'?>\n<Response/>"],
  ];

  for (const [what, type, xml] of documents) {
    test(`relayed byte for byte: ${what}`, async () => {
      backend.answer = () => ({ status: 200, body: xml, type });
      const played = await call(worker, ['1234', '4321']);
      assert.equal(played.reply.status, 200);
      assert.equal(played.reply.type, 'text/xml');
      assert.equal(played.reply.text, xml);
      const line = await lastLine(worker, played);
      assert.equal(line.outcome, 'handed-off');
      assert.equal(line.result, 'success');
      assert.equal(line.step, 'pin');
      assert.equal(line.flow, 'default');
    });
  }

  test('a gzip-compressed answer is relayed: its Content-Length counts compressed bytes', async () => {
    const zlib = require('node:zlib');
    // Longer than its compressed form, so a reader that took Content-Length as the decoded
    // length would call it too large.
    const xml = `<Response><Say>${'Welcome back. '.repeat(200)}</Say></Response>`;
    const gzipped = zlib.gzipSync(xml);
    assert.ok(gzipped.length < xml.length / 4);
    backend.answer = () => ({
      status: 200,
      body: gzipped,
      type: 'text/xml',
      headers: { 'Content-Encoding': 'gzip', 'Content-Length': String(gzipped.length) },
    });
    const played = await call(worker, ['1234', '4321']);
    assert.equal(played.reply.text, xml);
    assert.equal((await lastLine(worker, played)).outcome, 'handed-off');
  });

  test('the submission: its members in order, signed, ciphertext only, opening under the right contexts', async () => {
    backend.answer = () => ({ status: 200, body: WELCOME, type: 'text/xml' });
    backend.requests.length = 0;
    const started = Math.floor(Date.now() / 1000);
    const played = await call(worker, ['1234', '4321']);
    const { callSid } = played;
    assert.equal(played.reply.text, WELCOME);

    assert.equal(backend.requests.length, 1);
    const [request] = backend.requests;
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/gather-result');
    assert.match(request.headers['content-type'], /^application\/json\b/);
    assert.equal(request.signed, true, 'the stub found the signature valid');
    const [, t] = /^t=(\d+),v1=[0-9a-f]{64}$/.exec(request.headers['x-gather-seal-signature']) ?? [];
    assert.ok(t, `signature header ${request.headers['x-gather-seal-signature']}`);
    assert.ok(Math.abs(Number(t) - started) <= 5, 'signed now');

    const body = request.json;
    assert.deepEqual(Object.keys(body), [...HEAD, 'encryptedCardDigits', 'encryptedPinDigits']);
    const params = h.callParams(callSid);
    assert.equal(body.callSid, callSid);
    assert.equal(body.accountSid, params.AccountSid);
    assert.equal(body.from, params.From);
    assert.equal(body.to, params.To);
    assert.equal(body.flow, 'default');
    assert.equal(body.result, 'success');

    const card = body.encryptedCardDigits;
    const pin = body.encryptedPinDigits;
    for (const value of [card, pin]) {
      assert.match(value, HEX);
      assert.equal(value.length, sealedLength(4));
    }
    assert.equal(card, carried(played).card, 'the card arrives as it was sealed at its step');
    assert.deepEqual(request.opened, { card: '1234', pin: '4321' });
    assert.equal(h.openWithNodeCrypto(card, h.KEY, `${callSid}:pin`), null, 'card opened as the PIN');
    assert.equal(h.openWithNodeCrypto(pin, h.KEY, `${callSid}:card`), null, 'PIN opened as the card');
    assert.equal(h.openWithNodeCrypto(pin, h.KEY, `${h.newCallSid()}:pin`), null, 'PIN opened for another call');
    assert.equal(h.openWithNodeCrypto(pin, h.OTHER_KEY, `${callSid}:pin`), null, 'PIN opened under another key');

    // The body holds no digit the caller typed, but sealed.
    h.assertNoPlaintext(request.body, ['1234', '4321'], 'the submission');
  });

  test('JSON with account and balance as strings: the thanks sentence', async () => {
    backend.answer = () => ({ status: 200, json: { account: 'AC12345678', balance: '12.55', extra: true } });
    const played = await call(worker, ['1234', '4321']);
    assert.equal(played.reply.status, 200);
    assert.equal(played.reply.text, h.expectedThanks('AC12345678', '12.55'));
    assert.equal((await lastLine(worker, played)).outcome, 'handed-off-account');
  });

  test('JSON with numbers: spoken as JSON writes them', async () => {
    backend.answer = () => ({ status: 200, json: { account: 998877, balance: 12.5 }, type: 'application/json; charset=utf-8' });
    const played = await call(worker, ['1234', '4321']);
    assert.equal(played.reply.text, h.expectedThanks('998877', '12.5'));
    assert.equal((await lastLine(worker, played)).outcome, 'handed-off-account');
  });

  test('JSON whose account needs escaping: escaped as VoiceResponse escapes it', async () => {
    backend.answer = () => ({ status: 200, json: { account: 'AC<1> & "2"', balance: 12.5 } });
    const played = await call(worker, ['1234', '4321']);
    assert.equal(played.reply.text, h.expectedThanks('AC<1> & "2"', '12.5'));
  });

  test('values are put in once: an account that reads {balance} is spoken as it is', async () => {
    backend.answer = () => ({ status: 200, json: { account: '{balance}', balance: '{account}' } });
    const played = await call(worker, ['1234', '4321']);
    assert.equal(played.reply.text, h.expectedThanks('{balance}', '{account}'));
  });

  test('JSON with a 64-character account: still spoken', async () => {
    const account = 'A'.repeat(64);
    backend.answer = () => ({ status: 200, json: { account, balance: '1' } });
    const played = await call(worker, ['1234', '4321']);
    assert.equal(played.reply.text, h.expectedThanks(account, '1'));
  });

  for (const [what, body] of [
    ['without an account', JSON.stringify({ balance: '12.55' })],
    ['without a balance', JSON.stringify({ account: 'AC1' })],
    ['with an empty account', JSON.stringify({ account: '', balance: '1' })],
    ['with a 65-character account', JSON.stringify({ account: 'A'.repeat(65), balance: '1' })],
    ['with a control character in the account', JSON.stringify({ account: 'AC\n1', balance: '1' })],
    ['with a null balance', JSON.stringify({ account: 'AC1', balance: null })],
    ['with an object for a balance', JSON.stringify({ account: 'AC1', balance: { amount: 1 } })],
    ['that is a list', JSON.stringify([{ account: 'AC1', balance: '1' }])],
    ['that does not parse', '{"account": "AC1", "balance": '],
  ]) {
    test(`JSON ${what}: the apology (app-bad-json)`, async () => {
      backend.answer = () => ({ status: 200, body, type: 'application/json' });
      const played = await call(worker, ['1234', '4321']);
      assert.equal(played.reply.status, 200);
      assert.equal(played.reply.text, h.expectedGoodbye(h.APOLOGY));
      assert.equal((await lastLine(worker, played)).outcome, 'app-bad-json');
    });
  }
});

describe('action: when the application cannot continue the call', () => {
  let both;
  let worker;
  let backend;
  let elsewhere;
  let slow;
  let trickle;
  let flood;
  let declared;
  let refusedUrl;

  before(async () => {
    elsewhere = await h.startBackend(() => ({ status: 200, body: '<Response><Say>followed</Say></Response>', type: 'text/xml' }));
    slow = await startSlowApp(9000);
    trickle = await startSlowApp(9000, { headersFirst: true });
    flood = await startFloodApp(96 * 1024 * 1024);
    declared = await startFloodApp(96 * 1024 * 1024, { declare: true });
    refusedUrl = `http://127.0.0.1:${await h.freePort()}/gather-result`;
    // The application gets 500 ms (OUTBOUND_TIMEOUT_MS) instead of 5 s, so no test waits 5 s.
    both = await h.startWorkerWithBackend(() => ({ status: 500 }), { OUTBOUND_TIMEOUT_MS: WAIT_MS }, {
      flows: (b) => ({
        default: h.articlesFlow({ action: b.url }),
        fb: h.articlesFlow({ action: b.url, fallback: FALLBACK }),
        down: h.articlesFlow({ action: refusedUrl }),
        downfb: h.articlesFlow({ action: refusedUrl, fallback: FALLBACK }),
        slow: h.articlesFlow({ action: slow.url }),
        trickle: h.articlesFlow({ action: trickle.url }),
        flood: h.articlesFlow({ action: flood.url }),
        declared: h.articlesFlow({ action: declared.url }),
      }),
    });
    ({ worker, backend } = both);
  });

  after(async () => {
    await both?.close();
    await elsewhere?.close();
    await slow?.close();
    await trickle?.close();
    await flood?.close();
    await declared?.close();
  });

  /** Plays the demo call on `path` and checks the last reply and the log's outcome. */
  async function expectUnusable(path, outcome, expectedXml) {
    const played = await call(worker, ['1234', '4321'], path);
    assert.equal(played.reply.status, 200);
    assert.equal(played.reply.type, 'text/xml');
    assert.equal(played.reply.text, expectedXml);
    const line = await lastLine(worker, played);
    assert.equal(line.outcome, outcome);
    assert.equal(line.result, 'success');
    return played;
  }

  const bigDocument = twimlOfSize(64 * 1024 + 1);
  const cases = [
    ['500', { status: 500, body: 'Internal Server Error', type: 'text/plain' }, 'app-error-status'],
    ['404', { status: 404, json: { error: 'not found' } }, 'app-error-status'],
    ['503 with TwiML', { status: 503, body: WELCOME, type: 'text/xml' }, 'app-error-status'],
    ['an unclosed tag', { status: 200, body: '<Response><Say>Hello</Response>', type: 'text/xml' }, 'app-bad-twiml'],
    ['an unclosed root', { status: 200, body: '<Response><Say>Hello</Say>', type: 'text/xml' }, 'app-bad-twiml'],
    ['two roots', { status: 200, body: '<Response><Say>a</Say></Response><Response><Hangup/></Response>', type: 'text/xml' }, 'app-bad-twiml'],
    ['an unknown entity &bogus;', { status: 200, body: '<Response><Say>Tom &bogus; Jerry</Say></Response>', type: 'text/xml' }, 'app-bad-twiml'],
    ['a bare &', { status: 200, body: '<Response><Say>Tom & Jerry</Say></Response>', type: 'text/xml' }, 'app-bad-twiml'],
    ['text after the root', { status: 200, body: '<Response/>and more', type: 'text/xml' }, 'app-bad-twiml'],
    ['a Gather root', { status: 200, body: '<Gather><Say>Hi</Say></Gather>', type: 'text/xml' }, 'app-bad-twiml'],
    ['a lowercase response root', { status: 200, body: '<response><Say>Hi</Say></response>', type: 'text/xml' }, 'app-bad-twiml'],
    ['a prefixed Response root', { status: 200, body: '<t:Response xmlns:t="urn:x"><Say>Hi</Say></t:Response>', type: 'text/xml' }, 'app-bad-twiml'],
    ['an HTML page', { status: 200, body: '<html><body>Oops</body></html>', type: 'text/xml' }, 'app-bad-twiml'],
    ['an empty body', { status: 200, body: '', type: 'text/xml' }, 'app-bad-twiml'],
    [
      'a DOCTYPE declaring an entity',
      { status: 200, body: '<?xml version="1.0"?><!DOCTYPE Response [<!ENTITY who "Bob">]><Response><Say>&who;</Say></Response>', type: 'application/xml' },
      'app-bad-twiml',
    ],
    ['a bare DOCTYPE', { status: 200, body: '<!DOCTYPE Response><Response><Say>Hi</Say></Response>', type: 'text/xml' }, 'app-bad-twiml'],
    ['TwiML as text/plain', { status: 200, body: WELCOME, type: 'text/plain' }, 'app-wrong-content-type'],
    ['TwiML as text/html', { status: 200, body: WELCOME, type: 'text/html; charset=utf-8' }, 'app-wrong-content-type'],
    ['TwiML as application/json', { status: 200, body: WELCOME, type: 'application/json' }, 'app-bad-json'],
    ['JSON without an account', { status: 200, json: { balance: '12.55' } }, 'app-bad-json'],
    ['TwiML over 64 KiB', { status: 200, body: bigDocument, type: 'text/xml' }, 'app-answer-too-large'],
    [
      'TwiML over 64 KiB, chunked (no Content-Length)',
      { status: 200, body: bigDocument, type: 'text/xml', headers: { 'Transfer-Encoding': 'chunked' } },
      'app-answer-too-large',
    ],
  ];

  for (const [what, answer, outcome] of cases) {
    test(`${what}: the apology and a hang-up (${outcome})`, async () => {
      backend.answer = () => answer;
      await expectUnusable('/gather', outcome, h.expectedGoodbye(h.APOLOGY));
    });

    test(`${what}, with then.fallback: <Redirect> to the fallback (${outcome})`, async () => {
      backend.answer = () => answer;
      await expectUnusable('/gather/fb', outcome, h.expectedRedirect(FALLBACK));
    });
  }

  test('exactly 64 KiB of TwiML is still relayed', async () => {
    const xml = twimlOfSize(64 * 1024);
    backend.answer = () => ({ status: 200, body: xml, type: 'text/xml' });
    const played = await call(worker, ['1234', '4321']);
    assert.equal(played.reply.text, xml);
    assert.equal((await lastLine(worker, played)).outcome, 'handed-off');
  });

  for (const [what, path, app] of [
    ['a 96 MiB answer, chunked', '/gather/flood', () => flood],
    ['a 96 MiB answer with its Content-Length', '/gather/declared', () => declared],
  ]) {
    test(`${what}: the read stops at 64 KiB and the connection is dropped (app-answer-too-large)`, async () => {
      await expectUnusable(path, 'app-answer-too-large', h.expectedGoodbye(h.APOLOGY));
      const [request] = app().requests;
      for (let i = 0; i < 100 && request.closed === null; i++) await h.sleep(20);
      assert.ok(request.closed !== null, 'the worker let the answer run on');
      assert.equal(request.finished, false, 'the whole answer was read');
      // What the sockets' buffers take before the worker stops reading; never the 96 MiB.
      assert.ok(request.sent < 16 * 1024 * 1024, `${request.sent} bytes were sent before the worker stopped`);
    });
  }

  for (const status of [302, 307]) {
    test(`a ${status} to another URL is not followed: that URL receives nothing`, async () => {
      backend.requests.length = 0;
      backend.answer = () => ({ status, headers: { Location: elsewhere.url }, body: WELCOME, type: 'text/xml' });
      await expectUnusable('/gather', 'app-error-status', h.expectedGoodbye(h.APOLOGY));
      await expectUnusable('/gather/fb', 'app-error-status', h.expectedRedirect(FALLBACK));
      assert.equal(backend.requests.length, 2);
      await h.sleep(200);
      assert.equal(elsewhere.requests.length, 0, 'the redirect was followed');
    });
  }

  test('connection refused: the apology, at once (app-unreachable)', async () => {
    const started = Date.now();
    await expectUnusable('/gather/down', 'app-unreachable', h.expectedGoodbye(h.APOLOGY));
    assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
  });

  test('connection refused, with then.fallback: <Redirect> to the fallback', async () => {
    await expectUnusable('/gather/downfb', 'app-unreachable', h.expectedRedirect(FALLBACK));
  });

  /** Plays the call to the PIN step, then times the last webhook alone. */
  async function timedLastStep(path) {
    const played = await call(worker, ['1234'], path);
    const action = h.gatherAction(played.reply.text);
    const started = Date.now();
    const reply = await h.signedPost(action, { ...h.callParams(played.callSid), Digits: '4321' });
    return { callSid: played.callSid, reply, started, elapsed: Date.now() - started };
  }

  test('slower than the wait: the apology after it, and the request is aborted (app-timeout)', async () => {
    slow.requests.length = 0;
    const { callSid, reply, started, elapsed } = await timedLastStep('/gather/slow');
    assert.equal(reply.status, 200);
    assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
    assert.ok(elapsed >= WAIT_MS - 50 && elapsed < WAIT_MS + 3000, `answered after ${elapsed} ms`);

    assert.equal(slow.requests.length, 1);
    const [request] = slow.requests;
    await h.sleep(300);
    assert.equal(request.answered, false);
    assert.ok(request.closed !== null, 'the worker did not abort the request');
    assert.ok(request.closed - started < WAIT_MS + 3000, `closed after ${request.closed - started} ms`);

    const lines = await h.logLinesOf(worker, callSid, 3);
    const line = lines[lines.length - 1];
    assert.equal(line.outcome, 'app-timeout');
    assert.equal(line.result, 'success');
    assert.ok(line.ms >= WAIT_MS - 50 && line.ms < WAIT_MS + 3000, `logged ${line.ms} ms`);
  });

  test('headers at once but the body slower than the wait: the apology after it (app-timeout)', async () => {
    const { callSid, reply, started, elapsed } = await timedLastStep('/gather/trickle');
    assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
    assert.ok(elapsed >= WAIT_MS - 50 && elapsed < WAIT_MS + 3000, `answered after ${elapsed} ms`);
    const [request] = trickle.requests;
    await h.sleep(300);
    assert.equal(request.answered, false);
    assert.ok(request.closed !== null && request.closed - started < WAIT_MS + 3000, 'the worker did not abort the request');
    const lines = await h.logLinesOf(worker, callSid, 3);
    assert.equal(lines[lines.length - 1].outcome, 'app-timeout');
  });

  test('slower than the wait, with then.fallback: <Redirect> to the fallback after it', async () => {
    backend.answer = () => ({ status: 200, body: WELCOME, type: 'text/xml', delayMs: 9000 });
    const { callSid, reply, elapsed } = await timedLastStep('/gather/fb');
    assert.equal(reply.text, h.expectedRedirect(FALLBACK));
    assert.ok(elapsed >= WAIT_MS - 50 && elapsed < WAIT_MS + 3000, `answered after ${elapsed} ms`);
    const lines = await h.logLinesOf(worker, callSid, 3);
    assert.equal(lines[lines.length - 1].outcome, 'app-timeout');
  });
});

describe('too many attempts: the fields gathered so far are handed off', () => {
  let both;
  let worker;
  let backend;
  const GOODBYE = 'We could not check your details. Goodbye & thank you.';
  const APOLOGY = 'Our service is down. Goodbye.';

  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 404 }), {}, {
      flows: (b) => ({
        default: h.articlesFlow({ action: b.url }),
        custom: h.articlesFlow({ action: b.url }, { messages: { goodbye: GOODBYE, apology: APOLOGY } }),
        fb: h.articlesFlow({ action: b.url, fallback: FALLBACK }),
      }),
    });
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  test('card given, PIN wrong three times: only the card is submitted, with result too-many-attempts', async () => {
    backend.requests.length = 0;
    backend.answer = () => ({ status: 404, body: 'No data found', type: 'text/plain' });
    const played = await call(worker, ['1234', '12', '', '43210']);
    assert.equal(played.reply.text, h.expectedGoodbye(h.TOO_MANY));

    assert.equal(backend.requests.length, 1);
    const [request] = backend.requests;
    assert.equal(request.signed, true);
    assert.deepEqual(Object.keys(request.json), [...HEAD, 'encryptedCardDigits']);
    assert.equal(request.json.result, 'too-many-attempts');
    assert.equal(request.json.flow, 'default');
    assert.equal(request.json.callSid, played.callSid);
    assert.equal(request.json.encryptedCardDigits, carried(played).card);
    assert.deepEqual(request.opened, { card: '1234' });
    h.assertNoPlaintext(request.body, ['1234', '12', '43210'], 'the submission');

    const line = await lastLine(worker, played);
    assert.equal(line.outcome, 'app-error-status');
    assert.equal(line.result, 'too-many-attempts');
    assert.equal(line.step, 'pin');
  });

  test('card wrong three times: a submission with no sealed value at all', async () => {
    backend.requests.length = 0;
    backend.answer = () => ({ status: 404, body: 'No data found', type: 'text/plain' });
    const played = await call(worker, ['12', '123', '12345']);
    assert.equal(played.reply.text, h.expectedGoodbye(h.TOO_MANY));
    assert.equal(backend.requests.length, 1);
    assert.deepEqual(Object.keys(backend.requests[0].json), HEAD);
    assert.equal(backend.requests[0].json.result, 'too-many-attempts');
  });

  test("the application answers 404: the flow's goodbye, not its apology", async () => {
    backend.answer = () => ({ status: 404, body: 'No data found', type: 'text/plain' });
    const played = await call(worker, ['1234', '1', '2', '3'], '/gather/custom');
    assert.equal(played.reply.text, h.expectedGoodbye(GOODBYE));
    const line = await lastLine(worker, played);
    assert.equal(line.flow, 'custom');
    assert.equal(line.outcome, 'app-error-status');
    assert.equal(line.result, 'too-many-attempts');

    // The same flow after a successful gather: the apology.
    const success = await call(worker, ['1234', '4321'], '/gather/custom');
    assert.equal(success.reply.text, h.expectedGoodbye(APOLOGY));
  });

  test('the application answers TwiML: it is relayed', async () => {
    const xml = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Let me put you through.</Say><Dial>+15005550009</Dial></Response>';
    backend.answer = (request) => (request.json.result === 'too-many-attempts' ? { status: 200, body: xml, type: 'text/xml' } : { status: 500 });
    const played = await call(worker, ['1234', '1', '2', '3']);
    assert.equal(played.reply.text, xml);
    const line = await lastLine(worker, played);
    assert.equal(line.outcome, 'handed-off');
    assert.equal(line.result, 'too-many-attempts');
  });

  test('the application answers JSON with an account: the thanks sentence', async () => {
    backend.answer = () => ({ status: 200, json: { account: 'AC1', balance: '0.00' } });
    const played = await call(worker, ['1234', '1', '2', '3']);
    assert.equal(played.reply.text, h.expectedThanks('AC1', '0.00'));
  });

  test('with then.fallback, an unusable answer redirects to the fallback', async () => {
    backend.answer = () => ({ status: 404 });
    const played = await call(worker, ['1234', '1', '2', '3'], '/gather/fb');
    assert.equal(played.reply.text, h.expectedRedirect(FALLBACK));
    const line = await lastLine(worker, played);
    assert.equal(line.outcome, 'app-error-status');
    assert.equal(line.result, 'too-many-attempts');
  });
});

describe("the stub backend's signature check", () => {
  let both;
  let worker;
  let backend;
  let recorded;

  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 200, body: WELCOME, type: 'text/xml' }));
    ({ worker, backend } = both);
    await call(worker, ['1234', '4321']);
    assert.equal(backend.requests.length, 1);
    recorded = backend.requests[0];
    assert.equal(recorded.signed, true);
  });

  after(() => both?.close());

  function post(body, signature) {
    const headers = { 'Content-Type': 'application/json' };
    if (signature !== null) headers['X-Gather-Seal-Signature'] = signature;
    return fetch(backend.url, { method: 'POST', headers, body });
  }

  test("the recorded submission replayed as it is: accepted (the check's control)", async () => {
    const response = await post(recorded.body, recorded.headers['x-gather-seal-signature']);
    assert.equal(response.status, 200);
    assert.equal(backend.requests[backend.requests.length - 1].signed, true);
  });

  test('one character of the body changed: 401', async () => {
    const body = recorded.body;
    const at = body.indexOf(recorded.json.encryptedPinDigits) + 10;
    const tampered = body.slice(0, at) + (body[at] === 'a' ? 'b' : 'a') + body.slice(at + 1);
    assert.notEqual(tampered, body);
    assert.equal(tampered.length, body.length);
    const response = await post(tampered, recorded.headers['x-gather-seal-signature']);
    assert.equal(response.status, 401);
    assert.equal(backend.requests[backend.requests.length - 1].signed, false);
  });

  test('the result changed: 401', async () => {
    const tampered = recorded.body.replace('"result":"success"', '"result":"succesS"');
    assert.notEqual(tampered, recorded.body);
    const response = await post(tampered, recorded.headers['x-gather-seal-signature']);
    assert.equal(response.status, 401);
  });

  test('the body signed again with a different secret: 401', async () => {
    const t = Math.floor(Date.now() / 1000);
    const v1 = crypto.createHmac('sha256', `${h.SIGNING_SECRET}x`).update(`${t}.${recorded.body}`).digest('hex');
    const response = await post(recorded.body, `t=${t},v1=${v1}`);
    assert.equal(response.status, 401);
  });

  test('no signature header: 401', async () => {
    const response = await post(recorded.body, null);
    assert.equal(response.status, 401);
  });
});

describe('redirect: the sealed values go back in the query', () => {
  let worker;

  before(async () => {
    worker = await h.startWorker({
      GATHER_FLOWS: {
        default: h.articlesFlow({ redirect: STUDIO }),
        plain: h.articlesFlow({ redirect: 'https://app.example.com/after-gather' }),
      },
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
    });
  });

  after(() => worker?.dispose());

  test("to a Studio flow's return URL: FlowEvent kept, result and both values joined with &", async () => {
    const played = await call(worker, ['1234', '4321']);
    const url = redirectUrl(played.reply.text);
    assert.ok(url, played.reply.text);
    const query = h.queryOf(url);
    assert.deepEqual(Object.keys(query), ['FlowEvent', 'result', 'encryptedCardDigits', 'encryptedPinDigits']);
    const card = query.encryptedCardDigits;
    const pin = query.encryptedPinDigits;
    assert.equal(
      played.reply.text,
      h.expectedRedirect(`${STUDIO}&result=success&encryptedCardDigits=${card}&encryptedPinDigits=${pin}`),
    );
    assert.equal(played.reply.type, 'text/xml');
    for (const value of [card, pin]) {
      assert.match(value, HEX);
      assert.equal(value.length, sealedLength(4));
    }
    assert.equal(card, carried(played).card);
    assert.equal(h.openWithNodeCrypto(card, h.KEY, `${played.callSid}:card`), '1234');
    assert.equal(h.openWithNodeCrypto(pin, h.KEY, `${played.callSid}:pin`), '4321');
    assert.equal(h.openWithNodeCrypto(pin, h.KEY, `${played.callSid}:card`), null);
    assert.equal(h.openWithNodeCrypto(card, h.KEY, `${played.callSid}:pin`), null);

    const line = await lastLine(worker, played);
    assert.equal(line.outcome, 'redirected');
    assert.equal(line.result, 'success');
  });

  test('too many attempts: result too-many-attempts with the card only', async () => {
    const played = await call(worker, ['1234', '', '12', '123456']);
    const card = carried(played).card;
    assert.match(card, HEX);
    assert.equal(played.reply.text, h.expectedRedirect(`${STUDIO}&result=too-many-attempts&encryptedCardDigits=${card}`));
    assert.equal(h.openWithNodeCrypto(card, h.KEY, `${played.callSid}:card`), '1234');
    const line = await lastLine(worker, played);
    assert.equal(line.outcome, 'redirected');
    assert.equal(line.result, 'too-many-attempts');
  });

  test('a URL without a query gets one, starting with ?', async () => {
    const played = await call(worker, ['1234', '4321'], '/gather/plain');
    const url = redirectUrl(played.reply.text);
    assert.ok(url, played.reply.text);
    const { encryptedCardDigits: card, encryptedPinDigits: pin } = h.queryOf(url);
    assert.equal(
      played.reply.text,
      h.expectedRedirect(`https://app.example.com/after-gather?result=success&encryptedCardDigits=${card}&encryptedPinDigits=${pin}`),
    );
    assert.equal(h.openWithNodeCrypto(pin, h.KEY, `${played.callSid}:pin`), '4321');
  });
});

describe('the log across every kind of hand-off', () => {
  let both;
  let worker;
  let backend;

  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 500 }), {}, {
      flows: (b) => ({
        default: h.articlesFlow({ action: b.url }),
        studio: h.articlesFlow({ redirect: STUDIO }),
      }),
    });
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  test('one line per webhook, and no digit, sealed value or secret in any of them', async () => {
    const typed = ['7391', '8264', '73', '826'];
    const sealed = new Set();
    let webhooks = 0;
    const play = async (entries, path) => {
      const played = await call(worker, entries, path);
      webhooks += played.steps.length;
      // What the worker answers Twilio holds the entries only sealed.
      for (const step of played.steps) h.assertNoPlaintext(step.reply.text, typed, 'TwiML');
      Object.values(carried(played)).forEach((v) => sealed.add(v));
      const url = redirectUrl(played.reply.text);
      if (url) Object.entries(h.queryOf(url)).forEach(([k, v]) => k.startsWith('encrypted') && sealed.add(v));
      return played;
    };

    const answers = [
      { status: 200, body: WELCOME, type: 'text/xml' },
      { status: 200, json: { account: 'AC5', balance: '5' } },
      { status: 500 },
      { status: 200, body: '<Response>', type: 'text/xml' },
    ];
    for (const answer of answers) {
      backend.answer = () => answer;
      await play(['7391', '8264']);
    }
    await play(['7391', '73', '826', '']);
    await play(['7391', '8264'], '/gather/studio');
    for (const request of backend.requests) {
      Object.entries(request.json).forEach(([k, v]) => k.startsWith('encrypted') && sealed.add(v));
    }
    assert.ok(sealed.size >= 8, `only ${sealed.size} sealed values seen`);

    const lines = await worker.waitForLogLines(webhooks);
    assert.equal(lines.length, webhooks);
    h.assertCleanLog(worker.output(), {
      digits: typed,
      sealed: [...sealed],
      secrets: [h.KEY, h.TOKEN, h.SIGNING_SECRET],
    });
    const outcomes = lines.map((l) => l.outcome);
    for (const outcome of ['asked', 'sealed', 'reprompted', 'handed-off', 'handed-off-account', 'app-error-status', 'app-bad-twiml', 'redirected']) {
      assert.ok(outcomes.includes(outcome), `no "${outcome}" line`);
    }
    for (const line of lines) {
      assert.match(line.callSid, /^CA[a-f]{32}$/);
      assert.ok(['default', 'studio'].includes(line.flow), line.flow);
      assert.ok(['start', 'card', 'pin'].includes(line.step), line.step);
      assert.equal('result' in line, /^(handed-off|app-|redirected)/.test(line.outcome), JSON.stringify(line));
    }
  });
});
