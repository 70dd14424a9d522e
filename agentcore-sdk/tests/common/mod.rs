//! Helpers shared by the wiremock suites.
#![allow(dead_code)]

use std::time::Duration;

use agentcore_sdk::{Client, Config, RetryConfig};
use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;

pub const ARN: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345";
pub const ARN_SEGMENT: &str =
    "arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fcoder-AbCdE12345";
pub const SESSION: &str = "session-0000000000000000000000000000001";
pub const AUTH_RE: &str = r"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/bedrock-agentcore/aws4_request, SignedHeaders=[a-z0-9;-]*host;[a-z0-9;-]*x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}$";

pub fn client(uri: &str) -> Client {
    let config = Config::builder()
        .region("us-east-1")
        .endpoint_url(uri)
        .static_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        .retry_config(
            RetryConfig::standard()
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(1)),
        )
        .build()
        .expect("config");
    Client::from_conf(config)
}

fn string_header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_owned().into()))
}

/// One event-stream frame, encoded with the smithy encoder.
pub fn frame(message_type: &str, type_header: (&'static str, &str), payload: &[u8]) -> Vec<u8> {
    let msg = Message::new(Bytes::copy_from_slice(payload))
        .add_header(string_header(":message-type", message_type))
        .add_header(string_header(type_header.0, type_header.1))
        .add_header(string_header(":content-type", "application/json"));
    let mut out = Vec::new();
    write_message_to(&msg, &mut out).expect("encode");
    out
}

pub fn chunk(json: serde_json::Value) -> Vec<u8> {
    frame(
        "event",
        (":event-type", "chunk"),
        json.to_string().as_bytes(),
    )
}

pub fn start() -> Vec<u8> {
    chunk(serde_json::json!({"contentStart": {}}))
}

pub fn delta(stdout: Option<&str>, stderr: Option<&str>) -> Vec<u8> {
    let mut d = serde_json::Map::new();
    if let Some(o) = stdout {
        d.insert("stdout".into(), o.into());
    }
    if let Some(e) = stderr {
        d.insert("stderr".into(), e.into());
    }
    chunk(serde_json::json!({"contentDelta": d}))
}

pub fn stop(exit_code: i32, status: &str) -> Vec<u8> {
    chunk(serde_json::json!({"contentStop": {"exitCode": exit_code, "status": status}}))
}

pub fn exception(kind: &str, message: &str) -> Vec<u8> {
    frame(
        "exception",
        (":exception-type", kind),
        serde_json::json!({ "message": message })
            .to_string()
            .as_bytes(),
    )
}

pub fn eventstream_response(body: Vec<u8>) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200)
        .insert_header("content-type", "application/vnd.amazon.eventstream")
        .insert_header("x-amzn-bedrock-agentcore-runtime-session-id", SESSION)
        .insert_header("x-amzn-requestid", "req-123")
        .set_body_bytes(body)
}
