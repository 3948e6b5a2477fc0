//! Request bodies an origin may read a method override from: a body keygate lets through
//! has no `_method` field its framework would see, and a body keygate could not read whole
//! never reaches an origin that reads overrides from bodies.
//!
//! Input: `Content-Type`, `Content-Encoding` (each one line, empty for none), one flag byte
//! (bit 0: the prefix is the whole body; bit 1: the origin reads body overrides; bit 2:
//! put a plain `_method` field in front), then the body.
#![no_main]

use keygate::ambiguity::{
    check_body, override_in_body, Ambiguity, BodyKind, BodyPrefix, BODY_SCAN_BYTES,
};
use keygate_fuzz::percent_decode_form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(3, |&b| b == b'\n');
    let (Some(content_type), Some(content_encoding), Some(rest)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return;
    };
    let (Ok(content_type), Ok(content_encoding)) = (
        std::str::from_utf8(content_type),
        std::str::from_utf8(content_encoding),
    ) else {
        return;
    };
    let Some((&flags, body)) = rest.split_first() else {
        return;
    };
    let content_type = Some(content_type).filter(|t| !t.is_empty());
    let content_encoding = Some(content_encoding).filter(|e| !e.is_empty());
    let kind = BodyKind::of(content_type);
    let mut body = body.to_vec();
    if flags & 4 != 0 {
        // An override no reading can miss, in the body's own syntax.
        let planted: &[u8] = match kind {
            BodyKind::Json => b"{\"_method\":\"DELETE\",\"x\":",
            BodyKind::Multipart => {
                b"--b\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n"
            }
            BodyKind::Form | BodyKind::Other => b"_method=DELETE&",
        };
        body.splice(0..0, planted.iter().copied());
    }
    body.truncate(BODY_SCAN_BYTES);
    let prefix = BodyPrefix {
        content_type,
        content_encoding,
        bytes: &body,
        complete: flags & 1 != 0,
    };
    let origin_reads_body_overrides = flags & 2 != 0;
    let verdict = check_body(&prefix, origin_reads_body_overrides);
    let _ = override_in_body(content_type, &body);
    let plain_encoding = content_encoding
        .is_none_or(|e| e.trim().is_empty() || e.trim().eq_ignore_ascii_case("identity"));
    let plain_text = !body.starts_with(&[0xfe, 0xff])
        && !body.starts_with(&[0xff, 0xfe])
        && body.first() != Some(&0)
        && body.get(1) != Some(&0)
        && !content_type.is_some_and(|t| t.to_ascii_lowercase().contains("charset=utf-"));
    if flags & 4 != 0 && plain_encoding && plain_text {
        assert!(
            matches!(verdict, Err(Ambiguity::Override { .. })),
            "a planted override passed: {verdict:?}"
        );
    }
    match verdict {
        Ok(()) => {
            if origin_reads_body_overrides && kind != BodyKind::Other {
                assert!(
                    prefix.complete,
                    "a body read in part reached an origin that reads overrides"
                );
            }
            if plain_encoding && plain_text && matches!(kind, BodyKind::Form) {
                for field in body.split(|&b| b == b'&') {
                    let name = field.split(|&b| b == b'=').next().unwrap_or_default();
                    let name = percent_decode_form(name).to_ascii_lowercase();
                    assert_ne!(
                        name.trim_ascii_start(),
                        b"_method",
                        "an override in a form passed"
                    );
                }
            }
        }
        Err(error) => assert!(matches!(
            error,
            Ambiguity::Override { .. } | Ambiguity::BodyNotScannable { .. }
        )),
    }
});
