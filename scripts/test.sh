#!/usr/bin/env bash
# The whole test suite, as CI runs it: setup, the debug build's tests, the same tests under
# ASan+UBSan, the embedded build with its code-size table, and a short run of every fuzz target.
# Ends with one summary line: "cellrtc: N passed, N failed".
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the debug build's tests only
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
jobs=$(nproc)
fuzz_seconds=${CELLRTC_FUZZ_SECONDS:-10}
passed=0
failed=0
log_dir=build/test-logs
mkdir -p "$log_dir"

step() { printf '\n== %s\n' "$*"; }
count_ctest() {  # adds the counts from ctest's "N% tests passed, F tests failed out of T"
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
  if [[ -z "$line" ]]; then
    failed=$((failed + 1))
    return
  fi
  local f t
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + t - f))
  failed=$((failed + f))
}
run_suite() {  # preset
  local preset=$1 log="$log_dir/ctest-$1.log"
  step "build + test: $preset"
  if ! { cmake --preset "$preset" >/dev/null && cmake --build --preset "$preset" -j"$jobs"; }; then
    echo "build failed: $preset"
    failed=$((failed + 1))
    return
  fi
  # A test that fails runs once more; one that then passes counts as passed and is named at the
  # end as flaky, with its first run's output, so it is seen and mended rather than hidden.
  ctest --preset "$preset" --repeat until-pass:2 2>&1 | tee "$log"
  count_ctest "$log"
}

step "setup"
scripts/setup.sh || { echo "setup failed"; exit 1; }

start=$(date +%s)
run_suite dev
if ((quick == 0)); then
  run_suite asan

  step "embedded build (arm-none-eabi, -Os, no exceptions, no RTTI)"
  if cmake --preset embedded >/dev/null && cmake --build --preset embedded -j"$jobs"; then
    passed=$((passed + 1))
  else
    echo "embedded build failed"
    failed=$((failed + 1))
  fi

  step "fuzz targets, ${fuzz_seconds}s each"
  if cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j"$jobs" --target fuzz_targets; then
    for target in build/fuzz/fuzz/*_fuzz; do
      name=$(basename "$target" _fuzz)
      corpus=$(mktemp -d)
      cp -r "fuzz/corpus/$name/." "$corpus/" 2>/dev/null || true
      if "$target" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$log_dir/$name-" "$corpus" >"$log_dir/fuzz-$name.log" 2>&1; then
        echo "fuzz $name: ok ($(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log_dir/fuzz-$name.log" | grep -Eo '[0-9]+' || echo '?') runs)"
        passed=$((passed + 1))
      else
        echo "fuzz $name: FAILED, see $log_dir/fuzz-$name.log"
        tail -n 30 "$log_dir/fuzz-$name.log"
        failed=$((failed + 1))
      fi
      rm -rf "$corpus"
    done
  else
    echo "fuzz build failed"
    failed=$((failed + 1))
  fi
fi

step "format check"
if files=$(git ls-files '*.h' '*.cpp') && [[ -n "$files" ]] &&
  clang-format --dry-run --Werror $files 2>"$log_dir/format.log"; then
  passed=$((passed + 1))
else
  echo "clang-format: files need formatting:"
  grep -Eo '^[^:]+' "$log_dir/format.log" | sort -u
  failed=$((failed + 1))
fi

# The failed tests' names and the end of their output come last, where a truncated CI log keeps
# them; so do the tests that failed once and passed when run again.
print_output() {  # log name: the end of the test's output after its failed run
  awk -v name="$2" '
    $0 ~ ("Test +#[0-9]+: " name " \\.") && $0 ~ /\*\*\*(Failed|Timeout|Exception)/ { on = 1; next }
    on && ($0 ~ /^ *Start +[0-9]+: / || $0 ~ /^ *([0-9]+\/[0-9]+ )?Test +#/) { on = 0 }
    on { print }' "$1" | tail -n 40
}
for log in "$log_dir"/ctest-*.log; do
  [[ -f "$log" ]] || continue
  preset=$(basename "$log" .log | sed 's/^ctest-//')
  names=$(sed -n '/The following tests FAILED:/,/^$/p' "$log" | grep -E '^\s+[0-9]+ - ' |
    sed -E 's/^\s+[0-9]+ - ([^ ]+).*/\1/')
  flaky=$(grep -E 'Test +#[0-9]+: .*\*\*\*(Failed|Timeout|Exception)' "$log" |
    sed -E 's/.*Test +#[0-9]+: ([^ ]+) .*/\1/' | sort -u | grep -vxF -f <(echo "$names") || true)
  for name in $flaky; do
    step "flaky in $preset: $name failed once, passed when run again"
    print_output "$log" "$name"
  done
  for name in $names; do
    step "failed in $preset: $name"
    print_output "$log" "$name"
  done
done

echo
echo "suite took $(($(date +%s) - start)) s"
echo "cellrtc: $passed passed, $failed failed"
((failed == 0))
