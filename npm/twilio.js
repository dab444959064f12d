// Twilio's request check with the `twilio` package's names, argument order and verdicts, for the
// runtimes that package does not run on (Cloudflare Workers, Deno, Bun) and for Node alike.
//
// The `twilio` package (lib/webhooks/webhooks.js, 6.3.1) accepts a signature when it is the HMAC
// (SHA-1 unless the optional algorithm says HMAC_SHA256) of any of these URLs followed by the
// parameters: the URL as given and with its port added or removed; then, if that fails, the URL
// as `new URL()` normalises it, and that form with its query re-encoded by Node's legacy
// `querystring`, each with and without the port. The URLs and the parameter text are built here
// exactly as it builds them; the HMACs and their constant-time comparison happen in WebAssembly,
// for every candidate, before the verdict.
//
// One difference on purpose: no UTF-8 (what Twilio sends and signs) decodes to a lone UTF-16
// surrogate, so a URL, a parameter or a body with one is not a request Twilio signed: `false`,
// where the twilio package gives the verdict for its U+FFFD replacement.

import { fail, wellFormed, isPlainObject, bodyBytes, withInput } from './core.js';
import * as wasm from './gather_seal_wasm_bg.js';

/**
 * Whether `signature` (the X-Twilio-Signature header) is Twilio's signature of a request to
 * `url` with these POST parameters, under `authToken` (or a SharedKey's secret) with
 * `algorithm` (HMAC_SHA1 when omitted; see getSignatureAlgorithm).
 */
export function validateRequest(authToken, signature, url, params, algorithm) {
  const token = authTokenOf(authToken);
  const hash = hashOf(algorithm);
  const digest = signatureDigest(signature, hash);
  if (typeof url !== 'string') fail('url must be a string');
  const data = paramsText(params ?? {});
  if (digest === undefined || !wellFormed(url) || !wellFormed(data)) return false;
  return signedBy(token, hash, digest, candidateUrls(url, parsedUrl(url)), data);
}

/**
 * Whether `signature` is Twilio's signature of a request to `url` (no parameters: a JSON body),
 * and `body` is the body whose SHA-256 the URL's `bodySHA256` names (SHA-256 whatever the
 * signature's algorithm).
 */
export function validateRequestWithBody(authToken, signature, url, body, algorithm) {
  const token = authTokenOf(authToken);
  const hash = hashOf(algorithm);
  const digest = signatureDigest(signature, hash);
  if (typeof url !== 'string') fail('url must be a string');
  const bytes = bodyBytes(body, 'body'); // a copy of our own, zeroed once it is in the module
  try {
    const parsed = parsedUrl(url);
    // The twilio package throws on a URL that `new URL()` refuses; no request is valid there.
    if (digest === undefined || parsed === undefined || !wellFormed(url) || bytes === undefined) return false;
    const signed = signedBy(token, hash, digest, candidateUrls(url, parsed), '');
    const bodyHash = parsed.searchParams.get('bodySHA256') || '';
    const hashed = withInput(bytes, undefined, (bodyLen) => wasm.bodyHashMatches(bodyLen, bodyHash));
    return signed && hashed;
  } finally {
    bytes?.fill(0);
  }
}

/**
 * The algorithm named in an X-Twilio-Webhooks-Signature-Settings header
 * (`key=<sharedKeyId>,algorithm=<algorithm>`), as the twilio package's getSignatureAlgorithm
 * reads it: the first `algorithm=` part's value, trimmed, when not empty; HMAC_SHA1 for a missing
 * or empty header, or one without it.
 */
export function getSignatureAlgorithm(header) {
  if (header !== undefined && header !== null && typeof header !== 'string') fail('header must be a string');
  for (const part of (header || '').split(',')) {
    const separator = part.indexOf('=');
    if (separator !== -1 && part.slice(0, separator).trim() === 'algorithm') {
      const algorithm = part.slice(separator + 1).trim();
      if (algorithm) return algorithm;
    }
  }
  return 'HMAC_SHA1';
}

// The two digests, and what their canonical base64 looks like: SHA-1's 20 bytes in 28
// characters, SHA-256's 32 in 44, the last data character of each carrying 2 zero bits.
const SHA1 = 1;
const SHA256 = 2;
const SIGNATURE = {
  [SHA1]: /^[A-Za-z0-9+/]{26}[AEIMQUYcgkosw048]=$/,
  [SHA256]: /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/,
};

/**
 * The digest an algorithm name stands for, as the twilio package's toHashName reads it
 * (HMAC_SHA1 or HMAC_SHA256 in any case; omitted or empty: HMAC_SHA1), or undefined when it is
 * not supported: then no request is valid.
 */
function hashOf(algorithm) {
  if (algorithm === undefined || algorithm === null || algorithm === '') return SHA1;
  if (typeof algorithm !== 'string') fail('algorithm must be a string');
  const name = algorithm.toUpperCase();
  if (name === 'HMAC_SHA1') return SHA1;
  return name === 'HMAC_SHA256' ? SHA256 : undefined;
}

function authTokenOf(value) {
  // An empty token (an unset variable) would let anyone sign: refused, not checked against.
  if (typeof value !== 'string' || value.length === 0) fail('authToken must be a non-empty string');
  if (!wellFormed(value)) fail('authToken must be well-formed text, without lone surrogates');
  return value;
}

/**
 * The digest `signature` stands for under `hash`, or undefined when it cannot be a valid
 * signature (or the algorithm is unsupported). What Twilio sends is the digest's canonical
 * base64; the twilio package compares the text, so any other spelling of the same bytes is
 * refused here before it is decoded.
 */
function signatureDigest(value, hash) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail('signature must be a string');
  if (hash === undefined || !SIGNATURE[hash].test(value)) return undefined;
  return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
}

/** The parameters as the twilio package appends them: names sorted, each name + value. */
function paramsText(params) {
  if (!isPlainObject(params)) fail('params must be a plain object of the POST parameters');
  try {
    return Object.keys(params).sort().map((name) => paramText(name, params[name])).join('');
  } catch {
    // A value that has no string form (a Symbol); no parsed request body holds one.
    return fail('params must map names to strings or arrays of strings');
  }
}

/** A repeated name contributes each distinct value once, sorted. */
function paramText(name, value) {
  if (value instanceof Array) {
    return Array.from(new Set(value)).sort().map((v) => paramText(name, v)).join('');
  }
  return name + value;
}

/**
 * Whether the digest is the HMAC (`hash`) of any of `urls` + `data`; every candidate is checked
 * first. The token and the signed text (which holds the caller's Digits) go through the input
 * buffer, where the module wipes them.
 */
function signedBy(token, hash, digest, urls, data) {
  const verdicts = urls.map((url) => withInput(token, url + data,
    (tokenLen, signedLen) => wasm.twilioSignatureMatches(tokenLen, digest, signedLen, hash === SHA256)));
  return verdicts.includes(true);
}

function parsedUrl(url) {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** Every URL the twilio package may accept a signature of, for a request to `url`. */
function candidateUrls(url, parsed) {
  const forms = [url];
  if (parsed !== undefined) forms.push(parsed.href, legacyQuery(parsed.href));
  return [...new Set(forms.flatMap(withAndWithoutPort))];
}

// A scheme, "://" and the authority, as the twilio package splits a URL (without normalising it).
const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i;

/** `url`, and `url` with its port removed, or with the scheme's port added when it has none. */
function withAndWithoutPort(url) {
  const match = AUTHORITY.exec(url);
  if (!match) return [url];
  const [prefix, scheme, authority] = match;
  const rest = url.slice(prefix.length);
  const hostStart = authority.lastIndexOf('@') + 1;
  const hostPort = authority.slice(hostStart);
  // A colon starts the port only after an IPv6 literal's closing bracket.
  const colon = hostPort.indexOf(':', hostPort.lastIndexOf(']') + 1);
  if (colon !== -1) return [url, scheme + authority.slice(0, hostStart) + hostPort.slice(0, colon) + rest];
  // Any scheme but https gets :80, as in the twilio package.
  return [url, scheme + authority + (scheme.toLowerCase() === 'https://' ? ':443' : ':80') + rest];
}

/**
 * `url` with everything after its first "?" parsed and re-encoded as Node's legacy
 * `querystring.parse` and `querystring.stringify` do, for an ASCII URL (what `new URL()`
 * serialises): pairs split on "&", at most 1000, empty ones skipped; "+" read as a space;
 * repeated names grouped at the first one's place, integer-like names first (a JavaScript
 * object's key order); each name and value encoded as `encodeURIComponent` does.
 */
function legacyQuery(url) {
  const at = url.indexOf('?');
  if (at === -1 || at === url.length - 1) return url;
  const fields = Object.create(null);
  for (const pair of url.slice(at + 1).split('&').slice(0, 1000)) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = legacyDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = legacyDecode(eq === -1 ? '' : pair.slice(eq + 1));
    fields[name] = fields[name] === undefined ? value : [].concat(fields[name], value);
  }
  const pairs = Object.keys(fields).flatMap((name) =>
    [].concat(fields[name]).map((value) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`));
  return url.slice(0, at + 1) + pairs.join('&');
}

const lenientUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** `querystring.unescape` after "+" → " ": `decodeURIComponent`, or a byte-wise fallback. */
function legacyDecode(part) {
  const spaced = part.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Malformed escapes: each %XX of two hex digits becomes its byte, every other character
    // stays as it is (its low byte: the input is ASCII), and the bytes are read as UTF-8.
    const bytes = [];
    for (let i = 0; i < spaced.length; i++) {
      const high = hexValue(spaced.charCodeAt(i + 1));
      const low = hexValue(spaced.charCodeAt(i + 2));
      if (spaced.charCodeAt(i) === 37 && high >= 0 && low >= 0) {
        bytes.push(high * 16 + low);
        i += 2;
      } else {
        bytes.push(spaced.charCodeAt(i) & 0xff);
      }
    }
    return lenientUtf8.decode(new Uint8Array(bytes));
  }
}

function hexValue(code) {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  const lower = code | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1; // a-f, A-F
}
