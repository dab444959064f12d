'use strict';
// A live board of calls for a flow's `status_callback`, on Node's http module alone.
//
//   POST /status   the worker's signed status event (X-Gather-Seal-Signature):
//                  204 taken, 401 not signed with BACKEND_SIGNING_SECRET (or too old),
//                  400 signed but not a status event, 413 too large
//   GET  /events   Server-Sent Events: each event taken, as JSON, in the order taken (the last
//                  500 first, or those after Last-Event-ID when the browser reconnects)
//   GET  /         the page (public/), which draws one row per call from /events
//
// What reaches the page is what verifyStatusEvent returns: the event's own members (callSid,
// flow, field, event, error, attempt, at, masked, result), nothing else. Nothing is logged but the
// address it listens on. Settings (environment): BACKEND_SIGNING_SECRET, the worker's (during a
// rotation the new and the old, comma-separated); PORT (8788); HOST (127.0.0.1).

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { verifyStatusEvent } = require('gather-seal');

const MAX_BODY = 16 * 1024; // an event is a few hundred bytes
const KEPT = 500; // events replayed to a page that opens late
const HEARTBEAT_MS = 25_000; // a comment line keeps idle proxies from closing /events

// The page's files, read once. The CSP lets the page load only these and talk only to /events.
const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};
const FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/board.js': ['board.js', 'text/javascript; charset=utf-8'],
  '/board.css': ['board.css', 'text/css; charset=utf-8'],
};

/** An http.Server (not yet listening) with the settings in `env`. */
function createServer(env = process.env) {
  const secrets = (env.BACKEND_SIGNING_SECRET || '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (secrets.length === 0 || secrets.some((s) => s.length < 32)) {
    throw new Error('BACKEND_SIGNING_SECRET must be set (the worker\'s; comma-separated during a rotation), each at least 32 characters');
  }
  const files = {};
  for (const [route, [name, type]] of Object.entries(FILES)) {
    files[route] = { body: fs.readFileSync(path.join(__dirname, 'public', name)), type };
  }

  const kept = []; // { id, data }, oldest first
  let lastId = 0;
  const pages = new Set(); // open /events responses

  function publish(event) {
    const entry = { id: ++lastId, data: JSON.stringify(event) };
    kept.push(entry);
    if (kept.length > KEPT) kept.shift();
    for (const res of pages) send(res, entry);
  }

  const server = http.createServer(async (req, res) => {
    try {
      const route = new URL(req.url, 'http://board').pathname;
      if (route === '/status') {
        if (req.method !== 'POST') return plain(res, 405);
        const body = await readBody(req);
        if (body === null) return plain(res, 413);
        let event;
        try {
          event = verifyStatusEvent(body, req.headers['x-gather-seal-signature'], secrets);
        } catch (error) {
          // Which rule failed, never what was sent: a signed body of the wrong shape is a 400.
          return plain(res, /^gather-seal: (?:status event|submission body)/.test(error.message) ? 400 : 401);
        }
        publish(event);
        return plain(res, 204);
      }
      if (route === '/events') {
        if (req.method !== 'GET') return plain(res, 405);
        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-store',
          'X-Accel-Buffering': 'no',
        });
        const after = Number(req.headers['last-event-id']);
        for (const entry of kept) if (!(entry.id <= after)) send(res, entry);
        pages.add(res);
        const heartbeat = setInterval(() => res.write(': still here\n\n'), HEARTBEAT_MS);
        req.on('close', () => {
          clearInterval(heartbeat);
          pages.delete(res);
        });
        return undefined;
      }
      const file = files[route];
      if (file === undefined) return plain(res, 404);
      if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405);
      res.writeHead(200, { 'Content-Type': file.type, ...PAGE_HEADERS });
      return void res.end(req.method === 'HEAD' ? undefined : file.body);
    } catch {
      return plain(res, 500);
    }
  });
  return server;
}

/** One Server-Sent Event: its id (for Last-Event-ID) and the event's JSON (one line). */
function send(res, { id, data }) {
  res.write(`id: ${id}\ndata: ${data}\n\n`);
}

/** The body's bytes as received (the signature covers them exactly), or null past MAX_BODY. */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  }
  return size <= MAX_BODY ? Buffer.concat(chunks) : null;
}

/** A bare answer: the status and its name, nothing from the request. */
function plain(res, status) {
  if (status === 204) return void res.writeHead(204).end();
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  return void res.end(`${http.STATUS_CODES[status]}\n`);
}

module.exports = { createServer };

if (require.main === module) {
  const port = Number(process.env.PORT || 8788);
  const host = process.env.HOST || '127.0.0.1';
  const server = createServer();
  server.listen(port, host, () => {
    const { port: bound } = server.address();
    console.log(`status-board: http://${host}:${bound}/ (the worker posts to http://${host}:${bound}/status)`);
  });
}
