'use strict';
// What the worker refuses: unsigned, forged or altered requests (403), call state that was
// tampered with (400 with the apology, nothing forwarded), and requests of the wrong shape
// (404/405/413/415). Every request that should pass is signed by the twilio package.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const twilio = require('twilio');
const h = require('./harness');

const { encrypt } = h.sealingPackage();

describe('requests the worker refuses', () => {
  let worker;
  let backend;

  let both;
  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 200, json: { account: 'AC1', balance: '1' } }), {}, {
      flows: (b) => ({
        default: h.articlesFlow({ action: b.url }),
        login: h.articlesFlow({ action: b.url }),
      }),
    });
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  /** A signed request to the PIN step carrying `card` as the sealed card value. */
  async function pinStep(callSid, card, extraQuery = '') {
    const url = worker.url(`/gather?step=pin&attempt=1&card=${card}${extraQuery}`);
    return h.signedPost(url, { ...h.callParams(callSid), Digits: '4321' });
  }

  async function sealedCardFor(callSid) {
    const { steps } = await h.walkCall(worker, ['1234'], { callSid });
    return h.queryOf(h.gatherAction(steps[1].reply.text)).card;
  }

  function assertForbidden(reply) {
    assert.equal(reply.status, 403);
    assert.match(reply.type, /^text\/plain/);
    assert.equal(reply.text, 'Forbidden');
  }

  function assertBrokenCall(reply) {
    assert.equal(reply.status, 400);
    assert.equal(reply.type, 'text/xml');
    assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
  }

  test('no signature: 403, and nothing is sealed or forwarded', async () => {
    const before = worker.logLines().length;
    const url = worker.url('/gather?step=card&attempt=1');
    const reply = await h.signedPost(url, { ...h.callParams(h.newCallSid()), Digits: '1234' }, { signature: null });
    assertForbidden(reply);
    assert.ok(!reply.text.includes('Gather'));
    const lines = await worker.waitForLogLines(before + 1);
    const line = lines[lines.length - 1];
    assert.equal(line.outcome, 'bad-signature');
    assert.equal(line.callSid, null, 'an unverified CallSid is not logged');
    assert.equal(backend.requests.length, 0);
  });

  test('a forged signature: 403', async () => {
    const url = worker.url('/gather');
    const params = h.callParams(h.newCallSid());
    assertForbidden(await h.signedPost(url, params, { token: 'not-the-auth-token' }));
    for (const signature of ['', 'abc', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=', twilio.getExpectedTwilioSignature(h.TOKEN, url, {})]) {
      assertForbidden(await h.signedPost(url, params, { signature }));
    }
  });

  test('a parameter changed, added or removed after signing: 403', async () => {
    const callSid = h.newCallSid();
    const url = worker.url('/gather?step=card&attempt=1');
    const signed = { ...h.callParams(callSid), Digits: '1234' };
    assertForbidden(await h.signedPost(url, { ...signed, Digits: '9999' }, { signParams: signed }));
    assertForbidden(await h.signedPost(url, { ...signed, CallSid: h.newCallSid() }, { signParams: signed }));
    assertForbidden(await h.signedPost(url, { ...signed, Extra: 'x' }, { signParams: signed }));
    const { Digits, ...fewer } = signed;
    assertForbidden(await h.signedPost(url, fewer, { signParams: signed }));
    // The query is part of what is signed.
    assertForbidden(await h.signedPost(worker.url('/gather?step=card&attempt=2'), signed, { signUrl: url }));
    assertForbidden(await h.signedPost(url, signed, { signUrl: worker.url('/other?step=card&attempt=1') }));
    // So is the flow's path: a request signed for one flow does not enter another.
    assertForbidden(await h.signedPost(worker.url('/gather/login?step=card&attempt=1'), signed, { signUrl: url }));
    assert.equal(backend.requests.length, 0);
  });

  test("the URL variants Twilio's libraries accept: with and without the default port", async () => {
    // The worker listens on 127.0.0.1:<port>; the same URL without the port is accepted too.
    const url = worker.url('/gather');
    const withoutPort = url.replace(/:\d+\//, '/');
    const reply = await h.signedPost(url, h.callParams(h.newCallSid()), { signUrl: withoutPort });
    assert.equal(reply.status, 200);
    assert.match(reply.text, /<Gather /);
  });

  test('tampered ciphertext in the action URL: 400 with the apology, nothing forwarded', async () => {
    const callSid = h.newCallSid();
    const card = await sealedCardFor(callSid);
    const flipped = card.slice(0, 40) + (card[40] === '0' ? '1' : '0') + card.slice(41);
    assertBrokenCall(await pinStep(callSid, flipped));
    assertBrokenCall(await pinStep(callSid, card.slice(0, -2)), 'truncated');
    assertBrokenCall(await pinStep(callSid, card.slice(0, 40)), 'shorter than nonce and tag');
    assertBrokenCall(await pinStep(callSid, `${card.slice(0, -1)}g`), 'not hex');
    assertBrokenCall(await pinStep(callSid, ''), 'empty');
    // The untouched value goes through, so the refusals above are about the changes.
    const control = await pinStep(callSid, card);
    assert.equal(control.status, 200);
    assert.equal(backend.requests.length, 1);
    backend.requests.length = 0;
  });

  test('a sealed value from another call, another field or another key: 400', async () => {
    const callSid = h.newCallSid();
    const otherCall = h.newCallSid();
    const fromOtherCall = await sealedCardFor(otherCall);
    assertBrokenCall(await pinStep(callSid, fromOtherCall), 'replayed from another call');
    assertBrokenCall(await pinStep(callSid, encrypt('1234', h.KEY, { context: `${callSid}:pin` })), 'sealed as a PIN');
    assertBrokenCall(await pinStep(callSid, encrypt('1234', h.OTHER_KEY, { context: `${callSid}:card` })), 'unknown key');
    assertBrokenCall(await pinStep(callSid, encrypt('1234', h.KEY)), 'no context');
    assert.equal(backend.requests.length, 0);
  });

  test('malformed step state: 400 with the apology', async () => {
    const callSid = h.newCallSid();
    const card = encrypt('1234', h.KEY, { context: `${callSid}:card` });
    const params = { ...h.callParams(callSid), Digits: '4321' };
    for (const query of [
      'step=nope&attempt=1',
      'step=card&attempt=0',
      'step=card&attempt=4',
      'step=card&attempt=x',
      'step=card&step=card&attempt=1',
      'step=pin&attempt=1',
      `step=card&attempt=1&card=${card}`,
      `step=pin&attempt=1&card=${card}&card=${card}`,
      `step=pin&attempt=1&card=${card}&pin=${card}`,
    ]) {
      const reply = await h.signedPost(worker.url(`/gather?${query}`), params);
      assert.equal(reply.status, 400, query);
      assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY), query);
    }
    assert.equal(backend.requests.length, 0);
  });

  test('no usable CallSid: 400', async () => {
    const { CallSid, ...noSid } = h.callParams('x');
    for (const params of [noSid, { ...noSid, CallSid: '' }, { ...noSid, CallSid: 'CA-not/alnum' }, { ...noSid, CallSid: `CA${'a'.repeat(63)}` }]) {
      const reply = await h.signedPost(worker.url('/gather'), params);
      assert.equal(reply.status, 400, JSON.stringify(params.CallSid));
      assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
    }
  });

  test('wrong method 405, wrong content type 415, oversized body 413, unknown path 404', async () => {
    const url = worker.url('/gather');
    const params = h.callParams(h.newCallSid());
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const reply = await h.signedPost(url, params, { method });
      assert.equal(reply.status, 405, method);
      assert.equal(reply.headers.get('allow'), 'POST');
    }
    for (const type of ['application/json', 'text/plain', 'multipart/form-data; boundary=x']) {
      const reply = await h.signedPost(url, params, { headers: { 'Content-Type': type } });
      assert.equal(reply.status, 415, type);
    }
    const charset = await h.signedPost(url, params, { headers: { 'Content-Type': 'Application/X-WWW-Form-Urlencoded; charset=UTF-8' } });
    assert.equal(charset.status, 200, 'parameters on the content type are fine');

    const big = { ...params, Padding: 'x'.repeat(17 * 1024) };
    const tooLarge = await h.signedPost(url, big);
    assert.equal(tooLarge.status, 413);
    // Without a Content-Length (chunked), the size is checked after reading.
    const body = new URLSearchParams(big).toString();
    const chunked = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(h.TOKEN, url, big) },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(body));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    assert.equal(chunked.status, 413);
    await chunked.text();

    for (const path of ['/', '/gather/', '/gather/login/x', '/gathering', '/Gather', '/nope', '/decrypt-gather', '/simulator', '/simulator/sign']) {
      const reply = await h.signedPost(worker.url(path), params);
      assert.equal(reply.status, 404, path);
      assert.equal(reply.text, 'Not Found');
    }
    // The development build's call simulator is not in this one (demo.test.js checks its upload).
    for (const path of ['/simulator', '/simulator/simulator.js', '/simulator/flows', `/simulator/log?callSid=${h.newCallSid()}`,
      '/simulator/relays', '/simulator/relay?relay=agent', `/simulator/relay-app?callSid=${h.newCallSid()}`]) {
      const reply = await fetch(worker.url(path));
      assert.equal(reply.status, 404, `GET ${path}`);
      assert.equal(await reply.text(), 'Not Found');
    }
  });

  test('a chunked body is cut off at 16 KiB, before the signature, whatever is still coming', async () => {
    // A client that would send 64 MiB without a Content-Length. The worker must stop reading
    // at its cap and answer 413 without buffering the rest: far less than the whole is ever
    // pulled from the stream (the old code read it all, then measured).
    const url = worker.url('/gather');
    const refusedBefore = worker.logLines().filter((l) => l.outcome === 'too-large').length;
    const TOTAL = 64 * 1024 * 1024;
    const piece = new TextEncoder().encode('a='.padEnd(16 * 1024, 'x'));
    let pulled = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (pulled >= TOTAL) return controller.close();
        pulled += piece.length;
        controller.enqueue(piece);
      },
    });
    const controller = new AbortController();
    let status;
    try {
      const reply = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'x' },
        body,
        duplex: 'half',
        signal: controller.signal,
      });
      status = reply.status;
      await reply.text();
    } catch (error) {
      status = `error: ${error.cause?.code ?? error.message}`;
    } finally {
      controller.abort();
    }
    // The worker answers 413 and closes while the client is still sending, which a client may
    // see as the answer or as the connection reset under it; the log says which it was.
    assert.ok([413, 'error: ECONNRESET', 'error: UND_ERR_SOCKET', 'error: EPIPE'].includes(status), String(status));
    assert.ok(pulled < TOTAL / 4, `the worker read on: ${pulled} of ${TOTAL} bytes pulled`);
    const deadline = Date.now() + 3000;
    while (worker.logLines().filter((l) => l.outcome === 'too-large').length === refusedBefore && Date.now() < deadline) {
      await h.sleep(20);
    }
    assert.equal(worker.logLines().filter((l) => l.outcome === 'too-large').length, refusedBefore + 1);
  });

  test('refused requests are logged without digits or secrets', async () => {
    const lines = await worker.waitForLogLines(1);
    h.assertCleanLog(worker.output(), { digits: ['4321', '9999'], secrets: [h.KEY, h.TOKEN, h.SIGNING_SECRET] });
    const outcomes = new Set(lines.map((l) => l.outcome));
    for (const outcome of ['bad-signature', 'bad-state', 'missing-call-sid', 'wrong-method', 'wrong-content-type', 'too-large', 'unknown-path']) {
      assert.ok(outcomes.has(outcome), `no "${outcome}" line`);
    }
    assert.ok(!/panicked|RuntimeError|unreachable/i.test(worker.output()), 'the worker crashed');
  });
});

describe('behind a proxy: PUBLIC_URL', () => {
  let worker;
  let backend;
  const PUBLIC = 'https://ivr.example.com';

  before(async () => {
    backend = await h.startBackend(() => ({ status: 404 }));
    worker = await h.startWorker({
      GATHER_FLOWS: { default: h.articlesFlow({ action: backend.url }) },
      PUBLIC_URL: `${PUBLIC}/`,
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    });
  });

  after(async () => {
    await worker?.dispose();
    await backend?.close();
  });

  test('the signature covers the public URL, and action URLs are built on it', async () => {
    const params = h.callParams(h.newCallSid());
    const reply = await h.signedPost(worker.url('/gather'), params, { signUrl: `${PUBLIC}/gather` });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, h.expectedAsk({ action: `${PUBLIC}/gather?step=card&attempt=1`, prompts: [h.CARD_PROMPT] }));

    const withPort = await h.signedPost(worker.url('/gather'), params, { signUrl: `${PUBLIC}:443/gather` });
    assert.equal(withPort.status, 200, 'the default port variant');

    const query = '/gather?step=card&attempt=1';
    const next = await h.signedPost(worker.url(query), { ...params, Digits: '1234' }, { signUrl: `${PUBLIC}${query}` });
    assert.equal(next.status, 200);
    assert.ok(h.gatherAction(next.text).startsWith(`${PUBLIC}/gather?step=pin&attempt=1&card=`));
  });

  test('a signature over the internal URL is refused', async () => {
    const reply = await h.signedPost(worker.url('/gather'), h.callParams(h.newCallSid()));
    assert.equal(reply.status, 403);
  });
});
