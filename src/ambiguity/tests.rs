use super::*;
// The wire codes a refusal gets, so each case reads as a client sees it.
use crate::problem::GatewayError;
use proptest::prelude::*;

const PREFIX: &str = "kg";

fn check(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
    has_body: bool,
) -> Result<(), &'static str> {
    check_with(method, path, query, headers, has_body, None)
}

fn check_with(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
    has_body: bool,
    credential_header: Option<&str>,
) -> Result<(), &'static str> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    check_request(&RequestShape {
        method,
        path,
        query,
        headers: &headers,
        has_body,
        key_prefix: PREFIX,
        credential_header,
    })
    .map_err(|e| GatewayError::from(e).code())
}

/// A key-shaped string (the checksum is not checked by the exposure rule).
const KEY: &str = "kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv";

#[test]
fn check_request_refuses_each_kind_of_confusion() {
    let ok = check(
        "GET",
        "/v1/contacts",
        Some("page=2"),
        &[("accept", "*/*")],
        false,
    );
    assert_eq!(ok, Ok(()));
    assert_eq!(
        check("PROPFIND", "/v1", None, &[], false),
        Err("method_not_supported")
    );
    assert_eq!(
        check("get", "/v1", None, &[], false),
        Err("method_not_supported")
    );
    assert_eq!(
        check("GET", "/v1/a;b", None, &[], false),
        Err("path_ambiguous")
    );
    assert_eq!(
        check(
            "POST",
            "/v1",
            None,
            &[("X-HTTP-Method-Override", "DELETE")],
            true
        ),
        Err("override_not_allowed")
    );
    assert_eq!(
        check("POST", "/v1", Some("_method=DELETE"), &[], true),
        Err("override_not_allowed")
    );
    assert_eq!(
        check("GET", "/v1", None, &[], true),
        Err("body_not_allowed")
    );
    assert_eq!(
        check("HEAD", "/v1", None, &[], true),
        Err("body_not_allowed")
    );
    assert_eq!(check("DELETE", "/v1/contacts/1", None, &[], true), Ok(()));
}

#[test]
fn a_key_anywhere_but_authorization_is_refused() {
    let bearer = format!("Bearer {KEY}");
    assert_eq!(
        check(
            "GET",
            "/v1/contacts",
            None,
            &[("Authorization", &bearer)],
            false
        ),
        Ok(())
    );
    let in_query = format!("api_key={KEY}");
    let encoded = format!("api_key={}", KEY.replace('_', "%5F"));
    let in_path = format!("/v1/contacts/{KEY}");
    for (path, query, headers) in [
        ("/v1/contacts", Some(in_query.as_str()), vec![]),
        ("/v1/contacts", Some(encoded.as_str()), vec![]),
        (in_path.as_str(), None, vec![]),
        ("/v1/contacts", None, vec![("X-Api-Key", KEY)]),
        ("/v1/contacts", None, vec![("Cookie", in_query.as_str())]),
    ] {
        let result = check("GET", path, query, &headers, false);
        assert_eq!(
            result,
            Err("key_in_request"),
            "{path} {query:?} {headers:?}"
        );
    }
    // Another prefix, or too short to be a key, is not a key of this deployment.
    let other = KEY.replacen("kg_", "xx_", 1);
    assert_eq!(
        check("GET", "/v1", Some(&format!("k={other}")), &[], false),
        Ok(())
    );
    let short = &KEY[..KEY.len() - 1];
    assert_eq!(
        check("GET", "/v1", Some(&format!("k={short}")), &[], false),
        Ok(())
    );
}

#[test]
fn plain_paths_pass() {
    for path in [
        "/",
        "/v1/contacts",
        "/v1/contacts/42",
        "/v1/contacts/",
        "/v1/files/a%20b",
        "/v1/x%25y",
        "/v1/a.b/c..d/.e",
        "/v1/a%20b%7e%80",
        "/v1/100%",
        "/v1/%2",
    ] {
        assert_eq!(path_ambiguity(path), None, "{path}");
    }
}

#[test]
fn each_ambiguity_is_named() {
    let cases = [
        ("/v1/a\\b", "backslash"),
        ("/v1/a%5Cb", "backslash"),
        ("/v1/a%2fb", "encoded slash"),
        ("/v1/a%00", "control"),
        ("/v1/contacts/x%0d%0aX-Injected:1", "control"),
        ("/v1/a%0A", "control"),
        ("/v1/a%09b", "control"),
        ("/v1/a%1B", "control"),
        ("/v1/a%1f", "control"),
        ("/v1/a%7f", "control"),
        ("/v1/a%7F", "control"),
        ("/v1/analytics/..;/settings", "`;`"),
        ("/v1/analytics/..%3B/settings", "`;`"),
        ("/v1/contacts;jsessionid=1", "`;`"),
        ("/v1/a%252e%252e/b", "double-encoded"),
        ("/v1/a%252fb", "double-encoded"),
        // Found by fuzzing: each character of `%2e` encoded on its own.
        ("/v1/%25%32%65%25%32%65/admin", "double-encoded"),
        ("/v1/%25%32%66etc", "double-encoded"),
        ("/v1/%2525%32%65", "double-encoded"),
        ("/v1/./contacts", "`.`"),
        ("/v1/%2e%2E/contacts", "`.`"),
        ("/v1//settings", "empty segment"),
        ("//v1/settings", "empty segment"),
    ];
    for (path, expected) in cases {
        let reason = path_ambiguity(path).unwrap_or_else(|| panic!("{path} passed"));
        assert!(reason.contains(expected), "{path}: {reason}");
    }
}

#[test]
fn override_headers_are_found_in_any_spelling() {
    for name in [
        "X-HTTP-Method-Override",
        "x-http-method",
        "X-Method-Override",
        "X-Original-URL",
        "x-rewrite-url",
        "X-Original-URI",
        "x-envoy-original-path",
        "X_HTTP_Method_Override",
    ] {
        let found = override_in_request(["accept", name], None).unwrap_or_else(|| panic!("{name}"));
        assert!(found.contains(name));
    }
    assert_eq!(
        override_in_request(["accept", "x-http-methods"], None),
        None
    );
}

#[test]
fn method_override_query_parameter_is_found_in_every_spelling() {
    for query in [
        "_method=DELETE",
        "a=1&_method=put",
        "a=1;_method=put",
        "_METHOD=x",
        "%5Fmethod=DELETE",
        "_%6Dethod=DELETE",
        "%5F%6D%65%74%68%6F%64=DELETE",
        "%5f%6d%65%74%68%6f%64=DELETE",
        ".method=DELETE",
        "%20_method=DELETE",
        "+.method=DELETE",
        "_method[]=DELETE",
        "_method[x]=DELETE",
        "_method",
    ] {
        assert!(override_in_request([], Some(query)).is_some(), "{query}");
    }
    for query in [
        "method=DELETE",
        "a=_method",
        "x_method=1",
        "_methods=1",
        "_method_is_a_word=1",
        // PHP drops leading spaces: this is `method`.
        "+method=DELETE",
        "%255Fmethod=1",
        "",
    ] {
        assert_eq!(override_in_request([], Some(query)), None, "{query}");
    }
}

fn body_override(content_type: Option<&str>, body: &str) -> Option<&'static str> {
    override_in_body(content_type, body.as_bytes())
}

#[test]
fn form_bodies_with_a_method_field_are_found() {
    let form = Some("application/x-www-form-urlencoded; charset=utf-8");
    for body in [
        "_method=DELETE",
        "name=x&_method=DELETE",
        "name=x&%5Fmethod=DELETE",
        "name=x&.method=DELETE",
        "_method[]=DELETE",
    ] {
        assert!(body_override(form, body).is_some(), "{body}");
        // Rack parses a typeless body as a form.
        assert!(body_override(None, body).is_some(), "{body}");
    }
    for body in [
        "name=_method_is_a_word",
        "note=_method%3DDELETE",
        "a=1&b=2",
        "",
    ] {
        assert_eq!(body_override(form, body), None, "{body}");
    }
}

#[test]
fn multipart_parts_named_method_are_found() {
    let multipart = Some("multipart/form-data; boundary=XyZ");
    let part = |disposition: &str| {
        format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\n{disposition}\r\n\r\nDELETE\r\n--XyZ--\r\n"
        )
    };
    for disposition in [
        "Content-Disposition: form-data; name=\"_method\"",
        "content-disposition: form-data; name=_method",
        "CONTENT-DISPOSITION: form-data;name=\"_METHOD\"",
        "Content-Disposition: form-data; filename=\"x;y\"; name=\"_method\"",
        "Content-Disposition: form-data; name*=utf-8''%5Fmethod",
        "Content-Disposition: form-data; name=\"_method[]\"",
        "Content-Disposition: form-data;\r\n name=\"_method\"",
    ] {
        assert!(
            body_override(multipart, &part(disposition)).is_some(),
            "{disposition}"
        );
    }
    for disposition in [
        "Content-Disposition: form-data; name=\"_method_is_a_word\"",
        "Content-Disposition: form-data; name=\"note\"; filename=\"_method\"",
    ] {
        assert_eq!(
            body_override(multipart, &part(disposition)),
            None,
            "{disposition}"
        );
    }
}

#[test]
fn json_objects_with_a_top_level_method_member_are_found() {
    let json = Some("application/json");
    for body in [
        r#"{"_method":"DELETE"}"#,
        r#" { "name": "x", "_method" : "DELETE" }"#,
        r#"{"a":{"b":[1,{"c":"}"}]},"_method":"DELETE"}"#,
        r#"{"_\u006dethod":"DELETE"}"#,
        r#"{"_METHOD":"DELETE"}"#,
        // Cut off after the member: the part keygate read already holds it.
        r#"{"_method":"DELETE","rest":"#,
    ] {
        assert!(body_override(json, body).is_some(), "{body}");
        assert!(
            body_override(Some("application/vnd.api+json"), body).is_some(),
            "{body}"
        );
        // Some origins parse JSON whatever the declared type.
        assert!(body_override(Some("text/plain"), body).is_some(), "{body}");
    }
    for body in [
        r#"{"name":"_method"}"#,
        r#"{"nested":{"_method":"DELETE"}}"#,
        r#"[{"_method":"DELETE"}]"#,
        r#"{"note":"a&_method=DELETE"}"#,
        r#"{"_method_is_a_word":1}"#,
        "not json",
    ] {
        assert_eq!(body_override(json, body), None, "{body}");
    }
}

fn body_verdict(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    bytes: &[u8],
    complete: bool,
    origin_reads_body_overrides: bool,
) -> Result<(), &'static str> {
    let body = BodyPrefix {
        content_type,
        content_encoding,
        bytes,
        complete,
    };
    check_body(&body, origin_reads_body_overrides).map_err(|e| GatewayError::from(e).code())
}

#[test]
fn a_body_keygate_cannot_read_whole_is_refused_only_where_the_origin_reads_overrides() {
    let form = Some("application/x-www-form-urlencoded");
    assert_eq!(body_verdict(form, None, b"a=1", false, false), Ok(()));
    assert_eq!(
        body_verdict(form, None, b"a=1", false, true),
        Err("body_not_scannable")
    );
    assert_eq!(body_verdict(form, None, b"a=1", true, true), Ok(()));
    // Compressed: what it says cannot be read, so it counts as unread.
    assert_eq!(
        body_verdict(form, Some("gzip"), b"\x1f\x8b", true, false),
        Ok(())
    );
    assert_eq!(
        body_verdict(form, Some("gzip"), b"\x1f\x8b", true, true),
        Err("body_not_scannable")
    );
    assert_eq!(
        body_verdict(form, Some("identity"), b"a=1", true, true),
        Ok(())
    );
    // Types no framework reads parameters from are forwarded, scanned or not.
    assert_eq!(
        body_verdict(Some("image/png"), None, b"\x89PNG", false, true),
        Ok(())
    );
    assert_eq!(
        body_verdict(form, None, b"_method=PUT", true, false),
        Err("override_not_allowed")
    );
}

#[test]
fn utf16_json_is_read_as_its_parsers_read_it() {
    let json = r#"{"_method":"DELETE"}"#;
    let utf16 = |big_endian: bool, bom: bool| -> Vec<u8> {
        let mut units: Vec<u16> = json.encode_utf16().collect();
        if bom {
            units.insert(0, 0xfeff);
        }
        units
            .iter()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    };
    for (big_endian, bom) in [(true, true), (false, true), (true, false), (false, false)] {
        let bytes = utf16(big_endian, bom);
        let verdict = body_verdict(
            Some("application/json; charset=utf-16"),
            None,
            &bytes,
            true,
            false,
        );
        assert_eq!(verdict, Err("override_not_allowed"), "{big_endian} {bom}");
    }
    let with_bom = [b"\xef\xbb\xbf".as_slice(), json.as_bytes()].concat();
    assert_eq!(
        body_verdict(Some("application/json"), None, &with_bom, true, false),
        Err("override_not_allowed")
    );
    // UTF-32 is not read: refused where the origin reads overrides.
    let utf32 = [&[0u8, 0, 0xfe, 0xff][..], b"\0\0\0{"].concat();
    assert_eq!(
        body_verdict(Some("application/json"), None, &utf32, true, false),
        Ok(())
    );
    assert_eq!(
        body_verdict(Some("application/json"), None, &utf32, true, true),
        Err("body_not_scannable")
    );
}

#[test]
fn rack_2_brackets_around_a_method_name_are_found() {
    // Rack 2.2's normalize_params drops leading `[`/`]` and the `]`s after the key:
    // `[_method]` and `_method]` are params["_method"].
    for name in [
        "[_method]",
        "]_method",
        "_method]",
        "[[_method]]",
        "%5B_method%5D",
    ] {
        let field = format!("{name}=DELETE");
        assert!(override_in_request([], Some(&field)).is_some(), "{field}");
        assert!(
            body_override(Some("application/x-www-form-urlencoded"), &field).is_some(),
            "{field}"
        );
    }
}

#[test]
fn the_media_type_ends_where_rack_and_php_end_it() {
    // Rack splits the type on `;` or `,`, PHP on `;`, `,` or a space: both read these
    // as forms, whatever follows.
    for content_type in [
        "application/x-www-form-urlencoded,application/vnd.api+json",
        "application/x-www-form-urlencoded , a+json",
        "application/x-www-form-urlencoded a+json",
    ] {
        assert!(
            body_override(Some(content_type), "_method=DELETE").is_some(),
            "{content_type}"
        );
    }
    // Laravel reads this as JSON: its type check looks for `+json` anywhere.
    let multipart = Some("multipart/form-data; boundary=a+json");
    assert!(body_override(multipart, r#"{"_method":"DELETE"}"#).is_some());
}

#[test]
fn multipart_names_are_found_where_rack_finds_them() {
    let multipart = Some("multipart/form-data; boundary=XyZ");
    let part = |headers: &str| format!("--XyZ\r\n{headers}\r\n\r\nDELETE\r\n--XyZ--\r\n");
    for headers in [
        // Rack names a part without a disposition name by its Content-ID.
        "Content-ID: _method",
        "content-id:_method",
        // Rack's `Content-Disposition:.*;\s*name=` is neither anchored nor quote-aware.
        "X-Note: Content-Disposition: form-data; name=_method",
        "Content-Disposition: form-data; name=\"a\"; x=\"; name=_method\"",
        "X-Note: a\rContent-Disposition: form-data; name=\"_method\"",
    ] {
        assert!(
            body_override(multipart, &part(headers)).is_some(),
            "{headers}"
        );
    }
    for headers in [
        "Content-Disposition: form-data; name=\"a\"; filename=\"_method\"",
        "Content-Disposition: form-data; name=\"a\"\r\nContent-ID: <_method@x>",
    ] {
        assert_eq!(body_override(multipart, &part(headers)), None, "{headers}");
    }
}

#[test]
fn a_charset_keygate_does_not_read_counts_as_unread() {
    // body-parser decodes any `utf-*` charset with iconv-lite: in UTF-7 `+AF8-` is `_`.
    let body = br#"{"+AF8-method":"DELETE"}"#;
    for content_type in [
        "application/json; charset=utf-7",
        "application/json; charset = utf-7",
        "application/json; charset=\"utf\\-7\"",
        // The `content-type` package keeps the last of two.
        "application/json; charset=utf-8; charset=utf-7",
    ] {
        assert_eq!(
            body_verdict(Some(content_type), None, body, true, true),
            Err("body_not_scannable"),
            "{content_type}"
        );
    }
    // Still scanned as ASCII, as Rack (which ignores the charset) reads it.
    assert_eq!(
        body_verdict(
            Some("application/x-www-form-urlencoded; charset=utf-7"),
            None,
            b"_method=DELETE",
            true,
            false
        ),
        Err("override_not_allowed")
    );
    for charset in [
        "utf-8",
        "UTF-8",
        "\"utf-8\"",
        "us-ascii",
        "iso-8859-1",
        "latin1",
    ] {
        let content_type = format!("application/json; charset={charset}");
        assert_eq!(
            body_verdict(Some(&content_type), None, b"{}", true, true),
            Ok(()),
            "{charset}"
        );
    }
}

#[test]
fn a_key_is_allowed_in_exactly_the_configured_credential_header() {
    let with_header = |name: &str, value: &str| {
        check_with(
            "GET",
            "/v1/contacts",
            None,
            &[(name, value)],
            false,
            Some("X-API-Key"),
        )
    };
    for name in ["X-API-Key", "x-api-key", "X-Api-KEY"] {
        assert_eq!(with_header(name, KEY), Ok(()), "{name}");
    }
    // Another spelling is another header to HTTP, though a CGI origin reads it as
    // `HTTP_X_API_KEY`: keygate does not read a key there, so one there is refused.
    for name in [
        "X_API_Key",
        "X.API.Key",
        "X-API-Key2",
        "Authorization-X-API-Key",
        "X-API-Key-Id",
    ] {
        assert_eq!(with_header(name, KEY), Err("key_in_request"), "{name}");
    }
    // The exemption is for the value, not the place: a key in the path or query is
    // still refused.
    let in_path = format!("/v1/contacts/{KEY}");
    assert_eq!(
        check_with(
            "GET",
            &in_path,
            None,
            &[("X-API-Key", KEY)],
            false,
            Some("X-API-Key")
        ),
        Err("key_in_request")
    );
    // Without the setting, the header is like any other.
    assert_eq!(
        check("GET", "/v1/contacts", None, &[("X-API-Key", KEY)], false),
        Err("key_in_request")
    );
}

#[test]
fn a_key_in_a_header_name_is_refused() {
    let name = KEY.to_ascii_lowercase();
    assert_eq!(
        check("GET", "/v1/contacts", None, &[(&name, "1")], false),
        Err("key_in_request")
    );
}

#[test]
fn override_headers_are_found_with_any_separator() {
    // lighttpd (and Apache 2.2) give CGI every non-alphanumeric byte of a name as `_`.
    for name in [
        "X.HTTP.Method.Override",
        "x+http+method+override",
        "X~Original~URL",
    ] {
        assert!(override_in_request([name], None).is_some(), "{name}");
    }
}

proptest! {
    #[test]
    fn never_panics(path in "\\PC{0,60}", query in "\\PC{0,40}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = path_ambiguity(&path);
        let _ = override_in_request([path.as_str()], Some(&query));
        for content_type in ["application/json", "multipart/form-data", "text/plain"] {
            let _ = override_in_body(Some(content_type), &body);
        }
    }

    #[test]
    fn any_encoded_control_character_is_refused(byte in 0u8..0x20, upper in any::<bool>()) {
        let escape = if upper { format!("%{byte:02X}") } else { format!("%{byte:02x}") };
        prop_assert_eq!(path_ambiguity(&format!("/v1/a{escape}b")), Some("a control character"));
    }

    #[test]
    fn a_method_field_is_found_wherever_it_stands_in_a_form(
        before in proptest::collection::vec("[a-z]{1,6}=[a-z0-9]{0,6}", 0..5),
        after in proptest::collection::vec("[a-z]{1,6}=[a-z0-9]{0,6}", 0..5),
    ) {
        let body = [before, vec!["_method=DELETE".to_string()], after].concat().join("&");
        prop_assert!(override_in_body(Some("application/x-www-form-urlencoded"), body.as_bytes()).is_some());
        let query = body.clone();
        prop_assert!(override_in_request([], Some(&query)).is_some());
    }

    #[test]
    fn a_json_member_is_found_among_any_others(
        members in proptest::collection::vec(("[a-z]{1,6}", "[a-z0-9 ]{0,8}"), 0..6),
        at in 0usize..6,
    ) {
        let mut fields: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\": \"{v}\"")).collect();
        fields.insert(at.min(fields.len()), "\"_method\": \"DELETE\"".to_string());
        let body = format!("{{{}}}", fields.join(", "));
        prop_assert!(override_in_body(Some("application/json"), body.as_bytes()).is_some(), "{}", body);
    }

    #[test]
    fn a_path_with_a_semicolon_or_double_slash_is_never_plain(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
        let with_param = format!("/{a};x/{b}");
        let with_empty = format!("/{a}//{b}");
        prop_assert!(path_ambiguity(&with_param).is_some());
        prop_assert!(path_ambiguity(&with_empty).is_some());
    }
}

#[test]
fn a_portal_session_token_outside_authorization_is_refused_like_a_key() {
    let token = crate::session::SessionToken::generate(&[3; 24]);
    let token = token.expose();
    let in_query = format!("session={token}");
    let encoded = format!("session={}", token.replace('_', "%5F"));
    let in_path = format!("/v1/contacts/{token}");
    for (path, query, headers) in [
        ("/v1/contacts", Some(in_query.as_str()), vec![]),
        ("/v1/contacts", Some(encoded.as_str()), vec![]),
        (in_path.as_str(), None, vec![]),
        ("/v1/contacts", None, vec![("X-Session", token)]),
    ] {
        assert_eq!(
            check("GET", path, query, &headers, false),
            Err("key_in_request"),
            "{path} {query:?} {headers:?}"
        );
    }
}
