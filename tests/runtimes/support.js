'use strict';
// Shared by the tests that run the PACKED package (npm pack of pkg/, installed from the tarball
// as a user installs it) in other runtimes: workerd (through wrangler's bundler and Miniflare),
// Deno and Bun. Requests are signed by the official `twilio` package and sealed values checked
// with node:crypto; nothing here uses the package's own code to make or check a value.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const twilio = require('twilio');

const ROOT = path.join(__dirname, '..', '..');
const PKG_DIR = path.join(ROOT, 'pkg');

// The same export names in every runtime (index.d.ts declares these).
const EXPORTS = ['decrypt', 'encrypt', 'generateKey', 'getSignatureAlgorithm', 'maskedCards', 'openFields',
  'openSubmission', 'sealFields',
  'validateRequest', 'validateRequestWithBody', 'verifyRelayHandshake', 'verifyStatusEvent', 'verifySubmission'];

const KEY = crypto.randomBytes(32).toString('hex');
const TOKEN = crypto.randomBytes(16).toString('hex');
const CALL_SID = `CA${crypto.randomBytes(16).toString('hex')}`;

/** A temporary project with gather-seal installed from a fresh `npm pack` of pkg/. */
function projectWithPackage(prefix, packageJson = {}) {
  if (!fs.existsSync(path.join(PKG_DIR, 'package.json'))) {
    throw new Error('pkg/ is missing: run bash scripts/build-node.sh');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gather-seal-${prefix}-`));
  const [{ filename }] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: PKG_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const tarball = path.join(dir, path.basename(filename));
  fs.writeFileSync(path.join(dir, 'package.json'),
    JSON.stringify({ name: `${prefix}-user`, private: true, ...packageJson }, null, 2));
  // The tarball has no dependencies, so this needs no registry.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--loglevel=error', tarball], {
    cwd: dir, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const installed = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  assert.match(installed.dependencies['gather-seal'], /^file:.*gather-seal-[\d.]+\.tgz$/, 'installed from the tarball');
  assert.ok(!fs.lstatSync(path.join(dir, 'node_modules', 'gather-seal')).isSymbolicLink(), 'a copy, not a link');
  return dir;
}

// Deno and Bun are dev dependencies (package.json pins them; `npm ci` installs them from the
// npm registry). node_modules/.bin/deno runs wherever npm put it: the postinstall script links
// the binary in, and without it the package's bin.cjs finds the platform package's binary.
// node_modules/.bin/bun needs bun's postinstall script (npm may skip dependency install
// scripts); without it the platform package still holds the binary, so look there next.
const BUN_PLATFORM = `@oven/bun-${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}`;
const RUNTIMES = {
  deno: ['.bin/deno'],
  bun: ['.bin/bun', `${BUN_PLATFORM}/bin/bun`],
};

/**
 * `{ path }` of a runtime from node_modules, the first candidate that answers `--version`, or
 * `{ missing: reason }` when none does (see tests/support/ci.js for what a test does then).
 */
function runtime(name) {
  const tried = [];
  for (const candidate of RUNTIMES[name]) {
    const file = path.join(ROOT, 'node_modules', candidate);
    try {
      execFileSync(file, ['--version'], { stdio: 'ignore', timeout: 30_000 });
      return { path: file };
    } catch (error) {
      tried.push(`node_modules/${candidate}: ${error.code === 'ENOENT' ? 'not there' : 'does not run'}`);
    }
  }
  return { missing: `${name} is not installed here (${tried.join('; ')})` };
}

/** A voice webhook request as Twilio signs it (the official package computes the signature). */
function signedGather(url, params = { CallSid: CALL_SID, Digits: '4821', From: '+15005550006' }) {
  return { url, params, signature: twilio.getExpectedTwilioSignature(TOKEN, url, params) };
}

/** A form webhook signed with a shared key and HMAC-SHA256, and the header that announces it. */
function sharedKeySigned(url, params = { CallSid: CALL_SID, Digits: '4821', From: '+15005550006' }) {
  const key = crypto.randomBytes(32).toString('base64');
  return {
    key,
    header: 'key=webhooks_sharedkey_test,algorithm=HMAC_SHA256',
    signature: twilio.getExpectedTwilioSignature(key, url, params, 'HMAC_SHA256'),
  };
}

/** A JSON webhook as Twilio signs it: bodySHA256 in the URL, the URL signed with no parameters. */
function signedJson(base, body) {
  const url = `${base}${base.includes('?') ? '&' : '?'}bodySHA256=${twilio.getExpectedBodyHash(body)}`;
  return { url, body, signature: twilio.getExpectedTwilioSignature(TOKEN, url, {}) };
}

/** Opens hex(nonce 12 ‖ ciphertext ‖ tag 16) with node:crypto. */
function openWithNodeCrypto(sealedHex, keyHex, context) {
  assert.match(sealedHex, /^(?:[0-9a-f]{2}){28,}$/);
  const raw = Buffer.from(sealedHex, 'hex');
  const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
}

/** Seals with node:crypto, for the package to open. */
function sealWithNodeCrypto(plainText, keyHex, context) {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), nonce);
  if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plainText, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('hex');
}

/**
 * Runs inside the runtime under test, as source text (`${probe}`), so it must stand alone: uses
 * every export of `gs` on `input` and returns what happened, errors as { error: message }.
 */
function probe(gs, input) {
  const out = {};
  const attempt = (name, fn) => {
    try {
      out[name] = fn();
    } catch (e) {
      out[name] = { error: String(e && e.message) };
    }
  };
  const { key, context, gather, json } = input;
  attempt('names', () => Object.keys(gs).sort());
  attempt('sealed', () => gs.encrypt(input.digits, key, { context }));
  attempt('opened', () => gs.decrypt(input.sealedByNode, [gs.generateKey(), key], { context }));
  attempt('fields', () => gs.openFields(gs.sealFields({ pin: input.digits, n: 1 }, key, { copy: ['n'] }), [key], { copy: ['n'] }));
  attempt('fieldSealed', () => gs.sealFields({ pin: input.digits }, key, { context: input.callSid }).pin);
  attempt('notSealed', () => gs.openFields({ pin: { $gt: '' } }, key));
  attempt('loneSurrogate', () => gs.encrypt('4821\uD800', key));
  attempt('newKey', () => /^[0-9a-f]{64}$/.test(gs.generateKey()));
  attempt('valid', () => gs.validateRequest(input.token, gather.signature, gather.url, gather.params));
  attempt('tampered', () => gs.validateRequest(input.token, gather.signature, gather.url, { ...gather.params, Digits: '0000' }));
  attempt('otherToken', () => gs.validateRequest(gs.generateKey(), gather.signature, gather.url, gather.params));
  attempt('jsonValid', () => gs.validateRequestWithBody(input.token, json.signature, json.url, json.body));
  attempt('jsonBytes', () => gs.validateRequestWithBody(input.token, json.signature, json.url, new TextEncoder().encode(json.body)));
  attempt('algorithm', () => gs.getSignatureAlgorithm(input.shared.header));
  attempt('sharedValid', () => gs.validateRequest(input.shared.key, input.shared.signature, gather.url, gather.params,
    gs.getSignatureAlgorithm(input.shared.header)));
  attempt('sharedAsSha1', () => gs.validateRequest(input.shared.key, input.shared.signature, gather.url, gather.params));
  attempt('jsonTampered', () => gs.validateRequestWithBody(input.token, json.signature, json.url, `${json.body} `));
  attempt('openError', () => gs.decrypt('00', key));
  attempt('typeError', () => gs.validateRequest('', gather.signature, gather.url, gather.params));
  return out;
}

/** What probe() is given: values made by node:crypto and requests signed by twilio. */
function probeInput() {
  const context = `${CALL_SID}:pin`;
  return {
    key: KEY, context, digits: '4821', token: TOKEN, callSid: CALL_SID,
    sealedByNode: sealWithNodeCrypto('1234', KEY, context),
    gather: signedGather('https://example.com/gather?step=pin'),
    // The same request signed with a Webhook Rule's shared key (HMAC-SHA256), as twilio 6.3 signs.
    shared: sharedKeySigned('https://example.com/gather?step=pin'),
    json: signedJson('https://example.com/status', JSON.stringify({ CallSid: CALL_SID, CallStatus: 'completed' })),
  };
}

/** Checks what probe() returned against node:crypto and the twilio package's verdicts. */
function checkProbe(out, input) {
  assert.deepEqual(out.names, EXPORTS, 'the same exports as everywhere else');
  assert.equal(openWithNodeCrypto(out.sealed, input.key, input.context), input.digits, 'node:crypto opens the sealed value');
  assert.equal(out.opened, '1234', 'opens what node:crypto sealed');
  assert.deepEqual(out.fields, { pin: input.digits, n: 1 });
  assert.equal(openWithNodeCrypto(out.fieldSealed, input.key, `${input.callSid}:pin`), input.digits,
    'sealFields binds a field to "<context>:<field>", as the worker does');
  assert.match(out.notSealed?.error ?? '', /^gather-seal: openFields /);
  assert.match(out.loneSurrogate?.error ?? '', /^gather-seal: plainText must be well-formed text/);
  assert.equal(out.newKey, true);
  assert.deepEqual([out.valid, out.tampered, out.otherToken], [true, false, false], 'validateRequest');
  assert.deepEqual([out.jsonValid, out.jsonBytes, out.jsonTampered], [true, true, false], 'validateRequestWithBody');
  assert.equal(out.algorithm, 'HMAC_SHA256', 'getSignatureAlgorithm');
  assert.deepEqual([out.sharedValid, out.sharedAsSha1], [true, false], 'validateRequest with a shared key');
  assert.match(out.openError?.error ?? '', /^gather-seal: /);
  assert.match(out.typeError?.error ?? '', /^gather-seal: authToken must be a non-empty string$/);
}

module.exports = {
  ROOT, EXPORTS, KEY, TOKEN, CALL_SID,
  projectWithPackage, runtime, signedGather, signedJson, openWithNodeCrypto, sealWithNodeCrypto,
  probe, probeInput, checkProbe,
};
