#!/usr/bin/env bash
# Runs every test from a fresh clone: installs what is missing (scripts/setup.sh), tests the
# core on the host, builds the npm package and the worker, then runs the Node end-to-end tests
# against the built artefacts in the real runtimes (Node, twilio-run, workerd via Miniflare).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/setup.sh"
cd "$root"

echo "== Rust: format and lints (host, and the worker and npm glue on wasm)"
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --features worker --target-dir target/worker -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --features demo --target-dir target/worker -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --features node -- -D warnings

echo "== Rust: core tests on the host"
cargo test --all-targets
cargo test --doc

echo "== Build: npm package (pkg/) and worker (build/)"
bash scripts/build-node.sh
bash scripts/build-worker.sh
bash scripts/build-worker.sh --demo

echo "== Node: package, worker and Twilio Functions end-to-end tests; the package in workerd, Deno, Bun"
node --test --test-concurrency=1 tests/support/ tests/node/ tests/worker/ tests/twilio-function/ tests/runtimes/

echo "== Node 22 and 24 (Twilio Functions' runtimes): the package's tests"
for runtime in node22 node24; do
  other_node=$(bash scripts/node-runtimes.sh "$runtime")
  "$other_node" --test --test-concurrency=1 tests/node/*.test.js
done
