// Sealing (encrypt, decrypt, sealFields, openFields, generateKey), the worker's submissions
// (verifySubmission, openSubmission) and its relay's handshake (verifyRelayHandshake): argument
// checks here, the work in WebAssembly.

import { sealedHex, plainText, fail, text, wellFormed, isPlainObject, toTag, bodyBytes, withInput } from './core.js';
import * as wasm from './gather_seal_wasm_bg.js';

function oneKey(value) {
  if (typeof value !== 'string' || value.indexOf(',') !== -1) {
    fail('keyHex must be one key: a string of 64 hex characters');
  }
  return text(value, 'keyHex');
}

function keyRing(value) {
  if (typeof value === 'string') return text(value, 'keys');
  const count = Array.isArray(value) ? value.length : 0;
  if (!(count > 0)) notKeys();
  // Each key read once and checked as it joins the text: a getter or a Proxy cannot change it
  // after its check.
  let joined = '';
  for (let i = 0; i < count; i++) {
    const key = value[i];
    if (typeof key !== 'string' || key.indexOf(',') !== -1) notKeys();
    joined = i === 0 ? text(key, 'keys') : `${joined},${text(key, 'keys')}`;
  }
  return joined;
}

function notKeys() {
  fail('keys must be a string of 64 hex characters or a non-empty array of them');
}

const NO_OPTIONS = Object.freeze({ __proto__: null });

/** An options object (undefined and null are none), whose members are then read once each. */
function optionsOf(options, example) {
  if (options === undefined || options === null) return NO_OPTIONS;
  if (!isPlainObject(options)) fail(`options must be an object such as ${example}`);
  return options;
}

/** options.context as given: '' when missing. */
function contextOf(context) {
  if (context === undefined || context === null) return '';
  if (typeof context !== 'string') fail('options.context must be a string');
  return text(context, 'options.context');
}

/** The context of encrypt's and decrypt's options. */
function contextOption(options) {
  return options === undefined ? '' : contextOf(optionsOf(options, '{ context: "..." }').context);
}

function plainObject(value, name) {
  if (!isPlainObject(value)) fail(`${name} must be a plain object`);
  return value;
}

/** Seals `plainText` under `keyHex`: hex(nonce 12 ‖ ciphertext ‖ tag 16). */
export function encrypt(plainText, keyHex, options) {
  const plain = text(plainText, 'plainText');
  const key = oneKey(keyHex);
  const context = contextOption(options);
  return sealedHex(withInput(plain, key, (plainLen, keyLen) => wasm.encryptToBuffer(plainLen, keyLen, context)));
}

/** Opens a sealed value with one key, or with an array of keys (current first, then older). */
export function decrypt(cipherHex, keys, options) {
  const sealed = text(cipherHex, 'cipherHex');
  const ring = keyRing(keys);
  const context = contextOption(options);
  return plainText(withInput(ring, undefined, (ringLen) => wasm.decryptToBuffer(sealed, ringLen, context)));
}

/** A new random key: 64 lowercase hex characters. */
export function generateKey() {
  return plainText(wasm.generateKeyToBuffer());
}

/**
 * A new object with every field of `object` sealed, each under the context
 * `${options.context ?? ''}:${field name}`; the fields named in `options.copy` are copied as they
 * are, and any other field that is not a string is refused.
 */
export function sealFields(object, keyHex, options) {
  const fields = plainObject(object, 'object');
  const key = oneKey(keyHex);
  const how = fieldOptions(options);
  const entries = fieldEntries(fields, how, 'sealFields seals strings');
  withInput(key, undefined, wasm.prepareKeys); // a bad key fails even when there is nothing to seal
  return fieldsThrough(entries, how, (value, context) =>
    sealedHex(withInput(value, key, (plainLen, keyLen) => wasm.encryptToBuffer(plainLen, keyLen, context))));
}

/** The reverse of sealFields: every field opened, but those named in `options.copy`. */
export function openFields(object, keys, options) {
  const fields = plainObject(object, 'object');
  const ring = keyRing(keys);
  const how = fieldOptions(options);
  const entries = fieldEntries(fields, how, 'openFields opens sealed values, which are strings');
  withInput(ring, undefined, wasm.prepareKeys);
  return fieldsThrough(entries, how, (value, context) =>
    plainText(withInput(ring, undefined, (ringLen) => wasm.decryptToBuffer(value, ringLen, context))));
}

/** sealFields' and openFields' options: { context, copy, sharedContext }, each read once. */
function fieldOptions(options) {
  const { context, copy, sharedContext } = optionsOf(options, '{ context: "...", copy: [...] }');
  let copied = [];
  if (copy !== undefined && copy !== null) {
    // Read once into an array of our own, like a key ring.
    copied = Array.isArray(copy) ? Array.from(copy) : undefined;
    if (!copied?.every((name) => typeof name === 'string')) fail('options.copy must be an array of field names');
  }
  if (sharedContext !== undefined && sharedContext !== null && typeof sharedContext !== 'boolean') {
    fail('options.sharedContext must be true or false');
  }
  return { context: contextOf(context), copy: new Set(copied), shared: sharedContext === true };
}

/**
 * `object`'s own enumerable entries, read once, each checked: a value to seal or open must be a
 * string, and it and (when it is part of the context) its field's name well-formed text.
 */
function fieldEntries(object, how, what) {
  const entries = Object.entries(object);
  for (const [name, value] of entries) {
    if (how.copy.has(name)) continue;
    if (typeof value !== 'string') {
      fail(`${what}: a field that is not a string must be named in options.copy`);
    }
    text(value, 'every field');
    if (!how.shared) text(name, 'every field name');
  }
  return entries;
}

/** A new plain object with the entries in order, all but the copied ones through `change`. */
function fieldsThrough(entries, how, change) {
  const result = {};
  for (const [name, value] of entries) {
    // Defined, not assigned: an own "__proto__" entry (JSON.parse makes them) must stay a
    // field, not become the result's prototype.
    Object.defineProperty(result, name, {
      __proto__: null,
      value: how.copy.has(name) ? value : change(value, how.shared ? how.context : `${how.context}:${name}`),
      writable: true, enumerable: true, configurable: true,
    });
  }
  return result;
}

// ---- Submissions: what the worker hands an application (src/handoff.rs) ----

const DEFAULT_TOLERANCE_SECONDS = 300;
// The worker refuses a BACKEND_SIGNING_SECRET shorter than this; so does the receiving side, so
// that an empty or placeholder secret (an unset variable read as '') cannot accept forgeries.
const MIN_SECRET_CHARS = 32;
// What the worker accepts as a CallSid (flow::is_call_sid).
const CALL_SID = /^[A-Za-z0-9]{1,64}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const own = (object, name) => Object.prototype.hasOwnProperty.call(object, name);

function signingSecrets(value) {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? Array.from(value) : [];
  if (list.length === 0 || !list.every((s) => typeof s === 'string' &&
      [...s].length >= MIN_SECRET_CHARS && s.indexOf('\0') === -1)) {
    fail(`secrets must be a signing secret of at least ${MIN_SECRET_CHARS} characters or a non-empty array of them`);
  }
  for (const s of list) text(s, 'secrets');
  return list.join('\0'); // split again in wasm; a secret from the environment has no NUL
}

const isTime = (n) => typeof n === 'number' && Number.isFinite(n) && n >= 0;

function verifyOptions(options) {
  if (options === undefined || options === null) options = {};
  if (!isPlainObject(options)) fail('options must be an object such as { toleranceSeconds: 300 }');
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = options.now ?? Date.now();
  if (!isTime(toleranceSeconds)) fail('options.toleranceSeconds must be a non-negative finite number');
  const ms = toTag.call(now) === '[object Date]' ? now.getTime() : now;
  if (!isTime(ms)) fail('options.now must be a Date or a non-negative number of milliseconds since the epoch');
  // Whole seconds, as in the header; a fraction of the tolerance is dropped.
  return { tolerance: Math.floor(toleranceSeconds), nowSeconds: Math.floor(ms / 1000) };
}

/**
 * Checks the X-Gather-Seal-Signature header of a submission against its raw body, with any of
 * `secrets` (the new and the old one during a rotation), and returns the parsed submission.
 */
export function verifySubmission(rawBody, signatureHeader, secrets, options) {
  const body = bodyBytes(rawBody, 'rawBody') ?? fail('rawBody must be well-formed text, without lone surrogates');
  if (signatureHeader !== undefined && signatureHeader !== null) {
    text(signatureHeader, 'signatureHeader');
  }
  const joined = signingSecrets(secrets);
  const { tolerance, nowSeconds } = verifyOptions(options);
  withInput(joined, undefined, (secretsLen) =>
    wasm.verifySubmission(body, signatureHeader ?? undefined, secretsLen, tolerance, nowSeconds));
  let submission;
  try {
    submission = JSON.parse(utf8.decode(body));
  } catch {
    // JSON.parse's own message quotes the body.
  }
  if (!isPlainObject(submission)) throw new Error('gather-seal: submission body is not a JSON object');
  return submission;
}

// The relay's upstream (config::Relays): the URL it dials and signs, scheme and all.
const SOCKET_URL = /^wss?:\/\//i;
// The core's signature errors (SignatureError) speak of a submission; a handshake's say so.
const OF_SUBMISSION = 'gather-seal: submission ';
const OF_HANDSHAKE = 'gather-seal: relay handshake ';

/**
 * Checks the X-Gather-Seal-Signature header a sealing relay opened the application's WebSocket
 * with, against the URL it dialled (its `upstream`, exactly as configured), as verifySubmission
 * checks a submission: with any of `secrets`, in constant time, within the tolerance. The same
 * check in WebAssembly, over the URL's bytes. Returns true, or throws.
 */
export function verifyRelayHandshake(url, signatureHeader, secrets, options) {
  if (typeof url !== 'string' || !SOCKET_URL.test(url)) {
    fail('url must be the whole ws:// or wss:// URL the relay dialled (its upstream), not the request\'s path');
  }
  const signed = bodyBytes(url, 'url') ?? fail('url must be well-formed text, without lone surrogates');
  if (signatureHeader !== undefined && signatureHeader !== null) {
    text(signatureHeader, 'signatureHeader');
  }
  const joined = signingSecrets(secrets);
  const { tolerance, nowSeconds } = verifyOptions(options);
  try {
    withInput(joined, undefined, (secretsLen) =>
      wasm.verifySubmission(signed, signatureHeader ?? undefined, secretsLen, tolerance, nowSeconds));
  } catch (e) {
    const message = e instanceof Error ? e.message : undefined;
    if (typeof message === 'string' && message.startsWith(OF_SUBMISSION)) {
      throw new Error(OF_HANDSHAKE + message.slice(OF_SUBMISSION.length));
    }
    throw e;
  }
  return true;
}

// A field's sealed value travels under `encrypted<Name>Digits` (handoff::json_key):
// `last_four` ↔ `encryptedLastFourDigits`. Which names are valid is the core's rule.
const SUBMISSION_KEY = /^encrypted((?:[A-Z][a-z0-9]*)+)Digits$/;

function jsonKey(name) {
  return `encrypted${name.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}Digits`;
}

/** The field whose key `key` is, or undefined for any other key. */
function fieldName(key) {
  const middle = SUBMISSION_KEY.exec(key)?.[1];
  const name = middle?.match(/[A-Z][a-z0-9]*/g).map((w) => w.toLowerCase()).join('_');
  return name !== undefined && wasm.isFieldName(name) ? name : undefined;
}

/**
 * openSubmission's options, each read once: `fields` (names whose values must be present),
 * `results` (the result words accepted; `['success']` unless given) and `verified` (the `verify`
 * fields whose code must have passed).
 */
function openOptions(options) {
  const { fields, results, verified } = optionsOf(options, '{ fields: [...], results: [...], verified: [...] }');
  return {
    fields: fieldNames(fields, 'options.fields'),
    results: resultWords(results),
    verified: fieldNames(verified, 'options.verified'),
  };
}

/** A list of field names as an array of our own ([] when missing). */
function fieldNames(value, name) {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? Array.from(value) : null;
  if (!list || !list.every((f) => typeof f === 'string' && wellFormed(f) && wasm.isFieldName(f))) {
    fail(`${name} must be an array of field names (a-z and 0-9 words joined by _)`);
  }
  return list;
}

const ONLY_SUCCESS = Object.freeze(['success']);

/** options.results as an array of our own; only success when missing. */
function resultWords(value) {
  if (value === undefined || value === null) return ONLY_SUCCESS;
  const list = Array.isArray(value) ? Array.from(value) : null;
  if (!list || list.length === 0 || !list.every((word) => typeof word === 'string')) {
    fail('options.results must be a non-empty array of result words');
  }
  return list;
}

/**
 * The `verify` fields a submission says passed: a JSON array in an action submission
 * (`"verified":["otp"]`), a comma-separated text in a redirect's query (`verified=otp,otp2`).
 * Anything else is none.
 */
function passedFields(value) {
  if (typeof value === 'string') return value.split(',');
  return Array.isArray(value) ? Array.from(value).filter((name) => typeof name === 'string') : [];
}

/**
 * Opens every `encrypted<Name>Digits` value of a submission (or of a Twilio Function's `event`
 * in redirect mode) with the context `<callSid>:<name>`: `{ card: '1234', pin: '4321' }`.
 * Strict: a submission whose `result` is not one of `options.results` (only `success` unless
 * given), or that does not list every field of `options.verified` as verified, is refused
 * before anything is opened.
 */
export function openSubmission(submission, keys, options) {
  plainObject(submission, 'submission');
  const ring = keyRing(keys);
  const rules = openOptions(options);
  // The worker's submissions say callSid; Twilio's requests (a redirect) say CallSid.
  const sid = own(submission, 'callSid') ? submission.callSid
    : own(submission, 'CallSid') ? submission.CallSid : undefined;
  if (typeof sid !== 'string' || !CALL_SID.test(sid)) {
    throw new Error('gather-seal: submission has no valid callSid (or CallSid)');
  }
  // Which rule failed, never the value that failed it: not even the result word given.
  const result = own(submission, 'result') ? submission.result : undefined;
  if (typeof result !== 'string') throw new Error('gather-seal: submission has no result');
  if (!rules.results.includes(result)) {
    throw new Error('gather-seal: submission\'s result is not accepted (see options.results)');
  }
  const passed = rules.verified.length === 0 ? []
    : passedFields(own(submission, 'verified') ? submission.verified : undefined);
  if (!rules.verified.every((name) => passed.includes(name))) {
    throw new Error('gather-seal: submission does not list as verified every field that options.verified requires');
  }
  for (const name of rules.fields) {
    if (!own(submission, jsonKey(name))) {
      throw new Error(`gather-seal: submission has no ${jsonKey(name)}, which options.fields requires`);
    }
  }
  // Every sealed value read once and checked before the first is opened.
  const sealed = [];
  for (const key of Object.keys(submission)) {
    const name = fieldName(key);
    if (name === undefined) continue;
    const value = submission[key];
    if (typeof value !== 'string') fail(`${key} must be a string`);
    sealed.push([key, name, text(value, key)]);
  }
  const opened = {};
  for (const [key, name, value] of sealed) {
    let plain;
    try {
      const context = `${sid}:${name}`;
      plain = plainText(withInput(ring, undefined, (ringLen) => wasm.decryptToBuffer(value, ringLen, context)));
    } catch (error) {
      // Which value failed, never what it held: the key is a field's public name.
      throw new Error(`gather-seal: ${key}: ${String(error.message).replace(/^gather-seal: /, '')}`);
    }
    // Defined, not assigned, like openFields: no name can reach a prototype.
    Object.defineProperty(opened, name, {
      __proto__: null, value: plain, writable: true, enumerable: true, configurable: true,
    });
  }
  return opened;
}

// ---- What an application may show of a card, and status events (src/status.rs) ----

// The worker's card brands (kinds::Brand), as it writes them.
const BRANDS = Object.freeze(['visa', 'mastercard', 'amex', 'discover', 'diners-club', 'jcb', 'maestro', 'unionpay']);
const LAST4 = /^[0-9]{4}$/;
const isFieldName = (name) => typeof name === 'string' && wellFormed(name) && wasm.isFieldName(name);

/** Defines (never assigns) `name` on `object`, so that no name can reach a prototype. */
function define(object, name, value) {
  Object.defineProperty(object, name, { __proto__: null, value, writable: true, enumerable: true, configurable: true });
}

/** `{ last4, brand? }` from a card's two values, each read once by the caller; `where` names the rule's place. */
function maskedCard(last4, brand, where) {
  if (typeof last4 !== 'string' || !LAST4.test(last4)) {
    throw new Error(`gather-seal: ${where}: last4 must be exactly 4 digits (0-9)`);
  }
  if (brand === undefined) return { last4 };
  if (!BRANDS.includes(brand)) throw new Error(`gather-seal: ${where}: brand must be one of the brands the worker names`);
  return { last4, brand };
}

/** One entry of a `masked` object: a plain object of last4 and (optionally) brand, nothing else. */
function maskedEntry(entry, where) {
  if (!isPlainObject(entry)) throw new Error(`gather-seal: ${where}: an entry must be an object of last4 and brand`);
  const names = Object.keys(entry);
  if (!names.every((name) => name === 'last4' || name === 'brand')) {
    throw new Error(`gather-seal: ${where}: an entry must hold only last4 and brand`);
  }
  // Own members only, each read once.
  return maskedCard(names.includes('last4') ? entry.last4 : undefined,
    names.includes('brand') ? entry.brand : undefined, where);
}

const CARD_PARAM = /^(.*)_(last4|brand)$/;

/**
 * What an application may show of each card of a submission: `{ card: { last4: '4242', brand:
 * 'visa' } }`, from an action submission's `masked` or a redirect's `<field>_last4` and
 * `<field>_brand` parameters; `{}` when it has none. Strict: a malformed one throws an Error
 * naming the rule, never the value.
 */
export function maskedCards(submission) {
  plainObject(submission, 'submission');
  const names = Object.keys(submission);
  const params = names.filter((name) => CARD_PARAM.test(name));
  const cards = {};
  if (names.includes('masked')) {
    if (params.length > 0) {
      throw new Error('gather-seal: submission has both masked and <field>_last4 or <field>_brand parameters');
    }
    const masked = submission.masked;
    if (!isPlainObject(masked)) throw new Error('gather-seal: submission\'s masked must be an object of entries by field name');
    for (const field of Object.keys(masked)) {
      if (!isFieldName(field)) throw new Error('gather-seal: masked: every name must be a field name (a-z and 0-9 words joined by _)');
      define(cards, field, maskedEntry(masked[field], 'masked'));
    }
    return cards;
  }
  // A redirect's parameters: each read once, then paired by field.
  const found = new Map(); // field → { last4, brand }
  for (const name of params) {
    const [, field, part] = CARD_PARAM.exec(name);
    if (!isFieldName(field)) {
      throw new Error('gather-seal: every <field>_last4 and <field>_brand parameter must name a field (a-z and 0-9 words joined by _)');
    }
    const value = submission[name];
    if (typeof value !== 'string') throw new Error('gather-seal: every <field>_last4 and <field>_brand parameter must be one string');
    if (!found.has(field)) found.set(field, { __proto__: null });
    found.get(field)[part] = value;
  }
  for (const [field, { last4, brand }] of found) {
    if (last4 === undefined) throw new Error('gather-seal: a <field>_brand parameter has no <field>_last4 beside it');
    define(cards, field, maskedCard(last4, brand, '<field>_last4 and <field>_brand parameters'));
  }
  return cards;
}

// The words of a status event, as the worker writes them (status::EventKind, kinds::Mistake,
// flow::GatherResult).
const EVENTS = Object.freeze(['asked', 'accepted', 'invalid', 'confirmed', 'cancelled', 'handed-off']);
const ERRORS = Object.freeze(['timeout', 'invalid', 'card-type', 'expired', 'mismatch']);
const RESULTS = Object.freeze(['success', 'too-many-attempts', 'locked', 'anonymous', 'unavailable',
  'verify-failed', 'verify-unavailable', 'cancelled']);
const FLOW_NAME = /^[a-z0-9_-]{1,64}$/;

function badEvent(rule) {
  throw new Error(`gather-seal: status event ${rule}`);
}

/**
 * Checks a status event's signature as verifySubmission does, then its shape, and returns a new
 * object with the event's members only: `{ callSid, flow, field, event, error, attempt }`, plus
 * `masked` ({ last4, brand? }) on a card's accepted or confirmed and `result` on handed-off.
 */
export function verifyStatusEvent(rawBody, signatureHeader, secrets, options) {
  const body = verifySubmission(rawBody, signatureHeader, secrets, options);
  const { callSid, flow, field, event, error, attempt } = body;
  if (typeof callSid !== 'string' || !CALL_SID.test(callSid)) badEvent('has no valid callSid');
  if (typeof flow !== 'string' || !FLOW_NAME.test(flow)) badEvent('has no valid flow name');
  if (!EVENTS.includes(event)) badEvent('is not one of the event words');
  const handedOff = event === 'handed-off';
  if (handedOff ? field !== null : !isFieldName(field)) {
    badEvent('field must be a field name (null only on handed-off)');
  }
  if (event === 'invalid' ? !ERRORS.includes(error) : error !== null) {
    badEvent('error must be one of the error words on invalid, and null otherwise');
  }
  if (!Number.isInteger(attempt) || attempt < 0 || attempt > 255) badEvent('attempt must be a whole number from 0 to 255');
  const { at } = body;
  if (!Number.isSafeInteger(at) || at < 0) badEvent('at must be a time in Unix milliseconds');
  const out = { callSid, flow, field, event, error, attempt, at };
  if (own(body, 'masked')) {
    if (event !== 'accepted' && event !== 'confirmed') badEvent('masked comes only with accepted or confirmed');
    out.masked = maskedEntry(body.masked, 'status event\'s masked');
  }
  if (handedOff !== own(body, 'result')) badEvent('result comes with handed-off, and only there');
  if (handedOff) {
    if (!RESULTS.includes(body.result)) badEvent('result is not one of the result words');
    out.result = body.result;
  }
  return out;
}
