#!/usr/bin/env node
'use strict';
// Benchmark (a report, not a test): gather-seal's encrypt/decrypt against node:crypto's
// aes-256-gcm, in the same process, used the way a Twilio Function uses them (hex key in, hex
// out). Rounds alternate between the two so machine noise hits both alike; each figure is the
// median of the rounds. Usage: node benches/seal.js [path/to/pkg] [--markdown]

const crypto = require('node:crypto');
const path = require('node:path');

const args = process.argv.slice(2);
const markdown = args.includes('--markdown');
const pkgDir = path.resolve(args.find((a) => !a.startsWith('--')) || path.join(__dirname, '..', 'pkg'));
const seal = require(pkgDir);

const KEY = crypto.randomBytes(32).toString('hex');

// The hand-written helper Twilio Functions use today, as the reference.
const reference = {
  encrypt(plainText, keyHex) {
    const nonce = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), nonce, { authTagLength: 16 });
    return Buffer.concat([nonce, cipher.update(plainText, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('hex');
  },
  decrypt(cipherHex, keyHex) {
    const raw = Buffer.from(cipherHex, 'hex');
    const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), raw.subarray(0, 12), { authTagLength: 16 });
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return decipher.update(raw.subarray(12, raw.length - 16), undefined, 'utf8') + decipher.final('utf8');
  },
};

function perOpMicros(fn, iterations) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / iterations / 1000;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function compare(work, iterations, rounds = 15) {
  const ours = [];
  const theirs = [];
  for (const f of [work.ours, work.theirs]) perOpMicros(f, iterations); // warm up
  for (let r = 0; r < rounds; r++) {
    theirs.push(perOpMicros(work.theirs, iterations));
    ours.push(perOpMicros(work.ours, iterations));
  }
  return { ours: median(ours), theirs: median(theirs) };
}

const rows = [];
for (const [label, bytes, iterations] of [['4 digits', 4, 20000], ['64 bytes', 64, 20000], ['1 KiB', 1024, 4000]]) {
  const plain = '7'.repeat(bytes);
  const sealedByNode = reference.encrypt(plain, KEY);
  if (seal.decrypt(sealedByNode, KEY) !== plain || reference.decrypt(seal.encrypt(plain, KEY), KEY) !== plain) {
    throw new Error('interop check failed: the benchmark would compare different work');
  }
  const enc = compare({ ours: () => seal.encrypt(plain, KEY), theirs: () => reference.encrypt(plain, KEY) }, iterations);
  const dec = compare({ ours: () => seal.decrypt(sealedByNode, KEY), theirs: () => reference.decrypt(sealedByNode, KEY) }, iterations);
  rows.push({ label, op: 'encrypt', ...enc }, { label, op: 'decrypt', ...dec });
}

const fmt = (x) => x.toFixed(2);
if (markdown) {
  console.log('| plaintext | operation | node:crypto µs/op | gather-seal µs/op | speed-up |');
  console.log('|---|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.label} | ${r.op} | ${fmt(r.theirs)} | ${fmt(r.ours)} | ${fmt(r.theirs / r.ours)}x |`);
} else {
  console.log(`node ${process.version}, ${require('node:os').cpus()[0].model}`);
  for (const r of rows) {
    console.log(`${r.label.padEnd(9)} ${r.op}  node:crypto ${fmt(r.theirs).padStart(6)} µs  gather-seal ${fmt(r.ours).padStart(6)} µs  ${fmt(r.theirs / r.ours)}x`);
  }
}
