'use strict';
// The one check that what a caller typed did not reach a text the tests captured: a request
// body, a URL, TwiML, a log. Every suite uses it (tests/worker, tests/twilio-function,
// tests/node), so the rule is written once, with its own tests in plaintext.test.js.
//
// A plain `text.includes('1234')` is wrong both ways: it reports "1234" inside sealed hex
// ("…a1234f…"), inside a random port (":41234") or inside a longer number ("912345"), which
// made tests fail by chance; and it cannot be trusted to be the only rule once a suite starts
// masking those by hand. So the typed text is looked for as a TOKEN:
//
// 1. `typed` occurs with no ASCII letter or digit right before or right after it (the start and
//    the end of the text count as boundaries). Found: `Digits=1234`, `pin 1234.`, `"1234"`,
//    `/1234/`, `<Say>1234</Say>`, `1234#`. Not found: `a1234f`, `912345`, `1234ms`, `x1234`.
//    A typed value glued to a word (`pin1234`) is therefore not found; nothing the worker or
//    the Functions write glues digits to letters, and hex always does.
// 2. Typed digits spelled one at a time, as `<Say>` would read them out, are found too: single
//    digits separated by a space, a comma or a hyphen (`1 2 3 4`, `1, 2, 3, 4`, `1-2-3-4`), with
//    the same boundaries, and not part of a longer spelling (`1 2 3 4 5` is another entry). Not
//    dots: `127.0.0.1` is an address, not a spelled "12701".
// 3. Percent-escapes are decoded before looking (`Digits%3D1234` is `Digits=1234`), so a value
//    in a URL or a form body is found however it was encoded.
// 4. Numbers the machine writes are not tokens: they do not come from the caller, and a short
//    typed value can equal one by chance. They are a port after a host (`//host:PORT`,
//    `localhost:PORT`, `127.0.0.1:PORT`, `[::1]:PORT`), and the date and time log lines are
//    stamped with (`2026-12-04`, `18:12:34`, `18:12:34.567`, `2026-12-04T18:12:34.567Z`).
//    They are masked with letters before looking, so they cannot make a neighbour a token
//    either.
//
// Anything else (keys, signing secrets, sealed values) is long and random: look for those with
// a plain substring check, as assertCleanLog does.

const assert = require('node:assert/strict');

const ALNUM = /[A-Za-z0-9]/;

// Numbers the machine writes (rule 4). Each pattern's last group is the number to mask.
const MACHINE_NUMBERS = [
  // A port: after a URL's authority, localhost, a dotted IPv4 address or a bracketed IPv6 one.
  /((?:\/\/(?:[^/\s?#@]*@)?[^/\s?#:@]*|\blocalhost|(?<![0-9.])\d{1,3}(?:\.\d{1,3}){3}|\]):)(\d{1,5})(?![0-9])/g,
  // A date (2026-12-04), a time of day with seconds (18:12:34, 18:12:34.567), or both
  // (2026-12-04T18:12:34.567Z, 2026-12-04 18:12:34).
  /()((?<![0-9])(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)?|\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)(?![0-9]))/g,
];

/** `text` with percent-escapes decoded (byte by byte: a non-ASCII byte is no letter or digit). */
function percentDecoded(text) {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/** `text` with ports and times of day replaced by letters of the same length. */
function withoutMachineNumbers(text) {
  let out = text;
  for (const pattern of MACHINE_NUMBERS) {
    out = out.replace(pattern, (_, before, number) => before + number.replace(/[0-9]/g, 'n'));
  }
  return out;
}

/** The ways `typed` may be written: as typed, and (for two digits or more) spelled out. */
function forms(typed) {
  const escaped = typed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const all = [escaped];
  // Spelled out: not part of a longer spelling ("1 2 3 4 5" is another entry).
  const sep = '(?:, |[ ,-])';
  if (/^[0-9]{2,}$/.test(typed)) all.push(`(?<![0-9]${sep})${[...typed].join(sep)}(?!${sep}[0-9])`);
  return all.map((form) => new RegExp(form, 'g'));
}

/**
 * Where `typed` occurs in `text` as a token (see the rules above), or null: `{ index, found,
 * context }`, in the text as looked at (percent-decoded, machine numbers masked). `typed` is what a caller
 * keyed in, a non-empty string (digits, possibly with `*` or `#`).
 */
function findTyped(text, typed) {
  if (typeof text !== 'string') throw new TypeError('findTyped: text must be a string');
  if (typeof typed !== 'string' || typed.length === 0) throw new TypeError('findTyped: typed must be a non-empty string');
  const looked = withoutMachineNumbers(percentDecoded(text));
  for (const form of forms(typed)) {
    for (const match of looked.matchAll(form)) {
      const before = looked[match.index - 1];
      const after = looked[match.index + match[0].length];
      const boundedBefore = before === undefined || !ALNUM.test(before) || !ALNUM.test(match[0][0]);
      const boundedAfter = after === undefined || !ALNUM.test(after) || !ALNUM.test(match[0].at(-1));
      if (boundedBefore && boundedAfter) {
        const context = looked.slice(Math.max(0, match.index - 60), match.index + match[0].length + 60);
        return { index: match.index, found: match[0], context };
      }
    }
  }
  return null;
}

/**
 * Asserts that none of `typed` (an array of what callers keyed in; empty entries are skipped)
 * occurs in `text` as a token. `what` names the text in the failure message.
 */
function assertNoPlaintext(text, typed, what = 'the text') {
  for (const entry of typed) {
    if (entry === '') continue;
    const hit = findTyped(text, entry);
    if (hit) assert.fail(`${what} holds the typed "${entry}" (as "${hit.found}"): …${hit.context}…`);
  }
}

/**
 * The texts of one parsed WebSocket message to look in: the message as JSON, each string member
 * at any depth as it reads unescaped (in JSON, `"x\n1234"` is written `x\\n1234`, where the
 * escape's letter would hide the entry), and the members of a string member that is itself JSON
 * text (a relay result's `body`, an `end`'s `handoffData`) likewise. `[where, text]` pairs.
 */
function messageTexts(message, where) {
  const texts = [[where, JSON.stringify(message)]];
  const visit = (value, path) => {
    if (typeof value === 'string') {
      texts.push([path, value]);
      if (!/^\s*[[{]/.test(value)) return;
      let inner;
      try {
        inner = JSON.parse(value);
      } catch {
        return;
      }
      visit(inner, `${path} (JSON text)`);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, member] of Object.entries(value)) {
        visit(member, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`);
      }
    }
  };
  visit(message, where);
  return texts;
}

/**
 * Asserts that none of `typed` occurs as a token (the rules above) in any of `messages`, parsed
 * WebSocket messages (objects, as a stand-in received them), nor in a JSON text one of them
 * carries in a string member. `what` names the receiver in the failure message.
 */
function assertNoPlaintextInMessages(messages, typed, what = 'the messages') {
  messages.forEach((message, i) => {
    const type = typeof message?.type === 'string' ? ` (${message.type})` : '';
    for (const [where, text] of messageTexts(message, `message ${i}${type}`)) {
      assertNoPlaintext(text, typed, `${what}, ${where},`);
    }
  });
}

module.exports = { assertNoPlaintext, assertNoPlaintextInMessages, findTyped };
