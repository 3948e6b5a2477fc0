//! Policy files: any text is a policy or a precise error; a policy that loads offers only
//! scopes it accepts back (its default scopes among them), routes nothing ambiguous, puts
//! every workspace on one of its plans, and describes itself. `policy check` agrees with
//! the loader on what loads, `policy compile` refuses exactly that with the same words and
//! otherwise prints what the Worker loads to the same policy, and `policy diff` finds
//! nothing between a policy and itself.
#![no_main]

use keygate::ambiguity::path_ambiguity;
use keygate::policy::diff::diff;
use keygate::policy::lint::{check, Checked};
use keygate::policy::{compile, Access, Policy};
use libfuzzer_sys::fuzz_target;

const PATHS: &[&str] = &[
    "/",
    "/v1/contacts",
    "/v1/contacts/42",
    "/v1/contacts/42/notes",
    "/v1/analytics/..;/settings",
    "/v1//settings",
    "/v1/%2e%2e/admin",
    "/email/send",
    "/files/a/b/c",
];
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `policy check` on any text: refused exactly when the Worker refuses it.
    let checked = check(text);
    let compiled = compile(text);
    let policy = match Policy::from_toml(text) {
        Ok(policy) => policy,
        Err(error) => {
            let _ = error.problems();
            assert!(matches!(checked, Checked::Refused(ref errors) if !errors.is_empty()));
            assert_eq!(
                compiled.err().map(|e| e.to_string()),
                Some(error.to_string())
            );
            return;
        }
    };
    assert!(matches!(checked, Checked::Loaded { .. }));
    // The Worker reads the compiled form: it must be this policy, to the last field.
    let compiled = compiled.expect("a policy that loads compiles");
    let read = Policy::from_compiled(&compiled).expect("a compiled policy loads");
    assert_eq!(format!("{read:?}"), format!("{policy:?}"));
    // A policy deployed over itself changes nothing.
    assert_eq!(diff(&policy, &policy), []);
    assert!(!policy.key_prefix().is_empty());
    let limits = policy.default_limits();
    assert!(limits.per_minute <= limits.per_day);
    assert!([403, 404].contains(&policy.unmapped_route_status()));
    let valid = policy.valid_scopes();
    assert_eq!(policy.check_scopes(&valid), Ok(()));
    assert!(policy.grants_within(&valid, &valid));
    let _ = policy.describe().to_string();
    // Default scopes are scopes the policy offers; a workspace is always on a plan the
    // policy has, exactly when it has plans; a plan's defaults fit its bound.
    assert_eq!(policy.check_scopes(policy.default_scopes()), Ok(()));
    assert_eq!(policy.plan_for(None).is_some(), !policy.plans().is_empty());
    assert_eq!(policy.plan_for(Some("")), policy.default_plan());
    for plan in policy.plans() {
        assert_eq!(policy.plan_for(Some(plan.name())), Some(plan));
        let outside = policy.scopes_not_in_plan(&valid, plan);
        assert!(outside.iter().all(|scope| valid.contains(scope)));
        if let Some(max) = plan.max_limits() {
            let limits = plan.default_limits();
            assert!(limits.per_minute <= max.per_minute && limits.per_day <= max.per_day);
        }
    }
    if let Some(needed) = policy.plan_needed(None) {
        assert!(needed.api_access());
    }
    for method in METHODS {
        for path in PATHS {
            let Some(target) = policy.route(method, path) else {
                continue;
            };
            assert_eq!(path_ambiguity(path), None, "{path} was routed");
            // The scope named on a denial is a plain `resource:action`, or where only coarse
            // scopes are offered, one of them when one would do.
            if let Access::Denied {
                required_scope,
                approval_scope,
            } = policy.decide(&[], &target)
            {
                let plain = format!("{}:{}", target.resource, target.action.as_str());
                if policy.fine_scopes() {
                    assert_eq!(required_scope, plain);
                } else if required_scope != plain {
                    assert!(valid.contains(&required_scope), "{required_scope}");
                    assert_eq!(
                        policy.decide(std::slice::from_ref(&required_scope), &target),
                        Access::Allowed
                    );
                    assert_eq!(approval_scope, None);
                }
                // An approval level named is one the policy offers, for this action.
                if let Some(approval_scope) = approval_scope {
                    assert_eq!(approval_scope, format!("{required_scope}-approval"));
                    assert!(valid.contains(&approval_scope), "{approval_scope}");
                }
            }
        }
    }
});
