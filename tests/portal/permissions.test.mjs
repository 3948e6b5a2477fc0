// The portal's permission model (portal/src/permissions.js), natively under Node: labels,
// controls from a policy and plan, slider arithmetic, summaries. Random policies check that
// every scope has exactly one control and that a slider round-trips.
import { test } from "node:test";
import assert from "node:assert/strict";
import { controlsFor, defaultLimits, hasApprovalLevels, levelLabel, planOf, sliderValue, summary, titleCase, withScope, withSlider } from "../../portal/src/permissions.js";

const LADDER = ["read", "write-approval", "write", "delete-approval", "delete"];
const policy = {
  coarse_scopes: ["read:all", "admin"],
  fine_scopes: true,
  default_plan: "free",
  limits: { per_minute: 120, per_day: 50000 },
  plans: [
    { name: "free", api_access: false, resources: ["contacts"], limits: { per_minute: 10, per_day: 100 } },
    { name: "pro", api_access: true, resources: ["contacts", "email", "docs", "settings"], limits: null },
  ],
  resources: [
    { name: "contacts", kind: "ladder", levels: LADDER, ordered: true, group: null, administrative: false },
    { name: "email", kind: "communication", levels: ["read", "send-approval", "send"], ordered: true, group: null, administrative: false },
    { name: "docs", kind: "independent", levels: ["read", "write"], ordered: false, group: null, administrative: false },
    { name: "settings", kind: "read_write", levels: ["read", "write"], ordered: true, group: "Admin only", administrative: true },
    { name: "billing", kind: "read_only", levels: ["read"], ordered: true, group: "Admin only", administrative: true },
  ],
};

test("labels: the seed's ladder words, acronyms, snake case", () => {
  assert.deepEqual(
    LADDER.map((l) => levelLabel(l, LADDER)),
    ["Read", "Write with approval", "Write automatically", "Delete with approval", "Delete automatically"],
  );
  assert.deepEqual(["read", "write"].map((l) => levelLabel(l, ["read", "write"])), ["Read", "Write"]);
  assert.deepEqual(["use-approval", "use"].map((l) => levelLabel(l, ["use-approval", "use"])), ["Use with approval", "Use automatically"]);
  assert.equal(titleCase("company_settings"), "Company settings");
  assert.equal(titleCase("ai"), "AI");
  assert.equal(titleCase("api"), "API");
});

test("controls: sliders for ordered resources, checkboxes otherwise, the admin group last, the plan's gaps locked", () => {
  const { coarse, groups } = controlsFor(policy, planOf(policy, { plan: "pro" }));
  assert.deepEqual(coarse.map((c) => c.label), ["Read everything", "Full Access (Admin)"]);
  assert.deepEqual(groups.map((g) => [g.name, g.administrative]), [["", false], ["Admin only", true]]);
  const byName = Object.fromEntries(groups.flatMap((g) => g.resources).map((c) => [c.resource, c]));
  assert.equal(byName.contacts.kind, "slider");
  assert.equal(byName.docs.kind, "checks");
  assert.equal(byName.billing.kind, "checks");
  assert.equal(byName.billing.locked, true, "pro does not offer billing");
  assert.equal(byName.settings.locked, false);
  // A coarse-only policy has no resource controls at all.
  assert.deepEqual(controlsFor({ ...policy, fine_scopes: false }, null).groups, []);
});

test("plans: a workspace never set, or on a plan gone from the policy, is on the default plan", () => {
  assert.equal(planOf(policy, null).name, "free");
  assert.equal(planOf(policy, { plan: "gone" }).name, "free");
  assert.equal(planOf({ ...policy, plans: [] }, { plan: "pro" }), null);
  assert.deepEqual(defaultLimits(policy, planOf(policy, null)), { per_minute: 10, per_day: 100 });
  assert.deepEqual(defaultLimits(policy, planOf(policy, { plan: "pro" })), policy.limits);
  assert.equal(hasApprovalLevels(policy), true);
  assert.equal(hasApprovalLevels({ resources: [policy.resources[2]] }), false);
});

test("summary: the highest level of an ordered resource, both checks of an independent one, unknown scopes as they are", () => {
  assert.equal(summary(policy, []), "No access");
  assert.equal(summary(policy, ["contacts:read", "contacts:write"]), "Contacts: Write automatically");
  assert.equal(summary(policy, ["docs:read", "docs:write"]), "Docs: Read and write");
  assert.equal(summary(policy, ["docs:write"]), "Docs: Write");
  assert.equal(summary(policy, ["admin", "legacy:thing"]), "Full Access (Admin) · legacy:thing");
});

/** A small deterministic generator, so a failure names its seed. */
function random(seed) {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
}

test("random policies: every scope has exactly one control; a slider's value round-trips and touches only its own scopes", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const pick = random(seed);
    const resources = Array.from({ length: 1 + pick(6) }, (_, i) => {
      const levels = [LADDER, ["read", "write"], ["read"], ["use-approval", "use"]][pick(4)];
      return { name: `r${i}x`, kind: "ladder", levels, ordered: pick(2) === 0, group: pick(3) === 0 ? "Admin only" : null, administrative: false };
    });
    const p = { ...policy, plans: [], resources };
    const controls = controlsFor(p, null).groups.flatMap((g) => g.resources);
    const scopes = controls.flatMap((c) => c.levels.map((l) => l.scope)).sort();
    const expected = resources.flatMap((r) => r.levels.map((l) => `${r.name}:${l}`)).sort();
    assert.deepEqual(scopes, expected, `seed ${seed}`);
    let held = ["admin"];
    for (const control of controls.filter((c) => c.kind === "slider")) {
      const value = pick(control.levels.length + 1);
      const before = held.filter((s) => !s.startsWith(`${control.resource}:`));
      held = withSlider(control, held, value);
      assert.equal(sliderValue(control, held), value, `seed ${seed}`);
      assert.deepEqual(held.filter((s) => !s.startsWith(`${control.resource}:`)), before, `seed ${seed}: other scopes kept`);
      assert.ok(held.filter((s) => s.startsWith(`${control.resource}:`)).length <= 1);
    }
    assert.deepEqual(withScope(withScope(held, "x:y", true), "x:y", false), held);
  }
});
