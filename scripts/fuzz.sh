#!/usr/bin/env bash
# Fuzzes the pure core: every target in fuzz/ for SECONDS each (default 60), one after another,
# one libFuzzer worker each, then prints executions and findings per target and in total.
# Not part of scripts/test.sh.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Runs on the stable toolchain: cargo-fuzz needs nightly only for a sanitizer's -Z flag, and the
# targets run without one (`--sanitizer none`; the crate forbids unsafe code, and a panic, an
# overflow, a hang or an out-of-memory is caught either way). FUZZ_SANITIZER=address adds
# AddressSanitizer (about 3-4x slower): on stable through RUSTC_BOOTSTRAP=1, set for the fuzz
# build only; FUZZ_TOOLCHAIN=nightly picks the nightly instead.
#
# Installs cargo-fuzz from crates.io when missing. The corpus grows in fuzz/corpus/<target>
# (seeded from fuzz/seeds/<target> where there is one); a finding is written to
# fuzz/artifacts/<target>/ and is reproduced with the command printed beside it.
# Exit status: 0 when no target found anything.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
sanitizer=${FUZZ_SANITIZER:-none}
toolchain=()
if [[ -n ${FUZZ_TOOLCHAIN:-} ]]; then
  toolchain=("+$FUZZ_TOOLCHAIN")
fi

if ! cargo "${toolchain[@]}" fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (crates.io, about a minute once)"
  cargo install cargo-fuzz --locked
fi
if [[ $sanitizer != none ]] && ! rustc "${toolchain[@]}" --version | grep -q nightly; then
  # The sanitizer's -Zsanitizer flag on a stable compiler.
  export RUSTC_BOOTSTRAP=1
fi

opts=(--sanitizer "$sanitizer" --target-dir "fuzz/target/$sanitizer")
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi
logs=fuzz/target/logs
mkdir -p "$logs"

echo "== building ${#targets[@]} targets (sanitizer: $sanitizer; $(rustc "${toolchain[@]}" --version))"
cargo "${toolchain[@]}" fuzz build "${opts[@]}" >"$logs/build.log" 2>&1 || {
  cat "$logs/build.log" >&2
  exit 1
}

count_findings() { # crash-, timeout-, oom-, leak- files
  mkdir -p "fuzz/artifacts/$1"
  find "fuzz/artifacts/$1" -maxdepth 1 -type f \
    \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | sort
}

total_runs=0
total_secs=0
found=0
report=()
for target in "${targets[@]}"; do
  corpus=("fuzz/corpus/$target")
  mkdir -p "${corpus[0]}"
  if [[ -d fuzz/seeds/$target ]]; then
    corpus+=("fuzz/seeds/$target")
  fi
  before=$(count_findings "$target")
  echo "== $target: ${seconds}s"
  start=$(date +%s)
  set +e
  cargo "${toolchain[@]}" fuzz run "${opts[@]}" "$target" "${corpus[@]}" -- \
    -max_total_time="$seconds" -timeout=30 -print_final_stats=1 >"$logs/$target.log" 2>&1
  status=$?
  set -e
  secs=$(($(date +%s) - start))
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$logs/$target.log" | tail -1 | grep -o '[0-9]*$' || true)
  runs=${runs:-0}
  new=$(comm -13 <(echo "$before") <(count_findings "$target") | sed '/^$/d')
  if [[ -n $new ]]; then
    findings=$(echo "$new" | paste -sd ' ')
    found=$((found + $(echo "$new" | wc -l)))
    grep -m1 -A4 -E 'panicked at|ERROR: libFuzzer|==ERROR' "$logs/$target.log" | sed 's/^/    /' || true
    echo "    reproduce: cargo ${toolchain[*]:+${toolchain[*]} }fuzz run ${opts[*]} $target <artifact>"
  elif [[ $status -ne 0 ]]; then
    findings="fuzzer exited with $status (see $logs/$target.log)"
    found=$((found + 1))
  else
    findings=none
  fi
  total_runs=$((total_runs + runs))
  total_secs=$((total_secs + secs))
  report+=("$(printf '%-18s %13d %8d %10d %8d  %s' "$target" "$runs" "$secs" \
    $((runs / (secs > 0 ? secs : 1))) "$(find "${corpus[0]}" -type f | wc -l)" "$findings")")
done

echo
printf '%-18s %13s %8s %10s %8s  %s\n' target executions seconds exec/s corpus findings
printf '%s\n' "${report[@]}"
printf '%-18s %13d %8d %10d %8s  %s\n' total "$total_runs" "$total_secs" \
  $((total_runs / (total_secs > 0 ? total_secs : 1))) "" \
  "$([[ $found -eq 0 ]] && echo none || echo "$found")"
echo "(logs: $logs/)"
[[ $found -eq 0 ]]
