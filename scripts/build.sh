#!/bin/sh
# Builds the Worker (build/index.js + build/index_bg.wasm) and the portal page (portal/dist/)
# without any download:
# worker-build gets the wasm-bindgen CLI and esbuild that scripts/setup.sh installed,
# and wasm-opt comes from npm's binaryen. KEYGATE_WASM_OPT=0 skips wasm-opt (faster dev loop).
#
# The policy is compiled into the Worker: KEYGATE_POLICY_FILE names the file, relative to
# the repository root (default policies/demo.toml; wrangler.toml's [build] command names it
# for each deployment). It is checked first, so a bad policy stops the build and
# `wrangler deploy` here, and never reaches a request; then `keygate policy compile` writes
# the form the Worker reads to target/keygate-policy.json, which build.rs bundles.
set -eu
cd "$(dirname "$0")/.."
policy_file="${KEYGATE_POLICY_FILE:-policies/demo.toml}"
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
esbuild="$PWD/node_modules/@esbuild/linux-x64/bin/esbuild"
if [ -z "${ESBUILD_BIN:-}" ] && [ -x "$esbuild" ]; then
  export ESBUILD_BIN="$esbuild"
fi
cargo run --quiet --bin keygate -- policy check "$policy_file"
compiled_policy="$PWD/target/keygate-policy.json"
mkdir -p target
# Through a temporary file, so a failed compile leaves no half-written policy behind.
cargo run --quiet --bin keygate -- policy compile "$policy_file" > "$compiled_policy.tmp"
mv "$compiled_policy.tmp" "$compiled_policy"
# The portal page (portal/ → portal/dist/, served by the Worker from its static assets).
node_modules/.bin/vite build --config portal/vite.config.js
# The Worker is optimised for size (opt-level "z", wasm-opt -Oz: BENCHMARKS.md, "Worker
# size"); the release profile stays "s" for native builds (the CLI, the benches).
# KEYGATE_OPT_LEVEL=s builds the Worker for speed instead, to measure one against the other.
opt_level="${KEYGATE_OPT_LEVEL:-z}"
case "$opt_level" in
  s|z) ;;
  *) echo "build.sh: KEYGATE_OPT_LEVEL must be s or z, got '$opt_level'" >&2; exit 2 ;;
esac
CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt_level" KEYGATE_COMPILED_POLICY="$compiled_policy" \
  worker-build --release --no-opt
if [ "${KEYGATE_WASM_OPT:-1}" != "0" ]; then
  node_modules/.bin/wasm-opt "-O$opt_level" \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
    build/index_bg.wasm -o build/index_bg.wasm
fi
echo "build: build/index_bg.wasm $(wc -c < build/index_bg.wasm) bytes ($(gzip -9c build/index_bg.wasm | wc -c) gzipped), policy $policy_file bundled"
