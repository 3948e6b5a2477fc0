//! Percent-decoding wherever keygate does it: the key name header (any text encodes to
//! visible ASCII and decodes back to itself), and the decoders the request checks use for
//! paths, query and form fields. Each reads exactly what a separately written standard
//! decoder (an origin's) reads.
#![no_main]

use keygate::identity::{percent_decode, percent_encode};
use keygate::percent;
use keygate_fuzz::{percent_decode_form, percent_decode_once};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let encoded = percent_encode(&text);
    assert!(encoded.bytes().all(|b| (0x20..0x7f).contains(&b)));
    assert_eq!(percent_decode(&encoded), text);
    // What an origin may receive: anything. Decoding (then re-encoding) never panics, and
    // a value without escapes is read as it is.
    // It reads exactly what a standard decoder (an origin's) reads: `%` and two hex digits.
    let decoded = percent_decode(&text);
    let standard = String::from_utf8_lossy(&percent_decode_once(text.as_bytes())).into_owned();
    assert_eq!(decoded, standard, "{text:?}");
    let _ = percent_encode(&decoded);

    assert_eq!(&*percent::decode(data), &percent_decode_once(data)[..]);
    assert_eq!(&*percent::decode_form(data), &percent_decode_form(data)[..]);
    let every_byte: String = data.iter().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(&*percent::decode(every_byte.as_bytes()), data);
});
