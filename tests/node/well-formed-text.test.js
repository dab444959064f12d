'use strict';
// Strings that are not well-formed UTF-16 (a lone surrogate) are refused, never changed: the
// WebAssembly module reads UTF-8, and the encoder on the way in would make each lone surrogate
// U+FFFD, so two different texts would seal, open or sign as one. Every string argument that
// reaches the module is covered, position by position. validateRequest's and
// validateRequestWithBody's request data (URL, parameters, body) get `false` instead of an
// error, as for anything else a request can carry.
//
// Regression (fixed): they were changed silently, e.g.
//   decrypt(encrypt('4821', key, { context: 'CA1\uD800' }), key, { context: 'CA1\uDBFF' }) → '4821'
//   encrypt('a\uD800b', key) opened as 'a\uFFFDb'
// and a signing secret or an auth token with a lone surrogate signed as its U+FFFD form.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const twilio = require('twilio');
const { gs, reference, referenceKey, remember, expectSealError } = require('./support');

const KEY = referenceKey();
const SECRET = remember('q'.repeat(24) + KEY.slice(0, 16));
const TOKEN = remember(KEY.slice(0, 32));
const CALL_SID = `CA${'3c'.repeat(16)}`;
const WELL_FORMED = /^gather-seal: .*must be well-formed text, without lone surrogates$/;

// Lone high, lone low, a pair in the wrong order, and each at either end.
const LONE = ['a\uD800b', '\uDC00x', 'x\uDBFF', '\uDC00\uD800', '\uD83D'];
const PAIRED = '\uD83D\uDD10'; // 🔐: a well-formed surrogate pair

test('encrypt and decrypt refuse lone surrogates in the plaintext, the key, the sealed value and the context', () => {
  const sealed = gs.encrypt('4821', KEY, { context: 'CA1' });
  for (const lone of LONE) {
    expectSealError(gs.encrypt, [lone, KEY], WELL_FORMED);
    expectSealError(gs.encrypt, [`4821${lone}`, KEY, { context: 'CA1' }], WELL_FORMED);
    expectSealError(gs.encrypt, ['4821', KEY, { context: `CA1${lone}` }], WELL_FORMED);
    expectSealError(gs.encrypt, ['4821', `${KEY}${lone}`], WELL_FORMED);
    expectSealError(gs.decrypt, [sealed, KEY, { context: `CA1${lone}` }], WELL_FORMED);
    expectSealError(gs.decrypt, [`${sealed}${lone}`, KEY, { context: 'CA1' }], WELL_FORMED);
    expectSealError(gs.decrypt, [sealed, `${KEY}${lone}`, { context: 'CA1' }], WELL_FORMED);
    expectSealError(gs.decrypt, [sealed, [referenceKey(), `${lone}${KEY}`], { context: 'CA1' }], WELL_FORMED);
  }
});

test('two contexts that differ only in their lone surrogates do not open each other', () => {
  const sealed = gs.encrypt('4821', KEY, { context: 'CA1\uFFFD' });
  expectSealError(gs.encrypt, ['4821', KEY, { context: 'CA1\uD800' }], WELL_FORMED);
  expectSealError(gs.decrypt, [sealed, KEY, { context: 'CA1\uDBFF' }], WELL_FORMED);
  assert.equal(gs.decrypt(sealed, KEY, { context: 'CA1\uFFFD' }), '4821');
});

test('well-formed text outside the BMP seals and opens as it is', () => {
  const text = `${PAIRED} 4821 ${PAIRED}`;
  const sealed = gs.encrypt(text, KEY, { context: `CA1:${PAIRED}` });
  assert.equal(reference.open(sealed, KEY, `CA1:${PAIRED}`), text);
  assert.equal(gs.decrypt(sealed, KEY, { context: `CA1:${PAIRED}` }), text);
  assert.deepEqual(gs.openFields(gs.sealFields({ [PAIRED]: text }, KEY), KEY), { [PAIRED]: text });
});

test('sealFields and openFields refuse lone surrogates in values, field names, keys and the context', () => {
  const sealed = gs.sealFields({ pin: '4821' }, KEY, { context: 'CA1' });
  for (const lone of LONE) {
    expectSealError(gs.sealFields, [{ pin: `4821${lone}` }, KEY], WELL_FORMED);
    expectSealError(gs.sealFields, [{ [`pin${lone}`]: '4821' }, KEY], WELL_FORMED);
    expectSealError(gs.sealFields, [{ pin: '4821' }, KEY, { context: `CA1${lone}` }], WELL_FORMED);
    expectSealError(gs.sealFields, [{ pin: '4821' }, `${lone}${KEY}`], WELL_FORMED);
    expectSealError(gs.openFields, [{ pin: `${sealed.pin}${lone}` }, KEY, { context: 'CA1' }], WELL_FORMED);
    expectSealError(gs.openFields, [{ [`pin${lone}`]: sealed.pin }, KEY, { context: 'CA1' }], WELL_FORMED);
    expectSealError(gs.openFields, [sealed, KEY, { context: `CA1${lone}` }], WELL_FORMED);
    expectSealError(gs.openFields, [sealed, [`${KEY}${lone}`], { context: 'CA1' }], WELL_FORMED);
  }
  // A field copied as it is, and a field name that is not part of the context (sharedContext),
  // never reach the module: they may hold anything.
  const copied = gs.sealFields({ pin: '4821', note: 'a\uD800' }, KEY, { copy: ['note'] });
  assert.equal(copied.note, 'a\uD800');
  const shared = gs.sealFields({ 'pin\uD800': '4821' }, KEY, { sharedContext: true });
  assert.deepEqual(gs.openFields(shared, KEY, { sharedContext: true }), { 'pin\uD800': '4821' });
});

test('verifySubmission refuses lone surrogates in the body, the header and the secrets', () => {
  const body = JSON.stringify({ callSid: CALL_SID, note: 'x' });
  assert.equal(gs.verifySubmission(body, reference.sign(body, SECRET), SECRET).callSid, CALL_SID);
  for (const lone of LONE) {
    // Signed over the U+FFFD form, as node:crypto's HMAC of the string would be.
    const loneBody = `{"callSid":"${CALL_SID}","note":"${lone}"}`;
    expectSealError(gs.verifySubmission, [loneBody, reference.sign(loneBody, SECRET), SECRET], WELL_FORMED);
    expectSealError(gs.verifySubmission, [body, `${reference.sign(body, SECRET)}${lone}`, SECRET], WELL_FORMED);
    expectSealError(gs.verifySubmission, [body, reference.sign(body, SECRET), `${SECRET}${lone}`], WELL_FORMED);
    expectSealError(gs.verifySubmission, [body, reference.sign(body, SECRET), [SECRET, `${lone}${SECRET}`]], WELL_FORMED);
  }
});

test('openSubmission refuses lone surrogates in sealed values and keys; they are never field names', () => {
  const submission = { callSid: CALL_SID, result: 'success', encryptedPinDigits: reference.seal('4321', KEY, `${CALL_SID}:pin`) };
  assert.deepEqual(gs.openSubmission(submission, KEY), { pin: '4321' });
  for (const lone of LONE) {
    expectSealError(gs.openSubmission, [{ ...submission, encryptedPinDigits: `${submission.encryptedPinDigits}${lone}` }, KEY], WELL_FORMED);
    expectSealError(gs.openSubmission, [submission, `${KEY}${lone}`], WELL_FORMED);
    expectSealError(gs.openSubmission, [submission, KEY, { fields: [`pin${lone}`] }], /^gather-seal: options\.fields/);
    expectSealError(gs.openSubmission, [submission, KEY, { verified: [`otp${lone}`] }], /^gather-seal: options\.verified/);
  }
});

test("validateRequest: a lone surrogate in the URL or a parameter gives false, even signed over its U+FFFD form", () => {
  const url = 'https://example.com/gather?step=pin';
  const params = { CallSid: CALL_SID, Digits: '4821' };
  assert.equal(gs.validateRequest(TOKEN, twilio.getExpectedTwilioSignature(TOKEN, url, params), url, params), true);
  for (const lone of LONE) {
    const cases = [
      [`${url}${lone}`, params],
      [url, { ...params, Digits: `4821${lone}` }],
      [url, { ...params, [`Name${lone}`]: 'x' }],
      [url, { ...params, Multi: ['a', `b${lone}`] }],
    ];
    for (const [u, p] of cases) {
      // The twilio package signs and checks the U+FFFD form, so it says true.
      const signature = twilio.getExpectedTwilioSignature(TOKEN, u, p);
      assert.equal(twilio.validateRequest(TOKEN, signature, u, p), true);
      assert.equal(gs.validateRequest(TOKEN, signature, u, p), false, JSON.stringify([u, p]));
    }
    expectSealError(gs.validateRequest, [`${TOKEN}${lone}`, 'x', url, params], WELL_FORMED);
  }
});

test('validateRequestWithBody: a lone surrogate in the URL or the body gives false; in the token, an error', () => {
  const body = JSON.stringify({ CallSid: CALL_SID });
  const signedUrl = (b) => `https://example.com/status?bodySHA256=${twilio.getExpectedBodyHash(b)}`;
  const url = signedUrl(body);
  assert.equal(gs.validateRequestWithBody(TOKEN, twilio.getExpectedTwilioSignature(TOKEN, url, {}), url, body), true);
  for (const lone of LONE) {
    const loneBody = `{"CallSid":"${CALL_SID}${lone}"}`;
    const bodyUrl = signedUrl(loneBody);
    const bodySignature = twilio.getExpectedTwilioSignature(TOKEN, bodyUrl, {});
    assert.equal(twilio.validateRequestWithBody(TOKEN, bodySignature, bodyUrl, loneBody), true);
    assert.equal(gs.validateRequestWithBody(TOKEN, bodySignature, bodyUrl, loneBody), false);
    const loneUrl = `${url}&x=${lone}`;
    const urlSignature = twilio.getExpectedTwilioSignature(TOKEN, loneUrl, {});
    assert.equal(gs.validateRequestWithBody(TOKEN, urlSignature, loneUrl, body), false);
    expectSealError(gs.validateRequestWithBody, [`${TOKEN}${lone}`, 'x', url, body], WELL_FORMED);
  }
});
