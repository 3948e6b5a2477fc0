//! Which method and path ask for what.

use super::*;

// --- routes ---------------------------------------------------------------------

fn an_id() -> KeyId {
    KeyId::generate(&[9; KEY_ID_RANDOM_BYTES])
}

pub(super) const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "get",
];

fn acme() -> crate::workspace::WorkspaceName {
    crate::workspace::WorkspaceName::parse("acme").expect("a workspace name")
}

fn an_approval_id() -> ApprovalId {
    ApprovalId::generate(
        &crate::queue::QueueShard::of("acme"),
        &[9; crate::approval::APPROVAL_ID_RANDOM_BYTES],
    )
}

#[test]
fn every_admin_route_is_served_with_the_grant_it_needs() {
    let id = an_id();
    let approval = an_approval_id();
    let expected = [
        (("POST", "/keys"), AdminRoute::CreateKey, "api_keys:write"),
        (("GET", "/keys"), AdminRoute::ListKeys, "api_keys:read"),
        (
            ("GET", "/keys/{id}"),
            AdminRoute::GetKey(id.clone()),
            "api_keys:read",
        ),
        (
            ("PATCH", "/keys/{id}"),
            AdminRoute::EditKey(id.clone()),
            "api_keys:write",
        ),
        (
            ("DELETE", "/keys/{id}"),
            AdminRoute::DeleteKey(id.clone()),
            "api_keys:delete",
        ),
        (
            ("POST", "/keys/{id}/revoke"),
            AdminRoute::RevokeKey(id.clone()),
            "api_keys:delete",
        ),
        (
            ("POST", "/keys/{id}/activate"),
            AdminRoute::ActivateKey(id.clone()),
            "api_keys:write",
        ),
        (
            ("POST", "/keys/{id}/rotate"),
            AdminRoute::RotateKey(id.clone()),
            "api_keys:write",
        ),
        (
            ("POST", "/keys/{id}/webhook-secret/rotate"),
            AdminRoute::RotateWebhookSecret(id.clone()),
            "api_keys:write",
        ),
        (
            ("GET", "/approvals"),
            AdminRoute::ListApprovals,
            "approvals:read",
        ),
        (
            ("GET", "/approvals/{id}"),
            AdminRoute::GetApproval(approval.clone()),
            "approvals:read",
        ),
        (
            ("POST", "/approvals/{id}/approve"),
            AdminRoute::Approve(approval.clone()),
            "approvals:write",
        ),
        (
            ("POST", "/approvals/{id}/reject"),
            AdminRoute::Reject(approval.clone()),
            "approvals:write",
        ),
        (("GET", "/policy"), AdminRoute::Policy, "api_keys:read"),
        (("GET", "/workspaces"), AdminRoute::ListWorkspaces, "root"),
        (
            ("GET", "/workspaces/{workspace}"),
            AdminRoute::GetWorkspace(acme()),
            "api_keys:read",
        ),
        (
            ("PUT", "/workspaces/{workspace}"),
            AdminRoute::SetPlan(acme()),
            "root",
        ),
        // No key may call the session routes; the current session is its own token's.
        (
            ("POST", "/portal/sessions"),
            AdminRoute::MintSession,
            "root",
        ),
        (
            ("GET", "/portal/sessions"),
            AdminRoute::ListSessions,
            "root",
        ),
        (
            ("GET", "/portal/sessions/current"),
            AdminRoute::CurrentSession,
            "session",
        ),
        (
            ("DELETE", "/portal/sessions/current"),
            AdminRoute::EndCurrentSession,
            "session",
        ),
        (
            ("DELETE", "/portal/sessions/{id}"),
            AdminRoute::RevokeSession(a_session_id()),
            "root",
        ),
    ];
    let listed: Vec<(&str, &str)> = expected.iter().map(|(route, ..)| *route).collect();
    assert_eq!(listed, ADMIN_ROUTES, "ADMIN_ROUTES lists exactly these");
    let session = a_session_id();
    for ((method, template), route, grant) in expected {
        let id = match template {
            t if t.starts_with("/keys") => id.as_str(),
            t if t.starts_with("/portal") => session.as_str(),
            _ => approval.as_str(),
        };
        let path = template.replace("{id}", id).replace("{workspace}", "acme");
        assert_eq!(
            admin_route(method, &path),
            Ok(route.clone()),
            "{method} {path}"
        );
        let needed = match route.required_grant() {
            Some(needed) => format!("{}:{}", needed.resource, needed.action.as_str()),
            None if route.is_own_session() => "session".to_string(),
            None => "root".to_string(),
        };
        assert_eq!(needed, grant, "{method} {template}");
    }
}

fn a_session_id() -> crate::session::SessionId {
    crate::session::SessionId::generate(&[9; crate::session::SESSION_ID_RANDOM_BYTES])
}

#[test]
fn every_admin_route_names_the_permission_a_member_needs() {
    use crate::session::Permission::*;
    let key = an_id();
    let approval = an_approval_id();
    for (route, permission, own) in [
        (AdminRoute::ListKeys, Some(KeysRead), false),
        (AdminRoute::GetKey(key.clone()), Some(KeysRead), false),
        (AdminRoute::Policy, Some(KeysRead), false),
        (AdminRoute::CreateKey, Some(KeysManage), false),
        (AdminRoute::EditKey(key.clone()), Some(KeysManage), false),
        (AdminRoute::DeleteKey(key.clone()), Some(KeysManage), false),
        (AdminRoute::RevokeKey(key.clone()), Some(KeysManage), false),
        (
            AdminRoute::ActivateKey(key.clone()),
            Some(KeysManage),
            false,
        ),
        (AdminRoute::RotateKey(key.clone()), Some(KeysManage), false),
        (
            AdminRoute::RotateWebhookSecret(key),
            Some(KeysManage),
            false,
        ),
        (AdminRoute::ListApprovals, Some(ApprovalsReview), false),
        (
            AdminRoute::GetApproval(approval.clone()),
            Some(ApprovalsReview),
            false,
        ),
        (
            AdminRoute::Approve(approval.clone()),
            Some(ApprovalsReview),
            false,
        ),
        (AdminRoute::Reject(approval), Some(ApprovalsReview), false),
        (AdminRoute::MintSession, None, false),
        (AdminRoute::ListSessions, None, false),
        (AdminRoute::RevokeSession(a_session_id()), None, false),
        (AdminRoute::CurrentSession, None, true),
        (AdminRoute::EndCurrentSession, None, true),
    ] {
        assert_eq!(route.required_permission(), permission, "{route:?}");
        assert_eq!(route.is_own_session(), own, "{route:?}");
    }
}

#[test]
fn the_current_session_is_not_read_as_a_session_id() {
    assert_eq!(
        admin_route("DELETE", "/portal/sessions/current"),
        Ok(AdminRoute::EndCurrentSession)
    );
    assert_eq!(
        admin_route("POST", "/portal/sessions/current"),
        Err(GatewayError::MethodNotAllowed {
            allowed: "GET, DELETE".into()
        })
    );
    assert_eq!(
        admin_route("DELETE", "/portal/sessions/ses_short"),
        Err(GatewayError::NotFound)
    );
    assert_eq!(
        admin_route("GET", &format!("/portal/sessions/{}", a_session_id())),
        Err(GatewayError::MethodNotAllowed {
            allowed: "DELETE".into()
        })
    );
}

#[test]
fn an_id_of_the_other_kind_is_404() {
    let key = an_id();
    let approval = an_approval_id();
    for (method, template) in ADMIN_ROUTES {
        let wrong = match template.starts_with("/keys") {
            true => approval.as_str(),
            false => key.as_str(),
        };
        // (A session id in a key's or approval's place is covered by the same rule.)
        if template.contains("{id}") {
            let path = template.replace("{id}", wrong);
            assert_eq!(
                admin_route(method, &path),
                Err(GatewayError::NotFound),
                "{path}"
            );
        }
    }
}

#[test]
fn a_workspace_path_takes_only_a_workspace_name() {
    for path in [
        "/workspaces/a%2Fb",
        "/workspaces/-x",
        "/workspaces/",
        "/workspaces/a/b",
    ] {
        assert_eq!(
            admin_route("GET", path),
            Err(GatewayError::NotFound),
            "{path}"
        );
    }
    assert_eq!(
        admin_route("POST", "/workspaces/acme"),
        Err(GatewayError::MethodNotAllowed {
            allowed: "GET, PUT".into()
        })
    );
}

#[test]
fn workspace_lists_take_only_a_limit_and_a_cursor() {
    let query = parse_workspaces_query(Some("limit=5")).expect("valid");
    assert_eq!(query.limit, 5);
    let cursor = Position {
        created_at: 7,
        id: acme(),
    };
    let query =
        parse_workspaces_query(Some(&format!("cursor={}", cursor.encode()))).expect("a cursor");
    assert_eq!(query.cursor, Some(cursor));
    for bad in [
        "status=active",
        "workspace=acme",
        "limit=0",
        "cursor=7.a%2Fb",
        "limit=1&limit=2",
    ] {
        assert_eq!(
            parse_workspaces_query(Some(bad))
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("invalid_request"),
            "{bad}"
        );
    }
}

#[test]
fn approval_list_queries_take_approval_statuses_and_cursors() {
    let query = parse_approvals_query(Some("status=expired&workspace=acme&limit=5")).unwrap();
    assert_eq!(query.status, Some(ApprovalStatus::Expired));
    assert_eq!((query.workspace.as_deref(), query.limit), (Some("acme"), 5));
    let cursor = Position {
        created_at: 7,
        id: an_approval_id(),
    };
    let query = parse_approvals_query(Some(&format!("cursor={}", cursor.encode()))).unwrap();
    assert_eq!(query.cursor, Some(cursor));
    // A key list's cursor or status is no approval list's.
    let key_cursor = Position {
        created_at: 7,
        id: an_id(),
    }
    .encode();
    for (bad, field) in [
        ("status=active", "status"),
        (&*format!("cursor={key_cursor}"), "cursor"),
    ] {
        let Err(GatewayError::InvalidBody { errors }) = parse_approvals_query(Some(bad)) else {
            panic!("{bad} accepted");
        };
        assert_eq!(errors[0].field, field);
    }
    let Err(GatewayError::InvalidBody { errors }) = parse_approvals_query(Some("status=active"))
    else {
        panic!("accepted");
    };
    assert!(errors[0]
        .message
        .contains("`pending`, `approved`, `rejected`, `expired` or `failed`"));
}

#[test]
fn a_known_path_with_another_method_is_405_naming_the_allowed_ones() {
    let id = an_id();
    for (template, allowed) in [
        ("/keys", "POST, GET"),
        ("/keys/{id}", "GET, PATCH, DELETE"),
        ("/keys/{id}/revoke", "POST"),
        ("/keys/{id}/activate", "POST"),
        ("/keys/{id}/rotate", "POST"),
        ("/keys/{id}/webhook-secret/rotate", "POST"),
        ("/approvals", "GET"),
        ("/approvals/{id}", "GET"),
        ("/approvals/{id}/approve", "POST"),
        ("/approvals/{id}/reject", "POST"),
        ("/policy", "GET"),
    ] {
        // The Allow list is ADMIN_ROUTES' methods for the path, in its order.
        let from_table: Vec<&str> = ADMIN_ROUTES
            .iter()
            .filter(|(_, t)| *t == template)
            .map(|(m, _)| *m)
            .collect();
        assert_eq!(from_table.join(", "), allowed);
        let path = match template.starts_with("/keys") {
            true => template.replace("{id}", id.as_str()),
            false => template.replace("{id}", an_approval_id().as_str()),
        };
        for method in METHODS {
            let result = admin_route(method, &path);
            if from_table.contains(&method) {
                assert!(result.is_ok(), "{method} {path}: {result:?}");
                continue;
            }
            let error = result.expect_err("not an allowed method");
            assert_eq!(
                error,
                GatewayError::MethodNotAllowed {
                    allowed: allowed.into()
                },
                "{method} {path}"
            );
            let problem = error.to_problem("r");
            assert_eq!(problem.status, 405);
            assert_eq!(problem.headers, [("Allow", allowed.to_string())]);
        }
    }
}

#[test]
fn unknown_paths_are_404_for_every_method() {
    let id = an_id();
    let id = id.as_str();
    for path in [
        String::new(),
        "/".into(),
        "keys".into(),
        "//keys".into(),
        "/key".into(),
        "/KEYS".into(),
        "/keys/".into(),
        format!("/keys/{id}/"),
        format!("/keys/{id}/suspend"),
        format!("/keys/{id}/revoke/"),
        format!("/keys/{id}/rotate/now"),
        format!("/keys/{id}/webhook-secret"),
        format!("/keys/{id}/webhook-secret/"),
        format!("/keys/{id}/webhook_secret/rotate"),
        format!("/keys/{id}//revoke"),
        "/policy/".into(),
        "/policy/x".into(),
        "/approvals/".into(),
        "/approval".into(),
        format!("/approvals/{}/decline", an_approval_id()),
        format!("/approvals/{}/approve/", an_approval_id()),
        "/v1/keys".into(),
        "/_keygate/v1/keys".into(),
    ] {
        for method in METHODS {
            let result = admin_route(method, &path);
            // A trailing slash after /keys reads as an empty id: 404 where the method fits.
            if path == "/keys/" && !["GET", "PATCH", "DELETE"].contains(&method) {
                continue;
            }
            if path == "/approvals/" && method != "GET" {
                continue;
            }
            assert_eq!(result, Err(GatewayError::NotFound), "{method} {path:?}");
        }
    }
}

#[test]
fn an_id_that_cannot_exist_is_404() {
    let id = an_id();
    let id = id.as_str();
    let mut wrong_char = id.to_string();
    wrong_char.replace_range(5..6, "-");
    for bad in [
        "".to_string(),
        "nope".into(),
        "key_".into(),
        "key_short".into(),
        id[..id.len() - 1].to_string(),
        format!("{id}x"),
        wrong_char,
        id.to_uppercase(),
        id.replacen("key_", "kez_", 1),
        "..".into(),
        "%2e%2e".into(),
    ] {
        for (method, template) in ADMIN_ROUTES {
            if !template.contains("{id}") {
                continue;
            }
            let path = template.replace("{id}", &bad);
            assert_eq!(
                admin_route(method, &path),
                Err(GatewayError::NotFound),
                "{method} {path}"
            );
        }
    }
}
