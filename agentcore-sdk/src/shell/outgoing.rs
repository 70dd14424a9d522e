//! What the task has to send, in order, and what happens to it when a connection drops.
//!
//! The protocol has no acknowledgements. A frame not yet handed to a connection is certainly
//! not delivered: it waits for the next connection. The frame being written when the
//! connection dropped may or may not have arrived: [`InputDelivery`] decides whether input is
//! sent again (at least once) or not (at most once, the default: a `git push` typed just
//! before a drop must not run twice). Control frames (resize, hang-up) are idempotent and are
//! sent again. Every frame is one of the writer's, so none exceeds the protocol's limit.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::InputDelivery;
use super::protocol::Frame;

/// One entry of the queue.
enum Item {
    /// A frame, with the writer's room it holds (input only) until it is sent.
    Frame(Frame, Option<OwnedSemaphorePermit>),
    /// A detach (its answer, when a handle waits for it): reached once the input before it
    /// is sent.
    Detach(Option<oneshot::Sender<()>>),
}

/// What to do next with the connection.
pub(super) enum Next {
    /// Send this message.
    Send(Message),
    /// Everything before the detach is sent: close the connection, leave the shell running.
    Detach(Option<oneshot::Sender<()>>),
    /// Nothing to send.
    Idle,
}

pub(super) struct Outgoing {
    queue: VecDeque<Item>,
    /// The frame being written, until its send completes.
    in_flight: Option<(Frame, Option<OwnedSemaphorePermit>)>,
    ping_due: bool,
    delivery: InputDelivery,
}

impl Outgoing {
    pub(super) fn new(delivery: InputDelivery) -> Self {
        Self {
            queue: VecDeque::new(),
            in_flight: None,
            ping_due: false,
            delivery,
        }
    }

    /// Queues `frame` after everything asked before it.
    pub(super) fn push(&mut self, frame: Frame, room: Option<OwnedSemaphorePermit>) {
        self.queue.push_back(Item::Frame(frame, room));
    }

    /// Queues `frame` before everything else (the terminal size, first on a new connection).
    pub(super) fn push_first(&mut self, frame: Frame) {
        self.queue.push_front(Item::Frame(frame, None));
    }

    /// Queues a detach after the input asked before it.
    pub(super) fn push_detach(&mut self, done: Option<oneshot::Sender<()>>) {
        self.queue.push_back(Item::Detach(done));
    }

    /// A keepalive ping is due; it goes before the queue (it is not input).
    pub(super) fn ping(&mut self) {
        self.ping_due = true;
    }

    /// What to hand the connection once it is free to send.
    pub(super) fn next(&mut self) -> Next {
        if std::mem::take(&mut self.ping_due) {
            return Next::Send(Message::Ping(Bytes::new()));
        }
        match self.queue.pop_front() {
            None => Next::Idle,
            Some(Item::Detach(done)) => Next::Detach(done),
            Some(Item::Frame(frame, room)) => {
                let msg = Message::Binary(frame.encode().into());
                self.in_flight = Some((frame, room));
                Next::Send(msg)
            }
        }
    }

    /// The send in flight completed; its room goes back to the writer.
    pub(super) fn sent(&mut self) {
        self.in_flight = None;
    }

    /// The connection dropped: the frame in flight goes back to the front of the queue unless
    /// it is input delivered at most once; a due ping is forgotten.
    pub(super) fn lost(&mut self) {
        self.ping_due = false;
        if let Some((frame, room)) = self.in_flight.take() {
            let resend =
                !matches!(frame, Frame::Stdin(_)) || self.delivery == InputDelivery::AtLeastOnce;
            if resend {
                self.queue.push_front(Item::Frame(frame, room));
            } else {
                tracing::debug!("input in flight when the connection dropped is not sent again");
            }
        }
    }

    /// Takes a queued detach out of the queue (its answer, if a handle waits), e.g. when the
    /// connection it was waiting for is gone.
    pub(super) fn take_detach(&mut self) -> Option<Option<oneshot::Sender<()>>> {
        let at = self
            .queue
            .iter()
            .position(|i| matches!(i, Item::Detach(_)))?;
        match self.queue.remove(at) {
            Some(Item::Detach(done)) => Some(done),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdin(s: &'static str) -> Frame {
        Frame::Stdin(Bytes::from_static(s.as_bytes()))
    }

    fn sent_frame(next: Next) -> Frame {
        match next {
            Next::Send(Message::Binary(b)) => Frame::decode(&b).unwrap(),
            _ => panic!("expected a frame"),
        }
    }

    #[test]
    fn input_in_flight_is_dropped_at_most_once_and_kept_at_least_once() {
        for (delivery, expect_a) in [
            (InputDelivery::AtMostOnce, false),
            (InputDelivery::AtLeastOnce, true),
        ] {
            let mut o = Outgoing::new(delivery);
            o.push(stdin("a"), None);
            o.push(stdin("b"), None);
            assert_eq!(sent_frame(o.next()), stdin("a"));
            o.lost();
            let first = sent_frame(o.next());
            assert_eq!(first == stdin("a"), expect_a, "{delivery:?}");
        }
        // Control frames are sent again either way.
        let mut o = Outgoing::new(InputDelivery::AtMostOnce);
        o.push(Frame::Close, None);
        let _ = o.next();
        o.lost();
        assert_eq!(sent_frame(o.next()), Frame::Close);
    }

    #[test]
    fn pings_go_first_and_detach_waits_its_turn() {
        let mut o = Outgoing::new(InputDelivery::AtMostOnce);
        o.push(stdin("x"), None);
        o.push_detach(None);
        o.ping();
        assert!(matches!(o.next(), Next::Send(Message::Ping(_))));
        assert_eq!(sent_frame(o.next()), stdin("x"));
        o.sent();
        assert!(matches!(o.next(), Next::Detach(None)));
        assert!(matches!(o.next(), Next::Idle));
    }
}
