//! The public view of a key, and everything that crosses the Durable Object boundary.

use super::*;

// --- the public view ------------------------------------------------------------

#[test]
fn key_object_has_exactly_the_documented_fields_and_never_the_hash() {
    let body = format!(
        r#"{{"name": "Full", "scopes": ["contacts:read", "email:send"], "workspace": "acme",
            "expires_at": "{}", "limits": {{"per_minute": 10, "per_day": 1000}},
            "metadata": {{"team": "growth"}}, "rejection_webhook": "https://hooks.example.com/r",
            "environment": "test"}}"#,
        format_rfc3339(NOW + MS_PER_DAY)
    );
    let Fixture { record, hash } = fixture(&body, 10);
    let object = key_object(&record, Some(NOW + 1_000), &policy(), NOW + 2_000);

    let fields: BTreeSet<&str> = object
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let documented: BTreeSet<&str> = [
        "id",
        "name",
        "hint",
        "workspace",
        "scopes",
        "status",
        "environment",
        "created_at",
        "expires_at",
        "last_used_at",
        "limits",
        "enforcement",
        "metadata",
        "rejection_webhook",
        "revoked_at",
        "revoked_by",
        "created_by",
    ]
    .into_iter()
    .collect();
    assert_eq!(fields, documented);

    let text = serde_json::to_string(&object).unwrap();
    let hex = &hash.index_name()[3..];
    assert_eq!(hex.len(), 64);
    assert!(!text.contains(hex), "the hash leaked: {text}");
    assert!(!text.contains("key_hash"));
    assert!(!text.contains("secret"));

    assert_eq!(object["id"], json!(record.id.as_str()));
    assert_eq!(object["name"], "Full");
    assert_eq!(object["hint"], json!(record.hint));
    assert!(record.hint.starts_with("kg_test_…"));
    assert_eq!(object["workspace"], "acme");
    assert_eq!(object["scopes"], json!(["contacts:read", "email:send"]));
    assert_eq!(object["status"], "active");
    assert_eq!(object["environment"], "test");
    assert_eq!(object["created_at"], json!(format_rfc3339(NOW)));
    assert_eq!(
        object["expires_at"],
        json!(format_rfc3339(NOW + MS_PER_DAY))
    );
    assert_eq!(object["revoked_at"], Value::Null);
    assert_eq!(object["last_used_at"], json!(format_rfc3339(NOW + 1_000)));
    assert_eq!(object["limits"]["per_minute"], 10);
    assert_eq!(object["limits"]["per_day"], 1000);
    assert_eq!(object["limits"]["source"], "key");
    assert_eq!(object["metadata"], json!({"team": "growth"}));
    assert_eq!(object["rejection_webhook"], "https://hooks.example.com/r");
}

#[test]
fn key_object_shows_status_and_policy_limits() {
    let Fixture { record, .. } = reader();
    let object = key_object(&record, None, &policy(), NOW);
    assert_eq!(object["status"], "active");
    assert_eq!(object["expires_at"], Value::Null);
    assert_eq!(object["last_used_at"], Value::Null);
    assert_eq!(object["rejection_webhook"], Value::Null);
    assert_eq!(object["metadata"], json!({}));
    assert_eq!(object["workspace"], "default");
    assert_eq!(object["environment"], "live");
    assert_eq!(
        object["limits"],
        json!({"per_minute": 120, "per_day": 50000, "source": "policy"})
    );

    let mut revoked = record.clone();
    revoked.revoked_at = Some(NOW + 1_000);
    let object = key_object(&revoked, None, &policy(), NOW + 2_000);
    assert_eq!(object["status"], "revoked");
    assert_eq!(object["revoked_at"], json!(format_rfc3339(NOW + 1_000)));

    let mut expiring = record;
    expiring.expires_at = Some(NOW + 1_000);
    assert_eq!(
        key_object(&expiring, None, &policy(), NOW + 1_000)["status"],
        "expired"
    );
    assert_eq!(
        key_object(&expiring, None, &policy(), NOW + 999)["status"],
        "active"
    );
}

// --- serde across the Durable Object boundary -------------------------------------

/// Through the text the Worker sends the object, as it sends it.
fn round_trip_command(command: &Command) {
    let text = serde_json::to_string(command).unwrap();
    let back: Command = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
}

fn round_trip_reply(reply: &Reply) {
    let text = serde_json::to_string(reply).unwrap();
    let back: Reply = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, reply, "{text}");
}

/// An edit that sets every field.
fn edit_of_every_field() -> KeyEdit {
    let mut metadata = Map::new();
    metadata.insert("big".into(), json!(u64::MAX));
    metadata.insert("f".into(), json!(0.1));
    metadata.insert("deep".into(), json!({"a": [null, true, "é\n"]}));
    KeyEdit {
        name: Some("Renamed".into()),
        scopes: Some(vec!["contacts:read".into(), "tags:write".into()]),
        limits: Some(LimitsEdit::Set {
            per_minute: Some(3),
            per_day: Some(30),
        }),
        enforcement: Some(Some(crate::lease::Enforcement::Lease)),
        expires_at: Some(Some(NOW + MS_PER_DAY)),
        metadata: Some(metadata),
        rejection_webhook: Some(Some("https://hooks.example.com/r?t=1".into())),
    }
}

#[test]
fn commands_round_trip_through_json() {
    let body = format!(
        r#"{{"name": "Full", "scopes": ["contacts:read"], "expires_at": "{}",
            "limits": {{"per_minute": 10, "per_day": 1000}},
            "metadata": {{"n": 1.5, "big": 18446744073709551615, "neg": -3, "deep": {{"a": [null, true, "x"]}}}},
            "rejection_webhook": "https://hooks.example.com/r", "environment": "test"}}"#,
        format_rfc3339(NOW + MS_PER_DAY)
    );
    let Fixture { record, hash } = fixture(&body, 11);
    round_trip_command(&create(&record, &hash));
    for action in Action::ALL {
        round_trip_command(&admit(&hash, "contacts", action));
    }
    let acting = key_actor("acme", &["api_keys:write"], limits(60, 10_000));
    for actor in [Actor::Root, acting] {
        for command in lifecycle_commands(&actor) {
            round_trip_command(&command);
        }
        for change in [edit_of_every_field(), KeyEdit::default()] {
            round_trip_command(&Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor: actor.clone(),
                edit: change,
            });
        }
    }

    assert_eq!(
        serde_json::to_value(get()).unwrap(),
        json!({"op": "get", "actor": {"kind": "root"}})
    );
    // A created record survives the trip exactly, and so does its secret.
    let json = serde_json::to_string(&create(&record, &hash)).unwrap();
    let Command::Create {
        record: back,
        secret,
        ..
    } = serde_json::from_str(&json).unwrap()
    else {
        panic!("not a create: {json}");
    };
    assert_eq!(*back, record);
    assert!(secret.matches(&hash));
    let json = serde_json::to_string(&admit(&hash, "email", Action::Send)).unwrap();
    let Command::Admit {
        key_hash,
        resource,
        action,
        queueing: None,
    } = serde_json::from_str(&json).unwrap()
    else {
        panic!("not an admit: {json}");
    };
    assert!(key_hash.matches(&hash));
    assert_eq!((resource.as_str(), action), ("email", Action::Send));
    // A rotation's new secret, hint and grace survive too.
    let next = new_secret(11);
    let json = serde_json::to_string(&rotate(&next, 12_345)).unwrap();
    let Command::Rotate {
        actor,
        secret,
        hint,
        grace_ms,
    } = serde_json::from_str(&json).unwrap()
    else {
        panic!("not a rotate: {json}");
    };
    assert_eq!(actor, Actor::Root);
    assert!(secret.matches(&next.hash));
    assert_eq!((hint, grace_ms), (next.hint, 12_345));
}

#[test]
fn a_key_edit_tells_absent_from_null_after_a_json_trip() {
    // Each clearable field absent, null, or set: every combination survives.
    let states = |set: Option<u64>| [None, Some(None), Some(set)];
    for limits_field in states(Some(7)) {
        for expires_at in states(Some(NOW + 1)) {
            for webhook in states(Some(9)) {
                let change = KeyEdit {
                    limits: limits_field.map(|l| match l {
                        Some(n) => LimitsEdit::Set {
                            per_minute: Some(n),
                            per_day: None,
                        },
                        None => LimitsEdit::PolicyDefaults,
                    }),
                    expires_at,
                    rejection_webhook: webhook
                        .map(|w| w.map(|n| format!("https://hooks.example.com/{n}"))),
                    ..KeyEdit::default()
                };
                let text = serde_json::to_string(&change).unwrap();
                let back: KeyEdit = serde_json::from_str(&text).unwrap();
                assert_eq!(back, change, "{text}");
                // And inside a whole command, as the Durable Object receives it.
                let command = serde_json::to_string(&edit(change.clone())).unwrap();
                let Command::Edit { edit: back, .. } = serde_json::from_str(&command).unwrap()
                else {
                    panic!("not an edit: {command}");
                };
                assert_eq!(back, change, "{command}");
            }
        }
    }
    let clears = KeyEdit {
        limits: Some(LimitsEdit::PolicyDefaults),
        expires_at: Some(None),
        rejection_webhook: Some(None),
        ..KeyEdit::default()
    };
    assert_eq!(
        serde_json::to_value(&clears).unwrap(),
        json!({"limits": {"to": "policy_defaults"}, "expires_at": null, "rejection_webhook": null})
    );
    assert_eq!(serde_json::to_value(KeyEdit::default()).unwrap(), json!({}));
    let every = edit_of_every_field();
    let text = serde_json::to_string(&every).unwrap();
    assert_eq!(serde_json::from_str::<KeyEdit>(&text).unwrap(), every);
    // Clearing metadata is an empty object, not an absent field.
    let cleared = KeyEdit {
        metadata: Some(Map::new()),
        ..KeyEdit::default()
    };
    let text = serde_json::to_string(&cleared).unwrap();
    assert_eq!(serde_json::from_str::<KeyEdit>(&text).unwrap(), cleared);
}

#[test]
fn replies_round_trip_through_json() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read", "contacts:write-approval"], "limits": {"per_minute": 1, "per_day": 10},
            "metadata": {"f": 0.1, "big": 18446744073709551615, "neg": -1, "s": "é\n", "a": [{"b": null}]}}"#,
        12,
    );
    let mut state = KeyState::default();
    let mut replies = vec![state.handle(create(&record, &hash), &policy(), NOW).0];
    let (second, third) = (new_secret(12), new_secret(13));
    for command in [
        read_contacts(&hash),
        read_contacts(&hash),
        admit(&hash, "contacts", Action::Write),
        admit(&hash, "contacts", Action::Delete),
        create(&record, &hash),
        get(),
        rotate(&second, 30_000),
        rotate(&third, 60_000),
        revoke(),
        read_contacts(&hash),
        rotate(&third, 0),
        activate(),
        delete(),
    ] {
        replies.push(state.handle(command, &policy(), NOW + 1).0);
    }
    replies.push(KeyState::default().handle(get(), &policy(), NOW).0);
    replies.push(
        KeyState::default()
            .handle(read_contacts(&hash), &policy(), NOW)
            .0,
    );
    let mut expiring = record.clone();
    expiring.expires_at = Some(NOW);
    replies.push(
        created(&expiring, &hash)
            .handle(read_contacts(&hash), &policy(), NOW)
            .0,
    );
    replies.push(Reply::Refused {
        refusal: Refusal::Throttled {
            window: Window::Day,
            retry_after_secs: 86_400,
        },
        limit_headers: vec![("Retry-After".into(), "1".into())],
    });
    let overreaches = [
        Overreach::Scopes {
            scopes: vec!["admin".into(), "contacts:delete".into()],
        },
        Overreach::Limit {
            window: Window::Day,
            own: 10,
        },
        Overreach::Expiry { own: NOW },
        Overreach::Environment,
        Overreach::Workspace { own: "acme".into() },
    ];
    let declines = LifecycleAction::ALL
        .map(|action| Declined::NotAllowed { action })
        .into_iter()
        .chain(
            [Status::Active, Status::Revoked, Status::Expired]
                .map(|status| Declined::NotActive { status }),
        )
        .chain(overreaches.map(Declined::Overreach))
        .chain([Declined::NotFound]);
    replies.extend(declines.map(declined));

    let outcomes: BTreeSet<String> = replies
        .iter()
        .map(|r| serde_json::to_value(r).unwrap()["outcome"].to_string())
        .collect();
    assert_eq!(outcomes.len(), 7, "every Reply variant is exercised");
    let reasons: BTreeSet<String> = replies
        .iter()
        .filter_map(|r| match r {
            Reply::Declined { declined } => {
                Some(serde_json::to_value(declined).unwrap()["reason"].to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 4, "every Declined variant is exercised");
    for reply in &replies {
        round_trip_reply(reply);
    }
    assert_eq!(
        serde_json::to_value(declined(Declined::NotAllowed {
            action: LifecycleAction::Reactivate
        }))
        .unwrap(),
        json!({"outcome": "declined", "declined": {"reason": "not_allowed", "action": "reactivate"}})
    );
}

#[test]
fn metadata_numbers_survive_storage_exactly() {
    // Found by fuzzing: serde_json's default float parsing is not exact, so a number
    // in a key's metadata could change in its last digit each time the record was stored.
    let Fixture { mut record, .. } =
        fixture(r#"{"name": "Floats", "scopes": ["contacts:read"]}"#, 14);
    record.metadata = json!({"x": [8.88888888888889e43, 1.6666666666666665e53, 0.1]})
        .as_object()
        .cloned()
        .unwrap();
    let stored = serde_json::to_string(&record).unwrap();
    let read: KeyRecord = serde_json::from_str(&stored).unwrap();
    assert_eq!(serde_json::to_string(&read).unwrap(), stored);
    assert_eq!(read, record);
}

#[test]
fn a_key_state_round_trips_through_its_stored_json() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Stored", "scopes": ["contacts:read"], "metadata": {"x": [1, 2.5, "y"]}}"#,
        13,
    );
    let mut state = created(&record, &hash);
    for i in 0..5 {
        state.handle(read_contacts(&hash), &policy(), NOW + i * 700);
    }
    state.handle(read_contacts(&hash), &policy(), NOW + 2 * HOUR_MS);
    let next = new_secret(13);
    state.handle(rotate(&next, MS_PER_DAY), &policy(), NOW + 2 * HOUR_MS);
    state.handle(revoke(), &policy(), NOW + 3 * HOUR_MS);
    assert_eq!(state.secrets.len(), 2);
    assert_ne!(state.history, UsageHistory::default());

    state.handle(
        edit(KeyEdit {
            rejection_webhook: Some(Some("https://hooks.example.com/r".into())),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW + 3 * HOUR_MS,
    );
    assert!(!state.webhook_secrets.is_empty());

    // The five values the Durable Object stores, each as its own JSON.
    let record_json = serde_json::to_string(&state.record).unwrap();
    let secrets_json = serde_json::to_string(&state.secrets).unwrap();
    let webhook_secrets_json = serde_json::to_string(&state.webhook_secrets).unwrap();
    let counters_json = serde_json::to_string(&state.counters).unwrap();
    let history_json = serde_json::to_string(&state.history).unwrap();
    let restored = KeyState {
        record: serde_json::from_str(&record_json).unwrap(),
        secrets: serde_json::from_str(&secrets_json).unwrap(),
        webhook_secrets: serde_json::from_str(&webhook_secrets_json).unwrap(),
        counters: serde_json::from_str(&counters_json).unwrap(),
        history: serde_json::from_str(&history_json).unwrap(),
        last_used_synced_at: None,
    };
    assert_eq!(
        restored,
        KeyState {
            last_used_synced_at: None,
            ..state.clone()
        }
    );
    assert!(restored.secrets[0].hash.matches(&hash));
    assert!(restored.secrets[1].hash.matches(&next.hash));
    // Counters a fresh object never wrote deserialise to a full quota.
    assert_eq!(
        serde_json::from_str::<Counters>(r#"{"limiter": {}, "last_used_at": null}"#).unwrap(),
        Counters::default()
    );
}

#[test]
fn a_command_or_reply_is_read_tag_first_as_it_is_written() {
    // The tag is the first field written (serde_tag_first reads it so, with no buffering).
    let text = serde_json::to_string(&Command::WebhookSigners {
        url: "https://hooks.example.com/r".into(),
    })
    .unwrap();
    assert_eq!(
        text,
        r#"{"op":"webhook_signers","url":"https://hooks.example.com/r"}"#
    );
    let error = serde_json::from_str::<Command>(
        r#"{"url":"https://hooks.example.com/r","op":"webhook_signers"}"#,
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("expected `op` as the object's first field"),
        "{error}"
    );
    let error = serde_json::from_str::<Command>(r#"{"op":"frobnicate"}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("unknown variant `frobnicate`, expected one of `create`, "),
        "{error}"
    );
    let error = serde_json::from_str::<Command>(r#"{"op":"webhook_signers"}"#).unwrap_err();
    assert!(
        error.to_string().starts_with("missing field `url`"),
        "{error}"
    );
    // A unit variant ignores other fields, as serde's internal tagging does.
    assert_eq!(
        serde_json::from_str::<WebhookSigners>(r#"{"by":"nobody","extra":[1,{"a":2}]}"#).unwrap(),
        WebhookSigners::Nobody
    );
}
