'use strict';
// examples/ai-agent as a developer runs it, for the tests that put it behind the relay: copied
// beside a snapshot of pkg/ (so its `file:../../pkg` dependency resolves as a user's would),
// npm-installed, and started with `node server.js` on a free port of 127.0.0.1.
//
//   const example = await startAgentExample({ BACKEND_SIGNING_SECRET, AES_SECRET });
//   … GATHER_RELAYS' upstream: example.url …
//   await example.stop();

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The example, installed in a temporary folder and listening, with `secrets`
 * (BACKEND_SIGNING_SECRET, AES_SECRET). Resolves with `{ port, url, output(), stop() }`:
 * `url` is the upstream to give the relay, `output()` everything the example printed (its
 * model's transcript), `stop()` ends it and removes the folder.
 */
async function startAgentExample(secrets) {
  if (!fs.existsSync(path.join(ROOT, 'pkg'))) throw new Error('pkg/ is missing: run bash scripts/build-node.sh');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-ai-agent-'));
  fs.cpSync(path.join(ROOT, 'pkg'), path.join(tmp, 'pkg'), { recursive: true });
  const dir = path.join(tmp, 'examples', 'ai-agent');
  fs.cpSync(path.join(ROOT, 'examples', 'ai-agent'), dir, {
    recursive: true,
    filter: (from) => path.basename(from) !== 'node_modules',
  });
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefer-offline'], {
    cwd: dir, stdio: 'pipe', timeout: 90_000,
  });
  const port = await freePort();
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    BACKEND_SIGNING_SECRET: secrets.BACKEND_SIGNING_SECRET,
    AES_SECRET: secrets.AES_SECRET,
  };
  delete env.PUBLIC_WS_URL;
  const child = spawn(process.execPath, ['server.js'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null) child.kill();
    await exited;
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!/listening on/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`examples/ai-agent did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, url: `ws://127.0.0.1:${port}/agent`, output: () => output, stop };
}

module.exports = { startAgentExample };
