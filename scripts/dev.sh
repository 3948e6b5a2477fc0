#!/bin/sh
# Runs keygate locally (wrangler dev on workerd) in front of a demo origin, with a demo key,
# and prints a curl to try. Installs what it needs first (scripts/setup.sh).
# Honours KEYGATE_ORIGIN, KEYGATE_ROOT_TOKEN, KEYGATE_PORT, KEYGATE_POLICY,
# KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN and KEYGATE_STATE_DIR; see README.
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# Every setting is checked before anything is installed, built or started.
node scripts/dev.mjs --check
sh scripts/setup.sh
# Check the policy file before building: a precise error here beats a build for nothing
# (dev.mjs then compiles it into the form the Worker reads).
cargo run --quiet --bin keygate -- policy check "${KEYGATE_POLICY:-policies/demo.toml}"
KEYGATE_WASM_OPT=0 sh scripts/build.sh
exec node scripts/dev.mjs "$@"
