//! Routes: a method pattern and a path pattern, parsed once at load and matched against a
//! request without allocating (the rules are in the [module docs](super#routes)).

use super::Action;

/// keygate serves its admin API under `/_keygate/`; a policy route there would never be reached.
const ADMIN_API_SEGMENT: &str = "_keygate";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum MethodPattern {
    Any,
    Exact(String),
}

impl MethodPattern {
    /// An HTTP method in uppercase letters, or `*` for any method; `None` otherwise.
    pub(super) fn parse(written: &str) -> Option<MethodPattern> {
        if written == "*" {
            Some(MethodPattern::Any)
        } else if !written.is_empty()
            && written.len() <= 20
            && written.bytes().all(|b| b.is_ascii_uppercase())
        {
            Some(MethodPattern::Exact(written.to_string()))
        } else {
            None
        }
    }

    pub(super) fn matches(&self, method: &str) -> bool {
        match self {
            MethodPattern::Any => true,
            // HEAD is GET without the body, so it needs exactly what GET needs.
            MethodPattern::Exact(expected) => {
                expected == method || (expected == "GET" && method == "HEAD")
            }
        }
    }

    pub(super) fn as_str(&self) -> &str {
        match self {
            MethodPattern::Any => "*",
            MethodPattern::Exact(method) => method,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Segment {
    Literal(String),
    /// `{name}`: exactly one non-empty segment. The name is only documentation.
    Param,
    /// A final `*`: zero or more remaining segments.
    Rest,
}

#[derive(Clone, Debug)]
pub(super) struct Route {
    pub(super) method: MethodPattern,
    /// As written, for `describe()` and error messages.
    pub(super) path: String,
    /// Split once at load so matching a request allocates nothing.
    pub(super) segments: Vec<Segment>,
    pub(super) resource: String,
    pub(super) action: Action,
}

impl Route {
    pub(super) fn matches_path(&self, request_path: &str) -> bool {
        let Some(after_root) = request_path.strip_prefix('/') else {
            return false;
        };
        let mut parts = after_root.split('/');
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                // Compared decoded: an origin that routes on the decoded path (Starlette,
                // Django, Flask) reads `%65xport` as `export`, so it must not match `{id}`
                // where the `export` route needs another scope.
                Segment::Literal(literal) => match parts.next() {
                    Some(part)
                        if crate::percent::decode(part.as_bytes())
                            == crate::percent::decode(literal.as_bytes()) => {}
                    _ => return false,
                },
                Segment::Param => match parts.next() {
                    Some(part) if !part.is_empty() => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`
fn is_valid_param_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits a route's path pattern into segments, or says what is wrong with it.
pub(super) fn parse_path_pattern(path: &str) -> Result<Vec<Segment>, String> {
    let Some(after_root) = path.strip_prefix('/') else {
        return Err(format!("{path:?} must start with \"/\""));
    };
    if let Some(bad) = path.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "{path:?} contains {bad:?}; use visible ASCII only and percent-encode anything else, as requests arrive encoded"
        ));
    }
    if path.contains(['?', '#']) {
        return Err(format!(
            "{path:?} must not contain \"?\" or \"#\": routes match the path only"
        ));
    }
    let raw_segments: Vec<&str> = after_root.split('/').collect();
    let last = raw_segments.len().saturating_sub(1);
    if raw_segments.first() == Some(&ADMIN_API_SEGMENT) {
        return Err(format!(
            "{path:?} is under \"/{ADMIN_API_SEGMENT}/\", which is reserved for keygate's admin API"
        ));
    }
    let mut param_names: Vec<&str> = Vec::new();
    let mut segments = Vec::with_capacity(raw_segments.len());
    for (position, raw) in raw_segments.iter().enumerate() {
        let raw = *raw;
        if raw == "*" {
            if position != last {
                return Err("\"*\" may only be the last segment".to_string());
            }
            segments.push(Segment::Rest);
        } else if raw.contains('*') {
            return Err(format!(
                "segment {raw:?} mixes \"*\" with text; \"*\" must be a whole segment"
            ));
        } else if let Some(name) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            if !is_valid_param_name(name) {
                return Err(format!(
                    "segment {raw:?} is not a valid parameter; write {{name}} with letters, digits or underscores"
                ));
            }
            if param_names.contains(&name) {
                return Err(format!("parameter {raw:?} appears twice"));
            }
            param_names.push(name);
            segments.push(Segment::Param);
        } else if raw.contains(['{', '}']) {
            return Err(format!(
                "segment {raw:?} mixes a parameter with text; a parameter must be a whole segment"
            ));
        } else if raw.is_empty() && position != last {
            return Err(format!("{path:?} has an empty segment (\"//\")"));
        } else if crate::ambiguity::is_dot_segment(raw) {
            return Err(format!(
                "segment {raw:?} is a dot segment; requests containing one are never routed"
            ));
        } else {
            segments.push(Segment::Literal(raw.to_string()));
        }
    }
    Ok(segments)
}
