use super::*;
use crate::workspace::PlanAssignment;

fn policy(plans: bool) -> Policy {
    let mut text = String::from("[[resources]]\nname = \"contacts\"\nkind = \"ladder\"\n");
    if plans {
        text = format!(
            "default_plan = \"free\"\n{text}\n[[plans]]\nname = \"free\"\napi_access = false\n\n[[plans]]\nname = \"pro\"\n"
        );
    }
    Policy::from_toml(&text).expect("a valid policy")
}

fn error_of(result: Result<String, GatewayError>) -> String {
    match result {
        Err(GatewayError::InvalidBody { errors }) => serde_json::to_string(&errors).unwrap(),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_plan_is_set_by_its_name_and_nothing_else() {
    let policy = policy(true);
    assert_eq!(
        parse_set_plan(br#"{"plan":"pro"}"#, &policy).ok(),
        Some("pro".into())
    );
    let unknown = error_of(parse_set_plan(br#"{"plan":"gold"}"#, &policy));
    assert!(
        unknown.contains(r#"no plan named \"gold\"; plans: free, pro"#),
        "{unknown}"
    );
    let missing = error_of(parse_set_plan(b"{}", &policy));
    assert!(missing.contains("is required"), "{missing}");
    let extra = error_of(parse_set_plan(
        br#"{"plan":"pro","api_access":true}"#,
        &policy,
    ));
    assert!(extra.contains("api_access"), "{extra}");
    let typed = error_of(parse_set_plan(br#"{"plan":["pro"]}"#, &policy));
    assert!(typed.contains("must be a string"), "{typed}");
    let none = error_of(parse_set_plan(
        br#"{"plan":"pro"}"#,
        &crate::admin::workspaces::tests::policy(false),
    ));
    assert!(none.contains("declares no plans"), "{none}");
    for garbage in [&b"not json"[..], b"[]", b"\"pro\""] {
        assert!(parse_set_plan(garbage, &policy).is_err());
    }
}

#[test]
fn a_workspace_shows_the_plan_it_is_on_and_whether_it_was_chosen() {
    let policy = policy(true);
    let mut workspace = Workspace {
        id: WorkspaceName::parse("acme").expect("a name"),
        assignment: PlanAssignment::default(),
        created_at: 1_900_000_000_000,
        plan_set_at: None,
    };
    let view = |workspace: &Workspace, policy: &Policy| {
        serde_json::to_value(WorkspaceView::of(workspace, policy)).expect("a view")
    };
    let shown = view(&workspace, &policy);
    assert_eq!(shown["plan"], "free");
    assert_eq!(shown["plan_source"], "default");
    assert_eq!(shown["api_access"], false);
    assert_eq!(shown["created_at"], "2030-03-17T17:46:40Z");
    assert!(shown["plan_set_at"].is_null());
    workspace.assignment = PlanAssignment {
        plan: Some("pro".into()),
        version: 1,
    };
    workspace.plan_set_at = Some(1_900_000_000_000);
    let shown = view(&workspace, &policy);
    assert_eq!(
        (shown["plan"].as_str(), shown["plan_source"].as_str()),
        (Some("pro"), Some("set"))
    );
    assert_eq!(shown["api_access"], true);
    // A plan the policy no longer has: the workspace is on the default one again.
    workspace.assignment.plan = Some("gold".into());
    let shown = view(&workspace, &policy);
    assert_eq!(
        (shown["plan"].as_str(), shown["plan_source"].as_str()),
        (Some("free"), Some("default"))
    );
    // Without plans there is nothing to be on, and API access is not in question.
    let shown = view(&workspace, &crate::admin::workspaces::tests::policy(false));
    assert!(shown["plan"].is_null());
    assert_eq!(shown["api_access"], true);
}
