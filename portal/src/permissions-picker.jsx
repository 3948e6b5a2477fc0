// The permission controls of the create and edit dialogs, drawn from the policy and the
// workspace's plan: a slider per ordered resource, Read/Write checkboxes for independent ones,
// the coarse scopes as presets, the administrative group highlighted with a warning, and what
// the plan does not offer shown locked with the upgrade link.
import { controlsFor, sliderValue, withScope, withSlider } from "./permissions.js";

function Slider({ control, scopes, onChange, disabled }) {
  const value = sliderValue(control, scopes);
  const labels = ["No access", ...control.levels.map((l) => l.label)];
  const id = `perm-${control.resource}`;
  return (
    <div class="perm">
      <label for={id}>{control.label}</label>
      <input
        id={id}
        type="range"
        min="0"
        max={control.levels.length}
        step="1"
        value={value}
        aria-valuetext={labels[value]}
        disabled={disabled}
        onInput={(e) => onChange(withSlider(control, scopes, Number(e.currentTarget.value)))}
      />
      <output for={id} class={value ? "level" : "level none"}>
        {labels[value]}
      </output>
    </div>
  );
}

function Checks({ control, scopes, onChange, disabled }) {
  return (
    <fieldset class="perm checks">
      <legend>{control.label}</legend>
      {control.levels.map((level) => (
        <label key={level.scope} class="check">
          <input
            type="checkbox"
            checked={scopes.includes(level.scope)}
            disabled={disabled}
            onChange={(e) => onChange(withScope(scopes, level.scope, e.currentTarget.checked))}
          />
          {level.label}
        </label>
      ))}
    </fieldset>
  );
}

function Locked({ control, billingUrl }) {
  return (
    <div class="perm locked">
      <span>{control.label}</span>
      <span class="muted">
        Not included in your plan
        {billingUrl ? (
          <>
            {" · "}
            <a href={billingUrl} target="_blank" rel="noopener noreferrer">
              Upgrade
            </a>
          </>
        ) : null}
      </span>
    </div>
  );
}

export function PermissionsPicker({ policy, plan, scopes, onChange, billingUrl }) {
  const { coarse, groups } = controlsFor(policy, plan);
  // Full access covers every resource: their controls would say nothing more.
  const coarseHeld = scopes.includes("admin") && coarse.some((c) => c.scope === "admin");
  return (
    <div class="permissions">
      {coarse.length ? (
        <fieldset class="presets">
          <legend>{groups.length ? "Presets" : "Permission level"}</legend>
          {coarse.map((c) => (
            <label key={c.scope} class="check">
              <input type="checkbox" checked={scopes.includes(c.scope)} onChange={(e) => onChange(withScope(scopes, c.scope, e.currentTarget.checked))} />
              {c.label}
            </label>
          ))}
          {groups.length && coarseHeld ? <p class="muted">Full access covers every resource below.</p> : null}
        </fieldset>
      ) : null}
      {groups.map((group) => {
        const body = group.resources.map((control) =>
          control.locked ? (
            <Locked key={control.resource} control={control} billingUrl={billingUrl} />
          ) : control.kind === "slider" ? (
            <Slider key={control.resource} control={control} scopes={scopes} onChange={onChange} disabled={coarseHeld} />
          ) : (
            <Checks key={control.resource} control={control} scopes={scopes} onChange={onChange} disabled={coarseHeld} />
          ),
        );
        if (!group.name) return <div key="resources">{body}</div>;
        return (
          <fieldset key={group.name} class={group.administrative ? "group administrative" : "group"}>
            <legend>{group.name}</legend>
            {group.administrative ? (
              <p class="warning">These permissions manage the workspace itself (keys, people, settings). Give them only to a key you trust like an administrator.</p>
            ) : null}
            {body}
          </fieldset>
        );
      })}
    </div>
  );
}
