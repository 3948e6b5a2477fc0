//! `Authorization` header values: a token read is trimmed, non-empty, part of the header,
//! and reads back the same when sent again as `Bearer <token>`.
#![no_main]

use keygate::request::bearer::bearer_token;
use keygate::problem::GatewayError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    match bearer_token(Some(value)) {
        Ok(token) => {
            assert!(!token.is_empty());
            assert_eq!(token, token.trim());
            assert!(value.contains(token));
            let (scheme, _) = value
                .trim()
                .split_once(' ')
                .expect("a token follows a space");
            assert!(scheme.eq_ignore_ascii_case("bearer"));
            assert_eq!(bearer_token(Some(&format!("Bearer {token}"))), Ok(token));
        }
        Err(error) => assert!(matches!(
            error,
            GatewayError::MissingCredentials | GatewayError::InvalidScheme
        )),
    }
});
