//! Procedural macros for [`agentcore-sdk`](https://docs.rs/agentcore-sdk).
//!
//! Use them through the re-exports in `agentcore_sdk`; this crate has no API of its own yet.
