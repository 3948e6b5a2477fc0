//! What `keygate policy check` finds in a policy that loads but would not do at run time
//! what it says: routes no request can reach, routes that lose some of their requests to
//! an earlier one, and parameters spelled the way other routers spell them.
//!
//! ```
//! use keygate::policy::lint::{check, Checked, Severity};
//!
//! let text = r#"
//!     [[resources]]
//!     name = "invoices"
//!     kind = "read_write"
//!
//!     [[routes]]
//!     method = "GET"
//!     path = "/api/invoices/{id}"
//!     resource = "invoices"
//!     action = "read"
//!
//!     [[routes]]
//!     method = "GET"
//!     path = "/api/invoices/summary"
//!     resource = "invoices"
//!     action = "write"
//! "#;
//! let Checked::Loaded { findings, .. } = check(text) else { panic!("it loads") };
//! assert_eq!(findings[0].severity, Severity::Error);
//! assert_eq!(findings[0].location, "routes[1]");
//! ```
//!
//! # What is an error and what a warning
//!
//! The Worker loads such a policy; these are the checker's own rules, and `policy check`
//! exits 1 on an error, 0 with a warning.
//!
//! - **Error: a route no request reaches.** Routes are tried in file order and the first
//!   match decides, so a route whose every request an earlier one matches is dead: its
//!   scope is never asked, whatever it says, and whoever edits it changes nothing. keygate
//!   already refuses two routes with the same method and pattern; an earlier pattern that
//!   covers a later one is the same mistake. The fix is always to move the specific route
//!   above the general one (or delete it).
//! - **Error: a method or a path the request rules refuse** before routing (501
//!   `method_not_supported`, 400 `path_ambiguous`): the route can never match either.
//! - **Error: a parameter spelled as in Express (`:id`), Flask (`<id>`) or Next.js
//!   (`[id]`).** keygate matches such a segment as literal text, so the route matches only
//!   a request for the text `:id` itself.
//! - **Warning: a route that loses some of its requests** to an earlier route needing
//!   another scope, where the earlier route is not simply an exception inside it. An
//!   exception first (`GET /v1/contacts/export` before `GET /v1/contacts/{id}`) is how
//!   routes are meant to be written and is not reported; two patterns that cross
//!   (`/a/{x}/b` before `/a/c/{y}`: `/a/c/b` goes to the first) often are intended too,
//!   so they are shown with an example request, not refused.
//! - **Warning: plans that leave a workspace nothing**: no plan with `api_access` (no
//!   workspace could create a key), a plan with `api_access` offering no resource, and a
//!   `default_scopes` entry on a resource the default plan does not offer (a create that
//!   leaves out `scopes` there would be refused).

use super::region::{refused_path, Region, Space, TooComplex};
use super::routes::{MethodPattern, Route, Segment};
use super::{syntax, Policy, PolicyError};
use crate::methods::FORWARDABLE_METHODS;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The route cannot do what it says: `policy check` exits 1.
    Error,
    /// Worth a look; `policy check` still exits 0.
    Warning,
}

/// One thing the checker found, with where it is (`routes[3]`, counting from 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub location: String,
    /// The line the route's table starts on, when the finding came from a file's text.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        f.write_str(&self.location)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        write!(f, ": {severity}: {}", self.message)
    }
}

/// A problem that keeps the file from loading at all, as `policy check` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `line 3, column 7` for a syntax error, or the field, e.g. `routes[3].action`.
    pub location: String,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The outcome of checking a policy file.
#[derive(Debug)]
pub enum Checked {
    /// The Worker would refuse the file: every syntax error the checker can find, or else
    /// every rule it breaks.
    Refused(Vec<Refusal>),
    /// The Worker would load it; `findings` says what would not work as written.
    Loaded {
        policy: Box<Policy>,
        findings: Vec<Finding>,
    },
}

/// Checks a policy file's text: syntax, the Worker's own validation, then [`lint`].
pub fn check(text: &str) -> Checked {
    match Policy::from_toml(text) {
        Ok(policy) => {
            let lines = route_lines(text);
            let mut findings = lint(&policy);
            for finding in &mut findings {
                let position = route_position(&finding.location);
                finding.line = lines.get(position).copied();
            }
            Checked::Loaded {
                policy: Box::new(policy),
                findings,
            }
        }
        Err(PolicyError::Syntax(first)) => {
            let mut errors: Vec<Refusal> = syntax::errors(text)
                .into_iter()
                .map(|error| Refusal {
                    location: format!("line {}, column {}", error.line, error.column),
                    message: error.message,
                })
                .collect();
            if errors.is_empty() {
                // Not expected (the same parser said no), but never lose the error.
                errors.push(Refusal {
                    location: "syntax".to_string(),
                    message: first,
                });
            }
            Checked::Refused(errors)
        }
        Err(PolicyError::Invalid(problems)) => Checked::Refused(
            problems
                .into_iter()
                .map(|problem| Refusal {
                    location: problem.location,
                    message: problem.message,
                })
                .collect(),
        ),
    }
}

/// Everything that loads but would not work as written, routes in file order.
pub fn lint(policy: &Policy) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (position, route) in policy.routes.iter().enumerate() {
        let location = format!("routes[{position}]");
        let named = describe(route);
        for segment in &route.segments {
            if let Segment::Literal(text) = segment {
                if let Some(name) = foreign_parameter(text) {
                    findings.push(Finding {
                        severity: Severity::Error,
                        location: location.clone(),
                        line: None,
                        message: format!(
                            "{named}: segment {text:?} is another router's parameter; keygate matches it as the literal text {text:?}. Write {{{name}}}"
                        ),
                    });
                }
            }
        }
        if super::region::refused_method(&route.method) {
            findings.push(Finding {
                severity: Severity::Error,
                location: location.clone(),
                line: None,
                message: format!(
                    "{named}: never reached: keygate refuses the method {} with 501 method_not_supported before routing (it forwards {})",
                    route.method.as_str(),
                    FORWARDABLE_METHODS.join(", ")
                ),
            });
        }
        if let Some(reason) = refused_path(route) {
            findings.push(Finding {
                severity: Severity::Error,
                location: location.clone(),
                line: None,
                message: format!(
                    "{named}: never reached: its path holds {reason}, and keygate refuses such requests with 400 path_ambiguous before routing"
                ),
            });
        }
    }
    if let Err(TooComplex) = shadowing(policy, &mut findings) {
        findings.push(Finding {
            severity: Severity::Warning,
            location: "routes".to_string(),
            line: None,
            message: "the route patterns overlap too much to check which requests reach which route; shadowed routes are not reported".to_string(),
        });
    }
    plan_findings(policy, &mut findings);
    findings.sort_by_key(|finding| route_position(&finding.location));
    findings
}

/// Plans that leave workspaces nothing to do, and default scopes the default plan refuses.
fn plan_findings(policy: &Policy, findings: &mut Vec<Finding>) {
    let mut warn = |location: String, message: String| {
        findings.push(Finding {
            severity: Severity::Warning,
            location,
            line: None,
            message,
        });
    };
    if !policy.plans().is_empty() && policy.plan_needed(None).is_none() {
        warn(
            "plans".to_string(),
            "no plan has api_access: no workspace can create a key or call the API (403 plan_required)".to_string(),
        );
    }
    for (position, plan) in policy.plans().iter().enumerate() {
        let offers_any = policy.resources.iter().any(|r| plan.offers(&r.name));
        if plan.api_access() && !offers_any {
            warn(
                format!("plans[{position}].resources"),
                format!(
                    "plan {:?} has api_access but offers no resource: its keys can call nothing",
                    plan.name()
                ),
            );
        }
    }
    let Some(default_plan) = policy.default_plan() else {
        return;
    };
    if !default_plan.api_access() {
        return; // No key is created on it at all; its own finding would be noise.
    }
    let outside = policy.scopes_not_in_plan(policy.default_scopes(), default_plan);
    for (position, scope) in policy.default_scopes().iter().enumerate() {
        if outside.contains(scope) {
            warn(
                format!("default_scopes[{position}]"),
                format!(
                    "{scope:?} is on a resource the default plan {:?} does not offer: a create without scopes in a workspace on it is refused (403 scope_not_in_plan)",
                    default_plan.name()
                ),
            );
        }
    }
}

/// The line each route's table starts on, in file order.
fn route_lines(text: &str) -> Vec<usize> {
    #[derive(serde::Deserialize)]
    struct Routes {
        #[serde(default)]
        routes: Vec<toml::Spanned<toml::Value>>,
    }
    toml::from_str::<Routes>(text).map_or_else(
        |_| Vec::new(),
        |file| {
            file.routes
                .iter()
                .map(|route| {
                    let before = text.get(..route.span().start).unwrap_or("");
                    before.matches('\n').count() + 1
                })
                .collect()
        },
    )
}

/// `routes[7]` → 7, so findings come out in file order; anything else last.
fn route_position(location: &str) -> usize {
    location
        .strip_prefix("routes[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// `GET "/v1/contacts/{id}" (contacts:read)`: a route as findings name it.
fn describe(route: &Route) -> String {
    format!(
        "{} {:?} ({})",
        route.method.as_str(),
        route.path,
        scope_of(route)
    )
}

fn scope_of(route: &Route) -> String {
    format!("{}:{}", route.resource, route.action.as_str())
}

/// The method to show in an example request for `route`.
fn example_method(route: &Route) -> &str {
    match &route.method {
        MethodPattern::Any => "GET",
        MethodPattern::Exact(method) => method,
    }
}

/// Routes no request reaches (errors) and routes that cross an earlier one needing another
/// scope (warnings), each naming the route that takes the requests instead.
fn shadowing(policy: &Policy, findings: &mut Vec<Finding>) -> Result<(), TooComplex> {
    let routes = &policy.routes;
    let space = Space::for_routes(routes);
    let matched: Vec<Region> = routes.iter().map(|route| space.region(route)).collect();
    let reached = space.reached(routes)?;
    for (position, route) in routes.iter().enumerate() {
        let (Some(own), Some(left)) = (matched.get(position), reached.get(position)) else {
            continue;
        };
        // Refused methods and paths are reported on their own.
        if own.is_empty() {
            continue;
        }
        let mut takers: Vec<(usize, &Route, Region)> = Vec::new();
        for (earlier, (other, other_reached)) in routes.iter().zip(&reached).enumerate() {
            if earlier >= position {
                break;
            }
            if !other_reached.overlaps(own) {
                continue;
            }
            let taken = other_reached.intersect(own)?;
            if !taken.is_empty() {
                takers.push((earlier, other, taken));
            }
        }
        let location = format!("routes[{position}]");
        let named = describe(route);
        if left.is_empty() {
            let by: Vec<String> = takers
                .iter()
                .map(|(earlier, other, taken)| {
                    let example = taken
                        .example(example_method(route))
                        .map(|request| format!(", e.g. {request}"))
                        .unwrap_or_default();
                    format!("routes[{earlier}] {}{example}", describe(other))
                })
                .collect();
            let first = takers.first().map_or(0, |(earlier, _, _)| *earlier);
            findings.push(Finding {
                severity: Severity::Error,
                location,
                line: None,
                message: format!(
                    "{named}: never reached: every request it matches is decided first by {}. Routes are tried in file order; move it above routes[{first}]",
                    by.join("; and ")
                ),
            });
            continue;
        }
        for (earlier, other, taken) in &takers {
            if scope_of(other) == scope_of(route) || matched_within(*earlier, position, &matched)? {
                continue;
            }
            let example = taken
                .example(example_method(route))
                .map(|request| format!(" (e.g. {request})"))
                .unwrap_or_default();
            findings.push(Finding {
                severity: Severity::Warning,
                location: location.clone(),
                line: None,
                message: format!(
                    "{named}: some of its requests{example} are decided first by routes[{earlier}] {} {:?}, which needs {} instead",
                    other.method.as_str(),
                    other.path,
                    scope_of(other)
                ),
            });
        }
    }
    Ok(())
}

/// Whether route `inner` matches only requests route `outer` matches: an exception listed
/// before the general rule.
fn matched_within(inner: usize, outer: usize, matched: &[Region]) -> Result<bool, TooComplex> {
    match (matched.get(inner), matched.get(outer)) {
        (Some(inner), Some(outer)) => inner.is_subset_of(outer),
        _ => Ok(false),
    }
}

/// The parameter name in a segment spelled as another router spells parameters: `:id`
/// (Express, Rails, Sinatra), `<id>` or `<int:id>` (Flask), `[id]` or `[...id]` (Next.js).
fn foreign_parameter(segment: &str) -> Option<&str> {
    let name = if let Some(name) = segment.strip_prefix(':') {
        name
    } else if let Some(inner) = segment.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
        inner.rsplit(':').next().unwrap_or(inner)
    } else if let Some(inner) = segment.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        inner.strip_prefix("...").unwrap_or(inner)
    } else {
        return None;
    };
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some(name)
}

#[cfg(test)]
mod tests;
