//! What the origin is sent besides the client's own request: the path and query as one
//! string, and who is calling (the identity headers' fields).

use crate::identity::Identity;
use crate::record::Grantee;

/// A request's path and query as the origin's request line carries them:
/// `/v1/contacts?page=2`, or the path alone when there was no query (an empty query keeps
/// its `?`: the origin sees what the client sent).
pub fn path_and_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    }
}

/// Who the origin is told sent the request: the key, and for an approved request the
/// approval and its approver.
pub struct Sender<'a> {
    pub grantee: &'a Grantee,
    /// The approval's id and the `X-Keygate-Approved-By` value.
    pub approval: Option<(&'a str, &'a str)>,
}

impl Sender<'_> {
    /// The identity headers' fields for one request, sent at `now_ms`.
    pub fn identity(&self, request_id: &str, now_ms: u64) -> Identity {
        let grantee = self.grantee;
        Identity {
            key_id: grantee.key_id.to_string(),
            key_name: grantee.key_name.clone(),
            workspace: grantee.workspace.clone(),
            environment: grantee.environment.as_str().to_string(),
            scopes: grantee.scopes.clone(),
            request_id: request_id.to_string(),
            approval_id: self.approval.map(|(id, _)| id.to_string()),
            approved_by: self.approval.map(|(_, by)| by.to_string()),
            timestamp: now_ms / 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::admission::tests::grantee;
    use proptest::prelude::*;

    #[test]
    fn the_query_follows_the_path_after_a_question_mark() {
        assert_eq!(path_and_query("/v1/contacts", None), "/v1/contacts");
        assert_eq!(
            path_and_query("/v1/contacts", Some("page=2")),
            "/v1/contacts?page=2"
        );
        assert_eq!(path_and_query("/v1/contacts", Some("")), "/v1/contacts?");
    }

    #[test]
    fn the_identity_is_the_grantee_s_and_the_approval_s() {
        let grantee = grantee();
        let sender = Sender {
            grantee: &grantee,
            approval: None,
        };
        let identity = sender.identity("req_1", 1_900_000_000_999);
        assert_eq!(identity.key_id, grantee.key_id.as_str());
        assert_eq!(identity.key_name, grantee.key_name);
        assert_eq!(identity.workspace, "acme");
        assert_eq!(identity.environment, "test");
        assert_eq!(identity.scopes, grantee.scopes);
        assert_eq!(identity.request_id, "req_1");
        assert_eq!(identity.timestamp, 1_900_000_000);
        assert_eq!((identity.approval_id, identity.approved_by), (None, None));
        let approved = Sender {
            grantee: &grantee,
            approval: Some(("apr_1", "root")),
        }
        .identity("req_2", 0);
        assert_eq!(approved.approval_id.as_deref(), Some("apr_1"));
        assert_eq!(approved.approved_by.as_deref(), Some("root"));
    }

    proptest! {
        /// The path is kept as is, and the query after the first `?` comes back whole.
        #[test]
        fn path_and_query_splits_back(path in "/[^?]{0,30}", query in prop::option::of("\\PC{0,30}")) {
            let line = path_and_query(&path, query.as_deref());
            match line.split_once('?') {
                Some((head, tail)) => {
                    prop_assert_eq!(head, path.as_str());
                    prop_assert_eq!(Some(tail), query.as_deref());
                }
                None => {
                    prop_assert_eq!(&line, &path);
                    prop_assert!(query.is_none());
                }
            }
        }
    }
}
