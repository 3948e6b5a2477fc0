//! What the gateway answered, sorted into the three outcomes the CLI reports: done, refused
//! (a problem+json body), or not an admin API answer at all.

use serde_json::Value;

/// An HTTP answer as the client wrapper read it; nothing here has been interpreted yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// 2xx. `None` for an empty body (`DELETE` answers 204).
    Done(Option<Value>),
    /// 4xx or 5xx with a JSON object: the gateway's refusal.
    Refused(Value),
    /// Anything else (a redirect, an HTML error page from a proxy, a body that is not JSON):
    /// the endpoint is probably not a keygate gateway. The text says what came back.
    Unexpected(String),
}

pub fn classify(reply: &Reply) -> Answer {
    let parsed = serde_json::from_str::<Value>(&reply.body);
    match (reply.status, parsed) {
        (200..=299, _) if reply.body.trim().is_empty() => Answer::Done(None),
        (200..=299, Ok(value)) => Answer::Done(Some(value)),
        (400..=599, Ok(value @ Value::Object(_))) => Answer::Refused(value),
        (300..=399, _) => Answer::Unexpected(format!(
            "answered {} redirecting to {}; the admin API never redirects, so check the endpoint (the token is not sent to redirects)",
            reply.status,
            reply.location.as_deref().unwrap_or("nowhere")
        )),
        (status, _) => Answer::Unexpected(format!(
            "answered {status} with {}, not a JSON answer of the admin API{}",
            match reply.content_type.as_deref() {
                Some(kind) if !kind.is_empty() => format!("`{kind}`"),
                _ => "no content type".to_string(),
            },
            excerpt(&reply.body)
        )),
    }
}

/// The start of a body, on one line, for recognising what answered instead of keygate.
fn excerpt(body: &str) -> String {
    const MAX_CHARS: usize = 80;
    let flat: String = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if flat.is_empty() {
        return String::new();
    }
    let mut cut: String = flat.chars().take(MAX_CHARS).collect();
    if flat.chars().count() > MAX_CHARS {
        cut.push('…');
    }
    format!(": {cut}")
}

/// One page of a list (`GET /keys`, `GET /approvals`): the objects and the cursor of the
/// next page.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub items: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// Reads a page whose objects are in the field `list` (`keys`, `approvals`).
pub fn page(body: &Value, list: &str) -> Result<Page, String> {
    let items = body
        .get(list)
        .and_then(Value::as_array)
        .ok_or_else(|| missing_list(list))?
        .clone();
    let next_cursor = match body.get("next_cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) if !cursor.is_empty() => Some(cursor.clone()),
        Some(_) => return Err("answered with a `next_cursor` that is not a string".into()),
    };
    Ok(Page { items, next_cursor })
}

/// What is said when a page lacks its list: `answered without a \`keys\` list`.
pub fn missing_list(list: &str) -> String {
    let article = if list.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("answered without {article} `{list}` list")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            content_type: Some(content_type.into()),
            body: body.into(),
            ..Reply::default()
        }
    }

    #[test]
    fn success_with_and_without_a_body() {
        assert_eq!(
            classify(&reply(200, "application/json", r#"{"id":"k"}"#)),
            Answer::Done(Some(json!({"id": "k"})))
        );
        assert_eq!(classify(&reply(204, "", "")), Answer::Done(None));
    }

    #[test]
    fn a_problem_is_a_refusal() {
        let body = r#"{"status":404,"code":"not_found"}"#;
        assert_eq!(
            classify(&reply(404, "application/problem+json", body)),
            Answer::Refused(json!({"status": 404, "code": "not_found"}))
        );
    }

    #[test]
    fn html_from_a_proxy_is_unexpected_and_quoted() {
        let html = "<html>\n<body>\n<h1>502 Bad Gateway</h1></body></html>";
        match classify(&reply(502, "text/html", html)) {
            Answer::Unexpected(text) => {
                assert!(text.starts_with("answered 502 with `text/html`"), "{text}");
                assert!(text.contains("<h1>502 Bad Gateway</h1>"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_json_success_and_json_arrays_on_errors_are_unexpected() {
        assert!(matches!(
            classify(&reply(200, "text/plain", "hello")),
            Answer::Unexpected(_)
        ));
        assert!(matches!(
            classify(&reply(500, "application/json", "[1]")),
            Answer::Unexpected(_)
        ));
    }

    #[test]
    fn redirects_are_unexpected_and_name_the_target() {
        let mut r = reply(301, "text/html", "");
        r.location = Some("https://elsewhere.example/".into());
        match classify(&r) {
            Answer::Unexpected(text) => assert!(text.contains("https://elsewhere.example/")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_excerpts_are_cut() {
        let text = excerpt(&"x".repeat(500));
        assert_eq!(text.chars().count(), 2 + 80 + 1);
        assert!(text.ends_with('…'));
        assert_eq!(excerpt("  \n "), "");
    }

    #[test]
    fn pages_read_keys_and_cursor() {
        let p = page(&json!({"keys": [{"id": "a"}], "next_cursor": "c2"}), "keys").unwrap();
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.next_cursor.as_deref(), Some("c2"));
        let last = page(&json!({"keys": [], "next_cursor": null}), "keys").unwrap();
        assert_eq!(last.next_cursor, None);
        assert!(page(&json!({"items": []}), "keys").is_err());
        assert!(page(&json!({"keys": [], "next_cursor": 3}), "keys").is_err());
    }

    #[test]
    fn pages_read_the_list_they_are_asked_for() {
        let body = json!({"approvals": [{"id": "a"}, {"id": "b"}], "next_cursor": null});
        assert_eq!(page(&body, "approvals").unwrap().items.len(), 2);
        assert_eq!(
            page(&body, "keys").unwrap_err(),
            "answered without a `keys` list"
        );
        assert_eq!(
            page(&json!({"keys": []}), "approvals").unwrap_err(),
            "answered without an `approvals` list"
        );
    }
}
