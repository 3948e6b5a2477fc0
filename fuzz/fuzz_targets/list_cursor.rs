//! List cursors (one [`Position`] for keys and approvals): a cursor that decodes
//! names a valid id, and re-encodes to one that decodes to the same place.
#![no_main]

use keygate::approval::ApprovalId;
use keygate::key::KeyId;
use keygate::page::Position;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(cursor) = Position::<KeyId>::decode(text) {
        assert!(KeyId::parse(cursor.id.as_str()).is_some());
        let encoded = cursor.encode();
        assert!(encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'));
        assert_eq!(Position::<KeyId>::decode(&encoded).as_ref(), Some(&cursor));
    }
    if let Some(cursor) = Position::<ApprovalId>::decode(text) {
        assert!(ApprovalId::parse(cursor.id.as_str()).is_some());
        assert_eq!(
            Position::<ApprovalId>::decode(&cursor.encode()).as_ref(),
            Some(&cursor)
        );
    }
});
