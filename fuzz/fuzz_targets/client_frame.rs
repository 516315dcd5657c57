//! Any bytes as a client request frame: decoding never panics, and what decodes encodes again and decodes to
//! the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendjay_common::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = codec::decode_request(data, 64 * 1024) {
        let again = codec::encode_request(&request).expect("a decoded request encodes");
        let back = codec::decode_request(&again, usize::MAX).expect("an encoded request decodes");
        assert_eq!(format!("{request:?}"), format!("{back:?}"));
    }
});
