//! The README's Rust examples compile against today's API: `build.rs` wraps every ```rust
//! block in an async function that provides the names the prose assumes (`client`, `arn`,
//! `session`, ...), and they are compiled here, with this test. A README that drifts from the
//! API fails this build.

mod readme {
    include!(concat!(env!("OUT_DIR"), "/readme_blocks.rs"));
}

// The blocks were found (a README rewritten without fences would otherwise pass).
const _: () = assert!(
    readme::BLOCKS >= 5,
    "the README has fewer than 5 rust blocks"
);

/// The compiling is the test; this names the first block so a run lists it.
#[test]
fn readme_rust_blocks_compile() {
    let _ = readme::readme_block_0::snippet;
}
