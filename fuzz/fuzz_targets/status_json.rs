//! STATUS JSON: parsing never panics; accessors work on anything that parsed.
#![no_main]

use agentcore_sdk::shell::protocol::Status;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(status) = serde_json::from_slice::<Status>(data) {
        let _ = status.exit_code();
        let _ = status.signal();
        let _ = status.is_confirmation();
        let json = serde_json::to_vec(&status).expect("a status serializes");
        let again: Status = serde_json::from_slice(&json).expect("a serialized status parses");
        assert_eq!(again, status);
    }
});
