//! Any bytes as a server frame (what clients decode): decoding never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendjay_common::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = codec::decode_server_frame(data) {
        let _ = codec::encode_server_frame(&frame);
    }
});
