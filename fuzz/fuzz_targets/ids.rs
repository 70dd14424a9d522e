//! ARN and id parsing: never panics; whatever parses prints back to the same string and
//! parses again.
#![no_main]

use agentcore_sdk::{EndpointName, MountPath, RuntimeArn, RuntimeId, RuntimeName, SessionId, ShellId};
use libfuzzer_sys::fuzz_target;

fn roundtrip<T: std::str::FromStr + std::fmt::Display>(s: &str) {
    if let Ok(v) = s.parse::<T>() {
        assert_eq!(v.to_string(), s);
        assert!(s.parse::<T>().is_ok());
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(arn) = s.parse::<RuntimeArn>() {
        assert_eq!(arn.as_str(), s);
        let seg = arn.path_segment();
        assert!(!seg.contains('/') && !seg.contains(':'));
        assert!(arn.runtime_id().as_str().parse::<RuntimeId>().is_ok());
    }
    roundtrip::<SessionId>(s);
    roundtrip::<ShellId>(s);
    roundtrip::<RuntimeId>(s);
    roundtrip::<RuntimeName>(s);
    roundtrip::<EndpointName>(s);
    roundtrip::<MountPath>(s);
});
