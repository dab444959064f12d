// The reference for benches/worker.js: the gather worker as one would hand-write it in
// JavaScript with WebCrypto, doing what the Rust worker (src/worker/) does on the same requests,
// with the same security properties. It is a yardstick, not a product: it is never deployed and
// nothing but the benchmark runs it.
//
// Same as the Rust worker:
// - POST /gather[/<flow>] only; method, Content-Type and Content-Length checked first, then the
//   body read from its stream, stopping at 16 KiB whatever Content-Length says;
// - X-Twilio-Signature checked before anything else is read: HMAC-SHA1 over the URL (or
//   PUBLIC_URL + path) and the sorted, de-duplicated POST parameters, for the URL as given and
//   with its default port added or removed, every variant always checked, each compared in
//   constant time by crypto.subtle.verify;
// - GATHER_FLOWS validated once per isolate (unknown keys refused, errors by path);
// - AES-256-GCM keys (AES_SECRET, AES_SECRET_PREVIOUS), the Twilio token and the backend signing
//   secret imported once per isolate as non-extractable CryptoKeys, cached by their text compared
//   in constant time, and imported again if the text changes;
// - Digits checked by the field's kind and sealed at once: a fresh random 96-bit nonce per seal,
//   context "<CallSid>:<field>", hex(nonce ‖ ciphertext ‖ tag);
// - every value carried in the action URL must open for this call (any key of the ring) before
//   the call goes on, else 400;
// - the same TwiML, byte for byte (escaping included);
// - the hand-off: the same JSON submission, signed t=<unix>,v1=<hex HMAC-SHA256(secret,
//   "<t>.<body>")>, POSTed with a 5 s timeout and redirects not followed; the application's
//   answer relayed only if it is well-formed XML with a <Response> root and no DTD, or spoken
//   for {account, balance} JSON; otherwise fallback, goodbye or apology;
// - one JSON log line per request, without digits or secrets.

const BODY_CAP = 16 * 1024;
const ANSWER_CAP = 64 * 1024;
const ACTION_TIMEOUT_MS = 5000;
const MIN_SIGNING_SECRET = 32;
const SIGNATURE_HEADER = 'X-Gather-Seal-Signature';
const SETTING = 'GATHER_FLOWS';
const DEFAULT_FLOW = 'default';
const MAX_SAY = 4000;
const RESERVED = ['step', 'attempt'];
const GOODBYE = 'Sorry, we could not get your details. Goodbye.';
const APOLOGY = 'Sorry, we cannot take your call right now. Please try again later. Goodbye.';
const THANKS = 'Thank you. Your account number is {account} and your balance is {balance}';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export default {
  async fetch(request, env) {
    const started = Date.now();
    const log = { callSid: null, flow: null, step: null, outcome: '', result: null, setting: null, problem: null };
    const url = request.url;
    const [origin, pathAndQuery] = splitUrl(url);
    const path = pathAndQuery.split('?', 1)[0];
    const flowName = flowOfPath(path);
    let reply;
    if (flowName !== null) {
      reply = await gather(request, env, flowName, origin, pathAndQuery, log);
    } else {
      log.outcome = 'unknown-path';
      reply = plain(404, 'Not Found');
    }
    writeLog(log, Date.now() - started);
    return reply;
  },
};

// ---------------------------------------------------------------------------------------------
// The route

async function gather(request, env, flowName, origin, pathAndQuery, log) {
  const body = await readBody(request, 'application/x-www-form-urlencoded', log);
  if (body instanceof Response) return body;
  const pairs = [...new URLSearchParams(decoder.decode(body))];
  body.fill(0);

  const signing = signingSettings(env);
  if (signing.error) return misconfigured(log, signing.error);
  const base = signing.publicUrl ?? origin;
  const signedUrl = base + pathAndQuery;
  const signature = request.headers.get('X-Twilio-Signature');
  const tokenKey = await cachedKey(SECRETS.token, signing.token, importTwilioToken);
  const signed = signature !== null && (await verifyTwilioSignature(tokenKey, signedUrl, pairs, signature));
  if (!signed) {
    log.outcome = 'bad-signature';
    return plain(403, 'Forbidden');
  }

  const form = (name) => {
    for (const [k, v] of pairs) if (k === name) return v;
    return null;
  };
  const callSid = form('CallSid') ?? '';
  if (isCallSid(callSid)) log.callSid = callSid;

  const flows = flowsOf(env);
  if (flows.error) return misconfigured(log, flows.error);
  const ring = await keyRing(env);
  if (ring.error) return misconfigured(log, ring.error);
  const secret = signingSecret(env, flows.anyAction);
  if (secret.error) return misconfigured(log, secret.error);
  const signingKey = secret.key === null ? null : await secret.key;
  const flow = flows.byName.get(flowName);
  if (!flow) return brokenCall(log, 404, 'unknown-flow', {}, APOLOGY);
  log.flow = flow.name;

  const q = pathAndQuery.indexOf('?');
  const routePath = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? [] : [...new URLSearchParams(pathAndQuery.slice(q + 1))];
  const speech = speechOf(flow);
  const apology = flow.messages.apology;
  const state = stateFromQuery(flow, query);
  if (state === BAD) return brokenCall(log, 400, 'bad-state', speech, apology);
  log.step = state === null ? 'start' : flow.fields[state.field].name;
  const callComesIn = state === null;

  const now = Math.floor(Date.now() / 1000);
  let turn;
  try {
    turn = await advance(flow, ring, callSid, state, form('Digits'), now);
  } catch (error) {
    if (error === MISSING_CALL_SID) return brokenCall(log, 400, 'missing-call-sid', speech, apology);
    if (error === BAD) return brokenCall(log, 400, 'bad-state', speech, apology);
    return brokenCall(log, 200, 'seal-failed', speech, apology);
  }
  if (turn.ask) {
    log.outcome = turn.retry ? 'reprompted' : callComesIn ? 'asked' : 'sealed';
    return twiml(200, askTwiml(flow, turn.state, turn.retry, base + routePath));
  }
  const submission = {
    callSid,
    accountSid: form('AccountSid') ?? '',
    from: form('From') ?? '',
    to: form('To') ?? '',
    flow: flow.name,
    result: turn.result,
    sealed: turn.sealed,
  };
  return handOff(flow, submission, signingKey, now, log);
}

async function handOff(flow, submission, signingKey, now, log) {
  if (flow.then.redirect !== undefined) {
    log.outcome = 'redirected';
    log.result = submission.result;
    return twiml(200, new TwimlResponse().redirect(redirectUrl(flow.then.redirect, submission.result, submission.sealed)).finish());
  }
  if (!signingKey) return brokenCall(log, 200, 'no-signing-secret', speechOf(flow), flow.messages.apology);
  const body = submissionJson(submission);
  const mac = await crypto.subtle.sign('HMAC', signingKey, encoder.encode(`${now}.${body}`));
  const header = `t=${now},v1=${hex(new Uint8Array(mac))}`;
  const answer = await postSubmission(flow.then.action, body, header);
  const [outcome, xml] = answerTwiml(flow, submission.result, answer);
  log.outcome = outcome;
  log.result = submission.result;
  return twiml(200, xml);
}

// ---------------------------------------------------------------------------------------------
// HTTP

async function readBody(request, contentType, log) {
  if (request.method !== 'POST') {
    log.outcome = 'wrong-method';
    return new Response('Method Not Allowed', { status: 405, headers: { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'POST' } });
  }
  const given = request.headers.get('Content-Type') ?? '';
  if (given.split(';', 1)[0].trim().toLowerCase() !== contentType) {
    log.outcome = 'wrong-content-type';
    return plain(415, 'Unsupported Media Type');
  }
  const declared = request.headers.get('Content-Length');
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > BODY_CAP) {
    log.outcome = 'too-large';
    return plain(413, 'Payload Too Large');
  }
  // Read piece by piece and stop at the cap, whatever Content-Length says.
  let body;
  try {
    body = await readCapped(request);
  } catch {
    log.outcome = 'unreadable-body';
    return plain(400, 'Bad Request');
  }
  if (body === null) {
    log.outcome = 'too-large';
    return plain(413, 'Payload Too Large');
  }
  return body;
}

/**
 * The body read from its stream into one buffer of BODY_CAP bytes allocated up front (so no
 * copy of the digits is left behind in a grown buffer); null, with the stream cancelled, as soon
 * as it would go over.
 */
async function readCapped(request) {
  const buffer = new Uint8Array(BODY_CAP);
  let length = 0;
  if (request.body === null) return buffer.subarray(0, 0);
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return buffer.subarray(0, length);
    if (length + value.length > BODY_CAP) {
      buffer.fill(0, 0, length);
      reader.cancel().catch(() => {});
      return null;
    }
    buffer.set(value, length);
    length += value.length;
    value.fill(0);
  }
}

/** `"https://host:port/path?query"` → `["https://host:port", "/path?query"]`. */
function splitUrl(url) {
  const hash = url.indexOf('#');
  if (hash >= 0) url = url.slice(0, hash);
  const scheme = url.indexOf('://');
  const authority = scheme < 0 ? 0 : scheme + 3;
  let i = authority;
  while (i < url.length && url[i] !== '/' && url[i] !== '?') i++;
  return i < url.length ? [url.slice(0, i), url.slice(i)] : [url, ''];
}

function flowOfPath(path) {
  if (!path.startsWith('/gather')) return null;
  const rest = path.slice('/gather'.length);
  if (rest === '') return DEFAULT_FLOW;
  if (!rest.startsWith('/')) return null;
  const name = rest.slice(1);
  return name !== '' && !name.includes('/') ? name : null;
}

function plain(status, text) {
  return new Response(text, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

function twiml(status, xml) {
  return new Response(xml, { status, headers: { 'Content-Type': 'text/xml' } });
}

function misconfigured(log, error) {
  log.setting = error.setting;
  log.problem = error.problem;
  log.outcome = 'misconfigured';
  return twiml(200, goodbyeTwiml({}, APOLOGY));
}

function brokenCall(log, status, outcome, speech, apology) {
  log.outcome = outcome;
  return twiml(status, goodbyeTwiml(speech, apology));
}

function writeLog(log, ms) {
  const line = { callSid: log.callSid, flow: log.flow, step: log.step, outcome: log.outcome };
  if (log.result !== null) line.result = log.result;
  line.ms = ms;
  if (log.setting !== null) line.setting = log.setting;
  if (log.problem !== null) line.problem = log.problem;
  console.log(JSON.stringify(line));
}

// ---------------------------------------------------------------------------------------------
// Settings and secrets (per isolate)

/** Each secret's CryptoKey(s), with the text they came from. */
const SECRETS = { token: { text: null, value: null }, aes: { text: null, value: null }, backend: { text: null, value: null } };

/**
 * The CryptoKey(s) made from `text` by `make`, made once per isolate: the cache is used when the
 * text is the same as last time (compared in constant time), else `make` runs again and replaces
 * it. The promise is cached, so concurrent first requests import once.
 */
function cachedKey(slot, text, make) {
  if (slot.value === null || !sameText(slot.text, text)) {
    slot.text = text;
    slot.value = make(text);
    slot.value.catch(() => {
      if (slot.text === text) slot.value = null;
    });
  }
  return slot.value;
}

/** Constant-time equality of two strings of the same length (a length mismatch is not secret). */
function sameText(a, b) {
  if (a === null || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function importTwilioToken(token) {
  return crypto.subtle.importKey('raw', encoder.encode(token), { name: 'HMAC', hash: 'SHA-1' }, false, ['verify']);
}

function importBackendSecret(secret) {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/**
 * The ring from a JSON list of hex keys (the current one first), imported as AES-GCM keys; an
 * error naming the setting when one is malformed.
 */
async function importRing(list) {
  const texts = JSON.parse(list);
  const keys = [];
  for (let i = 0; i < texts.length; i++) {
    const bytes = keyBytes(texts[i]);
    if (bytes === null) {
      return i === 0
        ? setting('AES_SECRET', 'must be 64 hex characters')
        : setting('AES_SECRET_PREVIOUS', 'must be comma-separated keys of 64 hex characters');
    }
    try {
      keys.push(await crypto.subtle.importKey('raw', bytes, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']));
    } finally {
      bytes.fill(0);
    }
  }
  return { keys };
}

/** 64 hex characters (either case, surrounding whitespace ignored) → 32 bytes, in constant time. */
function keyBytes(text) {
  const t = text.trim();
  if (t.length !== 64) return null;
  const bytes = new Uint8Array(32);
  let bad = 0;
  for (let i = 0; i < 32; i++) {
    const hi = t.charCodeAt(2 * i);
    const lo = t.charCodeAt(2 * i + 1);
    const h = nibble(hi);
    const l = nibble(lo);
    bad |= (hi >> 7) | (lo >> 7) | (h >> 8) | (l >> 8);
    bytes[i] = (h << 4) | l;
  }
  if (bad !== 0) {
    bytes.fill(0);
    return null;
  }
  return bytes;
}

/** A hex digit's value, or -1, without branches on the character (base16ct's method). */
function nibble(c) {
  c &= 0x7f;
  let v = -1;
  v += (((0x2f - c) & (c - 0x3a)) >> 8) & (c - 47);
  v += (((0x40 - c) & (c - 0x47)) >> 8) & (c - 54);
  v += (((0x60 - c) & (c - 0x67)) >> 8) & (c - 86);
  return v;
}

function setting(setting, problem) {
  return { error: { setting, problem } };
}

function text(env, name) {
  const value = env[name];
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : '';
}

function required(env, name) {
  const value = text(env, name);
  return value !== null && value.trim() !== '' ? value : null;
}

function signingSettings(env) {
  const token = required(env, 'TWILIO_AUTH_TOKEN');
  if (token === null) return setting('TWILIO_AUTH_TOKEN', 'is missing');
  const value = text(env, 'PUBLIC_URL');
  if (value === null || value.trim() === '') return { token, publicUrl: null };
  const url = value.trim().replace(/\/+$/, '');
  const lower = url.toLowerCase();
  const host = lower.startsWith('https://') ? lower.slice(8) : lower.startsWith('http://') ? lower.slice(7) : null;
  if (host === null || host === '' || /\s/.test(host)) return setting('PUBLIC_URL', 'must be an http:// or https:// URL');
  return { token, publicUrl: url };
}

function keyRing(env) {
  const current = required(env, 'AES_SECRET');
  if (current === null) return setting('AES_SECRET', 'is missing');
  const previous = (text(env, 'AES_SECRET_PREVIOUS') ?? '').split(',').filter((k) => k.trim() !== '');
  return cachedKey(SECRETS.aes, JSON.stringify([current, ...previous]), importRing);
}

function signingSecret(env, needed) {
  const NAME = 'BACKEND_SIGNING_SECRET';
  const value = text(env, NAME);
  const secret = value !== null && value.trim() !== '' ? value : null;
  if (secret !== null && [...secret].length >= MIN_SIGNING_SECRET) {
    return { key: cachedKey(SECRETS.backend, secret, importBackendSecret) };
  }
  if (secret !== null) return setting(NAME, 'must be at least 32 characters (e.g. openssl rand -hex 32)');
  if (needed) return setting(NAME, 'is missing (a flow hands off with action)');
  return { key: null };
}

/** The flows parsed from the last GATHER_FLOWS seen, with that value (Object.is). */
let flowsCache = null;

function flowsOf(env) {
  const raw = env[SETTING];
  if (raw === undefined || raw === null) return setting(SETTING, 'is missing: no flow is configured');
  if (flowsCache === null || !Object.is(flowsCache.raw, raw)) {
    flowsCache = { raw, flows: parseFlows(raw) };
  }
  return flowsCache.flows;
}

// ---------------------------------------------------------------------------------------------
// GATHER_FLOWS: validated once, errors by path, never echoing a value

class SettingError extends Error {
  constructor(path, problem) {
    super(problem);
    this.setting = path;
    this.problem = problem;
  }
}

function parseFlows(raw) {
  let value;
  try {
    value = typeof raw === 'string' ? JSON.parse(raw) : JSON.parse(JSON.stringify(raw));
  } catch {
    return setting(SETTING, 'is not valid JSON');
  }
  try {
    if (!isPlainObject(value)) throw new SettingError(SETTING, 'must be a table of flows by name');
    const names = Object.keys(value);
    if (names.length === 0) throw new SettingError(SETTING, 'must describe at least one flow');
    const byName = new Map();
    for (const name of names) {
      if (!/^[a-z0-9_-]{1,64}$/.test(name)) throw new SettingError(SETTING, 'flow names must be 1 to 64 of a-z, 0-9, - and _');
      byName.set(name, validateFlow(name, value[name]));
    }
    const anyAction = [...byName.values()].some((f) => f.then.action !== undefined);
    return { byName, anyAction };
  } catch (error) {
    if (error instanceof SettingError) return { error: { setting: error.setting, problem: error.problem } };
    throw error;
  }
}

function isPlainObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(object, allowed, at) {
  if (!isPlainObject(object)) throw new SettingError(at, 'must be a table');
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) throw new SettingError(at, 'has an unknown key');
  }
}

function wholeNumber(value, fallback, min, max, at, problem) {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new SettingError(at, problem);
  return value;
}

function sentence(value, at) {
  if (typeof value !== 'string' || value.trim() === '' || [...value].length > MAX_SAY) {
    throw new SettingError(at, 'must be a sentence of 1 to 4000 characters');
  }
  return value;
}

function validateFlow(name, raw) {
  const at = (key) => `${SETTING}.${name}.${key}`;
  onlyKeys(raw, ['fields', 'then', 'attempts', 'timeout', 'language', 'voice', 'messages'], `${SETTING}.${name}`);
  if (!Array.isArray(raw.fields) || raw.fields.length === 0) throw new SettingError(at('fields'), 'must list at least one field');
  const fields = [];
  raw.fields.forEach((rawField, i) => {
    const field = validateField(rawField, (key) => at(`fields[${i}].${key}`));
    if (fields.some((f) => f.name === field.name)) throw new SettingError(at(`fields[${i}].name`), 'is the name of an earlier field');
    fields.push(field);
  });
  const attempts = wholeNumber(raw.attempts, 3, 1, 9, at('attempts'), 'must be a whole number from 1 to 9');
  const timeout = wholeNumber(raw.timeout, 10, 1, 60, at('timeout'), 'must be a whole number of seconds from 1 to 60');
  if (raw.language !== undefined && !isLanguage(raw.language)) throw new SettingError(at('language'), 'must be a language tag such as en-US or fr-FR');
  if (raw.voice !== undefined && !(typeof raw.voice === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw.voice))) {
    throw new SettingError(at('voice'), 'must be a Twilio voice name such as Polly.Celine');
  }
  onlyKeys(raw.then, ['action', 'redirect', 'fallback'], at('then'));
  const then = {};
  const url = (key) => {
    const problem = checkUrl(raw.then[key]);
    if (problem) throw new SettingError(at(`then.${key}`), problem);
    return raw.then[key];
  };
  if (raw.then.action !== undefined && raw.then.redirect === undefined) {
    then.action = url('action');
    if (raw.then.fallback !== undefined) then.fallback = url('fallback');
  } else if (raw.then.redirect !== undefined && raw.then.action === undefined) {
    if (raw.then.fallback !== undefined) throw new SettingError(at('then.fallback'), 'goes only with action');
    then.redirect = url('redirect');
  } else {
    throw new SettingError(at('then'), 'must have exactly one of action and redirect');
  }
  const messages = { retry: null, goodbye: GOODBYE, apology: APOLOGY, thanks: THANKS };
  if (raw.messages !== undefined) {
    onlyKeys(raw.messages, ['retry', 'goodbye', 'apology', 'thanks'], at('messages'));
    for (const key of Object.keys(raw.messages)) messages[key] = sentence(raw.messages[key], at(`messages.${key}`));
  }
  return { name, fields, then, attempts, timeout, language: raw.language ?? null, voice: raw.voice ?? null, messages };
}

function validateField(raw, at) {
  onlyKeys(raw, ['name', 'prompt', 'kind', 'length', 'min', 'max'], at('').slice(0, -1));
  if (!isFieldName(raw.name)) {
    throw new SettingError(at('name'), 'must be a-z and 0-9 words joined by single _ (at most 32 characters, not step or attempt)');
  }
  const prompt = sentence(raw.prompt, at('prompt'));
  const range = (key) => wholeNumber(raw[key], 0, 1, 32, at(key), 'must be a whole number from 1 to 32');
  let kind;
  if (raw.kind === 'digits') {
    if (raw.length !== undefined && raw.min === undefined && raw.max === undefined) {
      kind = { digits: range('length') };
    } else if (raw.length === undefined && raw.min !== undefined && raw.max !== undefined) {
      const min = range('min');
      const max = range('max');
      if (min > max) throw new SettingError(at('max'), 'must not be less than min');
      kind = { min, max };
    } else if (raw.length !== undefined) {
      throw new SettingError(at('length'), 'cannot go with min or max');
    } else {
      throw new SettingError(at('length'), 'is required for kind digits, or else both min and max');
    }
  } else if (raw.kind === 'card-number' || raw.kind === 'expiry') {
    for (const key of ['length', 'min', 'max']) {
      if (raw[key] !== undefined) throw new SettingError(at(key), 'is only for kind digits');
    }
    kind = raw.kind === 'card-number' ? { card: true } : { expiry: true };
  } else {
    throw new SettingError(at('kind'), 'must be digits, card-number or expiry');
  }
  return { name: raw.name, prompt, kind };
}

function isFieldName(name) {
  return typeof name === 'string' && name.length <= 32 && !RESERVED.includes(name) && /^[a-z][a-z0-9]*(_[a-z][a-z0-9]*)*$/.test(name);
}

function isLanguage(tag) {
  if (typeof tag !== 'string' || tag.length > 35) return false;
  const [primary, ...rest] = tag.split('-');
  return /^[A-Za-z]{2,3}$/.test(primary) && rest.every((p) => /^[A-Za-z0-9]{2,8}$/.test(p));
}

function checkUrl(url) {
  const WRONG = 'must be an https:// URL (http:// only to localhost or 127.0.0.1)';
  if (typeof url !== 'string') return WRONG;
  const lower = url.toLowerCase();
  const secure = lower.startsWith('https://');
  if (!secure && !lower.startsWith('http://')) return WRONG;
  const rest = lower.slice(secure ? 8 : 7);
  if (url.length > 2048 || /[^\x21-\x7e]/.test(url) || url.includes('#')) {
    return 'must be at most 2048 characters with no spaces and no #fragment';
  }
  const authority = rest.split(/[/?]/, 1)[0];
  if (authority.includes('@')) return 'must not carry a user name or password';
  let host;
  let port = null;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return WRONG;
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after.startsWith(':')) port = after.slice(1);
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    if (colon >= 0) port = authority.slice(colon + 1);
  }
  if (!/^[a-z0-9.:-]+$/.test(host) || (port !== null && !/^\d{1,5}$/.test(port))) return WRONG;
  if (!secure && !['localhost', '127.0.0.1', '::1'].includes(host)) return WRONG;
  return null;
}

// ---------------------------------------------------------------------------------------------
// X-Twilio-Signature

async function verifyTwilioSignature(key, url, pairs, signature) {
  const given = signature.trim();
  let tag;
  try {
    tag = Uint8Array.from(atob(given), (c) => c.charCodeAt(0));
  } catch {
    return false;
  }
  // Only the canonical encoding, as the Rust worker compares the base64 text. This looks at
  // what the client sent, not at the expected signature.
  if (tag.length !== 20 || btoa(String.fromCharCode(...tag)) !== given) return false;
  const params = sortedParams(pairs);
  const variants = urlVariants(url);
  // Every variant is checked, so the time taken does not say which one matched.
  const checks = await Promise.all(variants.map((u) => crypto.subtle.verify('HMAC', key, tag, encoder.encode(u + params))));
  return checks.includes(true);
}

/** The parameters sorted by name, then value (UTF-16 code units), each distinct pair once. */
function sortedParams(pairs) {
  const sorted = pairs.slice().sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  let out = '';
  let last = null;
  for (const pair of sorted) {
    if (last !== null && last[0] === pair[0] && last[1] === pair[1]) continue;
    out += pair[0] + pair[1];
    last = pair;
  }
  return out;
}

/** `url`, and the same URL with its default port added (no port) or its port removed. */
function urlVariants(url) {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return [url];
  const scheme = url.slice(0, schemeEnd);
  const defaultPort = { https: '443', http: '80' }[scheme.toLowerCase()];
  if (defaultPort === undefined) return [url];
  const rest = url.slice(schemeEnd + 3);
  let end = rest.search(/[/?#]/);
  if (end < 0) end = rest.length;
  const authority = rest.slice(0, end);
  const tail = rest.slice(end);
  const hostStart = authority.lastIndexOf('@') + 1;
  const userinfo = authority.slice(0, hostStart);
  const hostport = authority.slice(hostStart);
  const colon = hostport.lastIndexOf(':');
  const portColon = colon >= 0 && !hostport.slice(colon).includes(']') ? colon : -1;
  const host = portColon >= 0 ? hostport.slice(0, portColon) : `${hostport}:${defaultPort}`;
  return [url, `${scheme}://${userinfo}${host}${tail}`];
}

// ---------------------------------------------------------------------------------------------
// The call

const BAD = Symbol('bad call state');
const MISSING_CALL_SID = Symbol('missing call sid');

function isCallSid(sid) {
  return sid.length >= 1 && sid.length <= 64 && /^[A-Za-z0-9]+$/.test(sid);
}

/** The state the action URL carries: null when the call has just come in, BAD when broken. */
function stateFromQuery(flow, query) {
  const single = (name) => {
    let found = null;
    for (const [k, v] of query) {
      if (k !== name) continue;
      if (found !== null) throw BAD;
      found = v;
    }
    return found;
  };
  try {
    const step = single('step');
    if (step === null) return null;
    const field = flow.fields.findIndex((f) => f.name === step);
    if (field < 0) return BAD;
    const a = single('attempt');
    let attempt = 1;
    if (a !== null) {
      if (!/^[0-9]$/.test(a)) return BAD;
      attempt = Number(a);
    }
    if (attempt === 0 || attempt > flow.attempts) return BAD;
    const sealed = [];
    for (let i = 0; i < flow.fields.length; i++) {
      const value = single(flow.fields[i].name);
      if (value !== null && i < field) sealed.push([flow.fields[i].name, value]);
      else if (!(value === null && i >= field)) return BAD;
    }
    return { field, attempt, sealed };
  } catch (error) {
    if (error === BAD) return BAD;
    throw error;
  }
}

function stateQuery(flow, state) {
  let query = `step=${flow.fields[state.field].name}&attempt=${state.attempt}`;
  for (const [name, value] of state.sealed) query += `&${name}=${value}`;
  return query;
}

async function advance(flow, ring, callSid, state, digits, now) {
  if (!isCallSid(callSid)) throw MISSING_CALL_SID;
  if (state === null) return { ask: true, state: { field: 0, attempt: 1, sealed: [] }, retry: false };
  // Every value carried must open for this call before the call goes on.
  for (const [name, value] of state.sealed) {
    const opened = await open(value, ring.keys, encoder.encode(`${callSid}:${name}`));
    if (opened === null) throw BAD;
    opened.fill(0);
  }
  const field = flow.fields[state.field];
  digits = digits ?? '';
  if (!accepts(field.kind, digits, now)) {
    if (state.attempt >= flow.attempts) return { ask: false, result: 'too-many-attempts', sealed: state.sealed };
    return { ask: true, state: { ...state, attempt: state.attempt + 1 }, retry: true };
  }
  const sealedValue = await seal(digits, ring.keys[0], `${callSid}:${field.name}`);
  const sealed = [...state.sealed, [field.name, sealedValue]];
  if (state.field + 1 < flow.fields.length) {
    return { ask: true, state: { field: state.field + 1, attempt: 1, sealed }, retry: false };
  }
  return { ask: false, result: 'success', sealed };
}

function accepts(kind, digits, now) {
  if (digits.length === 0 || !/^[0-9]+$/.test(digits)) return false;
  const len = digits.length;
  if (kind.digits !== undefined) return len === kind.digits;
  if (kind.min !== undefined) return len >= kind.min && len <= kind.max;
  if (kind.card) return len >= 12 && len <= 19 && luhn(digits);
  return len === 4 && expiryValid(digits, now);
}

function gatherShape(kind) {
  if (kind.digits !== undefined) return [kind.digits, false];
  if (kind.min !== undefined) return [kind.max, true];
  if (kind.card) return [19, true];
  return [4, false];
}

function retrySentence(kind) {
  if (kind.digits === 1) return 'Sorry, that was not 1 digit.';
  if (kind.digits !== undefined) return `Sorry, that was not ${kind.digits} digits.`;
  if (kind.min !== undefined) return `Sorry, that was not ${kind.min} to ${kind.max} digits. Press pound when you are done.`;
  if (kind.card) return 'Sorry, that was not a valid card number. Press pound when you are done.';
  return 'Sorry, that was not a valid expiry date.';
}

function luhn(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length > 0 && sum % 10 === 0;
}

function expiryValid(mmyy, now) {
  const month = Number(mmyy.slice(0, 2));
  const year = 2000 + Number(mmyy.slice(2));
  const date = new Date(now * 1000);
  const nowYear = date.getUTCFullYear();
  const nowMonth = date.getUTCMonth() + 1;
  return month >= 1 && month <= 12 && (year > nowYear || (year === nowYear && month >= nowMonth));
}

// ---------------------------------------------------------------------------------------------
// Sealing: hex(nonce 12 ‖ ciphertext ‖ tag 16), AES-256-GCM, context as associated data

async function seal(plaintext, key, context) {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const data = encoder.encode(plaintext);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: encoder.encode(context), tagLength: 128 }, key, data);
  data.fill(0);
  return hex(nonce) + hex(new Uint8Array(sealed));
}

/** The plaintext bytes, or null when no key opens the value with this context. */
async function open(sealedHex, keys, context) {
  const raw = unhex(sealedHex);
  if (raw === null || raw.length < 28) return null;
  const iv = raw.subarray(0, 12);
  const body = raw.subarray(12);
  for (const key of keys) {
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: context, tagLength: 128 }, key, body));
    } catch {
      // not this key
    }
  }
  return null;
}

const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_BYTES[bytes[i]];
  return out;
}

function hexValue(c) {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Hex in either case → bytes; null for odd length or a non-hex character. */
function unhex(text) {
  if (text.length % 2 !== 0) return null;
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    const h = hexValue(text.charCodeAt(2 * i));
    const l = hexValue(text.charCodeAt(2 * i + 1));
    if (h < 0 || l < 0) return null;
    bytes[i] = (h << 4) | l;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// TwiML, as the Rust writer (and twilio's VoiceResponse) prints it

function speechOf(flow) {
  return { voice: flow.voice, language: flow.language };
}

class TwimlResponse {
  constructor() {
    this.xml = `${DECLARATION}<Response`;
    this.empty = true;
  }

  openChild() {
    if (this.empty) {
      this.xml += '>';
      this.empty = false;
    }
  }

  say(speech, text) {
    this.openChild();
    this.xml += sayXml(speech, text);
    return this;
  }

  gather(gather, speech, prompts) {
    this.openChild();
    let xml = `<Gather input="dtmf" numDigits="${gather.numDigits}`;
    if (gather.finishOnPound) xml += '" finishOnKey="#';
    xml += `" timeout="${gather.timeout}" method="POST" action="${escape(gather.action, true)}" actionOnEmptyResult="true"`;
    xml += attribute('language', speech.language);
    if (prompts.length === 0) {
      xml += '/>';
    } else {
      xml += '>';
      for (const prompt of prompts) xml += sayXml(speech, prompt);
      xml += '</Gather>';
    }
    this.xml += xml;
    return this;
  }

  redirect(url) {
    this.openChild();
    this.xml += `<Redirect method="POST">${escape(url, false)}</Redirect>`;
    return this;
  }

  hangup() {
    this.openChild();
    this.xml += '<Hangup/>';
    return this;
  }

  finish() {
    return this.xml + (this.empty ? '/>' : '</Response>');
  }
}

function sayXml(speech, text) {
  const open = `<Say${attribute('voice', speech.voice)}${attribute('language', speech.language)}`;
  return text === '' ? `${open}/>` : `${open}>${escape(text, false)}</Say>`;
}

function attribute(name, value) {
  return value === null || value === undefined ? '' : ` ${name}="${escape(value, true)}"`;
}

// Characters that need escaping or dropping: markup, tabs and line ends, controls,
// surrogates (checked as pairs below) and U+FFFE/U+FFFF.
const NEEDS_ESCAPE = /[&<>"\u0000-\u001f\ud800-\udfff\ufffe\uffff]/;

/** Escapes as xmlbuilder does, dropping characters XML 1.0 cannot carry. */
function escape(text, inAttribute) {
  if (!NEEDS_ESCAPE.test(text)) return text;
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += inAttribute ? '>' : '&gt;';
    else if (ch === '"') out += inAttribute ? '&quot;' : '"';
    else if (ch === '\t') out += inAttribute ? '&#x9;' : '\t';
    else if (ch === '\n') out += inAttribute ? '&#xA;' : '\n';
    else if (ch === '\r') out += '&#xD;';
    else if ((c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000) out += ch;
  }
  return out;
}

function askTwiml(flow, state, retry, actionBase) {
  const field = flow.fields[state.field];
  const [numDigits, finishOnPound] = gatherShape(field.kind);
  const gather = { action: `${actionBase}?${stateQuery(flow, state)}`, numDigits, finishOnPound, timeout: flow.timeout };
  const sorry = flow.messages.retry ?? retrySentence(field.kind);
  const prompts = retry ? [sorry, field.prompt] : [field.prompt];
  return new TwimlResponse().gather(gather, speechOf(flow), prompts).finish();
}

function goodbyeTwiml(speech, message) {
  return new TwimlResponse().say(speech, message).hangup().finish();
}

// ---------------------------------------------------------------------------------------------
// The hand-off

/** `card` → `encryptedCardDigits`, `last_four` → `encryptedLastFourDigits`. */
function jsonKey(field) {
  let key = 'encrypted';
  for (const word of field.split('_')) if (word !== '') key += word[0].toUpperCase() + word.slice(1);
  return `${key}Digits`;
}

function submissionJson(s) {
  const body = { callSid: s.callSid, accountSid: s.accountSid, from: s.from, to: s.to, flow: s.flow, result: s.result };
  for (const [name, value] of s.sealed) body[jsonKey(name)] = value;
  return JSON.stringify(body);
}

function redirectUrl(url, result, sealed) {
  let out = `${url}${url.includes('?') ? '&' : '?'}result=${result}`;
  for (const [name, value] of sealed) out += `&${jsonKey(name)}=${value}`;
  return out;
}

/** POSTs the submission and reads the answer: { twiml } | { account, balance } | { unusable }. */
async function postSubmission(url, body, signature) {
  const signal = AbortSignal.timeout(ACTION_TIMEOUT_MS);
  let response;
  let text = null;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', [SIGNATURE_HEADER]: signature },
      body,
      signal,
      // A redirect is an answer to refuse, not a reason to send the sealed values elsewhere.
      redirect: 'manual',
    });
    if (response.status >= 200 && response.status < 300) {
      const declared = response.headers.get('Content-Length');
      if (!(declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > ANSWER_CAP)) {
        text = await response.text();
        if (text.length > ANSWER_CAP || (text.length * 3 > ANSWER_CAP && encoder.encode(text).length > ANSWER_CAP)) text = null;
      }
    }
  } catch {
    return { unusable: signal.aborted ? 'app-timeout' : 'app-unreachable' };
  }
  return readAnswer(response.status, response.headers.get('Content-Type'), text);
}

function readAnswer(status, contentType, body) {
  if (status < 200 || status >= 300) return { unusable: 'app-error-status' };
  if (body === null) return { unusable: 'app-answer-too-large' };
  const essence = (contentType ?? '').split(';', 1)[0].trim().toLowerCase();
  if (essence === 'text/xml' || essence === 'application/xml') {
    return isTwiml(body) ? { twiml: body } : { unusable: 'app-bad-twiml' };
  }
  if (essence === 'application/json') return account(body) ?? { unusable: 'app-bad-json' };
  return { unusable: 'app-wrong-content-type' };
}

function account(body) {
  let value;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (!isPlainObject(value) || !('account' in value) || !('balance' in value)) return null;
  const spoken = (v) => {
    if (typeof v === 'number') return Number.isFinite(v) && String(v).length <= 64 ? String(v) : null;
    if (typeof v !== 'string') throw BAD;
    return v !== '' && encoder.encode(v).length <= 64 && !/[\u0000-\u001f\u007f-\u009f]/.test(v) ? v : null;
  };
  try {
    const acct = spoken(value.account);
    const balance = spoken(value.balance);
    return acct !== null && balance !== null ? { account: acct, balance } : null;
  } catch {
    return null;
  }
}

function answerTwiml(flow, result, answer) {
  if (answer.twiml !== undefined) return ['handed-off', answer.twiml];
  if (answer.account !== undefined) {
    const sentence = flow.messages.thanks
      .split('{account}')
      .map((part) => part.split('{balance}').join(answer.balance))
      .join(answer.account);
    return ['handed-off-account', new TwimlResponse().say(speechOf(flow), sentence).finish()];
  }
  return [answer.unusable, unusableTwiml(flow, result)];
}

function unusableTwiml(flow, result) {
  if (flow.then.fallback !== undefined) return new TwimlResponse().redirect(flow.then.fallback).finish();
  const message = result === 'too-many-attempts' ? flow.messages.goodbye : flow.messages.apology;
  return goodbyeTwiml(speechOf(flow), message);
}

// Well-formed XML with one <Response> root and no DTD: every tag closed in order, every entity
// reference one of XML's own or a character reference to an allowed character.
const NAME = '[A-Za-z_\\u00C0-\\uFFFF][-A-Za-z0-9_.\\u00B7\\u00C0-\\uFFFF]*';
const QNAME = `(?:(${NAME}):)?(${NAME})`;
const START_TAG = new RegExp(`<${QNAME}((?:\\s+${QNAME}\\s*=\\s*(?:"[^<"]*"|'[^<']*'))*)\\s*(/?)>`, 'y');
const ATTRIBUTE = new RegExp(`\\s+${QNAME}\\s*=\\s*(?:"([^<"]*)"|'([^<']*)')`, 'y');
const END_TAG = new RegExp(`</${QNAME}\\s*>`, 'y');
const PI = new RegExp(`<\\?${NAME}(?:\\s[\\s\\S]*?)?\\?>`, 'y');
const COMMENT = /<!--(?!-)((?:[^-]|-(?!-))*)-->/y;
const CDATA = /<!\[CDATA\[[\s\S]*?\]\]>/y;
const TEXT = /[^<]+/y;

function isTwiml(body) {
  const open = [];
  let hadRoot = false;
  let at = 0;
  const take = (re) => {
    re.lastIndex = at;
    const m = re.exec(body);
    if (m) at = re.lastIndex;
    return m;
  };
  while (at < body.length) {
    let m;
    if (body.startsWith('<?', at)) {
      if (!take(PI)) return false;
    } else if (body.startsWith('<!--', at)) {
      if (!take(COMMENT)) return false;
    } else if (body.startsWith('<![CDATA[', at)) {
      if (open.length === 0 || !take(CDATA)) return false;
    } else if (body.startsWith('</', at)) {
      if (!(m = take(END_TAG))) return false;
      const top = open.pop();
      if (!top || top[0] !== (m[1] ?? '') || top[1] !== m[2]) return false;
    } else if (body.startsWith('<', at)) {
      // A DTD (<!DOCTYPE …>) or any other markup declaration is refused here.
      if (!(m = take(START_TAG))) return false;
      const prefix = m[1] ?? '';
      const local = m[2];
      if (open.length === 0) {
        if (hadRoot || prefix !== '' || local !== 'Response') return false;
        hadRoot = true;
      }
      ATTRIBUTE.lastIndex = 0;
      const attributes = m[3];
      let a;
      while (ATTRIBUTE.lastIndex < attributes.length && (a = ATTRIBUTE.exec(attributes))) {
        const value = a[3] ?? a[4];
        if (!referencesOk(value)) return false;
        if ((a[1] ?? '') === '' && a[2] === 'xmlns' && value !== '') return false;
      }
      if (m[6] !== '/') open.push([prefix, local]);
    } else {
      m = take(TEXT);
      if (!referencesOk(m[0]) || (open.length === 0 && m[0].trim() !== '')) return false;
    }
  }
  return hadRoot && open.length === 0;
}

function referencesOk(text) {
  let i = text.indexOf('&');
  while (i >= 0) {
    const end = text.indexOf(';', i);
    if (end < 0) return false;
    const name = text.slice(i + 1, end);
    let code = null;
    if (name.startsWith('#x')) {
      if (!/^[0-9A-Fa-f]+$/.test(name.slice(2))) return false;
      code = parseInt(name.slice(2), 16);
    } else if (name.startsWith('#')) {
      if (!/^[0-9]+$/.test(name.slice(1))) return false;
      code = parseInt(name.slice(1), 10);
    }
    if (code === null) {
      if (!['amp', 'lt', 'gt', 'quot', 'apos'].includes(name)) return false;
    } else if (!(code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)))) {
      return false;
    }
    i = text.indexOf('&', end + 1);
  }
  return true;
}
