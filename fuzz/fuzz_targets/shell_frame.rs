//! Shell frames: decoding never panics, and a decoded frame survives encode → decode.
#![no_main]

use agentcore_sdk::shell::protocol::Frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data) {
        let again = Frame::decode(&frame.encode()).expect("an encoded frame decodes");
        assert_eq!(again, frame);
    }
});
