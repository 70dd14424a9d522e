//! AWS event-stream framing (`application/vnd.amazon.eventstream`).
//!
//! Message parsing and CRC checks are `aws-smithy-eventstream`'s. This layer adds what a
//! network reader needs on top: it checks the prelude (lengths and prelude CRC) *before*
//! waiting for a message body, so a garbled length can neither make the reader buffer
//! gigabytes nor wait forever.

use aws_smithy_eventstream::frame::read_message_from;
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Buf, Bytes, BytesMut};

use crate::error::Error;

const PRELUDE_LEN: usize = 12;
const MIN_MESSAGE_LEN: usize = PRELUDE_LEN + 4;
/// The event-stream format allows 16 MiB messages; the headers at most 128 KiB.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;
const MAX_HEADERS_LEN: usize = 128 * 1024;

/// Incremental decoder: push bytes as they arrive, pull whole messages.
///
/// Chunks pushed with [`FrameDecoder::push_bytes`] are sliced, not copied, while they hold
/// whole frames; only a frame split across chunks is copied into a buffer.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// Partial frame assembled from several chunks.
    buf: BytesMut,
    /// The current chunk, not yet copied (only used while `buf` is empty).
    head: Bytes,
}

/// Checks a prelude; `Ok(total length)` of the message it announces.
fn check_prelude(b: &[u8]) -> Result<usize, Error> {
    let Some(mut prelude) = b.get(..PRELUDE_LEN) else {
        return Err(Error::malformed("event-stream prelude cut short"));
    };
    let lengths = prelude.get(..8).map(crc32fast::hash);
    let total = prelude.get_u32() as usize;
    let headers = prelude.get_u32() as usize;
    let prelude_crc = prelude.get_u32();
    if lengths != Some(prelude_crc) {
        return Err(Error::malformed("event-stream prelude CRC mismatch"));
    }
    if !(MIN_MESSAGE_LEN..=MAX_MESSAGE_LEN).contains(&total) {
        return Err(Error::malformed(format!(
            "event-stream message length {total} outside {MIN_MESSAGE_LEN}..={MAX_MESSAGE_LEN}"
        )));
    }
    if headers > MAX_HEADERS_LEN || headers > total.saturating_sub(MIN_MESSAGE_LEN) {
        return Err(Error::malformed(format!(
            "event-stream headers length {headers} does not fit a {total}-byte message"
        )));
    }
    Ok(total)
}

fn parse(frame: Bytes) -> Result<Option<Message>, Error> {
    read_message_from(frame)
        .map(Some)
        .map_err(|e| Error::malformed_with("invalid event-stream message", e))
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes (copied).
    pub fn push(&mut self, bytes: &[u8]) {
        self.push_bytes(Bytes::copy_from_slice(bytes));
    }

    /// Appends a received chunk without copying it when possible.
    pub fn push_bytes(&mut self, chunk: Bytes) {
        if self.buf.is_empty() && self.head.is_empty() {
            self.head = chunk;
            return;
        }
        if !self.head.is_empty() {
            self.buf.extend_from_slice(&self.head);
            self.head = Bytes::new();
        }
        self.buf.extend_from_slice(&chunk);
    }

    /// `true` when bytes of an unfinished message are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || !self.head.is_empty()
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, Error> {
        if self.buf.is_empty() {
            if self.head.len() < PRELUDE_LEN {
                if !self.head.is_empty() {
                    // A prelude split across chunks: assemble it in the buffer.
                    self.buf.extend_from_slice(&self.head);
                    self.head = Bytes::new();
                }
                return Ok(None);
            }
            let total = check_prelude(&self.head)?;
            if self.head.len() < total {
                self.buf.extend_from_slice(&self.head);
                self.head = Bytes::new();
                return Ok(None);
            }
            return parse(self.head.split_to(total));
        }
        if self.buf.len() < PRELUDE_LEN {
            return Ok(None);
        }
        let total = check_prelude(&self.buf)?;
        if self.buf.len() < total {
            return Ok(None);
        }
        parse(self.buf.split_to(total).freeze())
    }
}

/// Encodes one message: `:message-type` = `message_type`, the type header (`:event-type` for
/// events, `:exception-type` for exceptions), `:content-type: application/json`, and
/// `payload`. Servers (agentcore-local) and tests use it to produce what the SDK decodes.
pub fn encode_message(
    message_type: &str,
    type_header: (&'static str, &str),
    payload: &[u8],
) -> Bytes {
    use aws_smithy_types::event_stream::Header;
    let string = |v: &str| HeaderValue::String(v.to_owned().into());
    let msg = Message::new(Bytes::copy_from_slice(payload))
        .add_header(Header::new(":message-type", string(message_type)))
        .add_header(Header::new(type_header.0, string(type_header.1)))
        .add_header(Header::new(":content-type", string("application/json")));
    let mut out = Vec::with_capacity(payload.len().saturating_add(96));
    // Writing to a Vec only fails for messages over the format's size limit; such a message
    // comes out empty and the decoder on the other side reports the stream as truncated.
    let _ = aws_smithy_eventstream::frame::write_message_to(&msg, &mut out);
    Bytes::from(out)
}

/// Encodes a command response `chunk` event.
pub fn encode_chunk(chunk: &crate::data::ResponseChunk) -> Bytes {
    let payload = serde_json::to_vec(chunk).unwrap_or_default();
    encode_message("event", (":event-type", "chunk"), &payload)
}

/// Encodes an exception event with `{"message": message}`.
pub fn encode_exception(exception_type: &str, message: &str) -> Bytes {
    let payload =
        serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap_or_default();
    encode_message("exception", (":exception-type", exception_type), &payload)
}

/// A header's string value.
pub fn header_str<'a>(msg: &'a Message, name: &str) -> Option<&'a str> {
    msg.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

/// What one event-stream message means at the protocol level.
#[derive(Debug)]
pub enum Frame<'a> {
    /// `:message-type: event`, with its `:event-type` and payload.
    Event(&'a str, &'a Bytes),
    /// `:message-type: exception`, with its `:exception-type` and payload.
    Exception(&'a str, &'a Bytes),
    /// `:message-type: error`, with `:error-code` and `:error-message`.
    Error(&'a str, &'a str),
}

/// Classifies a message by its `:message-type` header.
pub fn classify(msg: &Message) -> Result<Frame<'_>, Error> {
    match header_str(msg, ":message-type") {
        Some("event") => Ok(Frame::Event(
            header_str(msg, ":event-type")
                .ok_or_else(|| Error::malformed("event message without :event-type"))?,
            msg.payload(),
        )),
        Some("exception") => Ok(Frame::Exception(
            header_str(msg, ":exception-type")
                .ok_or_else(|| Error::malformed("exception message without :exception-type"))?,
            msg.payload(),
        )),
        Some("error") => Ok(Frame::Error(
            header_str(msg, ":error-code").unwrap_or("UnknownError"),
            header_str(msg, ":error-message").unwrap_or(""),
        )),
        Some(other) => Err(Error::malformed(format!("unknown :message-type {other:?}"))),
        None => Err(Error::malformed("message without :message-type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn frame(payload: &[u8]) -> Vec<u8> {
        encode_message("event", (":event-type", "chunk"), payload).to_vec()
    }

    #[test]
    fn byte_by_byte() {
        let bytes = [frame(b"one"), frame(b"two")].concat();
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for b in bytes {
            d.push(&[b]);
            while let Some(m) = d.next_message().unwrap() {
                got.push(m.payload().clone());
            }
        }
        assert_eq!(
            got,
            vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")]
        );
        assert!(!d.has_partial());
    }

    #[test]
    fn huge_length_is_rejected_without_waiting() {
        let mut f = frame(b"x");
        f[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        let crc = crc32fast::hash(&f[0..8]);
        f[8..12].copy_from_slice(&crc.to_be_bytes());
        let mut d = FrameDecoder::new();
        d.push(&f[..12]);
        assert!(matches!(
            d.next_message(),
            Err(Error::MalformedResponse { .. })
        ));
    }

    #[test]
    fn bad_message_crc() {
        let mut f = frame(b"payload");
        let n = f.len();
        f[n - 1] ^= 0xff;
        let mut d = FrameDecoder::new();
        d.push(&f);
        assert!(matches!(
            d.next_message(),
            Err(Error::MalformedResponse { .. })
        ));
    }
}
