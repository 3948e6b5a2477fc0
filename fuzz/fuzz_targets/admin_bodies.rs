//! Admin API bodies (create, edit, rotate, approve, reject, mint a portal session): any bytes are a checked value
//! or field errors; what is accepted holds only values the API promises, and every refusal
//! renders as problem+json.
//!
//! Input: one byte choosing the parser and the HTTPS-only setting, then the body.
#![no_main]

use keygate::admin::{
    parse_approve, parse_create, parse_edit, parse_mint, parse_reject, parse_rotate,
    MAX_GRACE_SECONDS,
};
use keygate::authority::{key_object, LimitsEdit};
use keygate::key::{ApiKey, Environment, KeyId};
use keygate::problem::GatewayError;
use keygate::record::Principal;
use keygate_fuzz::{demo_policy, NOW_MS};
use libfuzzer_sys::fuzz_target;

fn check_name(name: &str) {
    assert!(!name.is_empty());
    assert_eq!(name, name.trim());
    assert!(name.chars().count() <= 120);
    assert!(!name.chars().any(char::is_control));
}

fn check_scopes(scopes: &[String]) {
    assert!(!scopes.is_empty());
    assert_eq!(demo_policy().check_scopes(scopes), Ok(()));
    for (i, scope) in scopes.iter().enumerate() {
        assert!(!scopes[..i].contains(scope), "{scope} twice");
    }
}

fn check_webhook(url: &str, https_only: bool) {
    assert!(url.starts_with("https://") || (!https_only && url.starts_with("http://")));
    assert!(url.len() <= 2048 && !url.contains('#') && !url.contains(char::is_whitespace));
}

fn check_refusal(error: GatewayError) {
    assert!(matches!(
        error,
        GatewayError::InvalidBody { .. } | GatewayError::UnknownScopes { .. }
    ));
    let problem = error.to_problem("req_fuzz");
    assert!(
        problem.status == 400 || problem.status == 422,
        "{}",
        problem.status
    );
    let _ = problem.body.to_string();
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let https_only = selector & 0x80 == 0;
    let policy = demo_policy();
    match selector % 5 {
        0 => match parse_create(body, policy, NOW_MS, https_only) {
            Ok(new_key) => {
                check_name(&new_key.name);
                check_scopes(&new_key.scopes);
                if let Some(at) = new_key.expires_at {
                    assert!(at > NOW_MS);
                }
                if let Some(limits) = new_key.limits {
                    assert!(limits.per_minute <= limits.per_day);
                }
                assert!(serde_json::to_string(&new_key.metadata).unwrap().len() <= 4096);
                if let Some(url) = &new_key.rejection_webhook {
                    check_webhook(url, https_only);
                }
                let key = ApiKey::generate("kg", Environment::Live, &[7; 24]);
                let record = new_key.into_record(
                    KeyId::generate(&[1; 16]),
                    &key,
                    NOW_MS,
                    "default",
                    Principal::Root,
                    None,
                );
                let _ = key_object(&record, None, policy, NOW_MS).to_string();
            }
            Err(error) => check_refusal(error),
        },
        1 => match parse_edit(body, policy, NOW_MS, https_only) {
            Ok(edit) => {
                if let Some(name) = &edit.name {
                    check_name(name);
                }
                if let Some(scopes) = &edit.scopes {
                    check_scopes(scopes);
                }
                if let Some(Some(at)) = edit.expires_at {
                    assert!(at > NOW_MS);
                }
                if let Some(LimitsEdit::Set {
                    per_minute,
                    per_day,
                }) = edit.limits
                {
                    assert!(per_minute.is_some() || per_day.is_some());
                    if let (Some(minute), Some(day)) = (per_minute, per_day) {
                        assert!(minute <= day);
                    }
                }
                if let Some(Some(url)) = &edit.rejection_webhook {
                    check_webhook(url, https_only);
                }
                assert_ne!(
                    edit,
                    Default::default(),
                    "an accepted edit changes something"
                );
            }
            Err(error) => check_refusal(error),
        },
        2 => match parse_rotate(body) {
            Ok(grace_ms) => {
                assert!(grace_ms <= MAX_GRACE_SECONDS * 1000);
                assert_eq!(grace_ms % 1000, 0);
            }
            Err(error) => check_refusal(error),
        },
        3 => {
            if let Err(error) = parse_approve(body) {
                check_refusal(error);
            }
        }
        _ => {
            match parse_reject(body) {
                Ok(reason) => {
                    assert!(!reason.is_empty());
                    assert_eq!(reason, reason.trim());
                    assert!(reason.chars().count() <= 1000);
                }
                Err(error) => check_refusal(error),
            }
            // The same bytes as a portal session's mint body.
            match parse_mint(body) {
                Ok(session) => {
                    assert!(!session.permissions.is_empty() && session.permissions.len() <= 3);
                    assert!((60..=43_200).contains(&session.ttl_seconds));
                    for (text, max) in [(&session.member.id, 128), (&session.member.name, 200)] {
                        assert!(!text.is_empty() && text.chars().count() <= max);
                        assert!(!text.chars().any(char::is_control));
                    }
                }
                Err(error) => check_refusal(error),
            }
        }
    }
});
