//! List cursors (the key directory's and the approval queue's): a cursor that decodes
//! names a valid id, and re-encodes to one that decodes to the same place.
#![no_main]

use keygate::admin::ListCursor;
use keygate::approval::ApprovalId;
use keygate::directory::Position;
use keygate::key::KeyId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(cursor) = ListCursor::<KeyId>::decode(text) {
        assert!(KeyId::parse(cursor.id.as_str()).is_some());
        let encoded = cursor.encode();
        assert!(encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'));
        assert_eq!(
            ListCursor::<KeyId>::decode(&encoded).as_ref(),
            Some(&cursor)
        );
        // The directory pages by the same place.
        let position = Position::from(cursor.clone());
        assert_eq!(ListCursor::from(position), cursor);
    }
    if let Some(cursor) = ListCursor::<ApprovalId>::decode(text) {
        assert!(ApprovalId::parse(cursor.id.as_str()).is_some());
        assert_eq!(
            ListCursor::<ApprovalId>::decode(&cursor.encode()).as_ref(),
            Some(&cursor)
        );
    }
});
