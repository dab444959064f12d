'use strict';
// An AI voice agent on Twilio ConversationRelay that takes a card payment without ever seeing
// the card: its WebSocket sits behind gather-seal's sealing relay (the worker's
// /relay/<name>), which redacts digits from the caller's speech and runs the card capture
// itself. A scripted agent stands in for the language model (agentTurn, below).
//
//   Twilio ⇄ wss://<worker>/relay/agent ⇄ this server (the relay's `upstream`)
//
// - An upgrade whose X-Gather-Seal-Signature does not verify (verifyRelayHandshake, over the
//   URL the relay dials) is answered 401 before anything is accepted: only the relay talks here.
// - The agent greets on `setup`; asked to take a payment, it says so and sends
//   {"type":"gather-seal.start","flow":"card"}. The relay then asks for the card itself; the
//   caller's keys go to the worker, which seals them and sends back gather-seal.result.
// - The result goes to `backend` (your payment backend: it verifies and opens the submission,
//   and would charge the card), which gives the agent back only { ok, last4, brand }.
//
// Settings (environment): BACKEND_SIGNING_SECRET (the worker's; comma-separated during a
// rotation), AES_SECRET and, during a rotation, AES_SECRET_PREVIOUS (comma-separated), PORT
// (8789), HOST (127.0.0.1), PUBLIC_WS_URL: the relay's `upstream` exactly as written in
// GATHER_RELAYS (default ws://127.0.0.1:<port>/agent). It logs each session's transcript: what
// the model saw and said, never a sealed value or a card digit beyond the last four it speaks.

const http = require('node:http');
const { WebSocketServer } = require('ws');
const { verifyRelayHandshake, verifySubmission, openSubmission, maskedCards } = require('gather-seal');

const CAPTURE_FLOW = 'card'; // the flow of GATHER_FLOWS the relay runs for a payment
const MAX_MESSAGE = 64 * 1024; // the relay drops anything larger anyway

/**
 * An http.Server (not yet listening) that serves the agent's WebSocket with the settings in
 * `env`. `options.log` receives each log line (default console.log).
 */
function createServer(env = process.env, { log = console.log } = {}) {
  const secrets = (env.BACKEND_SIGNING_SECRET || '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (secrets.length === 0 || secrets.some((s) => s.length < 32)) {
    throw new Error('BACKEND_SIGNING_SECRET must be set (the worker\'s; comma-separated during a rotation), each at least 32 characters');
  }
  const keys = [env.AES_SECRET, ...(env.AES_SECRET_PREVIOUS || '').split(',')]
    .map((key) => (key || '').trim())
    .filter((key) => key.length > 0);
  if (!env.AES_SECRET || !keys.every((key) => /^[0-9a-fA-F]{64}$/.test(key))) {
    throw new Error('AES_SECRET (and AES_SECRET_PREVIOUS) must be keys of 64 hex characters');
  }
  if (env.PUBLIC_WS_URL && !/^wss?:\/\/[^/]+\/\S*$/i.test(env.PUBLIC_WS_URL)) {
    throw new Error('PUBLIC_WS_URL must be a whole ws:// or wss:// URL with a path, as GATHER_RELAYS\' upstream says it');
  }

  const server = http.createServer((req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('This is a ConversationRelay application: connect through the gather-seal relay.\n');
  });
  /** The URL the relay dials and signs: PUBLIC_WS_URL, or this server's own. */
  const upstream = () => env.PUBLIC_WS_URL || `ws://127.0.0.1:${server.address().port}/agent`;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE });

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const url = upstream();
    let path;
    try {
      path = new URL(req.url, 'http://agent').pathname;
    } catch {
      return refuse(socket, 400);
    }
    if (path !== new URL(url).pathname) return refuse(socket, 404);
    try {
      verifyRelayHandshake(url, req.headers['x-gather-seal-signature'], secrets);
    } catch {
      // Not the relay (no signature, a wrong one, or one older than 300 s): nothing is accepted.
      return refuse(socket, 401);
    }
    wss.handleUpgrade(req, socket, head, (ws) => converse(ws, { secrets, keys, log }));
  });
  return server;
}

/** Answers an upgrade with `status` and closes the connection. */
function refuse(socket, status) {
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** One call: Twilio's messages (through the relay) in, the agent's out. */
function converse(ws, { secrets, keys, log }) {
  const session = { callSid: null, history: [] };
  // What the model saw and said, in order; each entry is logged as it is added.
  const remember = (entry) => {
    session.history.push(entry);
    log(`ai-agent ${session.callSid ?? '(no call yet)'} ${entry.role.padEnd(6)} ${logged(entry)}`);
  };
  const send = (message) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  /** Asks the agent for its next turn and carries it out. */
  const respond = async () => {
    const turn = await agentTurn(session.history);
    if (turn.say) {
      remember({ role: 'agent', text: turn.say });
      send({ type: 'text', token: turn.say, last: true });
    }
    if (turn.startCapture) {
      remember({ role: 'tool', call: 'start-card-capture' });
      send({ type: 'gather-seal.start', flow: CAPTURE_FLOW });
    }
  };

  ws.on('error', () => {});
  ws.on('close', () => log(`ai-agent ${session.callSid ?? '(no call)'} ended after ${session.history.length} transcript entries`));
  ws.on('message', async (data, isBinary) => {
    let message;
    try {
      message = isBinary ? null : JSON.parse(data.toString());
    } catch {
      message = null;
    }
    if (message === null || typeof message !== 'object') return;
    try {
      switch (message.type) {
        case 'setup':
          // The call's identity; the caller's number stays out of the model's view and the log.
          session.callSid = typeof message.callSid === 'string' ? message.callSid : null;
          remember({ role: 'event', text: 'The call started.' });
          return await respond();
        case 'prompt':
          // The caller's final transcript, as the relay passed it: any run of 6 or more digits
          // is already "[redacted]".
          if (message.last !== true || typeof message.voicePrompt !== 'string') return;
          remember({ role: 'caller', text: message.voicePrompt });
          return await respond();
        case 'dtmf':
          // Keys outside a capture (inside one the relay keeps them): never given to the model.
          return;
        case 'gather-seal.result': {
          const outcome = backend(message.body, message.signature, { secrets, keys, callSid: session.callSid });
          remember({ role: 'tool', result: outcome });
          return await respond();
        }
        case 'gather-seal.error':
          remember({ role: 'tool', result: { ok: false, error: String(message.reason) } });
          return await respond();
        case 'error':
          log(`ai-agent ${session.callSid ?? '(no call)'} ConversationRelay error: ${String(message.description).slice(0, 200)}`);
          return;
        default:
          // interrupt and anything newer: nothing for this agent to do.
          return;
      }
    } catch (error) {
      log(`ai-agent ${session.callSid ?? '(no call)'} failed: ${error.message}`);
    }
  });
}

// ─────────────────────────────────────────────────────────────────────────────────────────────
// THIS IS WHERE A MODEL IS CALLED.
//
// `history` is everything the model knows of the call, oldest first:
//   { role: 'event',  text }                  the call started
//   { role: 'caller', text }                  what the caller said (digit runs "[redacted]")
//   { role: 'agent',  text }                  what the agent said
//   { role: 'tool',   call: 'start-card-capture' }
//   { role: 'tool',   result: { ok, last4, brand, result } }   what `backend` let it know
// It returns the agent's turn: `say` (a sentence for the caller) and `startCapture` (true to
// hand the caller to the relay's card capture). A real agent sends `history` to a language model
// with a "take card payment" tool, and maps the model's reply and tool call to this turn; this
// script stands in for the model so the example runs anywhere, offline, the same every time.
// ─────────────────────────────────────────────────────────────────────────────────────────────
async function agentTurn(history) {
  const last = history.at(-1);
  if (last.role === 'event') {
    return { say: 'Hello, this is the billing assistant. How can I help you today?' };
  }
  if (last.role === 'caller') {
    if (/\b(pay|paying|payment|card|bill|billing)\b/i.test(last.text)) {
      return {
        say: 'Sure. Please type your card details on your keypad; they go to a secure system, not to me.',
        startCapture: true,
      };
    }
    return { say: 'I can help you pay your bill. Just say that you would like to pay.' };
  }
  if (last.role === 'tool' && last.result) {
    const { ok, last4, result } = last.result;
    if (ok) return { say: `Thank you. Your card ending ${last4} is accepted.` };
    if (result === 'cancelled') return { say: 'No problem, I have cancelled the payment. Is there anything else I can do for you?' };
    if (result === 'too-many-attempts') return { say: 'I am sorry, the card details could not be read. Would you like to try again?' };
    if (result === 'locked') return { say: 'I am sorry, card payments are not available on this line right now. Please try again later.' };
    return { say: 'I am sorry, the payment did not go through. Please try again later.' };
  }
  return {};
}

// ─────────────────────────────────────────────────────────────────────────────────────────────
// YOUR BACKEND: the payment side, which the model never runs. It receives the relay's signed
// result as it came, checks it, opens the sealed card and would charge it with your payment
// processor, then returns only what the model may know: whether it worked, and the card's
// last four digits and brand. The full card, its security code and expiry stay here.
// ─────────────────────────────────────────────────────────────────────────────────────────────
function backend(body, signature, { secrets, keys, callSid }) {
  let submission;
  try {
    submission = verifySubmission(body, signature, secrets);
  } catch {
    return { ok: false, result: 'unverified' }; // not signed by the worker: nothing to charge
  }
  // A result for this call and this flow only.
  if (submission.callSid !== callSid || submission.flow !== CAPTURE_FLOW) return { ok: false, result: 'unverified' };
  let card = {};
  try {
    card = maskedCards(submission).card ?? {};
  } catch {
    // no masked card: the caller stopped before it
  }
  const masked = { last4: card.last4, brand: card.brand };
  if (submission.result !== 'success') return { ok: false, result: submission.result, ...masked };
  try {
    const values = openSubmission(submission, keys, { fields: ['card', 'cvv', 'expiry'] });
    // Here your payment processor would charge values.card (with values.cvv, values.expiry).
    // This example only checks that they opened, and forgets them.
    void values;
  } catch {
    return { ok: false, result: 'unopenable' };
  }
  return { ok: true, result: 'success', ...masked };
}

/** A transcript entry as one log line. */
function logged(entry) {
  if (entry.text !== undefined) return JSON.stringify(entry.text);
  if (entry.call) return `${entry.call} (flow "${CAPTURE_FLOW}")`;
  // The model sees last4; the log keeps it to the one sentence the caller hears.
  const { last4, ...rest } = entry.result;
  return JSON.stringify(last4 === undefined ? rest : { ...rest, last4: '····' });
}

module.exports = { createServer, agentTurn, backend };

if (require.main === module) {
  const port = Number(process.env.PORT || 8789);
  const host = process.env.HOST || '127.0.0.1';
  const server = createServer();
  server.listen(port, host, () => {
    const url = process.env.PUBLIC_WS_URL || `ws://127.0.0.1:${server.address().port}/agent`;
    console.log(`ai-agent: listening on ${host}:${server.address().port}, accepting only the relay's signed connections to ${url}`);
  });
}
