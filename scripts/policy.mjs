// A policy file's text in the compiled form the Worker reads (src/policy/compiled.rs), made
// by the CLI that scripts/build.sh builds (`keygate policy compile FILE`): the e2e harness
// and scripts/dev.mjs pass policies to the Worker this way. Each distinct text is compiled
// once per process.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const compiledTexts = new Map();

/** The CLI binary `cargo run --bin keygate` (in scripts/build.sh) leaves behind. */
export function cliBinary() {
  return join(resolve(ROOT, process.env.CARGO_TARGET_DIR ?? "target"), "debug", "keygate");
}

/** A refusal of the policy itself (the CLI's own report), as opposed to a missing CLI. */
export class PolicyRefused extends Error {}

/**
 * The compiled form of a policy file's text. Throws PolicyRefused with `keygate policy
 * compile`'s report when the policy is invalid (what `keygate policy check` refuses).
 */
export function compilePolicy(text) {
  const known = compiledTexts.get(text);
  if (known !== undefined) return known;
  const binary = cliBinary();
  if (!existsSync(binary)) {
    throw new Error(`${binary} is missing: build it first (sh scripts/build.sh, or cargo build --bin keygate)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "keygate-policy-"));
  try {
    const file = join(dir, "policy.toml");
    writeFileSync(file, text);
    const result = spawnSync(binary, ["policy", "compile", file], { encoding: "utf8", timeout: 60_000 });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new PolicyRefused(result.stderr.replaceAll(file, "the policy").trim());
    const compiled = result.stdout.trim();
    compiledTexts.set(text, compiled);
    return compiled;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
