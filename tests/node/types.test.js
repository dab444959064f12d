'use strict';
// The TypeScript declarations as TypeScript itself reads them (the compiler from the root's dev
// dependencies): a CommonJS consumer (.cts, require condition → index.d.cts), an ES module
// consumer (.mts, import → index.d.ts), and a Cloudflare Worker's setup (moduleResolution
// "bundler" with the "workerd" condition). Each uses every export with the types a user would
// and has lines that must not compile (@ts-expect-error), so that declarations too loose fail
// as surely as declarations too strict.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { PKG_DIR } = require('./support');

const TSC = path.join(__dirname, '../../node_modules/typescript/bin/tsc');

// Every export, used as documented; the comment lines below each are misuses.
const USES = `
const key: string = generateKey();
const sealed: string = encrypt('4821', key, { context: 'CA1:pin' });
const opened: string = decrypt(sealed, [key, key], { context: 'CA1:pin' });
const fields: { pin: string; n: number } = sealFields({ pin: '4821', n: 1 }, key, { context: 'CA1', copy: ['n'] });
const back: { pin: string; n: number } = openFields(fields, key, { context: 'CA1', copy: ['n'] });
const old: { pin: string } = openFields({ pin: sealed }, [key], { context: 'CA1', sharedContext: true });
const submission = verifySubmission('{}', undefined, ['x'.repeat(32)], { now: new Date(), toleranceSeconds: 60 });
const callSid: string = submission.callSid;
const values: Record<string, string> = openSubmission(submission, key, { fields: ['pin'] });
const strict: Record<string, string> = openSubmission(submission, key, { results: ['success', 'too-many-attempts'], verified: ['otp'] });
const cancelled: Record<string, string> = openSubmission(submission, key, { results: ['cancelled'] });
const cards: Record<string, MaskedCard> = maskedCards(submission);
const fromEvent: Record<string, MaskedCard> = maskedCards({ CallSid: 'CA1', card_last4: '4242' });
const brand: CardBrand | undefined = submission.masked?.card?.brand;
const status: StatusEvent = verifyStatusEvent('{}', 't=1,v1=00', 'x'.repeat(32), { toleranceSeconds: 60 });
const shown: string | undefined = status.masked?.last4;
const relayed: true = verifyRelayHandshake('wss://agent.example.com/ws', 't=1,v1=00', ['x'.repeat(32)], { now: 0 });
const unsigned: boolean = verifyRelayHandshake('ws://127.0.0.1:8080/', undefined, 'x'.repeat(32));
const word: GatherResult | undefined = status.result;
const valid: boolean = validateRequest('token', 'sig', 'https://example.com/voice', { Digits: '1234', Multi: ['a', 'b'] });
const noParams: boolean = validateRequest('token', null, 'https://example.com/voice');
const withBody: boolean = validateRequestWithBody('token', undefined, 'https://example.com/?bodySHA256=00', new Uint8Array(2));
const withText: boolean = validateRequestWithBody('token', 'sig', 'https://example.com/?bodySHA256=00', '{}');
const algorithm: string = getSignatureAlgorithm('key=k,algorithm=HMAC_SHA256');
const shared: boolean = validateRequest('secret', 'sig', 'https://example.com/voice', {}, getSignatureAlgorithm(null));
const named: boolean = validateRequestWithBody('secret', 'sig', 'https://example.com/?bodySHA256=00', '{}', 'HMAC_SHA256');
const odd: boolean = validateRequest('secret', 'sig', 'https://example.com/voice', undefined, 'hmac_sha512');
// @ts-expect-error a key is text, not bytes
encrypt('4821', new Uint8Array(32));
// @ts-expect-error encrypt seals with one key, not a ring
encrypt('4821', [key]);
// @ts-expect-error the context is a string
decrypt(sealed, key, { context: 1 });
// @ts-expect-error a field that is not a string must be named in copy
sealFields({ pin: '4821', n: 1 }, key);
// @ts-expect-error … in openFields too
openFields({ pin: sealed, n: 1 }, key, { copy: ['pin'] });
// @ts-expect-error a copied field keeps its type
const copied: { n: string } = sealFields({ pin: '4821', n: 1 }, key, { copy: ['n'] });
// @ts-expect-error validateRequest answers a boolean, not a string
const notText: string = validateRequest('token', 'sig', 'https://example.com/', {});
// @ts-expect-error the auth token is a string
validateRequest(undefined, 'sig', 'https://example.com/', {});
// @ts-expect-error the body is the raw text or bytes, not parsed JSON
validateRequestWithBody('token', 'sig', 'https://example.com/', { a: 1 });
// @ts-expect-error the URL is required
validateRequestWithBody('token', 'sig');
// @ts-expect-error the algorithm is a name, not a number
validateRequest('token', 'sig', 'https://example.com/', {}, 256);
// @ts-expect-error getSignatureAlgorithm reads the header's text
getSignatureAlgorithm({ algorithm: 'HMAC_SHA256' });
// @ts-expect-error results are the worker's result words: a typo does not compile
openSubmission(submission, key, { results: ['sucess'] });
// @ts-expect-error results is an array
openSubmission(submission, key, { results: 'success' });
// @ts-expect-error verified is an array of field names
openSubmission(submission, key, { verified: 'otp' });
// @ts-expect-error a brand is one of the worker's brand words
const notBrand: CardBrand = 'Visa';
// @ts-expect-error maskedCards needs no key
maskedCards(submission, key);
// @ts-expect-error the relay's handshake is checked against the URL as text, not a URL object
verifyRelayHandshake(new URL('wss://agent.example.com/ws'), 't=1,v1=00', 'x'.repeat(32));
// @ts-expect-error … with the secrets
verifyRelayHandshake('wss://agent.example.com/ws', 't=1,v1=00');
// @ts-expect-error a status event's word is one of the event words
const notEvent: StatusEvent['event'] = 'typed';
export const used = [opened, back, old, copied, callSid, values, strict, valid, noParams, withBody, withText, notText,
  cancelled, cards, fromEvent, brand, shown, word, notBrand, notEvent, algorithm, shared, named, odd, relayed, unsigned];
`;

const NAMES = 'encrypt, decrypt, generateKey, sealFields, openFields, verifySubmission, openSubmission, ' +
  'maskedCards, verifyStatusEvent, verifyRelayHandshake, validateRequest, validateRequestWithBody, getSignatureAlgorithm, ' +
  'type MaskedCard, type CardBrand, type StatusEvent, type GatherResult';

let project;

before(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-types-'));
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(PKG_DIR, path.join(project, 'node_modules', 'gather-seal'), 'dir');
  fs.writeFileSync(path.join(project, 'package.json'), '{ "name": "typed-user", "private": true }\n');
  fs.writeFileSync(path.join(project, 'consumer.cts'), `import { ${NAMES} } from 'gather-seal';\n${USES}`);
  fs.writeFileSync(path.join(project, 'consumer.mts'), `import { ${NAMES} } from 'gather-seal';\n${USES}`);
  fs.writeFileSync(path.join(project, 'worker.ts'), `import { ${NAMES} } from 'gather-seal';\n${USES}`);
});

after(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

/** Runs tsc in the project; returns the files it read (--explainFiles), or fails with its errors. */
function tsc(args) {
  try {
    return execFileSync(process.execPath, [TSC, '--noEmit', '--strict', '--explainFiles', ...args], {
      cwd: project, encoding: 'utf8',
    });
  } catch (error) {
    assert.fail(`tsc ${args.join(' ')} failed:\n${error.stdout}${error.stderr}`);
  }
}

/** The declaration file of gather-seal that tsc read for an import. */
function declarationsRead(explained) {
  return [...explained.matchAll(/packageId 'gather-seal\/(index\.d\.c?ts)@/g)].map((m) => m[1]);
}

test('Node16 resolution: require gets index.d.cts, import gets index.d.ts, and both type-check', () => {
  const cjs = tsc(['--module', 'node16', '--moduleResolution', 'node16', 'consumer.cts']);
  assert.deepEqual([...new Set(declarationsRead(cjs))], ['index.d.cts']);
  const esm = tsc(['--module', 'node16', '--moduleResolution', 'node16', 'consumer.mts']);
  assert.deepEqual([...new Set(declarationsRead(esm))], ['index.d.ts']);
});

test('a Cloudflare Worker (bundler resolution, workerd condition) gets the same declarations', () => {
  const worker = tsc(['--module', 'esnext', '--moduleResolution', 'bundler', '--customConditions', 'workerd',
    '--target', 'es2022', '--lib', 'es2022', 'worker.ts']);
  assert.deepEqual([...new Set(declarationsRead(worker))], ['index.d.ts']);
});
