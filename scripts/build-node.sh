#!/usr/bin/env bash
# Builds the npm package into pkg/: the core and src/node.rs compiled to wasm for speed
# (profile "node"), bound by wasm-bindgen (its ES-module glue, instantiated by the package's own
# entry points), optimised by wasm-opt; the hand-written modules, types, package.json and README
# from npm/ beside it; and npm/index.cjs bundled with the ES modules it requires into one
# CommonJS file for require(). Fails when the .wasm is over its gzip budget.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/setup.sh"
cd "$root"

WASM_GZIP_BUDGET=32768 # bytes (32 KiB)

# SIMD lets LLVM widen the bitsliced AES; every runtime the package supports has it.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  cargo build --lib --profile node --target wasm32-unknown-unknown --features node
bound=$(mktemp -d)
trap 'rm -rf "$bound"' EXIT
# The bundler target's gather_seal_wasm_bg.js is glue whose instance is set from outside
# (__wbg_set_wasm), which lets each entry point instantiate the module its own way.
"$WASM_BINDGEN_BIN" --target bundler --out-dir "$bound" --out-name gather_seal_wasm \
  --no-typescript target/wasm32-unknown-unknown/node/gather_seal.wasm

rm -rf pkg && mkdir -p pkg
cp "$bound/gather_seal_wasm_bg.js" pkg/
"$WASM_OPT_BIN" --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue --enable-simd -O3 "$bound/gather_seal_wasm_bg.wasm" -o pkg/gather_seal_wasm_bg.wasm
cp npm/index.js npm/index.cjs npm/deno.js npm/workerd.js npm/core.js npm/seal.js npm/twilio.js \
  npm/package.json npm/README.md LICENSE pkg/
cp npm/index.d.ts pkg/index.d.ts
cp npm/index.d.ts pkg/index.d.cts
node_modules/.bin/esbuild pkg/index.cjs --bundle --platform=node --format=cjs --target=node20 \
  --outfile=pkg/index.cjs --allow-overwrite --log-level=warning

raw=$(wc -c < pkg/gather_seal_wasm_bg.wasm)
gzipped=$(gzip -9c pkg/gather_seal_wasm_bg.wasm | wc -c)
printf 'build-node: pkg/ built, wasm %s bytes, %s gzip (budget %s)\n' "$raw" "$gzipped" "$WASM_GZIP_BUDGET" >&2
if [ "$gzipped" -gt "$WASM_GZIP_BUDGET" ]; then
  printf 'build-node: the .wasm is over its gzip budget\n' >&2
  exit 1
fi
