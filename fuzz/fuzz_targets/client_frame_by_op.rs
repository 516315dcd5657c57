//! A structured client frame: the first byte picks a real op, the rest is the MessagePack value of `args`, so
//! every op's argument decoding is reached (random bytes rarely spell an op name).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendjay_common::codec;
use sendjay_common::protocol::OPS;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, args)) = data.split_first() else {
        return;
    };
    let op = OPS[usize::from(pick) % OPS.len()];
    // {"id": 7, "op": <op>, "args": <the fuzzed bytes as one MessagePack value>}
    let mut frame = vec![0x83, 0xa2, b'i', b'd', 0x07, 0xa2, b'o', b'p'];
    frame.push(0xd9);
    frame.push(op.len() as u8);
    frame.extend_from_slice(op.as_bytes());
    frame.extend_from_slice(&[0xa4, b'a', b'r', b'g', b's']);
    frame.extend_from_slice(args);
    if let Ok(request) = codec::decode_request(&frame, usize::MAX) {
        assert_eq!(request.call.op(), op);
        let again = codec::encode_request(&request).expect("a decoded request encodes");
        let back = codec::decode_request(&again, usize::MAX).expect("an encoded request decodes");
        assert_eq!(format!("{request:?}"), format!("{back:?}"));
    }
});
