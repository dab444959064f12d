'use strict';
// The local demo: wrangler.toml's [env.dev] (what scripts/dev.sh serves) runs the development
// build, whose demo backend checks each submission's signature, opens the values and answers
// TwiML like a real backend would, on the articles' flow. The production build contains neither
// the demo backend nor the call simulator (simulator.test.js), and the top level of
// wrangler.toml has no http:// target.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');
const { startVerify, API_KEY_SID, API_KEY_SECRET } = require('../../scripts/verify-mock');

const ROOT = path.join(__dirname, '..', '..');

const FOUND = 'Thank you. Your account number is AC12345678 and your balance is 12.55';
const NOT_FOUND = 'We were not able to locate you in our system. Goodbye.';

describe('the demo backend of the local configuration', () => {
  let worker;
  let port;
  let verify;

  before(async () => {
    // The otp flow's Verify: the same stand-in scripts/dev.sh starts, on a free port here.
    verify = await startVerify({ code: '123456' });
    // The dev flow posts to 127.0.0.1:8787; the test worker gets a free port instead, so the
    // flow's action is pointed there and everything else is [env.dev.vars] as committed.
    port = await h.freePort();
    const vars = h.devVars();
    const flows = structuredClone(vars.GATHER_FLOWS);
    flows.default.then.action = `http://127.0.0.1:${port}/decrypt-gather`;
    flows.otp.then.action = `http://127.0.0.1:${port}/decrypt-gather`;
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
    await worker?.dispose();
    await verify?.close();
  });

  test('[env.dev] runs the development build and points the default flow at its demo backend', () => {
    const config = h.wranglerConfig();
    assert.equal(config.env.dev.main, 'build-dev/worker/shim.mjs');
    assert.match(config.env.dev.build.command, /build-worker\.sh --demo$/);
    assert.equal(config.main, 'build/worker/shim.mjs');
    assert.ok(!/--demo/.test(config.build.command), 'the production build has no demo backend');
    const vars = h.devVars();
    assert.deepEqual(vars.GATHER_FLOWS.default.then, { action: 'http://127.0.0.1:8787/decrypt-gather' });
    assert.deepEqual(
      vars.GATHER_FLOWS.default.fields.map((f) => [f.name, f.kind, f.length, f.prompt]),
      [
        ['card', 'digits', 4, h.CARD_PROMPT],
        ['pin', 'digits', 4, h.PIN_PROMPT],
      ],
    );
  });

  test('card 1234 and PIN 4321: account AC12345678, balance 12.55', async () => {
    const { steps } = await h.walkCall(worker, ['1234', '4321']);
    assert.equal(steps.length, 3);
    const response = new (require('twilio').twiml.VoiceResponse)();
    response.say(FOUND);
    assert.equal(steps[2].reply.text, response.toString());
  });

  test('any other caller: the not-found goodbye', async () => {
    for (const digits of [['1234', '0000'], ['4321', '1234']]) {
      const { steps } = await h.walkCall(worker, digits);
      assert.equal(steps[2].reply.text, h.expectedGoodbye(NOT_FOUND));
    }
  });

  test('a caller who gives up hears the goodbye', async () => {
    const { steps } = await h.walkCall(worker, ['1', '2', '3']);
    assert.equal(steps[3].reply.text, h.expectedGoodbye(h.TOO_MANY));
  });

  test('POST /decrypt-gather checks the signature, then opens the values with the call contexts', async () => {
    const url = worker.url('/decrypt-gather');
    const callSid = h.newCallSid();
    const card = seal('1234', `${callSid}:card`);
    const pin = seal('4321', `${callSid}:pin`);
    const submission = (values) =>
      JSON.stringify({ callSid, accountSid: 'AC1', from: '+1', to: '+2', flow: 'default', result: 'success', ...values });
    const post = (body, { secret = h.SIGNING_SECRET, time = Date.now() / 1000, type = 'application/json', header } = {}) => {
      const t = Math.floor(time);
      const v1 = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
      return fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': type, 'X-Gather-Seal-Signature': header ?? `t=${t},v1=${v1}` },
        body,
      });
    };

    const found = await post(submission({ encryptedCardDigits: card, encryptedPinDigits: pin }));
    assert.equal(found.status, 200);
    assert.equal(found.headers.get('content-type'), 'text/xml');
    assert.match(await found.text(), new RegExp(`<Say>${FOUND}</Say>`));

    // Signed with another secret, unsigned, too old, or changed after signing: 401.
    const good = submission({ encryptedCardDigits: card, encryptedPinDigits: pin });
    assert.equal((await post(good, { secret: 'another-secret-of-at-least-32-characters' })).status, 401);
    assert.equal((await post(good, { header: '' })).status, 401);
    assert.equal((await post(good, { time: Date.now() / 1000 - 301 })).status, 401);
    const t = Math.floor(Date.now() / 1000);
    const v1 = crypto.createHmac('sha256', h.SIGNING_SECRET).update(`${t}.${good}`).digest('hex');
    assert.equal((await post(good.replace('"flow":"default"', '"flow":"other"'), { header: `t=${t},v1=${v1}` })).status, 401);

    // Signed, but swapped fields, another call, plaintext, not JSON: 400.
    for (const body of [
      submission({ encryptedCardDigits: pin, encryptedPinDigits: card }),
      submission({ callSid: h.newCallSid(), encryptedCardDigits: card, encryptedPinDigits: pin }),
      submission({ encryptedCardDigits: '1234', encryptedPinDigits: '4321' }),
      'not json',
    ]) {
      assert.equal((await post(body)).status, 400, body);
    }
    assert.equal((await post(good, { type: 'text/plain' })).status, 415);
    assert.equal((await fetch(url)).status, 405);
  });

  test('scripts/call.js plays whole calls through it: --flow default, and the French redirect', async () => {
    const run = (args) =>
      new Promise((resolve) => {
        const child = require('node:child_process').spawn(
          process.execPath,
          [path.join(ROOT, 'scripts', 'call.js'), '--base', worker.origin, '--token', h.TOKEN, ...args],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const found = await run(['--flow', 'default', '1234', '4321']);
    assert.equal(found.code, 0, found.out);
    assert.match(found.out, new RegExp(`caller hears: "${FOUND}"`));
    const french = await run(['--flow', 'fr', '12', '4321']);
    assert.equal(french.code, 0, french.out);
    assert.match(french.out, /caller hears: "Désolé, ce n'est pas valide\."/);
    assert.match(french.out, /Handed off: Twilio would now POST to http:\/\/127\.0\.0\.1:8787\/after-gather/);
    assert.match(french.out, /result = success/);
    assert.match(french.out, /encryptedPinDigits = [0-9a-f]{64}/);

    // The dev flow's limits: five wrong calls from one number, and the sixth is asked nothing.
    // (A card of its own: the dev flow counts by card too, and 1234 has failed calls above.)
    const locked = await run(['--calls', '6', '--from', '+15005550177', '5678', '0000']);
    assert.equal(locked.code, 0, locked.out);
    const calls = locked.out.split(/═══ call \d of 6/).slice(1);
    assert.equal(calls.length, 6);
    for (const call of calls.slice(0, 5)) assert.match(call, new RegExp(`caller hears: "${NOT_FOUND}"`));
    assert.match(calls[5], /step 1: .*\(the call comes in\)/);
    assert.doesNotMatch(calls[5], /step 2/);
    assert.match(calls[5], /caller hears: "Sorry, there have been too many attempts\. Please try again later\. Goodbye\."/);

    // The otp flow: card, PIN, then the code the Verify stand-in sent.
    const otp = await run(['--flow', 'otp', '--from', '+15005550178', '1234', '4321', '123456#']);
    assert.equal(otp.code, 0, otp.out);
    assert.match(otp.out, /caller hears: "We have sent you a code by text message\. Please enter it, then press pound\."/);
    assert.match(otp.out, new RegExp(`caller hears: "${FOUND}"`));
    assert.deepEqual(
      verify.requests.map((r) => [r.operation, r.form.To]),
      [['verification', '+15005550178'], ['check', '+15005550178']],
    );
  });

  test('the log of whole demo calls holds no digits or secrets', async () => {
    const lines = await worker.waitForLogLines(1);
    assert.ok(lines.some((l) => l.outcome === 'demo-answered'));
    assert.ok(lines.some((l) => l.outcome === 'demo-bad-signature'));
    assert.ok(lines.some((l) => l.outcome === 'handed-off'));
    assert.ok(lines.some((l) => l.outcome === 'rejected'));
    assert.ok(lines.some((l) => l.outcome === 'locked'));
    h.assertCleanLog(worker.output(), {
      digits: ['1234', '4321', '0000', '5678'],
      secrets: [h.KEY, h.TOKEN, h.SIGNING_SECRET],
    });
  });
});

describe('the committed production configuration', () => {
  test('has no flow and no http:// target', () => {
    const config = h.wranglerConfig();
    const vars = config.vars ?? {};
    assert.equal(vars.GATHER_FLOWS, undefined, 'flows are an example to copy, not a default');
    assert.ok(!JSON.stringify(vars).includes('http://'), 'an http:// setting');
  });

  test('the production build has no demo backend, whatever the settings say', async () => {
    const worker = await h.startWorker({
      ...h.devVars(),
      DEMO_BACKEND: 'true',
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    });
    try {
      const reply = await fetch(worker.url('/decrypt-gather'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      assert.equal(reply.status, 404);
      assert.equal(await reply.text(), 'Not Found');
    } finally {
      await worker.dispose();
    }
  });

  test('the production build serves no call simulator: every /simulator route is 404 Not Found', async () => {
    const worker = await h.startWorker({
      ...h.devVars(),
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    });
    try {
      const callSid = h.newCallSid();
      const requests = [
        ['GET', '/simulator'],
        ['GET', '/simulator/'],
        ['GET', '/simulator/simulator.js'],
        ['GET', '/simulator/simulator.css'],
        ['GET', '/simulator/flows'],
        ['GET', `/simulator/handoff?callSid=${callSid}`],
        ['GET', `/simulator/log?callSid=${callSid}`],
        ['GET', `/simulator/status?callSid=${callSid}`],
        ['GET', '/simulator/verify-code?to=%2B15005550001'],
        ['POST', '/simulator/sign'],
        ['GET', '/simulator/relays'],
        ['GET', '/simulator/relay?relay=agent'],
        ['GET', `/simulator/relay-app?callSid=${callSid}`],
      ];
      for (const [method, route] of requests) {
        const body = method === 'POST' ? JSON.stringify({ url: worker.url('/gather'), params: h.callParams(callSid) }) : undefined;
        const reply = await fetch(worker.url(route), { method, headers: body ? { 'Content-Type': 'application/json' } : {}, body });
        assert.equal(reply.status, 404, `${method} ${route}`);
        assert.equal(await reply.text(), 'Not Found');
      }
      // Nor the relay mode's bridge, opened as the page opens it (a WebSocket upgrade).
      const { connect } = require('../support/conversation-relay');
      const bridge = worker.url('/simulator/relay?relay=agent').replace(/^http/, 'ws');
      await assert.rejects(connect(bridge, { setup: false, headers: { Origin: worker.origin } }), (e) => e.status === 404);
    } finally {
      await worker.dispose();
    }
  });

  test('nothing wrangler deploy --dry-run would upload holds the demo backend or the call simulator', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-dry-'));
    try {
      execFileSync(path.join(ROOT, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', out], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, GATHER_SEAL_WORKER_BUILT: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const files = fs.readdirSync(out, { recursive: true }).filter((f) => fs.statSync(path.join(out, f)).isFile());
      assert.ok(files.some((f) => f.endsWith('.wasm')), `no .wasm among ${files.join(', ')}`);
      // The routes, the page's title and what only its script, its headers and the demo
      // backend's answers say.
      const traces = ['/decrypt-gather', 'locate you in our system', '/simulator', 'call simulator', 'speechSynthesis', 'Content-Security-Policy', 'verify-code', '/handset/messages', 'gatherSealSimulator', 'relay-app', 'relay bridge', 'letterId'];
      for (const file of files) {
        const bytes = fs.readFileSync(path.join(out, file));
        for (const trace of traces) assert.ok(!bytes.includes(trace), `${file} holds "${trace}"`);
      }
      // And the development build does hold them: the strings looked for are the right ones.
      const dev = Buffer.concat(['index_bg.wasm', 'worker/shim.mjs'].map((f) => fs.readFileSync(path.join(ROOT, 'build-dev', f))));
      for (const trace of traces) assert.ok(dev.includes(trace), `build-dev/ holds "${trace}"`);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('wrangler deploy --dry-run uploads no demo setting and no http:// target', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-dry-'));
    try {
      const printed = execFileSync(
        path.join(ROOT, 'node_modules', '.bin', 'wrangler'),
        ['deploy', '--dry-run', '--outdir', out],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, GATHER_SEAL_WORKER_BUILT: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      assert.match(printed, /Total Upload:/);
      assert.ok(!printed.includes('http://'), printed);
      assert.ok(!printed.includes('GATHER_FLOWS'), printed);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('the dev environment is the one that has flows', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-dry-'));
    try {
      const printed = execFileSync(
        path.join(ROOT, 'node_modules', '.bin', 'wrangler'),
        ['deploy', '--dry-run', '--env', 'dev', '--outdir', out],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, GATHER_SEAL_WORKER_BUILT: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      assert.match(printed, /GATHER_FLOWS/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

/** hex(nonce ‖ ciphertext ‖ tag) with node:crypto, as the worker seals. */
function seal(text, context) {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', Buffer.from(h.KEY, 'hex'), nonce);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('hex');
}
