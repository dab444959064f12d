#!/usr/bin/env bash
# Builds the npm package into pkg/: the core and src/node.rs compiled to wasm for speed
# (profile "node"), bound for Node's CommonJS by wasm-bindgen, optimised by wasm-opt, and the
# hand-written wrapper, types, package.json and README from npm/ copied beside it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/setup.sh"
cd "$root"

# SIMD lets LLVM widen the bitsliced AES; every Node that Twilio Functions runs (18+) has it.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  cargo build --lib --profile node --target wasm32-unknown-unknown --features node
rm -rf pkg && mkdir -p pkg
"$WASM_BINDGEN_BIN" --target nodejs --out-dir pkg --out-name gather_seal_wasm \
  --no-typescript target/wasm32-unknown-unknown/node/gather_seal.wasm
"$WASM_OPT_BIN" --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue --enable-simd -O3 pkg/gather_seal_wasm_bg.wasm -o pkg/gather_seal_wasm_bg.wasm
cp npm/index.js npm/index.d.ts npm/package.json npm/README.md pkg/
cp LICENSE pkg/
printf 'build-node: pkg/ built, wasm %s bytes, %s gzip\n' \
  "$(wc -c < pkg/gather_seal_wasm_bg.wasm)" "$(gzip -9c pkg/gather_seal_wasm_bg.wasm | wc -c)" >&2
