//! The HTTP methods keygate forwards: one list for the request rules, the policy's route
//! check and CORS, which must agree on it.

/// The methods keygate forwards. Others (TRACE, CONNECT, WebDAV verbs, ...) the platform
/// cannot forward faithfully, and no policy route should need them.
pub const FORWARDABLE_METHODS: &[&str] =
    &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
