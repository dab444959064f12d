'use strict';
// The call simulator of the development build (GET /simulator, src/worker/simulator.rs): its
// routes over plain HTTP, then the page itself in a real browser, headless Chromium (Debian's
// chromium, which scripts/setup.sh installs) driven by puppeteer-core, playing the articles'
// card-and-PIN call by clicking keys and again by keyboard only, three bad tries and then a
// locked-out call from the same number, the one-time-code flow with the code the local Verify
// stand-in shows, and the card payment with its status events and masked card. Each finished
// call's screenshot is saved under test-artifacts/ (docs/simulator.png is the card-and-PIN one).
// Under CI=true a missing Chromium is a failure.
// The production build's side (no /simulator, no trace of the page) is checked in
// demo.test.js and security.test.js.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const twilio = require('twilio');
const h = require('./harness');
const { assertPresent, skipUnlessCi } = require('../support/ci');
const { startVerify, API_KEY_SID, API_KEY_SECRET } = require('../../scripts/verify-mock');
const { startAgentExample } = require('../support/agent-example');

const ROOT = path.join(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const FOUND = 'Thank you. Your account number is AC12345678 and your balance is 12.55';

// Debian's chromium, when this machine has it.
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => fs.existsSync(file));
const NO_CHROMIUM = CHROMIUM === undefined && 'no Chromium on this machine (apt-get install chromium)';

/** That Chromium, headless, driven by puppeteer-core (which downloads no browser of its own). */
function launchChromium() {
  const puppeteer = require('puppeteer-core');
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
}

/**
 * A new page of `browser` on the simulator at `url`, once it is ready for a call, with what it
 * fetched and any error it reported.
 */
async function openSimulator(browser, url) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const seen = { requests: [], errors: [] };
  page.on('request', (request) => seen.requests.push(request.url()));
  page.on('pageerror', (error) => seen.errors.push(error.message));
  page.on('console', (message) => message.type() === 'error' && seen.errors.push(message.text()));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state === 'idle', { timeout: 10_000 });
  return { page, seen };
}

describe('the call simulator of the development build', () => {
  let worker;
  let verify;
  let port;
  let secrets;
  let board;

  before(async () => {
    // As demo.test.js: the dev flows post to 127.0.0.1:8787; the test worker gets a free port,
    // the demo flows' action is pointed there, and everything else is [env.dev.vars] as
    // committed, plus a flow "quick" whose <Gather> waits one second (the timeout's test).
    // The Verify stand-in with its handset (as scripts/dev.sh starts it), and a status board
    // that takes the pay flow's events (and checks their signatures).
    verify = await startVerify({ code: '123456', handset: true });
    board = await h.startBackend(() => ({ status: 204 }));
    port = await h.freePort();
    const vars = h.devVars();
    const flows = structuredClone(vars.GATHER_FLOWS);
    flows.default.then.action = `http://127.0.0.1:${port}/decrypt-gather`;
    flows.otp.then.action = `http://127.0.0.1:${port}/decrypt-gather`;
    flows.pay.then.redirect = `http://127.0.0.1:${port}/after-gather`;
    flows.pay.status_callback = `${board.origin}/status`;
    flows.quick = {
      then: { redirect: `http://127.0.0.1:${port}/after-gather` },
      timeout: 1,
      attempts: 2,
      fields: [
        { name: 'pin', kind: 'digits', length: 4, prompt: 'Your PIN, please.' },
        { name: 'code', kind: 'digits', min: 3, max: 6, prompt: 'Your code, then pound.' },
      ],
    };
    secrets = [h.KEY, h.TOKEN, h.SIGNING_SECRET, API_KEY_SECRET];
    worker = await h.startWorker(
      {
        ...vars,
        GATHER_FLOWS: flows,
        AES_SECRET: h.KEY,
        TWILIO_AUTH_TOKEN: h.TOKEN,
        BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
        TWILIO_API_KEY_SID: API_KEY_SID,
        TWILIO_API_KEY_SECRET: API_KEY_SECRET,
        TWILIO_VERIFY_URL: verify.url,
      },
      { port, build: 'build-dev' },
    );
  });

  after(async () => {
    await browser?.close();
    await worker?.dispose();
    await verify?.close();
    await board?.close();
  });

  test('GET /simulator: the page, its script and stylesheet, nothing from elsewhere', async () => {
    const page = await fetch(worker.url('/simulator'));
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(page.headers.get('content-security-policy'), /^default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';/);
    const html = await page.text();
    assert.match(html, /<script src="\/simulator\/simulator\.js" defer><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="\/simulator\/simulator\.css">/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing loaded from another origin');
    for (const [route, type] of [
      ['/simulator/simulator.js', 'text/javascript; charset=utf-8'],
      ['/simulator/simulator.css', 'text/css; charset=utf-8'],
    ]) {
      const res = await fetch(worker.url(route));
      assert.equal(res.status, 200, route);
      assert.equal(res.headers.get('content-type'), type);
      const text = await res.text();
      assert.doesNotMatch(text, /https?:\/\/|@import|url\(/, `${route} names no other origin`);
    }
    const script = await (await fetch(worker.url('/simulator/simulator.js'))).text();
    assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/, 'values go in as text');
    assert.equal((await fetch(worker.url('/simulator/nope'))).status, 404);
    const posted = await fetch(worker.url('/simulator'), { method: 'POST' });
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get('allow'), 'GET');
  });

  test('GET /simulator/flows: names, routes, language, timeout and field kinds, nothing secret', async () => {
    const res = await fetch(worker.url('/simulator/flows'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const text = await res.text();
    const { flows } = JSON.parse(text);
    assert.deepEqual(flows.map((f) => f.name), ['default', 'fr', 'otp', 'pay', 'quick'], 'the relay-only flow "card" has no route');
    assert.deepEqual(flows[0], {
      name: 'default',
      route: '/gather',
      language: null,
      timeout: 10,
      attempts: 3,
      then: 'action',
      limits: { failures: 5, windowMinutes: 10, by: ['caller', 'card'] },
      events: false,
      fields: [{ name: 'card', kind: 'digits' }, { name: 'pin', kind: 'digits' }],
    });
    assert.equal(flows[3].events, true, 'pay sends status events');
    assert.equal(flows[1].language, 'fr-FR');
    assert.equal(flows[1].then, 'redirect');
    assert.deepEqual(flows[2].fields.map((f) => f.kind), ['digits', 'digits', 'verify']);
    assert.deepEqual(flows[3].fields.map((f) => f.kind), ['card-number', 'security-code', 'expiry']);
    assert.equal(flows[4].timeout, 1);
    for (const secret of secrets) assert.ok(!text.includes(secret), 'a secret in the flows');
    assert.ok(!text.includes('http'), 'no URL');
    assert.ok(!text.includes('status_callback'), 'no status_callback');
    assert.ok(!text.includes('Please'), 'no sentence');
  });

  test('POST /simulator/sign: the signature the twilio package computes, for this worker\'s /gather only', async () => {
    const sign = (body, type = 'application/json') =>
      fetch(worker.url('/simulator/sign'), { method: 'POST', headers: { 'Content-Type': type }, body });
    const url = worker.url('/gather');
    const params = h.callParams(h.newCallSid());
    const res = await sign(JSON.stringify({ url, params }));
    assert.equal(res.status, 200);
    const { signature } = await res.json();
    assert.equal(signature, twilio.getExpectedTwilioSignature(h.TOKEN, url, params));
    // With it, the production route takes the request.
    const call = await h.signedPost(url, params, { signature });
    assert.equal(call.status, 200);
    assert.match(call.text, /<Gather /);

    for (const other of [
      `http://127.0.0.1:${port + 1}/gather`,
      `http://localhost:${port}/gather`,
      worker.url('/decrypt-gather'),
      worker.url('/simulator/sign'),
      worker.url('/gatherx'),
      `${worker.origin}@example.com/gather`,
    ]) {
      const refused = await sign(JSON.stringify({ url: other, params }));
      assert.equal(refused.status, 400, other);
      const { error } = await refused.json();
      assert.match(error, /only a POST to this worker's own \/gather routes is signed/);
    }
    for (const body of ['not json', '{}', JSON.stringify({ url, params: { Digits: 1234 } })]) {
      assert.equal((await sign(body)).status, 400, body);
    }
    assert.equal((await sign(JSON.stringify({ url, params }), 'text/plain')).status, 415);
    assert.equal((await fetch(worker.url('/simulator/sign'))).status, 405);
  });

  test('GET /simulator/handoff and /simulator/log: what the demo backend and the log saw of one call', async () => {
    const callSid = h.newCallSid();
    const empty = await (await fetch(worker.url(`/simulator/handoff?callSid=${callSid}`))).json();
    assert.deepEqual(empty, { callSid, handoffs: [] });
    for (const query of ['', '?callSid=', '?callSid=CA%20x', `?other=${callSid}`]) {
      assert.equal((await fetch(worker.url(`/simulator/handoff${query}`))).status, 400, query);
      assert.equal((await fetch(worker.url(`/simulator/log${query}`))).status, 400, query);
    }

    await h.walkCall(worker, ['1234', '4321'], { callSid });
    const { handoffs } = await (await fetch(worker.url(`/simulator/handoff?callSid=${callSid}`))).json();
    assert.equal(handoffs.length, 1);
    const [handoff] = handoffs;
    assert.equal(handoff.signatureValid, true);
    assert.equal(handoff.verdict, 'valid');
    assert.ok(h.signatureValid(handoff.signature, handoff.submission), 'the header as received');
    assert.deepEqual(handoff.opened, [{ name: 'card', value: '1234' }, { name: 'pin', value: '4321' }]);
    assert.equal(handoff.status, 200);
    assert.equal(handoff.result, 'accepted');
    assert.match(handoff.twiml, new RegExp(`<Say>${FOUND}</Say>`));
    const submission = JSON.parse(handoff.submission);
    assert.equal(submission.callSid, callSid);
    assert.match(submission.encryptedCardDigits, /^[0-9a-f]{64}$/);
    h.assertNoPlaintext(handoff.submission, ['1234', '4321'], 'the submission');

    const { lines } = await (await fetch(worker.url(`/simulator/log?callSid=${callSid}`))).json();
    const written = (await h.logLinesOf(worker, callSid, 3)).map((l) => JSON.stringify(l));
    assert.deepEqual(lines.map((l) => JSON.stringify(JSON.parse(l))), written, 'the lines the worker wrote for the call');
    assert.deepEqual(lines.map((l) => JSON.parse(l).outcome), ['asked', 'sealed', 'handed-off']);
    // The simulator's own requests write no line.
    const before = worker.logLines().length;
    for (const route of ['/simulator', '/simulator/flows', `/simulator/log?callSid=${callSid}`, '/simulator/nope']) {
      await (await fetch(worker.url(route))).arrayBuffer();
    }
    await h.sleep(200);
    assert.equal(worker.logLines().length, before);
  });

  test('GET /simulator/status: the status events the worker sent for a call, as the status_callback got them', async () => {
    const callSid = h.newCallSid();
    assert.deepEqual(await (await fetch(worker.url(`/simulator/status?callSid=${callSid}`))).json(), { callSid, events: [] });
    for (const query of ['', '?callSid=CA%20x']) assert.equal((await fetch(worker.url(`/simulator/status${query}`))).status, 400, query);
    const before = board.requests.length;
    await h.walkCall(worker, ['4242424242424242', '1'], { callSid, path: '/gather/pay' });
    let events = [];
    for (let i = 0; i < 50 && board.requests.length - before < 4; i++) await h.sleep(50);
    ({ events } = await (await fetch(worker.url(`/simulator/status?callSid=${callSid}`))).json());
    const received = board.requests.slice(before).filter((r) => r.json?.callSid === callSid);
    assert.deepEqual(events.map((e) => e.body), received.map((r) => r.body), 'the bodies the status_callback received, in order');
    assert.deepEqual(events.map((e) => e.signature), received.map((r) => r.headers['x-gather-seal-signature']));
    for (const e of events) assert.ok(h.signatureValid(e.signature, e.body));
    const parsed = events.map((e) => JSON.parse(e.body));
    assert.deepEqual(parsed.map((e) => [e.event, e.field]), [['asked', 'card'], ['accepted', 'card'], ['confirmed', 'card'], ['asked', 'cvv']]);
    assert.deepEqual(parsed[1].masked, { last4: '4242', brand: 'visa' });
    for (const e of events) h.assertNoPlaintext(e.body, ['4242424242424242'], 'a status event');
  });

  test('GET /simulator/verify-code: the code the local Verify stand-in sent to the number, only from a loopback Verify', async () => {
    const to = '+15005550142';
    const none = await fetch(worker.url(`/simulator/verify-code?to=${encodeURIComponent(to)}`));
    assert.equal(none.status, 404);
    assert.match((await none.json()).error, /sent no code to this number/);
    assert.equal((await fetch(worker.url('/simulator/verify-code'))).status, 400);
    assert.equal((await fetch(worker.url(`/simulator/verify-code?to=${encodeURIComponent(to)}`), { method: 'POST' })).status, 405);
    // The otp flow's code step: Verify texts the code to the caller's number.
    await h.walkCall(worker, ['1234', '4321'], { path: '/gather/otp', from: to });
    const res = await fetch(worker.url(`/simulator/verify-code?to=${encodeURIComponent(to)}`));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { to, channel: 'sms', code: '123456' });
    assert.deepEqual(verify.sent.filter((m) => m.to === to).map((m) => m.code), ['123456']);
  });

  // ── In Chromium ─────────────────────────────────────────────────────────────────────────
  let browser;

  /** A new page of the shared browser, with what it fetched and any error it reported. */
  async function newPage() {
    assertPresent(NO_CHROMIUM);
    browser ??= await launchChromium();
    return openSimulator(browser, worker.url('/simulator'));
  }

  /** Waits until the page listens for the `step`th entry. */
  async function gathering(page, step) {
    await page.waitForFunction(
      (n) => document.body.dataset.state === 'gathering' && document.querySelectorAll('#timeline > li').length === n,
      { timeout: 15_000 },
      step,
    );
  }

  async function ended(page) {
    await page.waitForFunction(() => document.body.dataset.state === 'ended', { timeout: 20_000 });
  }

  /** Everything the page shows of the finished call. */
  function read(page) {
    return page.evaluate(() => {
      const texts = (selector, root = document) => [...root.querySelectorAll(selector)].map((e) => e.textContent);
      const rows = (selector) =>
        Object.fromEntries([...document.querySelectorAll(`${selector} tr`)].map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));
      return {
        status: document.getElementById('status').textContent,
        checksAll: document.body.dataset.checks,
        steps: [...document.querySelectorAll('#timeline > li')].map((li) => ({
          url: li.querySelector('.url').textContent,
          params: Object.fromEntries([...li.querySelectorAll('table.params tr')].map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent])),
          twiml: li.querySelector('.twiml').textContent,
          log: li.querySelector('.log').textContent,
          hears: texts('.hears li', li),
          sealedInUrl: li.querySelectorAll('.url mark.sealed').length,
          sealedInTwiml: li.querySelectorAll('.twiml mark.sealed').length,
        })),
        checks: [...document.querySelectorAll('.check')].map((c) => ({ pass: c.classList.contains('pass'), text: c.textContent })),
        urls: texts('.url'),
        twiml: texts('.twiml'),
        submissions: texts('.submission'),
        logs: texts('.log'),
        handoffShown: !document.getElementById('handoff').hidden,
        handoff: document.getElementById('handoff-body').textContent,
        verdict: texts('.verdict').join(' '),
        opened: rows('table.opened'),
        redirect: rows('table.redirect'),
        events: texts('.event-body').map((t) => JSON.parse(t)),
        eventChecks: [...document.querySelectorAll('li.step')].map((li) => li.querySelectorAll('.event').length),
        masked: texts('.masked-card strong'),
        outcome: texts('.outcome').join(' '),
        outcomeResult: document.querySelector('.outcome')?.dataset.result ?? null,
        sms: document.getElementById('sms').hidden ? null : document.getElementById('sms-body').textContent,
        again: !document.getElementById('again').hidden && document.getElementById('again').textContent,
        from: document.getElementById('from').value,
      };
    });
  }

  async function screenshot(page, name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, name);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(fs.statSync(file).size > 10_000, `${file} is a screenshot`);
  }

  /** What every played call must show: the checks passed, nothing typed in a URL, TwiML or log. */
  function assertClean(shown, seen, typed) {
    assert.equal(shown.checksAll, 'pass');
    const eventSteps = shown.eventChecks.filter((n) => n > 0).length;
    assert.equal(shown.checks.length, shown.steps.length + eventSteps + 1, 'a check for each step, its status events and the hand-off');
    for (const check of shown.checks) assert.ok(check.pass && check.text.startsWith('✓'), check.text);
    const where = [...shown.urls.map((t) => ['a URL', t]), ...shown.twiml.map((t) => ['TwiML', t]),
      ...shown.submissions.map((t) => ['the submission', t]), ...shown.logs.map((t) => ['a log', t.replace(/"ms":\d+/g, '"ms":0')]),
      ...shown.events.map((e) => ['a status event', JSON.stringify(e).replace(/"at":\d+/g, '"at":0')])];
    for (const [what, text] of where) h.assertNoPlaintext(text, typed, `${what} shown on the page`);
    assert.deepEqual(seen.errors, [], 'the page reported no error');
    for (const url of seen.requests) assert.ok(url.startsWith(`${worker.origin}/`), `the page fetched ${url}`);
  }

  /** The card-and-PIN demo call, played; the assertions both ways of playing share. */
  async function assertDemoCall(page, seen) {
    await ended(page);
    const shown = await read(page);
    assert.match(shown.status, /^Call over: nothing more to say/);
    assert.equal(shown.steps.length, 3);
    assert.deepEqual(shown.steps.map((s) => s.hears), [[h.CARD_PROMPT], [h.PIN_PROMPT], [FOUND]]);
    assert.equal(shown.steps[0].url, worker.url('/gather'));
    assert.equal(shown.steps[0].params.Digits, undefined, 'the call comes in without Digits');
    assert.equal(shown.steps[1].params.Digits, '1234', 'Twilio sends the worker what was typed');
    assert.equal(shown.steps[2].params.Digits, '4321');
    assert.ok(shown.steps[1].sealedInTwiml >= 1, 'the sealed card in the action URL is marked');
    assert.ok(shown.steps[2].sealedInUrl >= 1, 'the sealed card the request carries is marked');
    const outcomes = shown.steps.map((s) => s.log.split('\n').map((l) => JSON.parse(l).outcome));
    assert.deepEqual(outcomes, [['asked'], ['sealed'], ['handed-off']]);
    // The hand-off: what the demo backend received, its verdict, what it opened and answered.
    assert.ok(shown.handoffShown);
    assert.deepEqual(shown.opened, { card: '1234', pin: '4321' });
    assert.match(shown.verdict, /^✓ Signature valid/);
    assert.match(shown.handoff, /Its answer: 200, X-Gather-Seal-Result: accepted/);
    assert.ok(shown.twiml.at(-1).includes(FOUND), 'the backend\'s TwiML');
    assert.equal(shown.submissions.length, 1);
    assert.match(JSON.parse(shown.submissions[0]).encryptedPinDigits, /^[0-9a-f]{64}$/);
    assertClean(shown, seen, ['1234', '4321']);
  }

  test('in Chromium: the card-and-PIN call played by clicking the keys', {
    ...skipUnlessCi(NO_CHROMIUM),
    timeout: 90_000,
  }, async () => {
    const { page, seen } = await newPage();
    try {
      assert.equal(await page.$eval('#flow', (select) => select.value), 'default');
      await page.click('#call');
      for (const [i, entry] of ['1234', '4321'].entries()) {
        await gathering(page, i + 1);
        for (const key of entry) await page.click(`#keypad button[aria-label="${key}"]`);
      }
      await assertDemoCall(page, seen);
      await screenshot(page, 'simulator-card-and-pin-clicks.png');
      // The README's picture (docs/simulator.png is a copy): the window at the hand-off, the
      // caller's panel beside it.
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.setViewport({ width: 1200, height: 840 });
      await page.evaluate(() => document.getElementById('handoff').scrollIntoView({ block: 'end' }));
      await page.screenshot({ path: path.join(ARTIFACTS, 'simulator-readme.png') });
    } finally {
      await page.close();
    }
  });

  test('in Chromium: the same call by keyboard alone', {
    ...skipUnlessCi(NO_CHROMIUM),
    timeout: 90_000,
  }, async () => {
    const { page, seen } = await newPage();
    try {
      // From the top of the page, Tab to the Call button: the flow list, the caller number.
      const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
      const order = [];
      for (let i = 0; i < 10 && (await focused()) !== 'call'; i++) {
        await page.keyboard.press('Tab');
        order.push(await focused());
      }
      assert.deepEqual(order, ['flow', 'from', 'call']);
      // Focus is visible.
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.equal(outline, 'solid');
      await page.keyboard.press('Enter');
      for (const [i, entry] of ['1234', '4321'].entries()) {
        await gathering(page, i + 1);
        await page.keyboard.type(entry);
      }
      await assertDemoCall(page, seen);
      await screenshot(page, 'simulator-card-and-pin-keyboard.png');
    } finally {
      await page.close();
    }
  });

  test('in Chromium: silence sends an empty entry after the <Gather> timeout; # ends an entry; a <Redirect> hand-off', {
    ...skipUnlessCi(NO_CHROMIUM),
    timeout: 90_000,
  }, async () => {
    const { page, seen } = await newPage();
    try {
      await page.select('#flow', 'quick');
      await page.click('#call');
      await gathering(page, 1);
      // Nothing pressed: after one second the entry goes, empty, and the PIN is asked again.
      await gathering(page, 2);
      await page.keyboard.type('5678');
      await gathering(page, 3);
      await page.keyboard.type('567#');
      await ended(page);
      const shown = await read(page);
      assert.match(shown.status, /handed off with a <Redirect>/);
      assert.deepEqual(shown.steps.map((s) => [s.params.Digits, s.params.FinishedOnKey]), [
        [undefined, undefined],
        ['', ''],
        ['5678', ''],
        ['567', '#'],
      ]);
      assert.deepEqual(shown.steps.map((s) => s.log.split('\n').map((l) => JSON.parse(l).outcome)), [['asked'], ['reprompted'], ['sealed'], ['redirected']]);
      assert.equal(shown.urls.at(-1), `http://127.0.0.1:${port}/after-gather`);
      assert.equal(shown.redirect.result, 'success');
      assert.match(shown.redirect.encryptedPinDigits, /^[0-9a-f]{64}$/);
      assert.match(shown.redirect.encryptedCodeDigits, /^[0-9a-f]{62}$/);
      assertClean(shown, seen, ['5678', '567']);
      await screenshot(page, 'simulator-timeout-and-redirect.png');
    } finally {
      await page.close();
    }
  });

  /** Types `entry` once the page listens for the `step`th entry. */
  async function enter(page, step, entry) {
    await gathering(page, step);
    await page.keyboard.type(entry);
  }

  test('in Chromium: three bad tries, then calls again from the same number until it is locked out', {
    ...skipUnlessCi(NO_CHROMIUM),
    timeout: 180_000,
  }, async () => {
    const { page, seen } = await newPage();
    const caller = '+15005550177';
    try {
      await page.$eval('#from', (input) => (input.value = ''));
      await page.type('#from', caller);
      await page.click('#call');
      // Three bad tries at the card: 2 digits and # each time.
      for (let step = 1; step <= 3; step++) await enter(page, step, '12#');
      await ended(page);
      let shown = await read(page);
      assert.deepEqual(shown.steps.map((s) => s.log.split('\n').map((l) => JSON.parse(l).outcome)), [['asked'], ['reprompted'], ['reprompted'], ['handed-off']]);
      assert.equal(shown.steps[1].params.Digits, '12');
      assert.equal(JSON.parse(shown.submissions[0]).result, 'too-many-attempts');
      assert.equal(shown.outcomeResult, 'too-many-attempts');
      assert.match(shown.outcome, /the caller used up the 3 tries a field allows \(result too-many-attempts\)/);
      assert.match(shown.outcome, /5 failed calls within 10 minutes lock each of them out/);
      assert.match(shown.outcome, /This page has played 1 failed call from \+15005550177/);
      assert.deepEqual(shown.opened, {}, 'nothing opened');
      assert.equal(shown.again, `Call again from ${caller}`);
      assertClean(shown, seen, ['12']);
      await screenshot(page, 'simulator-three-bad-tries.png');

      // Four more failed calls (a wrong PIN: the demo backend rejects it), by "Call again".
      for (let call = 2; call <= 5; call++) {
        await page.click('#again');
        await enter(page, 1, '5678');
        await enter(page, 2, '0000');
        await ended(page);
        shown = await read(page);
        assert.equal(shown.from, caller, 'Call again keeps the number');
        assert.match(shown.handoff, /X-Gather-Seal-Result: rejected/);
        assert.match(shown.outcome, /the application rejected them/);
        assert.match(shown.outcome, new RegExp(`This page has played ${call} failed calls`));
      }

      // The sixth: refused before anything is asked.
      await page.click('#again');
      await ended(page);
      shown = await read(page);
      assert.equal(shown.steps.length, 1);
      assert.deepEqual(shown.steps[0].log.split('\n').map((l) => JSON.parse(l).outcome), ['locked']);
      assert.equal(JSON.parse(shown.submissions[0]).result, 'locked');
      assert.equal(shown.outcomeResult, 'locked');
      assert.match(shown.outcome, /This number is locked out: \+15005550177 already has 5 failed calls within 10 minutes/);
      assert.match(shown.outcome, /refused the call before asking anything \(result locked, log outcome locked\)/);
      assert.deepEqual(shown.opened, {});
      assertClean(shown, seen, []);
      await screenshot(page, 'simulator-locked-out.png');
    } finally {
      await page.close();
    }
  });

  test('in Chromium: the one-time-code flow, typing the code the local Verify stand-in shows', {
    ...skipUnlessCi(NO_CHROMIUM),
    timeout: 90_000,
  }, async () => {
    const { page, seen } = await newPage();
    try {
      await page.select('#flow', 'otp');
      await page.$eval('#from', (input) => (input.value = ''));
      await page.type('#from', '+15005550188');
      await page.click('#call');
      await enter(page, 1, '1234');
      await enter(page, 2, '4321');
      await gathering(page, 3);
      await page.waitForSelector('#sms-code', { visible: true, timeout: 10_000 });
      const code = await page.$eval('#sms-code', (e) => e.textContent);
      assert.equal(code, '123456', 'the code the stand-in sent');
      await page.keyboard.type(`${code}#`);
      await ended(page);
      const shown = await read(page);
      assert.match(shown.sms, /Text message to \+15005550188: your verification code is 123456/);
      assert.deepEqual(shown.steps.map((s) => s.log.split('\n').map((l) => JSON.parse(l).outcome)), [['asked'], ['sealed'], ['code-sent'], ['handed-off']]);
      assert.equal(shown.steps[3].params.Digits, '123456', 'Twilio sends the worker what was typed');
      assert.deepEqual(shown.opened, { card: '1234', pin: '4321' });
      assert.match(shown.handoff, /X-Gather-Seal-Result: accepted/);
      assert.equal(shown.outcomeResult, 'success');
      assert.deepEqual(verify.requests.filter((r) => r.form.To === '+15005550188').map((r) => [r.operation, r.status]), [['verification', 201], ['check', 200]]);
      assertClean(shown, seen, ['1234', '4321', '123456']);
      await screenshot(page, 'simulator-one-time-code.png');
    } finally {
      await page.close();
    }
  });

  test('in Chromium: the card payment, its status events in the timeline and "Visa ending 4242"', {
    ...skipUnlessCi(NO_CHROMIUM),
    timeout: 120_000,
  }, async () => {
    const { page, seen } = await newPage();
    try {
      await page.select('#flow', 'pay');
      await page.click('#call');
      for (const [i, entry] of ['4242424242424242#', '1', '123', '1228', '1'].entries()) await enter(page, i + 1, entry);
      await ended(page);
      const shown = await read(page);
      assert.match(shown.status, /handed off with a <Redirect>/);
      assert.equal(shown.redirect.card_last4, '4242');
      assert.equal(shown.redirect.card_brand, 'visa');
      assert.deepEqual(shown.masked, ['Visa ending 4242']);
      // Every event the worker sent, as the status_callback received it, in order.
      const callSid = shown.events[0]?.callSid;
      assert.match(callSid, /^CA[0-9a-f]{32}$/);
      const receivedBy = () => board.requests.filter((r) => r.json?.callSid === callSid).map((r) => r.json);
      for (let i = 0; i < 40 && receivedBy().length < shown.events.length; i++) await h.sleep(50);
      const received = receivedBy();
      assert.deepEqual(shown.events, received);
      assert.deepEqual(shown.events.map((e) => [e.event, e.field]), [
        ['asked', 'card'], ['accepted', 'card'], ['confirmed', 'card'], ['asked', 'cvv'], ['accepted', 'cvv'],
        ['asked', 'expiry'], ['accepted', 'expiry'], ['confirmed', 'expiry'], ['handed-off', null],
      ]);
      assert.deepEqual(shown.events[1].masked, { last4: '4242', brand: 'visa' });
      assert.equal(shown.events.at(-1).result, 'success');
      assert.ok(shown.steps[1].hears.some((s) => s.includes('ending in 4 2 4 2')), 'the read-back');
      assert.equal(shown.outcomeResult, 'success');
      assertClean(shown, seen, ['4242424242424242', '123', '1228']);
      assert.ok(shown.checks.some((c) => c.text.includes("a card's last four only in masked views")));
      await screenshot(page, 'simulator-card-payment.png');
    } finally {
      await page.close();
    }
  });

  test('in Chromium: a card\'s last four outside a masked view fails the check', {
    ...skipUnlessCi(NO_CHROMIUM),
    timeout: 30_000,
  }, async () => {
    // The page's own check, fed a text where the last four stand alone.
    const { page } = await newPage();
    try {
      const verdicts = await page.evaluate(() => window.gatherSealSimulator.passes(['4242424242424242'], [
        '{"masked":{"last4":"4242","brand":"visa"}}',
        'https://app.example.com/next?card_last4=4242&card_brand=visa',
        'You entered a card ending in 4 2 4 2. Press 1 to confirm.',
        '{"outcome":"sealed","last":"4242"}',
        'card ending 4242',
        '4 2 4 2',
      ]));
      assert.deepEqual(verdicts, [true, true, true, false, false, false]);
    } finally {
      await page.close();
    }
  });
});

// ── The relay mode: examples/ai-agent behind the relay "agent" of [env.dev] ─────────────────
// As ai-agent-example.test.js runs it: the example copied beside a snapshot of pkg/,
// npm-installed and started on a free port, GATHER_RELAYS' upstream pointed at it; the page
// talks to the worker's bridge (GET /simulator/relay), which opens /relay/agent with the
// handshake signature Twilio would send.
describe('the call simulator\'s relay mode, with examples/ai-agent', () => {
  const VISA = '4242424242424242';
  const SAID = '4111 1111 1111 1111';
  let example;
  let worker;
  let browser;

  before(async () => {
    example = await startAgentExample({ BACKEND_SIGNING_SECRET: h.SIGNING_SECRET, AES_SECRET: h.KEY });
    const vars = h.devVars();
    worker = await h.startWorker(
      {
        ...vars,
        GATHER_RELAYS: { agent: { ...vars.GATHER_RELAYS.agent, upstream: example.url } },
        AES_SECRET: h.KEY,
        TWILIO_AUTH_TOKEN: h.TOKEN,
        BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
        TWILIO_API_KEY_SID: API_KEY_SID,
        TWILIO_API_KEY_SECRET: API_KEY_SECRET,
      },
      { build: 'build-dev' },
    );
  }, { timeout: 120_000 });

  after(async () => {
    await browser?.close();
    await worker?.dispose();
    await example?.stop();
  });

  test('GET /simulator/relays: each relay\'s name and flows, never its upstream', async () => {
    const res = await fetch(worker.url('/simulator/relays'));
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { relays: [{ name: 'agent', flows: ['card'], speech: 'redact' }] });
    assert.ok(!text.includes('ws://') && !text.includes('/agent'), 'no upstream');
  });

  test('GET /simulator/relay: a WebSocket bridge for this worker\'s pages to its relays', async () => {
    const { connect } = require('../support/conversation-relay');
    const bridge = (query) => worker.url(`/simulator/relay${query}`).replace(/^http/, 'ws');
    // Not an upgrade, another site's page, no relay or an unknown one: refused.
    assert.equal((await fetch(worker.url('/simulator/relay?relay=agent'))).status, 426);
    await assert.rejects(connect(bridge('?relay=agent'), { setup: false, headers: { Origin: 'https://evil.example' } }), (e) => e.status === 403);
    await assert.rejects(connect(bridge('?relay='), { setup: false }), (e) => e.status === 400);
    await assert.rejects(connect(bridge('?relay=nope'), { setup: false }), (e) => e.status === 404);
    // Through it, a session of the relay: the agent greets the caller; the relay route wrote
    // its session line (the handshake was checked there); the bridge wrote none of its own.
    const callSid = h.newCallSid();
    const session = await connect(bridge('?relay=agent'), { headers: { Origin: worker.origin }, setup: { callSid } });
    const greeting = await session.nextMessage((m) => m.type === 'text');
    assert.match(greeting.token, /billing assistant/);
    await session.close();
    const lines = await h.logLinesOf(worker, callSid, 1);
    assert.deepEqual(lines.map((l) => [l.outcome, l.relay]), [['relay-session', 'agent']]);
    const { messages } = await (await fetch(worker.url(`/simulator/relay-app?callSid=${callSid}`))).json();
    assert.equal(JSON.parse(messages[0].text).type, 'setup', 'what the application received');
    assert.equal((await fetch(worker.url('/simulator/relay-app'))).status, 400);
  });

  test('in Chromium: pay the bill by talking to the agent and typing the card; the application never gets a digit', {
    ...skipUnlessCi(NO_CHROMIUM),
    timeout: 120_000,
  }, async () => {
    assertPresent(NO_CHROMIUM);
    browser = await launchChromium();
    const { page, seen } = await openSimulator(browser, worker.url('/simulator'));
    const hears = () => page.$$eval('#prompt .conversation li.agent', (lis) => lis.map((li) => li.textContent));
    const heard = async (pattern, count = 1) => {
      await page.waitForFunction(
        (source, n) => [...document.querySelectorAll('#prompt .conversation li.agent')].filter((li) => new RegExp(source).test(li.textContent)).length >= n,
        { timeout: 15_000 },
        pattern.source,
        count,
      );
    };
    const say = async (text) => {
      await page.type('#speech', text);
      await page.click('#say-button');
    };
    const app = () => page.evaluate(() => ({
      types: [...document.querySelectorAll('#app-messages li')].map((li) => `${li.dataset.direction} ${li.dataset.type}`),
      texts: [...document.querySelectorAll('#app-messages pre')].map((pre) => pre.textContent),
      redacted: document.querySelectorAll('#app-messages mark.redacted').length,
      sealed: document.querySelectorAll('#app-messages .result-body mark.sealed').length,
      check: document.getElementById('app-check').textContent,
      checkPass: document.getElementById('app-check').classList.contains('pass'),
    }));
    try {
      const options = await page.$$eval('#flow option', (os) => os.map((o) => [o.value, o.textContent]));
      const agent = options.find(([value]) => value === 'relay:agent');
      assert.ok(agent && agent[1].startsWith('AI agent (relay agent)'), JSON.stringify(options));
      await page.select('#flow', 'relay:agent');
      assert.equal(await page.$eval('#say', (f) => f.hidden), false, 'the speech box shows');
      await page.click('#call');
      await heard(/billing assistant/);
      await say('I want to pay my bill');
      await heard(/Please enter your card number/);
      for (const [i, entry] of [`${VISA}#`, '123', '1228'].entries()) {
        for (const key of entry) await page.click(`#keypad button[aria-label="${{ '#': 'pound', '*': 'star' }[key] || key}"]`);
        if (i === 0) await heard(/security code/);
        if (i === 1) await heard(/expiry/);
      }
      await heard(/Your card ending 4242 is accepted/);
      await page.waitForFunction(() => [...document.querySelectorAll('#app-messages li')].some((li) => li.dataset.type === 'gather-seal.result'), { timeout: 10_000 });
      let shown = await app();
      assert.deepEqual(shown.types.slice(0, 4), ['to-app setup', 'to-app prompt', 'from-app gather-seal.start', 'to-app gather-seal.result'], shown.types.join(', '));
      assert.ok(shown.sealed >= 3, 'the sealed card, security code and expiry are marked');
      assert.ok(shown.checkPass && shown.check.startsWith('✓'), shown.check);
      for (const text of shown.texts) h.assertNoPlaintext(text.replace(/"last4": "4242"/g, '"last4": "xxxx"'), [VISA, '123', '1228'], 'what the application received');

      // A card number said aloud: the application gets "[redacted]".
      await say(`my card is ${SAID}`);
      await page.waitForFunction(() => document.querySelectorAll('#app-messages mark.redacted').length > 0, { timeout: 10_000 });
      shown = await app();
      assert.ok(shown.texts.some((t) => t.includes('my card is [redacted]')), shown.texts.join('\n'));
      assert.ok(shown.checkPass, shown.check);
      const runs = [...new Set([...SAID.split(' '), SAID.replace(/ /g, ''), VISA, '123', '1228'])];
      for (const text of shown.texts) h.assertNoPlaintext(text.replace(/"last4": "4242"/g, '"last4": "xxxx"'), runs, 'what the application received');
      assert.ok((await hears()).some((t) => /card ending 4242 is accepted/i.test(t)));

      await page.click('#hangup');
      await page.waitForFunction(() => document.body.dataset.state === 'ended', { timeout: 10_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.checks), 'pass');
      assert.deepEqual(seen.errors, [], 'the page reported no error');
      for (const url of seen.requests) assert.ok(url.startsWith(`${worker.origin}/`), `the page fetched ${url}`);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      const file = path.join(ARTIFACTS, 'simulator-relay-agent.png');
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(fs.statSync(file).size > 10_000, `${file} is a screenshot`);
    } catch (error) {
      const state = await page.evaluate(() => ({ status: document.getElementById('status').textContent, said: document.getElementById('prompt').textContent, app: document.getElementById('app').textContent }));
      error.message += `\n${JSON.stringify(state, null, 2)}\n${JSON.stringify(seen.errors)}`;
      throw error;
    } finally {
      await page.close();
    }
  });
});
