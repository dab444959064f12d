'use strict';
// A stand-in for the application behind the worker's sealing relay (the "upstream": an AI
// agent's WebSocket server). It listens on 127.0.0.1, records each upgrade request (path and
// headers, so a test can check X-Gather-Seal-Signature), records every message, and lets a test
// speak for the application. It can also misbehave at the handshake: refuse it (HTTP 403),
// answer it late, or never answer it.
//
//   const app = await startAgentApp();
//   // … configure the relay with app.url('/agent'), connect a ConversationRelay stand-in …
//   await app.connected();
//   app.send({ type: 'gather-seal.start', flow: 'pay' });
//   const result = await app.nextMessage('gather-seal.result');
//   await app.close();
//
// With several sessions at once, take each connection and speak on it alone:
//
//   const session = await app.connected();
//   const setup = await session.nextMessage('setup');   // this connection's messages only
//   session.send({ type: 'gather-seal.start', flow: 'pin' });

const http = require('node:http');
const WebSocket = require('ws');
const { MessageInbox } = require('./conversation-relay');

/** A running application stand-in. Made by `startAgentApp`. */
class AgentApp {
  constructor(options) {
    /** Answer upgrades with HTTP 403 (or this status, if a number). Can be changed any time. */
    this.refuse = options.refuse ?? false;
    /** Wait this long before answering an upgrade. */
    this.delayMs = options.delayMs ?? 0;
    /** Leave upgrades unanswered (the socket stays open until `close`). */
    this.neverAnswer = options.neverAnswer ?? false;
    /** Every upgrade request seen, answered or not: `{ path, headers }` (names lower-case). */
    this.upgrades = [];
    this.inbox = new MessageInbox('application stand-in');
    /** Every message the relay sent, parsed (a frame that is not JSON is kept as `{ raw }`). */
    this.messages = this.inbox.all;
    /**
     * The latest connection accepted: `{ socket, closed, upgrade, messages, nextMessage, send,
     * close }` (`closed`: `{ code, reason }`; `upgrade`: its request, as in `upgrades`;
     * `messages`, `nextMessage` and `send`: this connection's alone).
     */
    this.connection = null;
    /** Connections accepted, for `connected` to hand out one by one. */
    this.accepted = new MessageInbox('application stand-in (connections)');
    this.held = new Set();
    this.wss = new WebSocket.WebSocketServer({ noServer: true });
    this.server = http.createServer((_, response) => response.writeHead(426).end());
    this.server.on('upgrade', (request, socket, head) => this.#upgrade(request, socket, head));
  }

  #upgrade(request, socket, head) {
    const upgrade = { path: request.url, headers: { ...request.headers } };
    this.upgrades.push(upgrade);
    this.held.add(socket);
    socket.on('close', () => this.held.delete(socket));
    socket.on('error', () => {});
    if (this.neverAnswer) return;
    setTimeout(() => {
      if (socket.destroyed) return;
      if (this.refuse) {
        const status = typeof this.refuse === 'number' ? this.refuse : 403;
        const text = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Refused'}\r\n`;
        socket.end(`${text}Connection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, upgrade));
    }, this.delayMs);
  }

  #accept(socket, upgrade) {
    // This connection's own messages, beside the app-wide inbox.
    const inbox = new MessageInbox('application stand-in (one connection)');
    const closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        inbox.end(`connection closed (code ${code})`);
        resolve({ code, reason: reason.toString() });
      });
    });
    socket.on('error', () => {});
    socket.on('message', (data) => {
      const text = data.toString();
      let message;
      try {
        message = JSON.parse(text);
      } catch {
        message = { raw: text };
      }
      this.inbox.push(message);
      inbox.push(message);
    });
    this.connection = {
      socket,
      closed,
      upgrade,
      messages: inbox.all,
      nextMessage: (predicate, timeoutMs = 5000) => inbox.next(predicate, timeoutMs),
      send: (message) => sendOn(socket, message),
      close: (code = 1000, reason = '') => {
        socket.close(code, reason);
        return closed;
      },
    };
    this.accepted.push(this.connection);
  }

  /** `ws://127.0.0.1:<port><path>`: the URL to give the relay. */
  url(path = '/agent') {
    return `ws://127.0.0.1:${this.server.address().port}${path}`;
  }

  /** Resolves with the first connection not yet waited for, within `timeoutMs`. */
  connected(timeoutMs = 5000) {
    return this.accepted.next(() => true, timeoutMs);
  }

  /** Sends `message` (an object, sent as JSON, or a string) on the latest connection. */
  send(message) {
    sendOn(this.connection?.socket, message);
  }

  /** The next message from the relay that `predicate` accepts (see MessageInbox.next). */
  nextMessage(predicate, timeoutMs = 5000) {
    return this.inbox.next(predicate, timeoutMs);
  }

  /** Closes the latest connection with `code`, resolving with what the close reported. */
  closeConnection(code = 1000, reason = '') {
    if (!this.connection) throw new Error('application stand-in: no connection to close');
    this.connection.socket.close(code, reason);
    return this.connection.closed;
  }

  /** Stops listening, and drops every connection and every unanswered upgrade. */
  async close() {
    for (const client of this.wss.clients) client.terminate();
    for (const socket of this.held) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Sends `message` (an object, sent as JSON, or a string) on `socket`, which must be open. */
function sendOn(socket, message) {
  if (socket?.readyState !== WebSocket.OPEN) {
    throw new Error('application stand-in: no open connection to send on');
  }
  socket.send(typeof message === 'string' ? message : JSON.stringify(message));
}

/**
 * Starts an application stand-in on 127.0.0.1 on a free port. Options (also settable later as
 * properties): `refuse` (true for HTTP 403, or a status), `delayMs`, `neverAnswer`.
 */
async function startAgentApp(options = {}) {
  const app = new AgentApp(options);
  await new Promise((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen(0, '127.0.0.1', resolve);
  });
  return app;
}

module.exports = { startAgentApp };
