// The floor for benches/relay.js: the least a Worker can do in a ConversationRelay WebSocket.
// It opens UPSTREAM and pipes every message both ways unread: no signature checked either way,
// no JSON parsed, no redaction, no capture. Not a usable relay (anyone could connect through it);
// it only shows what carrying a message costs the runtime itself.

export default {
  async fetch(request, env) {
    if (request.headers.get('Upgrade') !== 'websocket') return new Response(null, { status: 426 });
    const answer = await fetch(env.UPSTREAM.replace(/^ws/, 'http'), { headers: { Upgrade: 'websocket' } });
    const upstream = answer.webSocket;
    if (!upstream) return new Response(null, { status: 502 });
    upstream.accept();
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener('message', (event) => upstream.send(event.data));
    upstream.addEventListener('message', (event) => server.send(event.data));
    server.addEventListener('close', () => upstream.close());
    upstream.addEventListener('close', () => server.close());
    return new Response(null, { status: 101, webSocket: client });
  },
};
