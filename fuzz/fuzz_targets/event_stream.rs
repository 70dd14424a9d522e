//! Arbitrary bytes, fed in arbitrary chunk sizes, through the event-stream frame decoder and
//! the command-event decoder: errors are fine, panics and unbounded buffering are not.
#![no_main]

use agentcore_sdk::__private::decode_command_message;
use agentcore_sdk::__private::FrameDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut decoder = FrameDecoder::new();
    for piece in rest.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(msg)) => {
                    let _ = decode_command_message(&msg);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
