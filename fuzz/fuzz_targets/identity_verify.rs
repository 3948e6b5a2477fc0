//! Identity headers: what keygate signs, an origin verifies (and reads back the same
//! identity); after any change to the headers or the request line, verification fails
//! unless every signed value is still the one signed. `verify` never accepts what `sign`
//! did not produce with that secret.
#![no_main]

use keygate::identity::{
    self, sign, verify, BodyDigest, Content, Identity, ReceivedBody, RequestLine, SigningSecret,
    VerifyError,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    secret: Vec<u8>,
    key_id: String,
    key_name: String,
    workspace: String,
    environment: String,
    scopes: Vec<String>,
    request_id: String,
    approval_id: Option<String>,
    approved_by: Option<String>,
    timestamp: u64,
    method: String,
    host: String,
    path_and_query: String,
    content_type: Option<String>,
    declare_length: bool,
    body: Vec<u8>,
    received_body: Option<Vec<u8>>,
    clock_skew: i32,
    tolerance: u16,
    changes: Vec<Change>,
}

#[derive(Arbitrary, Debug)]
enum Change {
    Replace { index: u8, value: String },
    Remove { index: u8 },
    Rename { index: u8, name: String },
    Add { name: String, value: String },
    Method(String),
    Host(String),
    PathAndQuery(String),
}

const SIGNED: &[&str] = &[
    identity::KEY_ID,
    identity::KEY_NAME,
    identity::WORKSPACE,
    identity::ENVIRONMENT,
    identity::SCOPES,
    identity::REQUEST_ID,
    identity::APPROVAL_ID,
    identity::APPROVED_BY,
    identity::TIMESTAMP,
    identity::CONTENT_SHA256,
    identity::SIGNATURE,
    "Content-Type",
    "Content-Length",
];

fn lookup<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fuzz_target!(|input: Input| {
    let secret = SigningSecret::new(input.secret.clone());
    let signed = Identity {
        key_id: input.key_id,
        key_name: input.key_name,
        workspace: input.workspace,
        environment: input.environment,
        scopes: input.scopes,
        request_id: input.request_id,
        approval_id: input.approval_id,
        approved_by: input.approved_by,
        timestamp: input.timestamp,
    };
    let line = RequestLine {
        method: &input.method,
        host: &input.host,
        path_and_query: &input.path_and_query,
    };
    let content = Content {
        content_type: input.content_type.as_deref(),
        content_length: input.declare_length.then_some(input.body.len() as u64),
        body: BodyDigest::of(&input.body),
    };
    let signature = sign(&secret, &line, &content, &signed);
    let mut headers: Vec<(String, String)> = signed
        .headers(&content, &signature)
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    // What the origin also receives, and keygate signed.
    if let Some(content_type) = &input.content_type {
        headers.push(("Content-Type".to_string(), content_type.clone()));
    }
    if input.declare_length {
        headers.push(("Content-Length".to_string(), input.body.len().to_string()));
    }
    let now = input
        .timestamp
        .saturating_add_signed(i64::from(input.clock_skew));
    let tolerance = u64::from(input.tolerance);

    // As sent: verified, unless a field could not travel in a header or the clock is off.
    let verified = verify(
        &secret,
        &line,
        |name| lookup(&headers, name),
        ReceivedBody::Bytes(&input.body),
        now,
        tolerance,
    );
    let has_newline = headers.iter().any(|(_, v)| v.contains(['\n', '\r']));
    let line_has_newline = [line.method, line.host, line.path_and_query]
        .iter()
        .any(|field| field.contains(['\n', '\r']));
    match verified {
        Ok(verified) => {
            let back = verified.identity;
            assert!(!has_newline && !line_has_newline);
            assert!(now.abs_diff(input.timestamp) <= tolerance);
            let mut expected = signed.clone();
            expected.scopes = signed
                .scopes
                .join(" ")
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            expected.approval_id = signed.approval_id.clone().filter(|id| !id.is_empty());
            expected.approved_by = signed.approved_by.clone().filter(|by| !by.is_empty());
            assert_eq!(
                back, expected,
                "the origin reads another identity than was signed"
            );
        }
        Err(VerifyError::MalformedRequestLine) => assert!(line_has_newline),
        Err(VerifyError::MalformedHeader(_)) => assert!(has_newline && !line_has_newline),
        Err(VerifyError::StaleTimestamp { .. }) => {
            assert!(!has_newline && !line_has_newline);
            assert!(now.abs_diff(input.timestamp) > tolerance)
        }
        Err(other) => panic!("what keygate signed was refused: {other:?}"),
    }

    // Changed: accepted only if nothing signed changed.
    let mut changed = headers.clone();
    let (mut method, mut host, mut path) = (
        input.method.clone(),
        input.host.clone(),
        input.path_and_query.clone(),
    );
    for change in input.changes {
        let at = |index: u8, len: usize| usize::from(index) % len.max(1);
        match change {
            Change::Replace { index, value } if !changed.is_empty() => {
                let i = at(index, changed.len());
                changed[i].1 = value;
            }
            Change::Remove { index } if !changed.is_empty() => {
                let i = at(index, changed.len());
                changed.remove(i);
            }
            Change::Rename { index, name } if !changed.is_empty() => {
                let i = at(index, changed.len());
                changed[i].0 = name;
            }
            Change::Add { name, value } => changed.insert(0, (name, value)),
            Change::Method(m) => method = m,
            Change::Host(h) => host = h,
            Change::PathAndQuery(p) => path = p,
            _ => {}
        }
    }
    let changed_line = RequestLine {
        method: &method,
        host: &host,
        path_and_query: &path,
    };
    let received = input.received_body.unwrap_or_else(|| input.body.clone());
    if verify(
        &secret,
        &changed_line,
        |name| lookup(&changed, name),
        ReceivedBody::Bytes(&received),
        now,
        tolerance,
    )
    .is_ok()
    {
        assert_eq!(received, input.body, "another body verified");
        // The path and the query are signed apart, so `/x` and `/x?` (an empty query)
        // are the same request, as they are to every origin.
        let signed_parts = |target: &str| {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            (path.to_string(), query.to_string())
        };
        assert_eq!(
            (method.as_str(), host.as_str(), signed_parts(&path)),
            (
                input.method.as_str(),
                input.host.as_str(),
                signed_parts(&input.path_and_query)
            )
        );
        for name in SIGNED {
            assert_eq!(
                lookup(&changed, name).unwrap_or(""),
                lookup(&headers, name).unwrap_or(""),
                "{name} changed and still verified"
            );
        }
    }
});
