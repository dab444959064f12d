#!/usr/bin/env node
// Walks a whole phone call through the local worker without a phone: plays Twilio's side,
// signing every request with the official `twilio` package (getExpectedTwilioSignature), follows
// each <Gather> action URL, types the digits given as arguments, and prints every TwiML step,
// down to the hand-off: the application's TwiML relayed, or the final <Redirect>.
//
//   node scripts/call.js --flow default 1234 4321   the articles' demo caller (account, balance)
//   node scripts/call.js 1234 0000                  an unknown caller (the demo backend's goodbye)
//   node scripts/call.js 12 1234 4321               a short first try: asked again, then through
//   node scripts/call.js --flow fr 4321             the French flow: ends in a <Redirect>
//   node scripts/call.js --flow pay 4242424242424242# 1 123 1228 1
//                                                   a card payment: the card (read back, 1 keeps
//                                                   it), its security code, the expiry (read
//                                                   back, 1), then a <Redirect> with card_last4
//                                                   and card_brand; each step also goes to the
//                                                   flow's status_callback
//   node scripts/call.js --flow pay 4242424242424242# 2 5555555555554444# 1 123 1228 1
//                                                   any key but 1 types the card again
//   node scripts/call.js --flow pay 4242424242424242# 1 '*'
//                                                   '*' cancels: result=cancelled, the card only
//                                                   (quote it, or the shell expands it to file names)
//   node scripts/call.js 4111111111111111#          a '#' at the end finishes the entry, as on a phone
//   node scripts/call.js                            silence: asked until the attempts run out
//   node scripts/call.js --calls 4 1234 0000        four wrong calls from one number: the dev flow's
//                                                   limits (3 failures) lock the fourth out
//
// Options: --flow NAME (POST /gather/NAME; default: the flow "default" at /gather),
// --base URL (default http://127.0.0.1:8787, or GATHER_BASE), --url URL (the whole first URL,
// instead of --base and --flow), --token TOKEN (default TWILIO_AUTH_TOKEN, else the one in
// .dev.vars), --call-sid SID (default random), --from NUMBER (the caller, default +15005550001;
// `anonymous` plays a withheld number), --calls N (the same call N times from the same number,
// each with a new call SID).
// Exits 0 when every call ends (hung up, handed off, or nothing more to ask), 1 otherwise.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const twilio = require('twilio');

const root = path.join(__dirname, '..');
const MAX_STEPS = 30;

function usage(message) {
  if (message) console.error(`call.js: ${message}`);
  console.error(
    'usage: node scripts/call.js [--flow NAME] [--base URL | --url URL] [--token TOKEN] [--call-sid SID] [--from NUMBER] [--calls N] [KEYS...]   (KEYS: 0-9, * and #)',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    url: process.env.GATHER_URL || '',
    base: process.env.GATHER_BASE || 'http://127.0.0.1:8787',
    flow: 'default',
    token: process.env.TWILIO_AUTH_TOKEN || '',
    callSid: `CA${crypto.randomBytes(16).toString('hex')}`,
    from: '+15005550001',
    calls: 1,
    digits: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${arg} needs a value`));
    if (arg === '--url') options.url = value();
    else if (arg === '--base') options.base = value();
    else if (arg === '--flow') options.flow = value();
    else if (arg === '--token') options.token = value();
    else if (arg === '--call-sid') options.callSid = value();
    else if (arg === '--from') options.from = value();
    else if (arg === '--calls') options.calls = Number(value());
    else if (arg === '-h' || arg === '--help') usage();
    else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else options.digits.push(arg);
  }
  // A phone has only these keys. An unquoted * reaches here as the file names the shell
  // expanded it to.
  const unkeyable = options.digits.find((entry) => !/^[0-9*#]*$/.test(entry));
  if (unkeyable !== undefined) usage(`"${unkeyable}" is not keys of a phone (0-9, * and #); quote a '*' so the shell leaves it alone`);
  if (!/^[a-z0-9_-]{1,64}$/.test(options.flow)) usage('--flow takes a flow name: a-z, 0-9, - and _');
  if (!Number.isInteger(options.calls) || options.calls < 1 || options.calls > 100) usage('--calls takes a number from 1 to 100');
  if (!options.url) {
    const route = options.flow === 'default' ? '/gather' : `/gather/${options.flow}`;
    options.url = `${options.base.replace(/\/+$/, '')}${route}`;
  }
  if (!options.token) options.token = tokenFromDevVars();
  if (!options.token) usage('no auth token: pass --token, set TWILIO_AUTH_TOKEN, or create .dev.vars');
  return options;
}

/** TWILIO_AUTH_TOKEN from .dev.vars (what `wrangler dev` gives the worker). */
function tokenFromDevVars() {
  for (const file of ['.dev.vars', '.dev.vars.example']) {
    let text;
    try {
      text = fs.readFileSync(path.join(root, file), 'utf8');
    } catch {
      continue;
    }
    const match = text.match(/^\s*TWILIO_AUTH_TOKEN\s*=\s*"?([^"\r\n]*)"?\s*$/m);
    if (match && match[1]) return match[1].trim();
  }
  return '';
}

/** The attribute of the first <tag …> in the TwiML, XML entities decoded. */
function attribute(xml, tag, name) {
  const element = xml.match(new RegExp(`<${tag}\\b[^>]*>`));
  if (!element) return null;
  const value = element[0].match(new RegExp(`\\s${name}="([^"]*)"`));
  return value ? decodeEntities(value[1]) : null;
}

function decodeEntities(text) {
  return text
    .replace(/&#x([0-9a-fA-F]+);/g, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#([0-9]+);/g, (_, dec) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** What the caller hears: the text of every <Say>. */
function spoken(xml) {
  return [...xml.matchAll(/<Say\b[^>]*>([\s\S]*?)<\/Say>/g)].map((m) => decodeEntities(m[1]));
}

/** Where a <Redirect> sends the call, entities decoded, or null. */
function redirectTarget(xml) {
  const match = xml.match(/<Redirect\b[^>]*>([\s\S]*?)<\/Redirect>/);
  return match ? decodeEntities(match[1]) : null;
}

async function post(url, params, token) {
  const signature = twilio.getExpectedTwilioSignature(token, url, params);
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': signature,
      },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(15000),
    });
  } catch (error) {
    console.error(`call.js: cannot reach ${url}: ${error.cause?.code || error.message}`);
    console.error('call.js: is the worker running? Start it with: bash scripts/dev.sh');
    process.exit(1);
  }
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  for (let n = 1; n <= options.calls; n++) {
    if (options.calls > 1) console.log(`\n═══ call ${n} of ${options.calls} from ${options.from}`);
    const callSid = n === 1 ? options.callSid : `CA${crypto.randomBytes(16).toString('hex')}`;
    if (!(await playCall(options, callSid))) process.exit(1);
  }
}

/** Plays one call; true when it ended (hung up, handed off, or nothing more to ask). */
async function playCall(options, callSid) {
  const digits = [...options.digits];
  // What Twilio posts to a voice webhook (a representative subset), then Digits on each action.
  const call = {
    AccountSid: `AC${'0'.repeat(32)}`,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'in-progress',
    Called: '+15005550006',
    Caller: options.from,
    Direction: 'inbound',
    From: options.from,
    To: '+15005550006',
  };
  console.log(`Calling ${options.url} as ${callSid}`);

  let url = options.url;
  let params = { ...call };
  for (let step = 1; step <= MAX_STEPS; step++) {
    const typed = 'Digits' in params ? ` with Digits="${params.Digits}"` : ' (the call comes in)';
    console.log(`\n── step ${step}: POST ${url}${typed}`);
    const reply = await post(url, params, options.token);
    console.log(`   ${reply.status} ${reply.type || ''}`);
    console.log(reply.body);
    for (const line of spoken(reply.body)) console.log(`   caller hears: "${line}"`);
    if (reply.status !== 200) {
      console.log(`\nThe worker answered ${reply.status}; the call cannot go on.`);
      return false;
    }
    const action = attribute(reply.body, 'Gather', 'action');
    if (!action) {
      const redirect = redirectTarget(reply.body);
      if (redirect) {
        console.log(`\nHanded off: Twilio would now POST to ${redirect.split('?')[0]}`);
        for (const [name, value] of new URL(redirect).searchParams) console.log(`   ${name} = ${value}`);
        return true;
      }
      const how = /<Hangup\s*\/>/.test(reply.body) ? 'hung up' : 'nothing more to ask';
      console.log(`\nCall over (${how}).`);
      return true;
    }
    url = action;
    // Twilio posts what was typed, without a '#' that ended it, or (actionOnEmptyResult) an
    // empty Digits after the timeout.
    const entry = digits.length ? digits.shift() : '';
    const finished = entry.endsWith('#');
    params = { ...call, Digits: finished ? entry.slice(0, -1) : entry, FinishedOnKey: finished ? '#' : '' };
  }
  console.log(`\nStopped after ${MAX_STEPS} steps.`);
  return false;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
