#!/usr/bin/env bash
# Runs every test keygate has, after installing what they need (scripts/setup.sh):
#   1. formatting and lints (native and wasm32),
#   2. native unit, property and black-box tests of the pure core and of the Rust verifier
#      (cargo test: the workspace runs packages/verify-rs, axum layer included; tests/layers.rs
#      fails on an import circle in src/ or an import running up a floor), and the
#      verifier packages' tests (packages/verify-py: pytest; packages/verify-js: node --test),
#   3. fuzzing: every fuzz target in fuzz/ for a few seconds each (scripts/fuzz.sh),
#   4. the release Worker build (wasm-opt included), then the deployment checks: wrangler.toml,
#      the policy bundled into the build (a 50 KB one on workerd), `wrangler deploy --dry-run`
#      for production and staging, offline,
#   5. end-to-end tests: the built wasm on workerd (Miniflare) with real KV, Durable
#      Objects and local origin servers (node --test), among them real origin frameworks
#      (Express, Flask, Django, Sinatra, Symfony, nginx: tests/e2e/origins.test.mjs),
#   6. the portal page: its permission model under Node, and one spec per seed policy in a
#      real browser (Debian's Chromium, playwright-core) on the page keygate serves on workerd,
#   7. the admin API against openapi.yaml by a real API tester: schemathesis, every phase
#      (stateful included), --checks all, on workerd (tests/api/schemathesis.mjs, ~1-2 min),
#   8. the README's run command in smoke mode (wrangler dev + demo origin + demo key), and
#      the tests of what dev.sh does with bad settings, failures and restarts (tests/dev/).
# Ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
sh scripts/setup.sh
sh scripts/setup-tests.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== lint"
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --lib --target wasm32-unknown-unknown -- -D warnings

echo "== native tests"
cargo test 2>&1 | tee -a "$log"

echo "== Python verifier (packages/verify-py: the vectors, Flask, Django, Starlette, FastAPI)"
# Ends with "pytest result: N passed, N failed"; a failure stops the script.
(cd packages/verify-py && ../../.venv/bin/python -m pytest -q -p no:cacheprovider) 2>&1 | tee -a "$log"

echo "== JavaScript verifier (packages/verify-js: the vectors, Express, Hono)"
# node --test's "# pass N" / "# fail N" lines are counted below (2-4 s).
node --test packages/verify-js/test/ 2>&1 | tee -a "$log"

echo "== fuzzing (every target, time-boxed; FUZZING.md has the long runs)"
# 20 s per target (17 targets): about 6 minutes on 2 cores plus the cold build of fuzz/.
KEYGATE_FUZZ_SEED="${KEYGATE_FUZZ_SEED:-20261201}" sh scripts/fuzz.sh "${KEYGATE_FUZZ_SECONDS:-20}" 2>&1 | tee -a "$log"

echo "== build"
sh scripts/build.sh

echo "== deploy: wrangler.toml, the bundled policy (50 KB on workerd), wrangler deploy --dry-run offline"
# Rebuilds twice (a 50 KB policy, then the demo one; wasm-opt once, for the production dry
# run) and leaves build/ as the step above made it: ~75 s of CPU, 2m39s on a busy 2-core VM.
node --test --test-timeout=900000 tests/deploy/dry-run.test.mjs 2>&1 | tee -a "$log"

echo "== end-to-end tests (workerd)"
# Each test file starts its own gateways and origins; --test-timeout bounds any hang. Node
# applies it to a whole file, so the listing file (10,000 keys: one to four minutes on two
# cores) runs on its own with a longer bound.
node --test --test-concurrency=1 --test-timeout=120000 $(ls tests/e2e/*.test.mjs | grep -v '/listing\.test\.mjs$') 2>&1 | tee -a "$log"
node --test --test-timeout=900000 tests/e2e/listing.test.mjs 2>&1 | tee -a "$log"

echo "== portal page: its permission model (Node) and the seeds' specs in Chromium (the page keygate serves on workerd)"
# Each spec file starts one gateway and one headless Chromium; the specs write the screenshots
# in docs/portal/ that the README shows.
node --test --test-concurrency=1 --test-timeout=180000 tests/portal/*.test.mjs tests/browser/*.test.mjs 2>&1 | tee -a "$log"

echo "== API tester (schemathesis against openapi.yaml)"
# Ends with "schemathesis: passed" or "schemathesis: FAILED (...)" and exits 1 on a failure.
node tests/api/schemathesis.mjs 2>&1 | tee -a "$log"

echo "== run command smoke test (wrangler dev + demo origin + demo key)"
# A port below the ephemeral range, which no readiness probe can connect to itself (scripts/ports.mjs).
port=$(node --input-type=module -e 'import { freeListenPort } from "./scripts/ports.mjs"; console.log(await freeListenPort())')
KEYGATE_PORT=$port timeout 180 sh scripts/dev.sh --smoke 2>&1 | tee -a "$log"
# dev.sh/dev.mjs cannot strand you: bad settings refused before anything starts, a failure
# after start-up stops what was started, restarts keep the root token and the one demo key
# (~55 s).
node --test --test-concurrency=1 --test-timeout=180000 tests/dev/*.test.mjs 2>&1 | tee -a "$log"

# Every step above stops the script on failure, so reaching here means all of it passed.
passed=$(awk '/^test result:/ { n += $4 } /^# pass / { n += $3 } /^smoke: .* -> 200/ { n += 1 } /^schemathesis: passed$/ { n += 1 } /^fuzz result:/ { n += $3 } /^pytest result:/ { n += $3 } END { print n + 0 }' "$log")
failed=$(awk '/^test result:/ { n += $6 } /^# fail / { n += $3 } /^fuzz result:/ { n += $6 } /^pytest result:/ { n += $5 } END { print n + 0 }' "$log")
echo "$passed passed, $failed failed"
