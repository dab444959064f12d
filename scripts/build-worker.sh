#!/usr/bin/env bash
# Builds the Cloudflare Worker into build/: the core and src/worker/ compiled to wasm with the
# size-tuned release profile (feature "worker"), bound by worker-build and bundled with our own
# entry module, src/worker/shim.mjs (build/worker/shim.mjs, build/index_bg.wasm), then shrunk
# with wasm-opt -Oz.
# Finally reports what `wrangler deploy --dry-run` would upload and fails when the gzip total is
# over the 160 KiB budget (raised from 128 so that settings are read with serde-wasm-bindgen and
# derived structs rather than by hand: issue 15).
#
#   bash scripts/build-worker.sh              build, then report the upload size
#   bash scripts/build-worker.sh --no-report  build only (wrangler.toml's [build] command)
#   bash scripts/build-worker.sh --demo       the local development build into build-dev/:
#                                             the same plus the demo backend (feature "demo";
#                                             [env.dev] and scripts/dev.sh use it)
#
# wasm-opt runs here rather than inside worker-build: worker-build's own run uses -O and keeps
# the names section, and its binaryen download goes to GitHub. The optimised wasm is cached by
# the hash of its input, so an unchanged crate rebuilds in a second or two.
set -euo pipefail

# `wrangler deploy --dry-run` below runs wrangler.toml's [build] command again; the worker has
# just been built, so that nested run has nothing to do.
if [ "${GATHER_SEAL_WORKER_BUILT:-}" = 1 ]; then
  exit 0
fi

report=1
features=worker
out=build
case "${1:-}" in
  --no-report) report=0 ;;
  --demo) report=0; features="worker demo"; out=build-dev ;;
  "") ;;
  *) echo "usage: $0 [--no-report | --demo]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# scripts/setup.sh installs what is missing and exports the tool paths. When the caller has
# already done that (scripts/test.sh, scripts/dev.sh, and through it `wrangler dev`'s rebuilds,
# which must not reinstall node_modules under the running wrangler), it is not run again.
if [ -z "${WASM_BINDGEN_BIN:-}" ] || [ -z "${WASM_OPT_BIN:-}" ] || ! command -v worker-build >/dev/null; then
  . "$root/scripts/setup.sh"
fi
cd "$root"
say() { printf 'build-worker: %s\n' "$*" >&2; }

budget=$((160 * 1024))

# --no-opt: wasm-opt runs below. `--features worker --target-dir …` go on to `cargo build`.
# A target directory of its own: worker-build runs cargo, then reads the .wasm back, and other
# builds into target/ (the npm package, a plain --release) must not swap it in between.
# CUSTOM_SHIM: the entry module is ours (src/worker/shim.mjs says why: no per-request Proxy,
# and a new wasm instance after a trap all the same). worker-build then binds with
# wasm-bindgen's bundler target and bundles the shim with the glue into worker/shim.mjs, the
# wasm beside it as worker/index.wasm.
# Panic locations name their source files, and a dependency's is an absolute path into the
# cargo registry (/root/.cargo/registry/src/index.crates.io-…/worker-0.8.7/src/…): shipped in
# the upload, it says who built it where. Each registry folder is remapped to `crates/`
# (0.1 KiB of gzip less). The crate's own paths are relative already; the standard library's are
# /rustc/<commit>/… as shipped. Only set when RUSTFLAGS is not (it would take precedence).
remap=()
for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  case "$dir" in *[[:space:]]*) continue ;; esac
  [ -d "$dir" ] && remap+=("--remap-path-prefix=${dir%/}=crates")
done
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${remap[*]}" \
  CUSTOM_SHIM="$root/src/worker/shim.mjs" \
  worker-build --release --no-opt --out-dir "$out" --features "$features" --target-dir target/worker >&2

# The wasm goes where worker-build's default layout has it (the tests and benches/worker.js
# look for it there), and the shim's one import of it follows.
wasm=$out/index_bg.wasm
shim=$out/worker/shim.mjs
[ -f "$out/worker/index.wasm" ] && [ -f "$shim" ] ||
  { say "worker-build did not leave $out/worker/index.wasm and $shim"; exit 1; }
[ "$(grep -o '"./index.wasm"' "$shim" | wc -l)" = 1 ] ||
  { say "$shim does not import ./index.wasm exactly once"; exit 1; }
mv "$out/worker/index.wasm" "$wasm"
sed -i 's#"./index.wasm"#"../index_bg.wasm"#' "$shim"

# The wasm features rustc's wasm32-unknown-unknown emits, plus the exception handling that
# wasm-bindgen's catch wrappers use; listed rather than --all-features so that binaryen never
# emits an encoding workerd does not read yet. No --debuginfo: the names section is dropped.
features=(--enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling)
# --low-memory-unused lets binaryen fold a constant added to an address into the load's or
# store's offset (1.2 KiB of gzip less, and fewer instructions). The two differ only when the
# addition wraps past 4 GiB into the lowest 1 KiB of memory, which the wasm32 target never
# addresses that way (it is the far end of the 1 MiB stack; data and heap lie above it): there
# the folded access traps instead of touching low memory.
# --skip-pass=inlining-optimizing: binaryen's own inlining (LLVM has inlined at opt-level "z"
# already) makes the module 2.5% smaller raw but 4% larger gzipped, since each inlined copy is
# specialised and compresses worse than the calls it replaces (-6.1 KiB of the upload; speed and
# cold start in benches/README.md).
passes=(-Oz --converge --skip-pass=inlining-optimizing --low-memory-unused --strip-debug --strip-producers)
cache=target/worker-opt
mkdir -p "$cache"
key=$( { sha256sum "$wasm" | cut -d' ' -f1; "$WASM_OPT_BIN" --version; echo "${features[*]} ${passes[*]}"; } |
  sha256sum | cut -d' ' -f1)
raw_size=$(wc -c < "$wasm")
if [ ! -f "$cache/$key.wasm" ]; then
  say "wasm-opt ${passes[*]} ($raw_size bytes in)"
  "$WASM_OPT_BIN" "${features[@]}" "${passes[@]}" "$wasm" -o "$cache/$key.tmp"
  mv "$cache/$key.tmp" "$cache/$key.wasm"
  # Keep only the latest few results.
  ls -1t "$cache"/*.wasm | tail -n +5 | xargs -r rm -f
fi
cp "$cache/$key.wasm" "$wasm"
say "wasm $raw_size -> $(wc -c < "$wasm") bytes ($(gzip -9c "$wasm" | wc -c) gzip)"

[ "$report" = 1 ] || exit 0

# What `wrangler deploy` would upload, measured offline.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dry=$(GATHER_SEAL_WORKER_BUILT=1 npx --no-install wrangler deploy --dry-run --outdir "$out" 2>&1) ||
  { printf '%s\n' "$dry" >&2; say "wrangler deploy --dry-run failed"; exit 1; }
line=$(printf '%s\n' "$dry" | grep -m1 'Total Upload:' || true)
[ -n "$line" ] || { printf '%s\n' "$dry" >&2; say "no 'Total Upload' line from wrangler"; exit 1; }
line=$(printf '%s\n' "$line" | sed 's/\x1b\[[0-9;]*m//g; s/^[^T]*//')
say "$line"
# "Total Upload: 123.45 KiB / gzip: 56.78 KiB"
gzip_kib=$(printf '%s\n' "$line" | sed -n 's/.*gzip: *\([0-9.]*\) *KiB.*/\1/p')
[ -n "$gzip_kib" ] || { say "could not read the gzip size from: $line"; exit 1; }
if awk -v g="$gzip_kib" -v b="$budget" 'BEGIN { exit !(g * 1024 > b) }'; then
  say "over budget: $gzip_kib KiB gzip > $((budget / 1024)) KiB"
  exit 1
fi
say "within budget: $gzip_kib KiB gzip <= $((budget / 1024)) KiB"
