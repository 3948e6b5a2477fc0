//! The compiled form: what `keygate policy compile` writes, and how the Worker reads it.

use super::{load, refusal, ONE_OF_EACH_KIND};
use crate::policy::{compile, Policy};

fn compiled(text: &str) -> String {
    match compile(text) {
        Ok(compiled) => compiled,
        Err(error) => panic!("policy should compile, got:\n{error}"),
    }
}

/// The displayed problems of a compiled policy the Worker must refuse.
fn compiled_refusal(text: &str) -> String {
    match Policy::from_compiled(text) {
        Ok(_) => panic!("compiled policy should be refused:\n{text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn the_compiled_form_leaves_out_what_the_file_leaves_out() {
    assert_eq!(
        compiled(""),
        r#"{"keygate_policy":1,"policy":{"origin_reads_body_overrides":true}}"#
    );
    // An empty table is kept: `[cors]` alone turns CORS on.
    assert_eq!(
        compiled("[cors]\nallowed_origins = [\"*\"]\n[portal]\n"),
        r#"{"keygate_policy":1,"policy":{"cors":{"allowed_origins":["*"]},"origin_reads_body_overrides":true,"portal":{}}}"#
    );
    // An empty list that means something (a plan offering no resource) is kept.
    let plans = "default_plan = \"free\"\n[[plans]]\nname = \"free\"\nresources = []\n";
    assert!(compiled(plans).contains(r#""resources":[]"#));
}

#[test]
fn every_policy_that_loads_compiles_to_the_same_policy() {
    for text in [
        ONE_OF_EACH_KIND,
        "",
        "[lifecycle]\nedit = false\nrevoke = false\nreactivate = false\n",
        "[cors]\nallowed_origins = [\"https://app.example.com\"]\nmax_age_seconds = 60\n",
        include_str!("../../../policies/demo.toml"),
        include_str!("../../../policies/seed-004-coarse.toml"),
    ] {
        let read = Policy::from_compiled(&compiled(text)).expect("the compiled form loads");
        assert_eq!(format!("{read:?}"), format!("{:?}", load(text)), "{text}");
    }
}

#[test]
fn a_file_that_does_not_load_does_not_compile_and_says_the_same() {
    for text in [
        "key_prefix = 5",
        "key_prefix = \"X\"",
        "[lifecycle]\nrotate = \"no\"\n",
        "[lifecycle]\nrotate = 2026-01-01\n",
        "[[routes]]\nmethod = \"GET\"\npath = \"/x\"\nresource = \"nowhere\"\naction = \"read\"\n",
        "unknown_field = true",
    ] {
        let error = compile(text).expect_err(text);
        assert_eq!(error.to_string(), refusal(text), "{text}");
    }
}

#[test]
fn a_compiled_policy_is_validated_as_a_file_is() {
    // The compiled text is an operator's input too (a KEYGATE_POLICY variable holds one):
    // the same rules, the same messages, whatever wrote it.
    let cases = [
        (r#"{"key_prefix":"X"}"#, "key_prefix = \"X\""),
        (
            r#"{"lifecycle":{"edit":"no","revoke":0,"reactivate":1.5,"rotate":[true]}}"#,
            "[lifecycle]\nedit = \"no\"\nrevoke = 0\nreactivate = 1.5\nrotate = [true]\n",
        ),
        (
            r#"{"lifecycle":{"edit":{"on":true}}}"#,
            "[lifecycle]\nedit = { on = true }\n",
        ),
    ];
    for (policy, file) in cases {
        let text = format!(r#"{{"keygate_policy":1,"policy":{policy}}}"#);
        assert_eq!(compiled_refusal(&text), refusal(file), "{policy}");
    }
    // `null` is JSON's way to leave a field out: the default, as in a file without it.
    let null =
        Policy::from_compiled(r#"{"keygate_policy":1,"policy":{"lifecycle":{"edit":null}}}"#);
    assert_eq!(
        format!("{:?}", null.ok()),
        format!(
            "{:?}",
            Some(load(
                "[lifecycle]
"
            ))
        )
    );
}

#[test]
fn what_is_not_a_compiled_policy_is_refused_before_validation() {
    let cases = [
        (
            "key_prefix = \"kg\"",
            "not a compiled policy: this looks like a policy file (TOML)",
        ),
        (
            "",
            "not a compiled policy: this looks like a policy file (TOML)",
        ),
        (
            "{}",
            "not a compiled policy (missing field `keygate_policy`",
        ),
        (
            "{\"keygate_policy\":1",
            "not a compiled policy (EOF while parsing",
        ),
        (
            r#"{"keygate_policy":7,"policy":{"anything":1}}"#,
            "a compiled policy of format 7",
        ),
        (
            r#"{"keygate_policy":1,"policy":{"unknown":1}}"#,
            "compiled policy: unknown field `unknown`",
        ),
        (
            r#"{"keygate_policy":1,"policy":{},"extra":1}"#,
            "compiled policy: unknown field `extra`",
        ),
        (
            r#"{"keygate_policy":1}"#,
            "compiled policy: missing field `policy`",
        ),
    ];
    for (text, start) in cases {
        let message = compiled_refusal(text);
        assert!(message.starts_with(start), "{text}: {message}");
    }
    assert!(compiled_refusal("[limits]").contains("`keygate policy compile FILE`"));
}

#[test]
fn deep_nesting_in_a_compiled_policy_is_refused_without_deep_recursion() {
    // serde_json skips a value it does not read without recursing into it.
    let deep = format!(
        r#"{{"keygate_policy":1,"policy":{{"lifecycle":{{"edit":{}{}}}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let message = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || compiled_refusal(&deep))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(
        message,
        "lifecycle.edit: must be true or false, got an array"
    );
}
