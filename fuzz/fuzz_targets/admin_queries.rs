//! Admin query strings and routes: `GET /keys?…` and `GET /approvals?…` give a bounded
//! page or field errors; an admin path is a route with a valid id, a 404 or a 405.
//!
//! Input: one byte choosing the parser, then the query, or `METHOD\nPATH` for routes.
#![no_main]

use keygate::admin::{admin_route, parse_approvals_query, parse_list_query};
use keygate::page::{Position, MAX_PAGE_SIZE};
use keygate::problem::GatewayError;
use libfuzzer_sys::fuzz_target;

fn check_refusal(error: GatewayError) {
    assert!(matches!(error, GatewayError::InvalidBody { .. }));
    let _ = error.to_problem("req_fuzz").body.to_string();
}

fn check_workspace(workspace: &Option<String>) {
    if let Some(workspace) = workspace {
        assert!((1..=64).contains(&workspace.len()));
        assert!(workspace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let query = Some(text).filter(|t| !t.is_empty());
    match selector % 3 {
        0 => match parse_list_query(query) {
            Ok(list) => {
                assert!((1..=MAX_PAGE_SIZE).contains(&list.limit));
                check_workspace(&list.workspace);
                if let Some(cursor) = list.cursor {
                    assert_eq!(Position::decode(&cursor.encode()), Some(cursor));
                }
            }
            Err(error) => check_refusal(error),
        },
        1 => match parse_approvals_query(query) {
            Ok(list) => {
                assert!((1..=MAX_PAGE_SIZE).contains(&list.limit));
                check_workspace(&list.workspace);
                if let Some(cursor) = list.cursor {
                    assert_eq!(Position::decode(&cursor.encode()), Some(cursor));
                }
            }
            Err(error) => check_refusal(error),
        },
        _ => {
            let (method, path) = text.split_once('\n').unwrap_or(("GET", text));
            match admin_route(method, path) {
                Ok(route) => {
                    let _ = route.required_grant();
                }
                Err(GatewayError::NotFound) => {}
                Err(GatewayError::MethodNotAllowed { allowed }) => {
                    assert!(!allowed.is_empty());
                    assert!(!allowed.split(", ").any(|m| m == method));
                }
                Err(other) => panic!("unexpected refusal {other:?}"),
            }
        }
    }
});
