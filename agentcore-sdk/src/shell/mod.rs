//! Interactive shells (InvokeAgentRuntimeCommandShell): a PTY in the session's microVM over
//! WebSocket.

pub mod protocol;
