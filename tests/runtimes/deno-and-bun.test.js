'use strict';
// The packed package in Deno and Bun, from their npm packages (dev dependencies, so `npm ci`
// installs them; where one is missing its tests are skipped saying why, and fail under CI=true).
// Deno runs with no permissions at all: its entry point imports the wasm as a module instead of
// reading it. Bun runs it both as an ES module and through require().

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { projectWithPackage, runtime, probe, probeInput, checkProbe } = require('./support');
const { assertPresent, skipUnlessCi } = require('../support/ci');

const RUN_TIMEOUT_MS = 60_000;

let project;
let input;

before(() => {
  project = projectWithPackage('deno-bun');
  input = probeInput();
  const script = (load) => [
    load,
    `const probe = ${probe};`,
    'const input = JSON.parse(globalThis.Deno ? Deno.args[0] : process.argv[2]);',
    'console.log(JSON.stringify(probe(gs, input)));',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(project, 'probe.mjs'), script("import * as gs from 'gather-seal';"));
  fs.writeFileSync(path.join(project, 'probe.cjs'), script("const gs = require('gather-seal');"));
  fs.writeFileSync(path.join(project, 'where.mjs'), "console.log(import.meta.resolve('gather-seal'));\n");
  // Deno type-checks TypeScript itself: the declarations must resolve and hold there too.
  fs.writeFileSync(path.join(project, 'typed.ts'), [
    "import { encrypt, validateRequest, validateRequestWithBody } from 'gather-seal';",
    "const valid: boolean = validateRequest('token', null, 'https://example.com/', { Digits: '1' });",
    "const withBody: boolean = validateRequestWithBody('token', 'sig', 'https://example.com/', '{}');",
    "const sealed: string = encrypt('4821', 'key');",
    '// @ts-expect-error a verdict is not text',
    "const wrong: string = validateRequest('token', null, 'https://example.com/');",
    'console.log(valid, withBody, sealed, wrong);',
    '',
  ].join('\n'));
});

after(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

function run({ path: binary, missing }, args, env = {}) {
  assertPresent(missing);
  return execFileSync(binary, args, {
    cwd: project, encoding: 'utf8', timeout: RUN_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}

const deno = runtime('deno');
const bun = runtime('bun');
// Deno's caches stay inside the test's project; no update check.
const denoEnv = () => ({ DENO_DIR: path.join(project, '.deno'), DENO_NO_UPDATE_CHECK: '1' });

test('Deno: the deno entry point, with no permissions; every export works', skipUnlessCi(deno.missing), () => {
  assert.match(run(deno, ['run', '--quiet', 'where.mjs'], denoEnv()), /node_modules\/gather-seal\/deno\.js$/m);
  const out = JSON.parse(run(deno, ['run', '--no-prompt', '--quiet', 'probe.mjs', JSON.stringify(input)], denoEnv()));
  checkProbe(out, input);
});

test('Deno: `deno check` accepts the declarations and refuses a misuse', skipUnlessCi(deno.missing), () => {
  run(deno, ['check', '--quiet', 'typed.ts'], denoEnv());
});

test('Bun: import gets the ES build, every export works', skipUnlessCi(bun.missing), () => {
  assert.match(run(bun, ['where.mjs']), /node_modules\/gather-seal\/index\.js$/m);
  checkProbe(JSON.parse(run(bun, ['probe.mjs', JSON.stringify(input)])), input);
});

test('Bun: require() gets the CommonJS build, every export works', skipUnlessCi(bun.missing), () => {
  checkProbe(JSON.parse(run(bun, ['probe.cjs', JSON.stringify(input)])), input);
});
