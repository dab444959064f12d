'use strict';
// validateRequest, validateRequestWithBody and getSignatureAlgorithm give the `twilio` package's
// verdict, case for case.
//
// Thousands of generated requests (seeded, so a failure repeats: GATHER_SEAL_SEED=<n> to try
// others): URLs with and without default and other ports, any scheme case, userinfo, IPv6 and
// non-ASCII hosts, paths and queries with percent-encoding, quotes, "+", repeated names and empty
// values, fragments, and URLs `new URL()` refuses; form parameters with repeated, non-ASCII and
// empty names and values. Each is signed by the official package
// (`twilio.getExpectedTwilioSignature`) over the URL as requested or over another form of it
// (port added or removed, `new URL()`'s normal form, that form's query re-encoded by Node's own
// `querystring`, another path), with the right or a wrong token and the same or changed
// parameters; the signature is then sent as it is or spoiled (truncated, re-cased, padded,
// re-spelled, missing). Both packages judge every case and must agree. Where the twilio package
// throws (a URL `new URL()` refuses, when the first check fails), gather-seal says false.
//
// Each case is judged under an algorithm (the fifth argument): none, HMAC_SHA1 or HMAC_SHA256 in
// any case, or a name neither package supports (both say false; the twilio package warns, so
// console.warn is silenced around its calls), and signed with that algorithm or the other one.
// Settings headers, generated and from tests/data/signature-settings/cases (the table the
// crate's parser is held to), are read alike by both getSignatureAlgorithm.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const querystring = require('node:querystring');
const twilio = require('twilio');
const { gs } = require('./support');

const SEED = Number(process.env.GATHER_SEAL_SEED ?? 20260519);
const CASES = 4000;
const BODY_CASES = 4000;

/** A small seeded PRNG (mulberry32) with the helpers the generators need. */
function random(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
    hex: (n) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(next() * 16)]).join(''),
  };
  return r;
}

const SCHEMES = ['https', 'https', 'https', 'http', 'http', 'HTTPS', 'Http', 'wss', 'ftp'];
const USERINFO = ['', '', '', '', '', '', 'user@', 'user:pw@', 'a%40b:c@'];
const HOSTS = ['example.com', 'mycompany.com', 'EXAMPLE.com', 'sub.example.co.uk', '127.0.0.1',
  '[::1]', '[2001:db8::1]', 'bücher.example', 'xn--bcher-kva.example', 'localhost', 'a.b-c.example'];
const PORTS = ['', '', '', ':443', ':80', ':8443', ':3000', ':'];
// Authorities `new URL()` refuses (the twilio package then throws unless the first check passed).
const BAD_HOSTS = ['bad host.example', '[::1', 'exa%mple.com'];
const BAD_PORTS = [':99999', ':1:2', ':x'];
const PATHS = ['', '/', '/voice', '/gather/login', '/a b/c', "/it's", '/caf%C3%A9', '/café', '/a/../b',
  '/%7Euser', '/x%2Fy', '/emoji/☎', '/twiml.php', '/a//b', '/%zz'];
const QUERY_NAMES = ['foo', 'bar', 'step', 'a', 'A', 'b', 'é', 'x y', 'x+y', "it's", '%27', '', '1', '10',
  '2', '__proto__', 'bodySHA256', 'a%3Db', 'Digits', '%E9'];
const QUERY_VALUES = ['', '1', '2', 'hello world', 'hello+world', 'hello%20world', "O'Brien", '%27',
  'caf%C3%A9', 'café', '%E9', '%zz', '%', '%4', '100%', '=', 'a=b', '☎', '%F0%9F%93%9E', "~!*()'",
  '%%41', '%41', 'a%2Bb', '<>"', '[x]', '%7e'];
const FRAGMENTS = ['', '', '', '', '', '', '#top', '#a b', '#é', '#?x=1'];

const PARAM_NAMES = ['CallSid', 'AccountSid', 'From', 'To', 'Digits', 'SpeechResult', 'Prénom', 'é', 'a',
  'B', 'b', '10', '2', '__proto__', 'x y', '', 'Called', 'msg'];
const PARAM_VALUES = ['CA1234567890ABCDE', '+14158675309', '1234', '', ' ', 'hello world', 'a+b', '%20',
  'Zürich', '東京', '🔐', '\uD800', 'line\nbreak', 'O\'Brien', 'a&b=c', '0'];

function randomQuery(r) {
  const pairs = Array.from({ length: r.int(0, 5) }, () => {
    const name = r.pick(QUERY_NAMES);
    return r.chance(0.15) ? name : `${name}=${r.pick(QUERY_VALUES)}`;
  });
  if (r.chance(0.1)) pairs.splice(r.int(0, pairs.length), 0, ''); // "&&"
  if (r.chance(0.1)) pairs.push(''); // a trailing "&"
  return pairs.join('&');
}

function randomUrlParts(r) {
  return {
    scheme: r.pick(SCHEMES),
    userinfo: r.pick(USERINFO),
    host: r.chance(0.03) ? r.pick(BAD_HOSTS) : r.pick(HOSTS),
    port: r.chance(0.03) ? r.pick(BAD_PORTS) : r.pick(PORTS),
    path: r.pick(PATHS),
    query: r.chance(0.25) ? '' : r.chance(0.05) ? '?' : `?${randomQuery(r)}`,
    fragment: r.pick(FRAGMENTS),
  };
}

const urlOf = (p) => `${p.scheme}://${p.userinfo}${p.host}${p.port}${p.path}${p.query}${p.fragment}`;

/** A parsed form body: a name's repeated values as an array; "__proto__" an own field. */
function randomParams(r) {
  const params = {};
  for (let i = r.int(0, 6); i > 0; i--) {
    const value = r.chance(0.2)
      ? Array.from({ length: r.int(0, 3) }, () => r.pick(PARAM_VALUES))
      : r.pick(PARAM_VALUES);
    Object.defineProperty(params, r.pick(PARAM_NAMES), { value, enumerable: true, writable: true, configurable: true });
  }
  return params;
}

function changedParams(r, params) {
  const copy = { ...params };
  const names = Object.keys(copy);
  const choice = r.int(0, 3);
  if (choice === 0 && names.length > 0) delete copy[r.pick(names)];
  else if (choice === 1 && names.length > 0) copy[r.pick(names)] = 'changed';
  else if (choice === 2) copy.Extra = 'x';
  else if (names.length > 0) {
    const name = r.pick(names);
    copy[name] = [].concat(copy[name], copy[name]).reverse(); // repeats and reorders: same text
  }
  return copy;
}

/** What Node's legacy querystring makes of the query (everything after the first "?"). */
function legacyQuerystring(url) {
  const at = url.indexOf('?');
  if (at === -1 || at === url.length - 1) return url;
  return `${url.slice(0, at)}?${querystring.stringify(querystring.parse(url.slice(at + 1)))}`;
}

function normalised(url) {
  try {
    return new URL(url).toString();
  } catch {
    return undefined;
  }
}

/** The URL the signer used: the requested one or another form of it. */
function signingUrl(r, parts, url) {
  const forms = {
    'as requested': url,
    'another port': urlOf({ ...parts, port: r.pick(['', ':443', ':80', ':8443']) }),
    'normal form': normalised(url),
    'legacy query': normalised(url) && legacyQuerystring(normalised(url)),
    'legacy query, another port': normalised(url) &&
      legacyQuerystring(normalised(urlOf({ ...parts, port: r.pick(['', ':443', ':80']) }))),
    'another path': urlOf({ ...parts, path: '/elsewhere' }),
  };
  const how = r.pick(Object.keys(forms));
  return { how, signedUrl: forms[how] ?? url };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function spoiled(r, signature) {
  const last = signature.length - 2; // the last data character, before the one "="
  const spoils = [
    (s) => s, (s) => s, (s) => s, (s) => s, (s) => s, (s) => s,
    (s) => s.slice(0, -1), (s) => s.slice(0, 20), (s) => s.toLowerCase(), (s) => ` ${s}`, (s) => `${s}\n`,
    (s) => s.replace(/=$/, ''), () => '', () => undefined, () => null,
    // The same bytes spelt differently: the last data character's two spare bits set.
    (s) => s.slice(0, last) + BASE64[BASE64.indexOf(s[last]) | 1] + '=',
  ];
  return r.pick(spoils)(signature);
}

// What the fifth argument may be: omitted, each supported name in several spellings, and names
// neither package supports.
const SUPPORTED = [undefined, undefined, null, '', 'HMAC_SHA1', 'hmac_sha1', 'HMAC_SHA256', 'HMAC_SHA256',
  'HMAC_SHA256', 'hmac_sha256', 'Hmac_Sha256', 'HMAC_\u017fHA256'];
const UNSUPPORTED = ['HMAC_SHA512', 'HMAC-SHA256', ' HMAC_SHA256', 'HMAC_SHA256 ', 'SHA256', 'sha1', 'HMAC_SHA2',
  'HMAC_SHA256\u0085', 'HMAC_SS256', 'HMAC_\u00dfHA256', 'RSA_SHA256', 'undefined'];

/** The algorithm a case is judged under, and the one its signature is made with. */
function randomAlgorithms(r) {
  const judged = r.chance(0.15) ? r.pick(UNSUPPORTED) : r.pick(SUPPORTED);
  const sha256 = typeof judged === 'string' && /^HMAC_(SHA|\u017fHA)256$/i.test(judged);
  const named = sha256 ? 'HMAC_SHA256' : 'HMAC_SHA1';
  const other = sha256 ? 'HMAC_SHA1' : 'HMAC_SHA256';
  return { algorithm: judged, signedWith: r.chance(0.15) || UNSUPPORTED.includes(judged) ? r.pick([named, other]) : named };
}

/** `fn()` with console.warn silenced (the twilio package warns of an unsupported algorithm). */
function quietly(fn) {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return fn();
  } finally {
    console.warn = warn;
  }
}

const algorithmTally = (c, expected) =>
  `${UNSUPPORTED.includes(c.algorithm) ? 'unsupported' : c.signedWith}: ${expected}`;

/** The twilio package's verdict, or 'throws'. */
function theirs(fn) {
  try {
    return fn();
  } catch {
    return 'throws';
  }
}

function compare(cases, judge) {
  const disagreements = [];
  const tally = new Map();
  for (const c of cases) {
    const { expected, actual } = judge(c);
    const verdict = expected === 'throws' ? 'twilio throws' : String(expected);
    const key = `${c.how}: ${verdict}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    const byAlgorithm = algorithmTally(c, verdict);
    tally.set(byAlgorithm, (tally.get(byAlgorithm) ?? 0) + 1);
    const agrees = expected === 'throws' ? actual === false && normalised(c.url) === undefined : actual === expected;
    if (!agrees && disagreements.length < 5) disagreements.push({ ...c, expected, actual });
  }
  return { disagreements, tally };
}

test(`validateRequest: the twilio package's verdict in ${CASES} generated cases (seed ${SEED})`, () => {
  const r = random(SEED);
  const cases = Array.from({ length: CASES }, () => {
    const token = r.hex(32);
    const parts = randomUrlParts(r);
    const url = urlOf(parts);
    const params = randomParams(r);
    const { how, signedUrl } = signingUrl(r, parts, url);
    const signToken = r.chance(0.1) ? r.hex(32) : token;
    const signParams = r.chance(0.1) ? changedParams(r, params) : params;
    const { algorithm, signedWith } = randomAlgorithms(r);
    const signature = spoiled(r, twilio.getExpectedTwilioSignature(signToken, signedUrl, signParams, signedWith));
    return { how, token, signature, url, params, algorithm, signedWith };
  });
  // The one difference on purpose: a parameter with a lone surrogate (text no UTF-8 body can
  // carry) gives false, where the twilio package checks its U+FFFD replacement.
  let lone = 0;
  const { disagreements, tally } = compare(cases, (c) => {
    const expected = theirs(() => quietly(() => twilio.validateRequest(c.token, c.signature, c.url, c.params, c.algorithm)));
    const actual = gs.validateRequest(c.token, c.signature, c.url, c.params, c.algorithm);
    if (!JSON.stringify(c.params).includes('\\ud800')) return { expected, actual };
    lone++;
    return { expected: false, actual };
  });
  assert.deepEqual(disagreements, [], 'cases where the verdicts differ');
  assert.ok(lone >= 100, `requests with a lone surrogate: ${lone}`);
  // The generator reaches every path: each form of the URL yields both verdicts.
  for (const how of ['as requested', 'another port', 'normal form', 'legacy query', 'legacy query, another port']) {
    assert.ok((tally.get(`${how}: true`) ?? 0) >= 20, `${how}: valid cases ${JSON.stringify([...tally])}`);
    assert.ok((tally.get(`${how}: false`) ?? 0) >= 20, `${how}: invalid cases ${JSON.stringify([...tally])}`);
  }
  assert.ok((tally.get('another path: true') ?? 0) === 0);
  const throws = [...tally].filter(([k]) => k.endsWith('twilio throws')).reduce((n, [, v]) => n + v, 0);
  assert.ok(throws >= 20, 'URLs new URL() refuses are generated');
  assertBothAlgorithms(tally);
});

/** Both algorithms yield both verdicts, and an unsupported name never a valid one. */
function assertBothAlgorithms(tally) {
  for (const algorithm of ['HMAC_SHA1', 'HMAC_SHA256']) {
    assert.ok((tally.get(`${algorithm}: true`) ?? 0) >= 100, `${algorithm}: valid cases ${JSON.stringify([...tally])}`);
    assert.ok((tally.get(`${algorithm}: false`) ?? 0) >= 100, `${algorithm}: invalid cases`);
  }
  assert.ok((tally.get('unsupported: false') ?? 0) >= 100, 'unsupported algorithms are judged');
  assert.equal(tally.get('unsupported: true'), undefined);
}

test(`validateRequestWithBody: the twilio package's verdict in ${BODY_CASES} generated cases`, () => {
  const r = random(SEED + 1);
  const cases = Array.from({ length: BODY_CASES }, () => {
    const token = r.hex(32);
    const parts = randomUrlParts(r);
    const body = JSON.stringify({ CallSid: `CA${r.hex(32)}`, note: r.pick(PARAM_VALUES), n: r.int(0, 99) });
    const hash = twilio.getExpectedBodyHash(body);
    const hashParam = r.pick([
      `bodySHA256=${hash}`, `bodySHA256=${hash}`, `bodySHA256=${hash}`, `bodySHA256=${hash.toUpperCase()}`,
      `bodySHA256=${hash.slice(1)}`, `bodySHA256=${r.hex(64)}`, '', `bodySHA256=${r.hex(64)}&bodySHA256=${hash}`,
      `bodySHA256=${hash}&bodySHA256=${r.hex(64)}`, `bodySHA256=%${hash.charCodeAt(0).toString(16)}${hash.slice(1)}`,
      `bodySHA256=${hash}%20`, `bodySHA256=+${hash}`,
    ]);
    const query = [parts.query.replace(/^\?/, ''), hashParam].filter(Boolean);
    if (r.chance(0.5)) query.reverse();
    const withHash = { ...parts, query: query.length > 0 ? `?${query.join('&')}` : '' };
    const url = urlOf(withHash);
    const { how, signedUrl } = signingUrl(r, withHash, url);
    const { algorithm, signedWith } = randomAlgorithms(r);
    const signature = spoiled(r,
      twilio.getExpectedTwilioSignature(r.chance(0.1) ? r.hex(32) : token, signedUrl, {}, signedWith));
    const sent = r.pick([body, body, body, `${body} `, body.replace('"n"', '"m"')]);
    return { how, token, signature, url, body: sent, asBytes: r.chance(0.3), algorithm, signedWith };
  });
  const { disagreements, tally } = compare(cases, (c) => ({
    expected: theirs(() => quietly(() => twilio.validateRequestWithBody(c.token, c.signature, c.url, c.body, c.algorithm))),
    actual: gs.validateRequestWithBody(c.token, c.signature, c.url,
      c.asBytes ? new TextEncoder().encode(c.body) : c.body, c.algorithm),
  }));
  assert.deepEqual(disagreements, [], 'cases where the verdicts differ');
  // Fewer are valid here (the body hash is spoiled too): each algorithm still yields dozens.
  const [valid, valid256] = [tally.get('HMAC_SHA1: true') ?? 0, tally.get('HMAC_SHA256: true') ?? 0];
  assert.ok(valid >= 50 && valid256 >= 50, `valid cases: ${JSON.stringify([...tally])}`);
  assert.equal(tally.get('unsupported: true'), undefined);
});

/** tests/data/signature-settings/cases: header, name (both JSON), verdict, why. */
function settingsCases() {
  const file = path.join(__dirname, '..', 'data', 'signature-settings', 'cases');
  return fs.readFileSync(file, 'utf8').split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const [header, name, verdict, why] = line.split(' | ').map((column) => column.trim());
      return { header: JSON.parse(header), name: JSON.parse(name), verdict, why };
    });
}

test('getSignatureAlgorithm: the table the crate is held to, read alike by both packages', () => {
  const cases = settingsCases();
  assert.ok(cases.length >= 25);
  const url = 'https://example.com/gather?step=1';
  const params = { CallSid: 'CA1234567890ABCDE', Digits: '4821' };
  const key = 'shared-key-secret';
  const signed = {
    sha1: twilio.getExpectedTwilioSignature(key, url, params, 'HMAC_SHA1'),
    sha256: twilio.getExpectedTwilioSignature(key, url, params, 'HMAC_SHA256'),
  };
  for (const c of cases) {
    assert.equal(twilio.getSignatureAlgorithm(c.header), c.name, `twilio: ${c.why}`);
    assert.equal(gs.getSignatureAlgorithm(c.header), c.name, `gather-seal: ${c.why}`);
    // The verdict column: which signature each package accepts under that name.
    for (const [hash, signature] of Object.entries(signed)) {
      const want = hash === c.verdict;
      assert.equal(quietly(() => twilio.validateRequest(key, signature, url, params, c.name)), want, `twilio ${hash}: ${c.why}`);
      assert.equal(gs.validateRequest(key, signature, url, params, c.name), want, `gather-seal ${hash}: ${c.why}`);
    }
  }
});

test(`getSignatureAlgorithm: the twilio package's reading of ${CASES} generated headers`, () => {
  const r = random(SEED + 2);
  const SPACE = ['', '', '', ' ', '  ', '\t', '\u00a0', '\ufeff', '\u0085', '\u2028', '\u3000', '\n'];
  const NAMES = ['algorithm', 'algorithm', 'algorithm', 'key', 'Algorithm', 'ALGORITHM', 'algo', '', 'algorithm ='];
  const VALUES = ['HMAC_SHA256', 'HMAC_SHA1', 'hmac_sha256', '', 'HMAC_SHA512', '=HMAC_SHA256', 'webhooks_sharedkey_1',
    'HMAC_SHA256=', 'a b', '\u017f', ';algorithm=HMAC_SHA1'];
  const part = () => {
    const name = `${r.pick(SPACE)}${r.pick(NAMES)}${r.pick(SPACE)}`;
    const value = `${r.pick(SPACE)}${r.pick(VALUES)}${r.pick(SPACE)}`;
    return r.chance(0.1) ? name : `${name}=${value}`;
  };
  const disagreements = [];
  const names = new Set();
  for (let i = 0; i < CASES; i++) {
    const header = r.chance(0.03) ? r.pick([undefined, null, '']) :
      Array.from({ length: r.int(1, 4) }, part).join(r.pick([',', ',', ', ', ';', ',,']));
    const expected = twilio.getSignatureAlgorithm(header);
    names.add(expected);
    const actual = gs.getSignatureAlgorithm(header);
    if (actual !== expected && disagreements.length < 5) disagreements.push({ header, expected, actual });
  }
  assert.deepEqual(disagreements, [], 'headers read differently');
  assert.ok(names.size >= 20, `names read: ${[...names].length}`);
});

test("Twilio's documented example and SDK vector are valid; any change is not", () => {
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030',
    To: '+18005551212' };
  assert.equal(gs.validateRequest('12345', '0/KCTR6DLpKmkAf8muzZqo1nDgQ=', url, params), true);
  assert.equal(gs.validateRequest('12345', '0/KCTR6DLpKmkAf8muzZqo1nDgQ=', url.replace('bar=2', 'bar=3'), params), false);
  assert.equal(gs.validateRequest('12346', '0/KCTR6DLpKmkAf8muzZqo1nDgQ=', url, params), false);
  assert.equal(gs.validateRequest('12345', '0/KCTR6DLpKmkAf8muzZqo1nDgQ=', url, { ...params, Digits: '1235' }), false);
  const sdk = { ...params, Caller: '+14158675309', From: '+14158675309' };
  assert.equal(gs.validateRequest('12345', 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', url, sdk), true);
  assert.equal(gs.validateRequest('12345', 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', 'https://mycompany.com:443/myapp.php?foo=1&bar=2', sdk), true);
});
