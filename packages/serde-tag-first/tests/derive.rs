//! The derive against serde's own internally tagged `Deserialize` for the same enum: on
//! every object serde's `Serialize` writes, both read the same value; what only serde's
//! accepts is an object whose tag is not its first field.

use serde::{Deserialize, Serialize};
use serde_tag_first::TagFirstDeserialize;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Page {
    limit: u32,
    #[serde(default)]
    after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Inner {
    id: u64,
}

macro_rules! both {
    ($tag_first:ident, $reference:ident) => {
        #[derive(Clone, Debug, PartialEq, Serialize, TagFirstDeserialize)]
        #[serde(tag = "op", rename_all = "snake_case")]
        enum $tag_first {
            Ping,
            Wrapped(Inner),
            #[serde(rename = "put-it")]
            PutIt {
                name: String,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                note: Option<String>,
            },
            ListWorkspaces {
                #[serde(flatten)]
                page: Page,
            },
            NestedOne {
                inner: Box<Inner>,
                list: Vec<Inner>,
            },
        }

        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "op", rename_all = "snake_case")]
        enum $reference {
            Ping,
            Wrapped(Inner),
            #[serde(rename = "put-it")]
            PutIt {
                name: String,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                note: Option<String>,
            },
            ListWorkspaces {
                #[serde(flatten)]
                page: Page,
            },
            NestedOne {
                inner: Box<Inner>,
                list: Vec<Inner>,
            },
        }
    };
}

both!(Command, Reference);

fn values() -> Vec<Command> {
    vec![
        Command::Ping,
        Command::Wrapped(Inner { id: 7 }),
        Command::PutIt {
            name: "a".into(),
            note: None,
        },
        Command::PutIt {
            name: "b\"\\é".into(),
            note: Some("n".into()),
        },
        Command::ListWorkspaces {
            page: Page {
                limit: 20,
                after: Some("x".into()),
            },
        },
        Command::NestedOne {
            inner: Box::new(Inner { id: 1 }),
            list: vec![Inner { id: 2 }],
        },
    ]
}

/// The same JSON read by both derives, compared through what each writes back.
fn both_read(text: &str) -> (Result<String, String>, Result<String, String>) {
    let ours = serde_json::from_str::<Command>(text)
        .map(|v| serde_json::to_string(&v).unwrap())
        .map_err(|e| e.to_string());
    let theirs = serde_json::from_str::<Reference>(text)
        .map(|v| serde_json::to_string(&v).unwrap())
        .map_err(|e| e.to_string());
    (ours, theirs)
}

#[test]
fn what_serialize_writes_both_read_alike() {
    for value in values() {
        let text = serde_json::to_string(&value).unwrap();
        assert!(text.starts_with(r#"{"op":"#), "{text}");
        let (ours, theirs) = both_read(&text);
        assert_eq!(ours, Ok(text.clone()));
        assert_eq!(theirs, Ok(text));
    }
}

#[test]
fn extra_fields_and_defaults_are_read_as_serde_reads_them() {
    for text in [
        r#"{"op":"ping","extra":{"deep":[1,2,{"x":null}]}}"#,
        r#"{"op":"put-it","name":"a","unknown":true}"#,
        r#"{"op":"wrapped","id":3,"other":"x"}"#,
        r#"{"op":"list_workspaces","limit":5}"#,
    ] {
        let (ours, theirs) = both_read(text);
        assert!(ours.is_ok(), "{text}: {ours:?}");
        assert_eq!(ours, theirs, "{text}");
    }
}

#[test]
fn refusals_name_what_is_wrong() {
    for (text, start) in [
        (r#"{"name":"a","op":"put-it"}"#, "expected `op` as the object's first field"),
        ("{}", "expected `op` as the object's first field"),
        (r#"{"op":"nope"}"#, "unknown variant `nope`, expected one of `ping`, `wrapped`, `put-it`, `list_workspaces`, `nested_one`"),
        (r#"{"op":"put-it"}"#, "missing field `name`"),
        (r#"{"op":"nested_one","inner":{"id":"x"},"list":[]}"#, "invalid type: string \"x\", expected u64"),
        (r#"["ping"]"#, "invalid type: sequence, expected an object whose first field is `op`"),
        (r#"{"op":5}"#, "invalid type: integer `5`, expected a string"),
    ] {
        let error = serde_json::from_str::<Command>(text).unwrap_err().to_string();
        assert!(error.starts_with(start), "{text}: {error}");
    }
    // serde's own derive takes the tag anywhere; this one does not.
    assert!(serde_json::from_str::<Reference>(r#"{"name":"a","op":"put-it"}"#).is_ok());
}
