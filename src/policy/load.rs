//! Loading: a policy file's text, read into its [shape](super::file) and validated whole
//! into a [`Policy`], or refused with every problem found ([`PolicyError`]).

use super::errors::{PolicyError, Problems};
use super::file::{
    ApprovalsTable, CredentialsTable, Flag, GroupTable, LifecycleTable, LimitsTable, PolicyFile,
    PolicyLimitsTable, ProblemsTable, ResourceTable, RouteTable,
};
use super::plans::{validate_default_plan, validate_plans};
use super::routes::{parse_path_pattern, MethodPattern, Route, Segment};
use super::scope::{CoarseScope, Group, Resource, ScopeGrant};
use super::settings::{
    Lifecycle, DEFAULT_EXPIRE_AFTER_SECONDS, DEFAULT_MAX_PENDING_BYTES_PER_WORKSPACE,
    DEFAULT_MAX_PENDING_PER_KEY, DEFAULT_MAX_PENDING_PER_WORKSPACE, DEFAULT_RETAIN_DECIDED_SECONDS,
    DEFAULT_WEBHOOK_RETRY_SECONDS, MAX_EXPIRE_AFTER_SECONDS, MAX_MAX_PENDING_BYTES_PER_WORKSPACE,
    MAX_MAX_PENDING_PER_KEY, MAX_MAX_PENDING_PER_WORKSPACE, MAX_QUEUED_BODY_BYTES,
    MAX_RETAIN_DECIDED_SECONDS, MAX_WEBHOOK_RETRY_SECONDS,
};
use super::{Action, ApprovalSettings, Kind, LifecycleAction, Policy};
use crate::cors::CorsSettings;
use crate::lease::{Enforcement, LeaseTime, MAX_LEASE_MS, MIN_LEASE_MS};
use crate::limits::{Limits, LimitsError, MAX_PER_DAY, MAX_PER_MINUTE};
use crate::portal::PortalSettings;
use crate::queue::QueueCaps;
use std::collections::BTreeMap;

const DEFAULT_KEY_PREFIX: &str = "kg";
const DEFAULT_UNMAPPED_ROUTE_STATUS: u16 = 404;
const DEFAULT_PER_MINUTE: u64 = 120;
const DEFAULT_PER_DAY: u64 = 50_000;
/// These would read like coarse scopes (`read:all`) or a verb, so no resource may take them.
const RESERVED_RESOURCE_NAMES: [&str; 4] = ["read", "write", "admin", "all"];
const MAX_GROUP_NAME_CHARS: usize = 64;

#[cfg(not(target_arch = "wasm32"))]
impl Policy {
    /// Parses and validates a policy file. See the module docs for the rules.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        build_policy(read_toml(text)?)
    }
}

/// A policy file's text read into its shape, or its first syntax error.
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn read_toml(text: &str) -> Result<PolicyFile, PolicyError> {
    if let Some(too_deep) = super::syntax::too_deep(text) {
        return Err(PolicyError::Syntax(format!(
            "TOML parse error at line {}, column {}\n{}",
            too_deep.line, too_deep.column, too_deep.message
        )));
    }
    toml::from_str(text).map_err(|error| PolicyError::Syntax(error.to_string()))
}

/// Validates a policy as written, whichever text it was read from.
pub(super) fn build_policy(file: PolicyFile) -> Result<Policy, PolicyError> {
    let mut problems = Problems::default();

    let key_prefix = file
        .key_prefix
        .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_string());
    if !is_valid_key_prefix(&key_prefix) {
        problems.add(
            "key_prefix",
            format!(
                "{key_prefix:?} must be 2 to 10 characters: a lowercase letter, then lowercase letters or digits"
            ),
        );
    }

    let unmapped_route_status = match file.unmapped_route_status {
        None => DEFAULT_UNMAPPED_ROUTE_STATUS,
        Some(404) => 404,
        Some(403) => 403,
        Some(other) => {
            problems.add(
                "unmapped_route_status",
                format!("must be 404 or 403, got {other}"),
            );
            DEFAULT_UNMAPPED_ROUTE_STATUS
        }
    };

    let coarse_scopes = validate_coarse_scopes(&file.coarse_scopes, &mut problems);
    let fine_scopes = file.fine_scopes.unwrap_or(true);
    if !fine_scopes && file.coarse_scopes.is_empty() {
        problems.add(
            "fine_scopes",
            "false leaves no scope to give a key: list the coarse_scopes keys may hold (read:all, write:all, admin)",
        );
    }
    let windows = file.limits.as_ref().map(PolicyLimitsTable::windows);
    let limits = validate_limits(windows.as_ref(), &mut problems);
    let (enforcement, lease_time) = validate_enforcement(file.limits.as_ref(), &mut problems);
    let lifecycle = validate_lifecycle(file.lifecycle.as_ref(), &mut problems);
    let approvals = validate_approvals(file.approvals.as_ref(), &mut problems);
    let credential_header = validate_credential_header(file.credentials.as_ref(), &mut problems);
    let cors = file.cors.as_ref().and_then(|table| {
        CorsSettings::from_table(table, credential_header.as_deref())
            .map_err(|found| {
                for problem in found {
                    problems.add(format!("cors.{}", problem.field), problem.message);
                }
            })
            .ok()
    });
    let problem_type_base = validate_problem_type_base(file.problems.as_ref(), &mut problems);
    let portal = match &file.portal {
        None => PortalSettings::default(),
        Some(table) => PortalSettings::from_table(table).unwrap_or_else(|found| {
            for problem in found {
                problems.add(format!("portal.{}", problem.field), problem.message);
            }
            PortalSettings::default()
        }),
    };
    let groups = validate_groups(&file.groups, &mut problems);
    let (resources, resource_index) = validate_resources(&file.resources, &groups, &mut problems);
    let routes = validate_routes(&file.routes, &resources, &resource_index, &mut problems);
    let plans = validate_plans(
        &file.plans,
        &resources,
        &resource_index,
        limits,
        &mut problems,
    );
    let default_plan = validate_default_plan(
        file.default_plan.as_deref(),
        &file.plans,
        &plans,
        &mut problems,
    );
    let (scope_grants, valid_scopes) = scope_table(&resources, &coarse_scopes, fine_scopes);
    let default_scopes = validate_default_scopes(
        file.default_scopes.as_deref(),
        &resources,
        &scope_grants,
        &valid_scopes,
        &mut problems,
    );

    // `limits` is `None` only when a problem was recorded for it.
    let limits = match limits {
        Some(limits) if problems.0.is_empty() => limits,
        _ => return Err(PolicyError::Invalid(problems.0)),
    };

    Ok(Policy {
        key_prefix,
        unmapped_route_status,
        origin_reads_body_overrides: file.origin_reads_body_overrides,
        limits,
        enforcement,
        lease_time,
        lifecycle,
        approvals,
        credential_header,
        cors,
        problem_type_base,
        portal,
        coarse_scopes,
        groups,
        resources,
        resource_index,
        routes,
        scope_grants,
        valid_scopes,
        fine_scopes,
        default_scopes,
        plans,
        default_plan,
    })
}

/// What each scope string grants, and the list of them in the order `valid_scopes` shows:
/// each resource's levels in declaration order (unless `fine_scopes` is off), then the
/// coarse scopes as the file lists them.
fn scope_table(
    resources: &[Resource],
    coarse_scopes: &[CoarseScope],
    fine_scopes: bool,
) -> (BTreeMap<String, ScopeGrant>, Vec<String>) {
    let mut scope_grants = BTreeMap::new();
    let mut valid_scopes = Vec::new();
    if fine_scopes {
        for (index, resource) in resources.iter().enumerate() {
            for (level_index, level) in resource.kind.levels().iter().enumerate() {
                let scope = format!("{}:{level}", resource.name);
                let levels = resource.kind.grant_of_level(level_index);
                scope_grants.insert(
                    scope.clone(),
                    ScopeGrant::OnResource {
                        resource: index,
                        levels,
                    },
                );
                valid_scopes.push(scope);
            }
        }
    }
    for coarse in coarse_scopes {
        scope_grants.insert(coarse.as_str().to_string(), ScopeGrant::Coarse(*coarse));
        valid_scopes.push(coarse.as_str().to_string());
    }
    (scope_grants, valid_scopes)
}

/// `default_scopes`: when written, at least one scope, each one the policy offers, once.
fn validate_default_scopes(
    written: Option<&[String]>,
    resources: &[Resource],
    scope_grants: &BTreeMap<String, ScopeGrant>,
    valid_scopes: &[String],
    problems: &mut Problems,
) -> Vec<String> {
    let Some(written) = written else {
        return Vec::new();
    };
    if written.is_empty() {
        problems.add(
            "default_scopes",
            "must name at least one scope, or be left out",
        );
    }
    let valid = if valid_scopes.is_empty() {
        "the policy offers no scope".to_string()
    } else {
        format!("valid scopes: {}", valid_scopes.join(", "))
    };
    let mut listed: Vec<String> = Vec::new();
    for (position, scope) in written.iter().enumerate() {
        let location = format!("default_scopes[{position}]");
        if listed.contains(scope) {
            problems.add(location, format!("{scope:?} is listed twice"));
        } else if scope_grants.contains_key(scope) {
            listed.push(scope.clone());
        } else if is_resource_level(scope, resources) {
            problems.add(
                location,
                format!("unknown scope {scope:?}: fine_scopes = false offers only the coarse scopes ({valid})"),
            );
        } else {
            problems.add(location, format!("unknown scope {scope:?} ({valid})"));
        }
    }
    listed
}

/// Whether `scope` is a level of a declared resource, such as `contacts:read`.
fn is_resource_level(scope: &str, resources: &[Resource]) -> bool {
    scope.split_once(':').is_some_and(|(name, level)| {
        resources
            .iter()
            .any(|resource| resource.name == name && resource.kind.level_index(level).is_some())
    })
}

/// Names a credential header cannot take: those HTTP, the platform or keygate already
/// give a meaning to (so reading a key from them would change what they do, or hide a key
/// in what keygate keeps), and the method and path overrides keygate refuses. Compared in
/// lower case; the name itself is letters, digits and single `-`, so no other spelling
/// folds onto one of these.
const CREDENTIAL_HEADER_TAKEN: &[&str] = &[
    "authorization",
    "cookie",
    // A response header; a request's repeated ones are not joined when read (`Set-Cookie`
    // alone), so "sent twice" could go unseen.
    "set-cookie",
    "host",
    "origin",
    "referer",
    "user-agent",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "range",
    "forwarded",
    "idempotency-key",
    "cdn-loop",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-original-uri",
    "x-envoy-original-path",
    "x-rewrite-url",
];
/// Families of names with the same standing: keygate's own, the platform's, the body's,
/// forwarding hops, what browsers set, CORS's, preconditions and content negotiation.
const CREDENTIAL_HEADER_TAKEN_PREFIXES: &[&str] = &[
    "x-keygate-",
    "cf-",
    "content-",
    "x-forwarded-",
    "proxy-",
    "sec-",
    "access-control-",
    "if-",
    "accept",
];

/// The `[credentials] header`: a plain header name ([`crate::cors::is_plain_header_name`])
/// not taken by anything else.
fn validate_credential_header(
    table: Option<&CredentialsTable>,
    problems: &mut Problems,
) -> Option<String> {
    let name = table?.header.as_ref()?;
    let lower = name.to_ascii_lowercase();
    if !crate::cors::is_plain_header_name(name) {
        problems.add(
            "credentials.header",
            format!("{name:?} must be a header name of letters, digits and single `-` (at most 64 characters), such as \"X-API-Key\""),
        );
        return None;
    }
    let taken = CREDENTIAL_HEADER_TAKEN.contains(&lower.as_str())
        || CREDENTIAL_HEADER_TAKEN_PREFIXES
            .iter()
            .any(|prefix| lower.starts_with(prefix));
    if taken {
        problems.add(
            "credentials.header",
            format!("{name:?} already means something to HTTP, the platform or keygate; choose a header of its own, such as \"X-API-Key\""),
        );
        return None;
    }
    Some(name.clone())
}

const MAX_TYPE_BASE_CHARS: usize = 200;

/// The `[problems] type_base`: an absolute `https://` (or `http://`) URL of URI
/// characters, to which a problem's `code` is appended as is.
fn validate_problem_type_base(
    table: Option<&ProblemsTable>,
    problems: &mut Problems,
) -> Option<String> {
    let base = table?.type_base.as_ref()?;
    let is_uri_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b);
    let after_scheme = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"));
    let valid = base.len() <= MAX_TYPE_BASE_CHARS
        && after_scheme.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && base.bytes().all(is_uri_char);
    if !valid {
        problems.add(
            "problems.type_base",
            format!("{base:?} must be an absolute https:// URL of at most {MAX_TYPE_BASE_CHARS} URI characters, such as \"https://docs.example.com/errors/\"; each problem's code is appended to it"),
        );
        return None;
    }
    Some(base.clone())
}

/// `^[a-z][a-z0-9]{1,9}$`
fn is_valid_key_prefix(prefix: &str) -> bool {
    let mut bytes = prefix.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && (2..=10).contains(&prefix.len())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `^[a-z][a-z0-9_]{0,39}$`
fn is_valid_resource_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && name.len() <= 40
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn validate_coarse_scopes(listed: &[String], problems: &mut Problems) -> Vec<CoarseScope> {
    let mut offered = Vec::new();
    for (position, name) in listed.iter().enumerate() {
        let location = format!("coarse_scopes[{position}]");
        match CoarseScope::from_name(name) {
            None => problems.add(
                location,
                format!(
                    "{name:?} is not a coarse scope (coarse scopes: read:all, write:all, admin)"
                ),
            ),
            Some(coarse) if offered.contains(&coarse) => {
                problems.add(location, format!("{name:?} is listed twice"));
            }
            Some(coarse) => offered.push(coarse),
        }
    }
    offered
}

fn validate_limits(table: Option<&LimitsTable>, problems: &mut Problems) -> Option<Limits> {
    let per_minute = limit_value(
        table.and_then(|t| t.per_minute),
        DEFAULT_PER_MINUTE,
        "per_minute",
        MAX_PER_MINUTE,
        problems,
    );
    let per_day = limit_value(
        table.and_then(|t| t.per_day),
        DEFAULT_PER_DAY,
        "per_day",
        MAX_PER_DAY,
        problems,
    );
    Limits::new(per_minute?, per_day?)
        .map_err(|error: LimitsError| problems.add("limits", error.to_string()))
        .ok()
}

/// TOML integers are signed; a negative limit gets the same wording as an oversized one.
fn limit_value(
    written: Option<i64>,
    default: u64,
    field: &str,
    max: u32,
    problems: &mut Problems,
) -> Option<u64> {
    match written {
        None => Some(default),
        Some(value) => match u64::try_from(value) {
            Ok(value) => Some(value),
            Err(_) => {
                problems.add(
                    "limits",
                    format!("{field} must be between 1 and {max}, got {value}"),
                );
                None
            }
        },
    }
}

/// `[limits] enforcement` (`"exact"` or `"lease"`) and `lease_seconds` (1 to 10, whole
/// seconds like every duration here; read with either mode, since a key may choose lease
/// mode on its own).
fn validate_enforcement(
    table: Option<&PolicyLimitsTable>,
    problems: &mut Problems,
) -> (Enforcement, LeaseTime) {
    let enforcement = match table.and_then(|t| t.enforcement.as_ref()) {
        None => Enforcement::default(),
        Some(written) => Enforcement::parse(written).unwrap_or_else(|| {
            problems.add(
                "limits.enforcement",
                format!("must be \"exact\" or \"lease\", got {written:?}"),
            );
            Enforcement::default()
        }),
    };
    let (min, max) = (MIN_LEASE_MS.div_ceil(1_000), MAX_LEASE_MS / 1_000);
    let lease_time = match table.and_then(|t| t.lease_seconds) {
        None => LeaseTime::DEFAULT,
        Some(seconds) => {
            let time = u64::try_from(seconds)
                .ok()
                .filter(|s| (min..=max).contains(s))
                .and_then(|s| LeaseTime::from_ms(s * 1_000).ok());
            time.unwrap_or_else(|| {
                problems.add(
                    "limits.lease_seconds",
                    format!("must be between {min} and {max}, got {seconds}"),
                );
                LeaseTime::DEFAULT
            })
        }
    };
    (enforcement, lease_time)
}

fn validate_lifecycle(table: Option<&LifecycleTable>, problems: &mut Problems) -> Lifecycle {
    // `None` where the value is not a boolean: that problem is recorded, so the policy is
    // refused and the `true` standing in for it below is never used.
    let edit = lifecycle_flag(table, LifecycleAction::Edit, problems);
    let revoke = lifecycle_flag(table, LifecycleAction::Revoke, problems);
    let reactivate = lifecycle_flag(table, LifecycleAction::Reactivate, problems);
    if revoke == Some(false) && reactivate == Some(true) {
        let message = if table.is_some_and(|t| t.reactivate.is_some()) {
            "cannot be true when revoke = false: re-activation undoes a revoke, so there is nothing to re-activate"
        } else {
            "defaults to true, but revoke = false leaves nothing to re-activate; set reactivate = false"
        };
        problems.add("lifecycle.reactivate", message);
    }
    let rotate = lifecycle_flag(table, LifecycleAction::Rotate, problems);
    Lifecycle {
        edit: edit.unwrap_or(true),
        revoke: revoke.unwrap_or(true),
        reactivate: reactivate.unwrap_or(true),
        rotate: rotate.unwrap_or(true),
    }
}

/// Whether `action` is offered; an absent table or field means it is.
fn lifecycle_flag(
    table: Option<&LifecycleTable>,
    action: LifecycleAction,
    problems: &mut Problems,
) -> Option<bool> {
    let value = match table.and_then(|t| t.written(action)) {
        None => return Some(true),
        Some(Flag::Boolean(offered)) => return Some(*offered),
        Some(Flag::Other(value)) => value.clone(),
    };
    problems.add(
        format!("lifecycle.{action}"),
        format!("must be true or false, got {value}"),
    );
    None
}

fn validate_approvals(table: Option<&ApprovalsTable>, problems: &mut Problems) -> ApprovalSettings {
    let defaults = ApprovalSettings::default();
    let Some(table) = table else {
        return defaults;
    };
    // A value out of range is recorded as a problem, so the default standing in for it
    // is never used.
    let mut setting =
        |written: Option<i64>, field: &str, min: u64, max: u64, default: u64| match written {
            None => default,
            Some(value) => match u64::try_from(value) {
                Ok(value) if (min..=max).contains(&value) => value,
                _ => {
                    problems.add(
                        format!("approvals.{field}"),
                        format!("must be between {min} and {max}, got {value}"),
                    );
                    default
                }
            },
        };
    ApprovalSettings {
        max_body_bytes: setting(
            table.max_body_bytes,
            "max_body_bytes",
            1,
            MAX_QUEUED_BODY_BYTES,
            defaults.max_body_bytes,
        ),
        expire_after_ms: setting(
            table.expire_after_seconds,
            "expire_after_seconds",
            1,
            MAX_EXPIRE_AFTER_SECONDS,
            DEFAULT_EXPIRE_AFTER_SECONDS,
        ) * 1000,
        webhook_retry_ms: setting(
            table.webhook_retry_seconds,
            "webhook_retry_seconds",
            0,
            MAX_WEBHOOK_RETRY_SECONDS,
            DEFAULT_WEBHOOK_RETRY_SECONDS,
        ) * 1000,
        caps: QueueCaps {
            max_pending_per_key: setting(
                table.max_pending_per_key,
                "max_pending_per_key",
                1,
                MAX_MAX_PENDING_PER_KEY,
                DEFAULT_MAX_PENDING_PER_KEY,
            ),
            max_pending_per_workspace: setting(
                table.max_pending_per_workspace,
                "max_pending_per_workspace",
                1,
                MAX_MAX_PENDING_PER_WORKSPACE,
                DEFAULT_MAX_PENDING_PER_WORKSPACE,
            ),
            max_pending_bytes_per_workspace: setting(
                table.max_pending_bytes_per_workspace,
                "max_pending_bytes_per_workspace",
                1,
                MAX_MAX_PENDING_BYTES_PER_WORKSPACE,
                DEFAULT_MAX_PENDING_BYTES_PER_WORKSPACE,
            ),
        },
        retain_decided_ms: setting(
            table.retain_decided_seconds,
            "retain_decided_seconds",
            1,
            MAX_RETAIN_DECIDED_SECONDS,
            DEFAULT_RETAIN_DECIDED_SECONDS,
        ) * 1000,
    }
}

fn validate_groups(tables: &[GroupTable], problems: &mut Problems) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (position, table) in tables.iter().enumerate() {
        let location = format!("groups[{position}].name");
        let name = &table.name;
        if name.trim().is_empty()
            || name.chars().count() > MAX_GROUP_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            problems.add(
                location,
                format!(
                    "{name:?} must be 1 to {MAX_GROUP_NAME_CHARS} characters, not blank, without control characters"
                ),
            );
        } else if groups.iter().any(|group| group.name == *name) {
            problems.add(location, format!("{name:?} is declared twice"));
        } else {
            groups.push(Group {
                name: name.clone(),
                administrative: table.administrative,
            });
        }
    }
    groups
}

fn validate_resources(
    tables: &[ResourceTable],
    groups: &[Group],
    problems: &mut Problems,
) -> (Vec<Resource>, BTreeMap<String, usize>) {
    let mut resources: Vec<Resource> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (position, table) in tables.iter().enumerate() {
        let name = &table.name;
        let mut valid = true;
        let name_location = format!("resources[{position}].name");
        if !is_valid_resource_name(name) {
            problems.add(
                name_location,
                format!(
                    "{name:?} must be 1 to 40 characters: a lowercase letter, then lowercase letters, digits or underscores"
                ),
            );
            valid = false;
        } else if RESERVED_RESOURCE_NAMES.contains(&name.as_str()) {
            problems.add(
                name_location,
                format!("{name:?} is reserved (reserved names: read, write, admin, all)"),
            );
            valid = false;
        } else if index.contains_key(name) {
            problems.add(name_location, format!("{name:?} is declared twice"));
            valid = false;
        }

        let kind = Kind::from_name(&table.kind);
        if kind.is_none() {
            problems.add(
                format!("resources[{position}].kind"),
                format!(
                    "{:?} is not a kind (kinds: {})",
                    table.kind,
                    Kind::ALL.map(Kind::as_str).join(", ")
                ),
            );
        }

        let mut administrative = false;
        if let Some(group_name) = &table.group {
            match groups.iter().find(|group| group.name == *group_name) {
                Some(group) => administrative = group.administrative,
                None => {
                    let declared = if groups.is_empty() {
                        "no groups are declared".to_string()
                    } else {
                        let names: Vec<String> =
                            groups.iter().map(|g| format!("{:?}", g.name)).collect();
                        format!("groups: {}", names.join(", "))
                    };
                    problems.add(
                        format!("resources[{position}].group"),
                        format!("{group_name:?} is not a declared group ({declared})"),
                    );
                }
            }
        }

        if let (true, Some(kind)) = (valid, kind) {
            index.insert(name.clone(), resources.len());
            resources.push(Resource {
                name: name.clone(),
                kind,
                group: table.group.clone(),
                administrative,
                description: table.description.clone(),
            });
        }
    }
    (resources, index)
}

fn validate_routes(
    tables: &[RouteTable],
    resources: &[Resource],
    resource_index: &BTreeMap<String, usize>,
    problems: &mut Problems,
) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    // For the duplicate check: (method, segments) of each valid route, with its position.
    let mut seen: Vec<(usize, MethodPattern, Vec<Segment>)> = Vec::new();
    for (position, table) in tables.iter().enumerate() {
        let method = MethodPattern::parse(&table.method);
        if method.is_none() {
            problems.add(
                format!("routes[{position}].method"),
                format!(
                    "{:?} must be an HTTP method in uppercase letters (e.g. \"GET\") or \"*\" for any method",
                    table.method
                ),
            );
        }

        let segments = match parse_path_pattern(&table.path) {
            Ok(segments) => Some(segments),
            Err(message) => {
                problems.add(format!("routes[{position}].path"), message);
                None
            }
        };

        let resource = match resource_index
            .get(&table.resource)
            .and_then(|&i| resources.get(i))
        {
            Some(resource) => Some(resource),
            None => {
                let names: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
                let declared = if names.is_empty() {
                    "no valid resource is declared".to_string()
                } else {
                    format!("resources: {}", names.join(", "))
                };
                problems.add(
                    format!("routes[{position}].resource"),
                    format!(
                        "{:?} is not a declared resource ({declared})",
                        table.resource
                    ),
                );
                None
            }
        };

        let action = Action::from_name(&table.action);
        let action_location = format!("routes[{position}].action");
        match (action, resource) {
            (Some(action), Some(resource)) if !resource.kind.supports(action) => problems.add(
                action_location,
                unsupported_action_message(&table.action, resource),
            ),
            (None, Some(resource)) => problems.add(
                action_location,
                unsupported_action_message(&table.action, resource),
            ),
            (None, None) => problems.add(
                action_location,
                format!(
                    "{:?} is not an action (actions: {})",
                    table.action,
                    Action::ALL.map(Action::as_str).join(", ")
                ),
            ),
            _ => {}
        }

        let (Some(method), Some(segments), Some(resource), Some(action)) =
            (method, segments, resource, action)
        else {
            continue;
        };
        if !resource.kind.supports(action) {
            continue;
        }
        if let Some((first, _, _)) = seen.iter().find(|(_, m, s)| *m == method && *s == segments) {
            problems.add(
                format!("routes[{position}]"),
                format!(
                    "{} {:?} duplicates routes[{first}] (same method and path pattern)",
                    method.as_str(),
                    table.path
                ),
            );
            continue;
        }
        seen.push((position, method.clone(), segments.clone()));
        routes.push(Route {
            method,
            path: table.path.clone(),
            segments,
            resource: resource.name.clone(),
            action,
        });
    }
    routes
}

fn unsupported_action_message(action: &str, resource: &Resource) -> String {
    format!(
        "{action:?} is not an action of resource {:?} (kind {} supports: {})",
        resource.name,
        resource.kind.as_str(),
        resource
            .kind
            .actions()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}
