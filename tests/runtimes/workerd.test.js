'use strict';
// A JavaScript Cloudflare Worker that imports the packed package, bundled by `wrangler deploy
// --dry-run` exactly as `wrangler deploy` would bundle it (the "workerd" condition, the .wasm
// uploaded as a module), then run in workerd through Miniflare: it checks Twilio's signature of
// a form webhook and seals the Digits, which node:crypto then opens; it checks a JSON webhook's
// signature and body; and it runs every export (the same names as on Node, Deno and Bun). Once
// as a plain Worker and once with nodejs_compat, where Node's globals are there too.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Miniflare } = require('miniflare');
const {
  ROOT, KEY, TOKEN, CALL_SID, projectWithPackage, signedGather, signedJson, openWithNodeCrypto,
  sealWithNodeCrypto, probe, probeInput, checkProbe,
} = require('./support');

// The Worker a user would write: a few lines of gather-seal in an ordinary fetch handler, named
// imports only (so a bundler that drops what looks unused would show here).
const WORKER = `
import { validateRequest, validateRequestWithBody, encrypt, decrypt } from 'gather-seal';

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const signature = request.headers.get('X-Twilio-Signature');
    if (pathname === '/gather') {
      const params = {};
      for (const [name, value] of await request.formData()) {
        params[name] = Object.hasOwn(params, name) ? [].concat(params[name], value) : value;
      }
      if (!validateRequest(env.TWILIO_AUTH_TOKEN, signature, request.url, params)) {
        return new Response('Forbidden', { status: 403 });
      }
      const sealed = encrypt(params.Digits, env.AES_SECRET, { context: params.CallSid + ':pin' });
      return Response.json({ sealed });
    }
    if (pathname === '/status') {
      const body = await request.text();
      if (!validateRequestWithBody(env.TWILIO_AUTH_TOKEN, signature, request.url, body)) {
        return new Response('Forbidden', { status: 403 });
      }
      const { CallSid, sealedPin } = JSON.parse(body);
      return Response.json({ pin: decrypt(sealedPin, env.AES_SECRET, { context: CallSid + ':pin' }) });
    }
    return new Response('Not found', { status: 404 });
  },
};
`;

// Every export, through the module namespace.
const PROBE_WORKER = `
import * as gs from 'gather-seal';

const probe = ${probe};

export default {
  async fetch(request) {
    return Response.json(probe(gs, await request.json()));
  },
};
`;

let project;
let dist; // the user's Worker, as wrangler would upload it
let probeDist; // the probe Worker
let uploadLine;

before(() => {
  project = projectWithPackage('workerd');
  fs.writeFileSync(path.join(project, 'worker.js'), WORKER);
  fs.writeFileSync(path.join(project, 'probe.js'), PROBE_WORKER);
  fs.writeFileSync(path.join(project, 'wrangler.toml'),
    `name = "gather-seal-js-worker"\nmain = "worker.js"\ncompatibility_date = "${compatibilityDate()}"\n`);
  dist = path.join(project, 'dist');
  probeDist = path.join(project, 'dist-probe');
  uploadLine = bundle([], dist).match(/Total Upload: .*/)?.[0];
  bundle(['probe.js'], probeDist);
}, { timeout: 120_000 });

/** `wrangler deploy --dry-run`: bundles as a deploy would, into `outdir`; returns what it printed. */
function bundle(args, outdir) {
  return execFileSync(path.join(ROOT, 'node_modules', '.bin', 'wrangler'),
    ['deploy', '--dry-run', ...args, '--outdir', outdir], {
      cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    });
}

after(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

/** A bundled Worker in workerd, with these compatibility flags and bindings. */
function startWorker(t, compatibilityFlags, bindings = {}, outdir = dist) {
  const mf = new Miniflare({
    modules: true,
    modulesRoot: outdir,
    scriptPath: path.join(outdir, fs.readdirSync(outdir).find((f) => f.endsWith('.js'))),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: compatibilityDate(),
    compatibilityFlags,
    bindings,
  });
  t.after(() => mf.dispose());
  return mf;
}

function compatibilityDate() {
  const match = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8').match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  assert.ok(match, 'wrangler.toml has a compatibility_date');
  return match[1];
}

test('wrangler bundles the workerd entry point and uploads the .wasm as a module', (t) => {
  assert.ok(uploadLine, 'wrangler printed the upload size');
  t.diagnostic(`this Worker with gather-seal: ${uploadLine}`);
  const files = fs.readdirSync(dist);
  const wasm = files.filter((f) => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, `one .wasm module: ${files}`);
  const bundle = fs.readFileSync(path.join(dist, 'worker.js'), 'utf8');
  assert.match(bundle, /node_modules\/gather-seal\/workerd\.js/, 'the workerd entry point was chosen');
  assert.doesNotMatch(bundle, /node:fs|readFileSync|index\.cjs/, 'nothing of the Node entry points');
  assert.equal(fs.readFileSync(path.join(dist, wasm[0])).length,
    fs.readFileSync(path.join(project, 'node_modules', 'gather-seal', 'gather_seal_wasm_bg.wasm')).length);
});

for (const compatibilityFlags of [[], ['nodejs_compat']]) {
  const flavour = compatibilityFlags.length ? 'with nodejs_compat' : 'a plain Worker';

  test(`${flavour}: a twilio-signed form webhook is accepted and its Digits sealed for node:crypto`, async (t) => {
    const mf = startWorker(t, compatibilityFlags, { TWILIO_AUTH_TOKEN: TOKEN, AES_SECRET: KEY });
    const { url, params, signature } = signedGather('https://example.com/gather?step=pin');
    const post = (form, sig = signature) => mf.dispatchFetch(url, {
      method: 'POST', body: new URLSearchParams(form),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig },
    });
    const accepted = await post(params);
    assert.equal(accepted.status, 200);
    const { sealed } = await accepted.json();
    assert.equal(openWithNodeCrypto(sealed, KEY, `${CALL_SID}:pin`), params.Digits);

    for (const [what, response] of [
      ['another Digits', await post({ ...params, Digits: '0000' })],
      ['no signature', await post(params, '')],
      ['a truncated signature', await post(params, signature.slice(0, -2))],
    ]) {
      assert.equal(response.status, 403, what);
      await response.arrayBuffer();
    }
  });

  test(`${flavour}: a twilio-signed JSON webhook is accepted only with its own body`, async (t) => {
    const mf = startWorker(t, compatibilityFlags, { TWILIO_AUTH_TOKEN: TOKEN, AES_SECRET: KEY });
    const body = JSON.stringify({ CallSid: CALL_SID, sealedPin: sealWithNodeCrypto('4321', KEY, `${CALL_SID}:pin`) });
    const { url, signature } = signedJson('https://example.com/status', body);
    const post = (text) => mf.dispatchFetch(url, {
      method: 'POST', body: text, headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': signature },
    });
    const accepted = await post(body);
    assert.equal(accepted.status, 200);
    assert.deepEqual(await accepted.json(), { pin: '4321' });
    const tampered = await post(body.replace('4321', '4322').replace(/"sealedPin"/, '"sealedPin" '));
    assert.equal(tampered.status, 403);
    await tampered.arrayBuffer();
  });

  test(`${flavour}: every export works, the same names as everywhere`, async (t) => {
    const mf = startWorker(t, compatibilityFlags, {}, probeDist);
    const input = probeInput();
    const response = await mf.dispatchFetch('https://example.com/probe', { method: 'POST', body: JSON.stringify(input) });
    assert.equal(response.status, 200);
    checkProbe(await response.json(), input);
  });
}
