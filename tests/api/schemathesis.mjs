// The admin API against its own document, by a real API tester: schemathesis (PyPI, pinned
// in requirements-test.txt, installed into .venv/ by scripts/setup-tests.sh) runs every
// phase, stateful included, with `--checks all` against the built Worker on workerd
// (tests/e2e/harness.mjs: real KV and Durable Objects, a local origin, the demo policy),
// authenticated with the root token.
//
// Approvals are made on the data plane, which the document does not describe, so the run
// first queues some (a key holding `contacts:write-approval` posts to the origin); the
// stateful phase then reaches them through the links of `GET /approvals`.
//
// The policy is the demo policy plus two plans that both offer everything (`PLANS_POLICY`),
// so that `PUT /workspaces/{workspace}` has plans to set while every other operation
// behaves as on the demo policy; hooks.py binds `PlanName` to the plans `GET /policy` lists.
//
// Usage: node tests/api/schemathesis.mjs
//   KEYGATE_SCHEMATHESIS_EXAMPLES  examples per operation and phase (default 40)
//   KEYGATE_SCHEMATHESIS_SEED      hypothesis seed (default fixed, so CI is repeatable)
//   KEYGATE_SCHEMATHESIS_TIMEOUT   seconds before the whole run is stopped (default 300)
// Ends with one line: "schemathesis: passed" or "schemathesis: FAILED (...)"; exit code 0 or 1.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ROOT_TOKEN, policyText, startGateway, startOrigin } from "../e2e/harness.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCHEMATHESIS = `${ROOT}.venv/bin/schemathesis`;
const EXAMPLES = process.env.KEYGATE_SCHEMATHESIS_EXAMPLES ?? "40";
const SEED = process.env.KEYGATE_SCHEMATHESIS_SEED ?? "20261201";
const TIMEOUT_SECONDS = Number(process.env.KEYGATE_SCHEMATHESIS_TIMEOUT ?? "300");
/** Pending approvals queued before the run, for the approval routes to work on. */
const QUEUED_APPROVALS = 40;
const PLANS_POLICY = `default_plan = "standard"
${policyText("demo")}

[[plans]]
name = "standard"

[[plans]]
name = "pro"
`;

function finish(ok, why) {
  console.log(ok ? "schemathesis: passed" : `schemathesis: FAILED (${why})`);
  process.exitCode = ok ? 0 : 1;
}

async function queueApprovals(gw) {
  const agent = await gw.createKey({ name: "schemathesis agent", scopes: ["contacts:write-approval"] });
  for (let i = 0; i < QUEUED_APPROVALS; i++) {
    const res = await gw.request("/v1/contacts", {
      method: "POST",
      key: agent.key,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: `contact ${i}` }),
    });
    if (res.status !== 202) throw new Error(`queueing an approval answered ${res.status}: ${await res.text()}`);
  }
}

/** How the queued approvals stand after the run, e.g. "3 approved, 2 rejected, 7 pending". */
async function approvalOutcome(gw) {
  const res = await gw.admin("GET", "/approvals?workspace=default&limit=100");
  if (res.status !== 200) throw new Error(`GET /approvals answered ${res.status}`);
  const counts = {};
  for (const { status } of res.json.approvals) counts[status] = (counts[status] ?? 0) + 1;
  const decided = res.json.approvals.length - (counts.pending ?? 0);
  return { decided, text: Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ") };
}

/** How many workspaces the run put on a plan (`plan_source: set`), over every page. */
async function workspacesSet(gw) {
  let set = 0;
  let cursor = null;
  do {
    const res = await gw.admin("GET", `/workspaces?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
    if (res.status !== 200) throw new Error(`GET /workspaces answered ${res.status}`);
    set += res.json.workspaces.filter((w) => w.plan_source === "set").length;
    cursor = res.json.next_cursor;
  } while (cursor);
  return set;
}

/** Runs schemathesis as its own process group, so a timeout stops it and its workers. */
function runSchemathesis(gw, scopes, plans) {
  const args = [
    "--config-file", "tests/api/schemathesis.toml",
    "run", "openapi.yaml",
    "--url", `${gw.url}/_keygate/v1`,
    "-H", `Authorization: Bearer ${ROOT_TOKEN}`,
    "--checks", "all",
    "--phases", "examples,coverage,fuzzing,stateful",
    "--max-examples", EXAMPLES,
    "--seed", SEED,
    "--request-timeout", "10",
  ];
  console.log(`schemathesis ${args.join(" ").replace(ROOT_TOKEN, "$ROOT_TOKEN")}`);
  const child = spawn(SCHEMATHESIS, args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, KEYGATE_POLICY_SCOPES: JSON.stringify(scopes), KEYGATE_POLICY_PLANS: JSON.stringify(plans) },
  });
  let output = "";
  child.stdout.on("data", (chunk) => {
    process.stdout.write(chunk);
    output += chunk;
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      console.log(`schemathesis: still running after ${TIMEOUT_SECONDS} s; stopping it`);
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
      resolve({ code: null, timedOut: true });
    }, TIMEOUT_SECONDS * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut: false, output });
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, error });
    });
  });
}

async function main() {
  if (!existsSync(SCHEMATHESIS)) return finish(false, `${SCHEMATHESIS} is missing; run sh scripts/setup-tests.sh`);
  if (!existsSync(`${ROOT}build/index.js`)) return finish(false, "build/index.js is missing; run sh scripts/build.sh");
  const origin = await startOrigin();
  let gw;
  try {
    gw = await startGateway({ origin: origin.url, bindings: { KEYGATE_POLICY: PLANS_POLICY } });
    const policy = await gw.admin("GET", "/policy");
    if (policy.status !== 200) throw new Error(`GET /policy answered ${policy.status}`);
    await queueApprovals(gw);
    const plans = policy.json.plans.map((plan) => plan.name);
    const run = await runSchemathesis(gw, policy.json.scopes, plans);
    if (run.error) finish(false, `could not start: ${run.error.message}`);
    else if (run.timedOut) finish(false, `timed out after ${TIMEOUT_SECONDS} s`);
    else if (run.code !== 0) finish(false, `exit code ${run.code}`);
    else {
      // A stateful phase with no usable link would pass without testing anything.
      const links = Number(/API Links:\s+(\d+) covered/.exec(run.output)?.[1] ?? 0);
      const ran = /✅\s+Stateful \(in /.test(run.output);
      const approvals = await approvalOutcome(gw);
      const planned = await workspacesSet(gw);
      console.log(
        `schemathesis: ${links} API links followed; queued approvals now ${approvals.text}; ${planned} workspaces put on a plan`,
      );
      if (!ran) finish(false, "the stateful phase did not run");
      else if (links === 0) finish(false, "no API link was followed");
      else if (approvals.decided === 0) finish(false, "no queued approval was approved or rejected");
      else if (planned === 0) finish(false, "no workspace was put on a plan");
      else finish(true);
    }
  } catch (error) {
    finish(false, error.message);
  } finally {
    await gw?.dispose();
    await origin.close();
  }
}

await main();
