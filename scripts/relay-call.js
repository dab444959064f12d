#!/usr/bin/env node
// Plays a ConversationRelay session against the local worker's sealing relay without a phone:
// opens wss://<worker>/relay/<name> as Twilio would, the handshake signed with the official
// `twilio` package (getExpectedTwilioSignature over the URL, no parameters), sends a `setup`
// message, then plays the caller: each argument in order is either speech (a `prompt`, the
// final transcript of an utterance) or keys (`0-9*#`, one `dtmf` message each). Between steps
// it waits for the session to go quiet (no message for --quiet ms), and prints every message
// Twilio would receive: what the caller hears (`text`, `play`, `sendDigits`) and does (`end`).
// Every message is checked against the types and fields Twilio documents
// (tests/support/conversation-relay.js).
//
//   node scripts/relay-call.js "I want to pay my bill" 4242424242424242# 123 1228
//                           the AI agent example (examples/ai-agent, which scripts/dev.sh starts):
//                           greeted, asks to pay, the relay asks for the card, its security
//                           code and expiry; the agent hears only "card ending 4242"
//   node scripts/relay-call.js "My card number is 4111 1111 1111 1111" 4242424242424242# 123 1228
//                           said aloud: the agent's transcript shows "[redacted]"
//   node scripts/relay-call.js "I want to pay" 4242424242424242# '*'
//                           '*' cancels the capture (quote it, or the shell expands it)
//
// Options: --base URL (the worker, default http://127.0.0.1:8787, or GATHER_BASE; https://
// becomes wss://), --relay NAME (default agent), --token TOKEN (default TWILIO_AUTH_TOKEN, else
// the one in .dev.vars), --call-sid SID (default random), --from NUMBER (default +15005550001),
// --quiet MS (how long without a message ends a step, default 1000).
// Exits 0 when every step was played and the session closed or ended cleanly, 1 on a protocol
// problem (the upgrade refused, an undocumented message, the session gone too early, the relay
// ending it because the application was lost), 2 on a usage error.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const twilio = require('twilio');
const { connect } = require('../tests/support/conversation-relay');

const root = path.join(__dirname, '..');

function usage(message) {
  if (message) console.error(`relay-call.js: ${message}`);
  console.error(
    'usage: node scripts/relay-call.js [--base URL] [--relay NAME] [--token TOKEN] [--call-sid SID] [--from NUMBER] [--quiet MS] [STEP...]\n' +
      '  STEP: words the caller says ("I want to pay my bill"), or keys pressed (0-9, * and #)',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    base: process.env.GATHER_BASE || 'http://127.0.0.1:8787',
    relay: 'agent',
    token: process.env.TWILIO_AUTH_TOKEN || '',
    callSid: `CA${crypto.randomBytes(16).toString('hex')}`,
    from: '+15005550001',
    quietMs: 1000,
    steps: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${arg} needs a value`));
    if (arg === '--base') options.base = value();
    else if (arg === '--relay') options.relay = value();
    else if (arg === '--token') options.token = value();
    else if (arg === '--call-sid') options.callSid = value();
    else if (arg === '--from') options.from = value();
    else if (arg === '--quiet') options.quietMs = Number(value());
    else if (arg === '-h' || arg === '--help') usage();
    else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else if (arg.trim() === '') usage('an empty step: say words or press keys');
    else options.steps.push(/^[0-9*#]+$/.test(arg) ? { keys: arg } : { say: arg });
  }
  if (!/^[a-z0-9_-]{1,64}$/i.test(options.relay)) usage('--relay takes a relay name');
  if (!Number.isInteger(options.quietMs) || options.quietMs < 100 || options.quietMs > 60000) {
    usage('--quiet takes milliseconds from 100 to 60000');
  }
  const base = options.base.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/i.test(base)) usage('--base takes the worker\'s origin, e.g. http://127.0.0.1:8787');
  options.url = `${base.replace(/^http/i, 'ws')}/relay/${options.relay}`;
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const signature = twilio.getExpectedTwilioSignature(options.token, options.url, {});
  console.log(`Connecting to ${options.url} as ${options.callSid}`);
  let session;
  try {
    session = await connect(options.url, {
      headers: { 'X-Twilio-Signature': signature },
      setup: { callSid: options.callSid, from: options.from, to: '+15005550006' },
    });
  } catch (error) {
    if (error.status) {
      console.log(`The worker refused the session: HTTP ${error.status} ${error.body.trim()}`);
      if (error.status === 403) console.log('(the handshake signature: is --token the worker\'s TWILIO_AUTH_TOKEN?)');
      if (error.status === 404) console.log(`(is there a relay "${options.relay}" in GATHER_RELAYS?)`);
    } else {
      console.error(`relay-call.js: cannot reach ${options.url}: ${error.code || error.message}`);
      console.error('relay-call.js: is the worker running? Start it with: bash scripts/dev.sh');
    }
    process.exit(1);
  }
  console.log(`   sent setup (callSid ${options.callSid}, from ${options.from})`);

  // Every message, printed as it arrives; `text` tokens are joined until `last`.
  let lastMessageAt = Date.now();
  let ended = null; // the `end` message, once it came
  let spoken = '';
  session.socket.on('message', (data) => {
    lastMessageAt = Date.now();
    let message;
    try {
      message = JSON.parse(data.toString());
    } catch {
      console.log(`   (not JSON: ${data.toString().slice(0, 200)})`);
      return;
    }
    switch (message?.type) {
      case 'text':
        spoken += String(message.token);
        if (message.last === true) {
          console.log(`   caller hears: "${spoken}"`);
          spoken = '';
        }
        break;
      case 'play':
        console.log(`   caller hears the audio at ${message.source}`);
        break;
      case 'sendDigits':
        console.log(`   Twilio plays the tones ${message.digits}`);
        break;
      case 'language':
        console.log(`   language: ${JSON.stringify(message)}`);
        break;
      case 'end':
        ended = message;
        console.log(`   the session ends${message.handoffData === undefined ? '' : `, handoffData: ${message.handoffData}`}`);
        if (/upstream-unavailable/.test(message.handoffData ?? '')) {
          console.log('   (the relay could not reach the application: is examples/ai-agent running? bash scripts/dev.sh starts it)');
        }
        break;
      default:
        console.log(`   (a message Twilio does not take: ${data.toString().slice(0, 200)})`);
    }
  });
  let closed = null;
  session.closed.then((info) => (closed = info));

  /** Resolves once no message has come for quietMs (or the session is over). */
  async function quiet() {
    const from = Date.now();
    lastMessageAt = Math.max(lastMessageAt, from);
    while (!closed && !ended && Date.now() - lastMessageAt < options.quietMs) await sleep(50);
  }

  await quiet();
  let played = 0;
  for (const step of options.steps) {
    if (closed || ended) break;
    if (step.say !== undefined) {
      console.log(`\n── caller says: "${step.say}"`);
      session.say(step.say);
    } else {
      console.log(`\n── caller presses: ${step.keys}`);
      session.press(step.keys);
    }
    played += 1;
    await quiet();
  }

  let ok = true;
  if (played < options.steps.length) {
    const why = ended ? 'ended' : `closed (code ${closed.code})`;
    console.log(`\nThe session ${why} before the caller was done (${played} of ${options.steps.length} steps played).`);
    ok = false;
  } else if (closed && !ended) {
    console.log(`\nThe session closed (code ${closed.code}).`);
    ok = closed.code === 1000;
  } else if (ended && /upstream-unavailable/.test(ended.handoffData ?? '')) {
    console.log('\nThe relay lost the application: the call would go on at the <Connect action> URL.');
    ok = false;
  } else {
    console.log(ended ? '\nSession over (ended by the application).' : '\nThe caller hangs up.');
  }
  await session.close();
  if (session.violations.length > 0) {
    console.log(`\nTwilio would not take ${session.violations.length} of the messages received:`);
    for (const problem of session.violations) console.log(`   ${problem}`);
    ok = false;
  }
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
