//! Admitting a request: the key refused, the scope, the approval levels, the limits.

use super::*;

// --- admit: the key itself refused ------------------------------------------------

#[test]
fn admit_without_record_is_unknown_with_no_limit_headers() {
    let mut state = KeyState::default();
    let (reply, changed) = state.handle(read_contacts(&reader().hash), &policy(), NOW);
    assert_eq!(
        reply,
        Reply::Refused {
            refusal: Refusal::Unknown,
            limit_headers: Vec::new()
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, KeyState::default());
}

#[test]
fn admit_with_another_keys_hash_is_unknown() {
    let Fixture { record, hash } = reader();
    let stranger = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 9).hash;
    let mut state = created(&record, &hash);
    let before = state.clone();
    let (reply, changed) = state.handle(read_contacts(&stranger), &policy(), NOW);
    assert_eq!(
        reply,
        Reply::Refused {
            refusal: Refusal::Unknown,
            limit_headers: Vec::new()
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

#[test]
fn wrong_hash_on_a_revoked_key_says_unknown_not_revoked() {
    let Fixture { record, hash } = reader();
    let stranger = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 9).hash;
    let mut state = created(&record, &hash);
    state.handle(revoke(), &policy(), NOW);
    let (reply, _) = state.handle(read_contacts(&stranger), &policy(), NOW + 1);
    assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
}

#[test]
fn admit_on_a_revoked_key_is_revoked_without_limit_headers() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(revoke(), &policy(), NOW + 10);
    let before = state.clone();
    let (reply, changed) = state.handle(read_contacts(&hash), &policy(), NOW + 10);
    assert_eq!(
        reply,
        Reply::Refused {
            refusal: Refusal::Revoked,
            limit_headers: Vec::new()
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

#[test]
fn a_key_expires_exactly_at_expires_at() {
    let expires = NOW + 60_000;
    let body = format!(
        r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
        format_rfc3339(expires)
    );
    let Fixture { record, hash } = fixture(&body, 3);
    assert_eq!(record.expires_at, Some(expires));
    let mut state = created(&record, &hash);

    let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires - 1);
    assert!(is_admitted(&reply), "{reply:?}");
    assert_eq!(record.status(expires - 1), Status::Active);

    let before = state.clone();
    for at in [expires, expires + 1, expires + MS_PER_DAY] {
        assert_eq!(record.status(at), Status::Expired);
        let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
        assert_eq!(
            reply,
            Reply::Refused {
                refusal: Refusal::Expired,
                limit_headers: Vec::new()
            }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }
}

#[test]
fn revoked_wins_over_expired() {
    let mut record = reader().record;
    record.expires_at = Some(NOW + 5);
    record.revoked_at = Some(NOW + 1);
    assert_eq!(record.status(NOW + 10), Status::Revoked);
    assert_eq!(record.status(NOW), Status::Revoked);
}

// --- admit: scope ---------------------------------------------------------------

#[test]
fn a_denied_scope_names_resource_and_action_shows_limits_and_counts_nothing() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(read_contacts(&hash), &policy(), NOW);
    let before = state.clone();
    for (resource, action) in [
        ("contacts", Action::Write),
        ("contacts", Action::Delete),
        ("email", Action::Send),
        ("settings", Action::Read),
        // A target from another policy version: nothing grants it.
        ("gone", Action::Read),
    ] {
        let (reply, changed) = state.handle(admit(&hash, resource, action), &policy(), NOW);
        let (refusal, headers) = refusal_of(&reply);
        assert_eq!(
            refusal,
            &Refusal::Scope {
                required_scope: format!("{resource}:{}", action.as_str()),
                approval_scope: None,
            }
        );
        assert_limit_headers_present(headers);
        // The one request admitted before shows in the headers; nothing more was counted.
        assert_eq!(header(headers, "X-RateLimit-Limit"), Some("120"));
        assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("119"));
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }
}

#[test]
fn a_denied_scope_names_its_approval_level_only_where_the_request_could_queue() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    for (resource, action, approval) in [
        ("contacts", Action::Write, Some("contacts:write-approval")),
        ("contacts", Action::Delete, Some("contacts:delete-approval")),
        ("email", Action::Send, Some("email:send-approval")),
        ("settings", Action::Read, None),
    ] {
        let queueable = admit_queueable(&hash, resource, action, None);
        let (reply, changed) = state.handle(queueable, &policy(), NOW);
        assert_eq!(
            refusal_of(&reply).0,
            &Refusal::Scope {
                required_scope: format!("{resource}:{}", action.as_str()),
                approval_scope: approval.map(str::to_string),
            }
        );
        assert_eq!(changed, NOTHING);
        // Where nothing can be queued (the admin API), no level is named.
        let (reply, _) = state.handle(admit(&hash, resource, action), &policy(), NOW);
        assert!(matches!(
            refusal_of(&reply).0,
            Refusal::Scope {
                approval_scope: None,
                ..
            }
        ));
    }
    // An older authority's refusal, without the field, still reads.
    let older: Refusal =
        serde_json::from_str(r#"{"reason": "scope", "required_scope": "contacts:write"}"#)
            .expect("reads");
    assert_eq!(
        older,
        Refusal::Scope {
            required_scope: "contacts:write".into(),
            approval_scope: None,
        }
    );
}

#[test]
fn an_approval_level_where_nothing_can_queue_is_refused_and_not_counted() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval", "email:send-approval", "ai:use-approval"]}"#,
        4,
    );
    let mut state = created(&record, &hash);
    for (resource, action) in [
        ("contacts", Action::Write),
        ("email", Action::Send),
        ("ai", Action::Use),
    ] {
        let (reply, changed) = state.handle(admit(&hash, resource, action), &policy(), NOW);
        let (refusal, headers) = refusal_of(&reply);
        assert_eq!(
            refusal,
            &Refusal::ApprovalNotOffered {
                required_scope: format!("{resource}:{}", action.as_str())
            }
        );
        assert_limit_headers_present(headers);
        assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("120"));
        assert_eq!(changed, NOTHING);
        assert_eq!(state.counters, Counters::default());
    }
    // The ladder's lower level is held outright.
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn an_approval_level_on_the_data_plane_is_queued_and_counted() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:delete-approval", "email:send-approval", "ai:use-approval"], "limits": {"per_minute": 3, "per_day": 100}}"#,
        4,
    );
    let mut state = created(&record, &hash);
    for (resource, action, remaining) in [
        ("contacts", Action::Delete, "2"),
        ("email", Action::Send, "1"),
        ("ai", Action::Use, "0"),
    ] {
        let command = admit_queueable(&hash, resource, action, Some(10));
        let (reply, changed) = state.handle(command, &policy(), NOW);
        let Reply::Queued {
            grantee,
            limit_headers,
            secret,
        } = &reply
        else {
            panic!("{resource}: not queued: {reply:?}");
        };
        assert_eq!(grantee.key_id, record.id);
        // The key's one secret, named for the approval's later recheck.
        assert_eq!(*secret, 1);
        assert_eq!(
            header(limit_headers, "X-RateLimit-Remaining"),
            Some(remaining)
        );
        assert!(changed.counters);
    }
    // A queued request uses the quota like any other: the fourth is throttled.
    let command = admit_queueable(&hash, "email", Action::Send, None);
    let (reply, _) = state.handle(command, &policy(), NOW);
    assert!(
        matches!(refusal_of(&reply).0, Refusal::Throttled { .. }),
        "{reply:?}"
    );
    // The write level below delete is held outright, so it is admitted, not queued.
    let command = admit_queueable(&hash, "contacts", Action::Write, None);
    let (reply, _) = state.handle(command, &policy(), NOW + 60_000);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn a_declared_body_over_the_queue_limit_is_refused_before_it_is_counted() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval"]}"#,
        4,
    );
    let policy = Policy::from_toml(&format!(
        "{}\n[approvals]\nmax_body_bytes = 100\n",
        include_str!("../../../policies/demo.toml")
    ))
    .expect("valid policy");
    let mut state = created(&record, &hash);
    let command = admit_queueable(&hash, "contacts", Action::Write, Some(101));
    let (reply, changed) = state.handle(command, &policy, NOW);
    assert_eq!(
        refusal_of(&reply).0,
        &Refusal::BodyTooLarge { max_bytes: 100 }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state.counters, Counters::default());
    for fits in [Some(100), Some(0), None] {
        let command = admit_queueable(&hash, "contacts", Action::Write, fits);
        let (reply, _) = state.handle(command, &policy, NOW);
        assert!(matches!(reply, Reply::Queued { .. }), "{fits:?}: {reply:?}");
    }
}

#[test]
fn identify_checks_status_and_limits_but_no_scope() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval"], "limits": {"per_minute": 1, "per_day": 10}}"#,
        4,
    );
    let mut state = created(&record, &hash);
    let identify = || Command::Identify {
        key_hash: hash.clone(),
        offered: None,
    };
    let (reply, changed) = state.handle(identify(), &policy(), NOW);
    assert!(is_admitted(&reply), "{reply:?}");
    assert!(changed.counters, "an identified call is counted");
    let (reply, _) = state.handle(identify(), &policy(), NOW);
    assert!(
        matches!(refusal_of(&reply).0, Refusal::Throttled { .. }),
        "{reply:?}"
    );
    state.handle(Command::Revoke { actor: Actor::Root }, &policy(), NOW);
    let (reply, _) = state.handle(identify(), &policy(), NOW + 60_000);
    assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);
}

#[test]
fn a_recheck_sees_the_key_as_it_is_now_and_counts_nothing() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval"]}"#,
        4,
    );
    let recheck = || Command::Recheck {
        resource: "contacts".into(),
        action: Action::Write,
        secret: None,
    };
    let standing = |state: &mut KeyState, now| match state.handle(recheck(), &policy(), now) {
        (Reply::Rechecked { standing }, changed) => {
            assert_eq!(changed, NOTHING);
            standing.map(|grantee| grantee.key_id)
        }
        (other, _) => panic!("not a recheck answer: {other:?}"),
    };
    let mut state = created(&record, &hash);
    assert_eq!(standing(&mut state, NOW), Ok(record.id.clone()));
    assert_eq!(state.counters, Counters::default());
    // Raised to the write level: still allowed.
    state.handle(
        edit(KeyEdit {
            scopes: Some(vec!["contacts:write".into()]),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(standing(&mut state, NOW), Ok(record.id.clone()));
    // Lowered to read: the grant is lost.
    state.handle(
        edit(KeyEdit {
            scopes: Some(vec!["contacts:read".into()]),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(
        standing(&mut state, NOW),
        Err(SubmitterFailure::ScopeLost {
            required_scope: "contacts:write".into()
        })
    );
    state.handle(
        edit(KeyEdit {
            expires_at: Some(Some(NOW + 10)),
            scopes: Some(vec!["contacts:write-approval".into()]),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(
        standing(&mut state, NOW + 10),
        Err(SubmitterFailure::KeyExpired)
    );
    state.handle(Command::Revoke { actor: Actor::Root }, &policy(), NOW);
    assert_eq!(standing(&mut state, NOW), Err(SubmitterFailure::KeyRevoked));
    assert_eq!(
        standing(&mut KeyState::default(), NOW),
        Err(SubmitterFailure::KeyDeleted)
    );
}

// --- admit: allowed and throttled ------------------------------------------------

#[test]
fn an_allowed_request_names_the_grantee_and_is_counted() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Zapier", "scopes": ["contacts:write", "tags:read"], "workspace": "acme"}"#,
        5,
    );
    let mut state = created(&record, &hash);
    let at = NOW + 1_234;
    let (reply, changed) = state.handle(admit(&hash, "contacts", Action::Read), &policy(), at);
    let Reply::Admitted {
        grantee,
        limit_headers,
    } = reply
    else {
        panic!("expected Admitted, got {reply:?}");
    };
    assert_eq!(
        grantee,
        Grantee {
            key_id: record.id.clone(),
            key_name: "Zapier".into(),
            workspace: "acme".into(),
            environment: Environment::Live,
            scopes: vec!["contacts:write".into(), "tags:read".into()],
            // The limits in force: the policy's defaults, as the key has none of its own.
            limits: limits(120, 50_000),
            expires_at: None,
            created_by: Some(Principal::Root),
            // Made by the root token: it heads its own family.
            family: Some(record.id.clone()),
        }
    );
    assert_limit_headers_present(&limit_headers);
    assert_eq!(header(&limit_headers, "X-RateLimit-Remaining"), Some("119"));
    assert_eq!(
        header(&limit_headers, "RateLimit-Policy"),
        Some(r#""minute";q=120;w=60, "day";q=50000;w=86400"#)
    );
    // The first request ever opens a usage hour (no finished hour to write yet) and
    // sends last_used_at to the directory.
    assert_eq!(
        changed,
        Changed {
            counters: true,
            history: false,
            directory: DirectorySync::Soon,
            ..NOTHING
        }
    );
    assert_eq!(state.counters.last_used_at, Some(at));
    assert_eq!(
        state.record.as_ref(),
        Some(&record),
        "the record is untouched"
    );
}

#[test]
fn the_grantee_carries_the_keys_own_limits_and_expiry() {
    let expires = NOW + MS_PER_DAY;
    let body = format!(
        r#"{{"name": "Small", "scopes": ["contacts:read"], "limits": {{"per_minute": 3, "per_day": 7}},
            "expires_at": "{}", "environment": "test"}}"#,
        format_rfc3339(expires)
    );
    let Fixture { record, hash } = fixture(&body, 6);
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
    let grantee = grantee_of(&reply);
    assert_eq!(grantee.limits, limits(3, 7));
    assert_eq!(grantee.expires_at, Some(expires));
    assert_eq!(grantee.environment, Environment::Test);
    assert_eq!(grantee.workspace, DEFAULT_WORKSPACE);
}

#[test]
fn per_key_limits_replace_the_policy_defaults() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 3, "per_day": 7}}"#,
        6,
    );
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
    let Reply::Admitted { limit_headers, .. } = reply else {
        panic!("expected Admitted, got {reply:?}");
    };
    assert_eq!(
        header(&limit_headers, "RateLimit-Policy"),
        Some(r#""minute";q=3;w=60, "day";q=7;w=86400"#)
    );
    assert_eq!(header(&limit_headers, "X-RateLimit-Remaining"), Some("2"));
}

#[test]
fn a_throttled_minute_is_not_counted_and_resets_no_earlier_than_retry_after() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 2, "per_day": 100}}"#,
        7,
    );
    let mut state = created(&record, &hash);
    for at in [NOW, NOW + 500] {
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), at);
        assert!(is_admitted(&reply), "{reply:?}");
    }
    let before = state.clone();
    let (reply, changed) = state.handle(read_contacts(&hash), &policy(), NOW + 1_000);
    let (refusal, headers) = refusal_of(&reply);
    let Refusal::Throttled {
        window,
        retry_after_secs,
    } = refusal.clone()
    else {
        panic!("expected Throttled, got {refusal:?}");
    };
    assert_eq!(window, Window::Minute);
    assert_eq!(retry_after_secs, 59);
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before, "a throttled request is not counted");
    assert_limit_headers_present(headers);
    assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("0"));
    let reset: u64 = header(headers, "X-RateLimit-Reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= retry_after_secs, "{reset} < {retry_after_secs}");
    let t = reset_of(headers, Window::Minute).expect("t for the exhausted minute");
    assert!(t >= retry_after_secs, "t={t} < {retry_after_secs}");

    // At Retry-After the same request passes.
    let retry_at = NOW + 1_000 + retry_after_secs * 1_000;
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), retry_at);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn a_throttled_day_waits_until_utc_midnight() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Daily", "scopes": ["contacts:read"], "limits": {"per_minute": 5, "per_day": 5}}"#,
        8,
    );
    let mut state = created(&record, &hash);
    for i in 0..5 {
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + i * 120_000);
        assert!(is_admitted(&reply), "{reply:?}");
    }
    let at = NOW + 3_600_000;
    let before = state.clone();
    let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
    let (refusal, headers) = refusal_of(&reply);
    let midnight = (at / MS_PER_DAY + 1) * MS_PER_DAY;
    let wait = (midnight - at).div_ceil(1_000);
    assert_eq!(
        refusal,
        &Refusal::Throttled {
            window: Window::Day,
            retry_after_secs: wait
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
    let reset: u64 = header(headers, "X-RateLimit-Reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= wait);
    assert!(reset_of(headers, Window::Day).unwrap() >= wait);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), midnight);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn refusals_become_the_matching_gateway_errors() {
    assert_eq!(
        GatewayError::from(Refusal::Unknown),
        GatewayError::KeyUnknown
    );
    assert_eq!(
        GatewayError::from(Refusal::Revoked),
        GatewayError::KeyRevoked
    );
    assert_eq!(
        GatewayError::from(Refusal::Expired),
        GatewayError::KeyExpired
    );
    assert_eq!(
        GatewayError::from(Refusal::Scope {
            required_scope: "contacts:write".into(),
            approval_scope: Some("contacts:write-approval".into()),
        }),
        GatewayError::InsufficientScope {
            required_scope: "contacts:write".into(),
            approval_scope: Some("contacts:write-approval".into()),
        }
    );
    assert_eq!(
        GatewayError::from(Refusal::ApprovalNotOffered {
            required_scope: "api_keys:write".into()
        }),
        GatewayError::ApprovalNotOffered {
            required_scope: "api_keys:write".into()
        }
    );
    assert_eq!(
        GatewayError::from(Refusal::BodyTooLarge { max_bytes: 9 }),
        GatewayError::PayloadTooLarge {
            max_bytes: 9,
            bound: crate::problem::BodyBound::Queued
        }
    );
    assert_eq!(
        GatewayError::from(Refusal::Throttled {
            window: Window::Day,
            retry_after_secs: 7
        }),
        GatewayError::RateLimited {
            window: Window::Day,
            retry_after_secs: 7
        }
    );
}

#[test]
fn declines_become_the_matching_gateway_errors() {
    assert_eq!(
        GatewayError::from(Declined::NotFound),
        GatewayError::NotFound
    );
    for action in LifecycleAction::ALL {
        assert_eq!(
            GatewayError::from(Declined::NotAllowed { action }),
            GatewayError::LifecycleNotAllowed { action }
        );
    }
    for status in [Status::Revoked, Status::Expired] {
        assert_eq!(
            GatewayError::from(Declined::NotActive { status }),
            GatewayError::KeyNotActive { status }
        );
    }
    let overreach = Overreach::Limit {
        window: Window::Minute,
        own: 60,
    };
    assert_eq!(
        GatewayError::from(Declined::from(overreach.clone())),
        GatewayError::BeyondOwnGrant(overreach)
    );
    assert_eq!(GatewayError::from(Declined::NotFound).status(), 404);
}
