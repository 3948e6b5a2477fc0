#!/bin/sh
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer; needs the nightly toolchain and
# cargo-fuzz, which scripts/setup-tests.sh installs) for SECONDS_PER_TARGET each, default 60.
#
#   sh scripts/fuzz.sh [SECONDS_PER_TARGET [KEEP_DIR]]
#
# Builds once, then runs the targets one after another from their committed corpora
# (fuzz/corpus/<target>/, read only: new inputs go to a scratch directory, or to
# KEEP_DIR/<target>/ with each target's log in KEEP_DIR/<target>.log, for `cargo fuzz cmin`). A crash, a
# failed assertion, a timeout or an out-of-memory stops nothing else but fails the run,
# leaves the input in fuzz/artifacts/<target>/ and prints how to reproduce it.
# Ends with one line: "fuzz result: N targets passed, N failed".
#
# KEYGATE_FUZZ_SEED=N fixes libFuzzer's random seed, so a run explores the same inputs
# in the same order on every machine (scripts/test.sh sets it: the gate in CI is then
# reproducible, and what a slower machine tries is a prefix of what a faster one tried).
# Unset, every run explores somewhere new: that is the run to do by hand (FUZZING.md).
set -eu
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
seconds=${1:-60}

# keygate has no unsafe code, so AddressSanitizer would only slow the run down; overflow
# checks and debug assertions stay on (cargo-fuzz's default), so arithmetic overflow on
# outside bytes is found as a crash.
cargo +nightly fuzz build --sanitizer none

if [ -n "${2:-}" ]; then
  mkdir -p "$2"
  scratch=$(cd "$2" && pwd)
else
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
fi
seed_option=""
if [ -n "${KEYGATE_FUZZ_SEED:-}" ]; then
  seed_option="-seed=$KEYGATE_FUZZ_SEED"
  echo "fuzz: seed $KEYGATE_FUZZ_SEED"
fi
passed=0
failed=0
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target" "$scratch/$target"
  log="$scratch/$target.log"
  if cargo +nightly fuzz run --sanitizer none "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $seed_option >"$log" 2>&1; then
    # libFuzzer's last status line, e.g. "#123456 DONE cov: 812 ft: 2301 corp: 140/9Kb ...".
    status=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true)
    echo "fuzz: $target ok: ${status:-no status line}"
    passed=$((passed + 1))
  else
    echo "fuzz: $target FAILED; its output ends:"
    tail -n 40 "$log"
    echo "reproduce: (cd fuzz && cargo +nightly fuzz run --sanitizer none $target artifacts/$target/<file>)"
    failed=$((failed + 1))
  fi
done
echo "fuzz result: $passed targets passed, $failed failed"
[ "$failed" -eq 0 ]
