// What a key may do, in the words a person reads: the policy's resources and levels turned
// into controls (a slider per ordered resource, checkboxes for independent ones, the coarse
// scopes as presets) and a key's scopes into a one-line summary. Pure: no DOM, no requests;
// tests/portal/permissions.test.mjs runs it under Node.

/** An ordered resource with this many levels or more is a slider; with one, a checkbox. */
const SLIDER_MIN_LEVELS = 2;

const capitalize = (word) => word.charAt(0).toUpperCase() + word.slice(1);

/** "company_settings" → "Company settings"; a name of three letters or fewer is an acronym ("AI", "API", "SMS"). */
export function titleCase(name) {
  if (name.length <= 3) return name.toUpperCase();
  return capitalize(name.replace(/[_-]+/g, " ").trim());
}

/**
 * A level's label: `write-approval` → "Write with approval"; `write` beside a
 * `write-approval` → "Write automatically"; anything else its own name ("Read", "Use").
 */
export function levelLabel(level, levels) {
  if (level.endsWith("-approval")) return `${capitalize(level.slice(0, -"-approval".length))} with approval`;
  if (levels.includes(`${level}-approval`)) return `${capitalize(level)} automatically`;
  return capitalize(level.replace(/[_-]+/g, " "));
}

const COARSE_LABELS = { "read:all": "Read everything", "write:all": "Read and write everything", admin: "Full Access (Admin)" };

export function coarseLabel(scope) {
  return COARSE_LABELS[scope] ?? scope;
}

/**
 * The controls for a policy as the workspace's plan limits it:
 * `{ coarse: [{scope, label}], groups: [{name, administrative, resources: [control]}] }`,
 * a control being `{ resource, label, description, kind: "slider"|"checks", levels:
 * [{scope, label}], locked }`. Resources the plan does not offer are `locked` (shown, not
 * usable). With `fine_scopes = false` there are no resource controls, only coarse scopes.
 */
export function controlsFor(policy, plan) {
  const offered = (resource) => !plan || plan.resources.includes(resource);
  const coarse = policy.coarse_scopes.map((scope) => ({ scope, label: coarseLabel(scope) }));
  if (policy.fine_scopes === false) return { coarse, groups: [] };
  const groups = [];
  for (const resource of policy.resources) {
    const groupName = resource.group ?? "";
    let group = groups.find((g) => g.name === groupName);
    if (!group) {
      group = { name: groupName, administrative: resource.administrative, resources: [] };
      groups.push(group);
    }
    group.administrative ||= resource.administrative;
    const slider = resource.ordered && resource.levels.length >= SLIDER_MIN_LEVELS;
    group.resources.push({
      resource: resource.name,
      label: titleCase(resource.name),
      description: resource.description ?? "",
      kind: slider ? "slider" : "checks",
      levels: resource.levels.map((level) => ({ scope: `${resource.name}:${level}`, label: levelLabel(level, resource.levels) })),
      locked: !offered(resource.name),
    });
  }
  // Ungrouped resources first, then the named groups in the policy's order.
  return { coarse, groups: [...groups.filter((g) => g.name === ""), ...groups.filter((g) => g.name !== "")] };
}

/** A slider's position for `scopes`: 0 for no access, else 1 + the highest level held. */
export function sliderValue(control, scopes) {
  let value = 0;
  control.levels.forEach((level, index) => {
    if (scopes.includes(level.scope)) value = index + 1;
  });
  return value;
}

/** `scopes` with the slider of `control` at `value` (0: none of its levels). */
export function withSlider(control, scopes, value) {
  const own = new Set(control.levels.map((l) => l.scope));
  const rest = scopes.filter((s) => !own.has(s));
  return value > 0 ? [...rest, control.levels[value - 1].scope] : rest;
}

/** `scopes` with `scope` added or removed. */
export function withScope(scopes, scope, held) {
  const rest = scopes.filter((s) => s !== scope);
  return held ? [...rest, scope] : rest;
}

/**
 * A key's scopes as a person reads them: "Full access (admin)", or "Contacts: Write
 * automatically · Analytics: Read". A scope the policy does not know is shown as it is.
 */
export function summary(policy, scopes) {
  if (scopes.length === 0) return "No access";
  const parts = [];
  const seen = new Set();
  for (const scope of policy.coarse_scopes) {
    if (scopes.includes(scope)) {
      parts.push(coarseLabel(scope));
      seen.add(scope);
    }
  }
  for (const resource of policy.resources) {
    const held = resource.levels.filter((level) => scopes.includes(`${resource.name}:${level}`));
    held.forEach((level) => seen.add(`${resource.name}:${level}`));
    if (held.length === 0) continue;
    const labels = resource.ordered ? [held[held.length - 1]] : held;
    const words = labels.map((level) => levelLabel(level, resource.levels));
    const text = resource.ordered ? words[0] : words.map((w, i) => (i === 0 ? w : w.toLowerCase())).join(" and ");
    parts.push(`${titleCase(resource.name)}: ${text}`);
  }
  for (const scope of scopes) if (!seen.has(scope)) parts.push(scope);
  return parts.join(" · ");
}

/** Whether a policy has anything that waits for a person (an `-approval` level). */
export function hasApprovalLevels(policy) {
  return policy.resources.some((r) => r.levels.some((level) => level.endsWith("-approval")));
}

/** The plan a workspace is on (`null` for a policy without plans). */
export function planOf(policy, workspace) {
  if (!policy.plans?.length) return null;
  return policy.plans.find((p) => p.name === workspace?.plan) ?? policy.plans.find((p) => p.name === policy.default_plan) ?? null;
}

/** The limits a new key gets: the plan's defaults, else the policy's. */
export function defaultLimits(policy, plan) {
  return plan?.limits ?? policy.limits;
}
