//! The shell's state machine over in-memory WebSockets: the test plays the server on the
//! other end of a `tokio::io::duplex`, time is paused (keepalives, backoffs and grace
//! periods run in virtual time), and nothing listens on a socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::connect::{Dial, confirm, start};
use super::protocol::{Frame, MAX_PAYLOAD, Status};
use super::task::Options;
use super::*;

/// Opens shells in memory: each dial hands the server's end to the test (a [`Peer`]).
struct MemoryDial {
    peers: mpsc::UnboundedSender<Peer>,
    dials: Arc<AtomicUsize>,
    refuse: Arc<AtomicBool>,
    keepalive: Keepalive,
    buffer: usize,
}

impl Dial for MemoryDial {
    type Io = DuplexStream;
    fn open(&self, _resume_at: Option<u64>) -> super::connect::Opened<'_, DuplexStream> {
        Box::pin(async move {
            self.dials.fetch_add(1, Ordering::SeqCst);
            if self.refuse.load(Ordering::SeqCst) {
                return Err(Error::transport(
                    "test dial",
                    std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
                ));
            }
            let (client, server) = tokio::io::duplex(self.buffer);
            let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
            self.peers
                .send(Peer { ws: server })
                .map_err(|_| Error::transport("test dial", std::io::Error::other("no test")))?;
            let mut ws = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
            let status = confirm(&mut ws, self.keepalive.confirmation_timeout).await?;
            Ok((ws, status))
        })
    }
}

/// The server's end of one connection.
struct Peer {
    ws: WebSocketStream<DuplexStream>,
}

/// What the server received.
#[derive(Debug, PartialEq)]
enum Got {
    Frame(Frame),
    /// A WebSocket close (with its code).
    Closed(Option<u16>),
    /// The connection ended.
    Gone,
}

impl Peer {
    async fn send(&mut self, frame: Frame) {
        self.ws
            .send(Message::Binary(frame.encode().into()))
            .await
            .unwrap();
    }
    async fn confirm(&mut self) {
        self.send(Frame::Status(Box::new(Status::confirmation(
            "main", true, None,
        ))))
        .await;
    }
    /// The next frame or close (pings are answered and skipped).
    async fn got(&mut self) -> Got {
        loop {
            match self.ws.next().await {
                None | Some(Err(_)) => return Got::Gone,
                Some(Ok(Message::Binary(b))) => return Got::Frame(Frame::decode(&b).unwrap()),
                Some(Ok(Message::Close(f))) => return Got::Closed(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => {}
            }
        }
    }
    /// The next frame that is not a resize.
    async fn input(&mut self) -> Got {
        loop {
            match self.got().await {
                Got::Frame(Frame::Resize { .. }) => {}
                other => return other,
            }
        }
    }
    /// The shell exits with `code`: STATUS, then close 1000.
    async fn exit(&mut self, code: i32) {
        self.send(Frame::Status(Box::new(Status::exited(Some(code), None))))
            .await;
        let _ = self
            .ws
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "shell exited".into(),
            }))
            .await;
    }
}

struct Harness {
    peers: mpsc::UnboundedReceiver<Peer>,
    dials: Arc<AtomicUsize>,
    refuse: Arc<AtomicBool>,
}

impl Harness {
    /// The next connection the shell opens, confirmed.
    async fn accept(&mut self) -> Peer {
        let mut peer = self.peers.recv().await.expect("the shell dials");
        peer.confirm().await;
        peer
    }
}

fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .delays(vec![Duration::from_millis(100), Duration::from_millis(200)])
        .jitter(0.0)
}

fn options(keepalive: Keepalive) -> Options {
    Options {
        keepalive,
        policy: fast_reconnect(),
        delivery: InputDelivery::AtMostOnce,
        close_grace: DEFAULT_CLOSE_GRACE,
    }
}

/// A shell over memory, with the duplex buffer `buffer` and keepalive `keepalive`.
async fn shell_with(buffer: usize, keepalive: Keepalive) -> (Shell, Peer, Harness) {
    shell_opts(buffer, options(keepalive)).await
}

/// A shell over memory with `opts`.
async fn shell_opts(buffer: usize, opts: Options) -> (Shell, Peer, Harness) {
    let keepalive = opts.keepalive;
    let (tx, rx) = mpsc::unbounded_channel();
    let dial = MemoryDial {
        peers: tx,
        dials: Arc::default(),
        refuse: Arc::default(),
        keepalive,
        buffer,
    };
    let mut harness = Harness {
        peers: rx,
        dials: dial.dials.clone(),
        refuse: dial.refuse.clone(),
    };
    let ((ws, status), peer) =
        tokio::join!(async { dial.open(None).await.unwrap() }, harness.accept());
    let handle = ShellHandle {
        runtime_arn: "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345"
            .parse()
            .unwrap(),
        session_id: SessionId::generate(),
        shell_id: "main".parse().unwrap(),
    };
    let shell = start(dial, opts, None, handle, ws, status, tracing::Span::none());
    (shell, peer, harness)
}

async fn shell() -> (Shell, Peer, Harness) {
    shell_with(64 * 1024, Keepalive::default()).await
}

/// Fails a test that would hang: a bound in virtual time, far beyond anything expected.
async fn bounded<F: std::future::Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(3600), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: still waiting after an hour (virtual time)"),
    }
}

/// A dropped writer is end of input (EOT, what Ctrl-D sends), not the end of the shell: the
/// reader gets the output to the end and the exit status arrives.
#[tokio::test(start_paused = true)]
async fn a_dropped_writer_is_end_of_input() {
    let (mut shell, mut peer, _h) = shell().await;
    let mut events = shell.events();
    let (mut reader, mut writer) = shell.split();
    writer.write_all(b"echo hi; exit 3\n").await.unwrap();
    drop(writer);
    assert_eq!(
        peer.input().await,
        Got::Frame(Frame::Stdin(Bytes::from_static(b"echo hi; exit 3\n")))
    );
    assert_eq!(
        peer.input().await,
        Got::Frame(Frame::Stdin(Bytes::from_static(b"\x04"))),
        "end of input is Ctrl-D"
    );
    peer.send(Frame::Stdout(Bytes::from_static(b"hi\r\n")))
        .await;
    peer.exit(3).await;
    let mut out = Vec::new();
    bounded("the output ends", reader.read_to_end(&mut out))
        .await
        .unwrap();
    assert_eq!(out, b"hi\r\n");
    let mut exited = None;
    while let Some(ev) = events.next().await {
        if let ShellEvent::Exited(e) = ev {
            exited = Some(e);
        }
    }
    assert_eq!(exited.and_then(|e| e.code), Some(3));
}

/// `close()` after output nobody read: the output is discarded, the connection keeps being
/// read, and the exit status comes back.
#[tokio::test(start_paused = true)]
async fn close_discards_unread_output_and_returns_the_exit_status() {
    let (mut shell, mut peer, _h) = shell().await;
    shell.write_all(b"cat big\n").await.unwrap();
    let server = tokio::spawn(async move {
        assert_eq!(
            peer.input().await,
            Got::Frame(Frame::Stdin(Bytes::from_static(b"cat big\n")))
        );
        // Far more than every buffer on the way holds.
        for _ in 0..400 {
            peer.send(Frame::Stdout(Bytes::from(vec![b'x'; 32 * 1024])))
                .await;
        }
        // The end of input comes once the output is through.
        loop {
            match peer.input().await {
                Got::Frame(Frame::Stdin(b)) if b.as_ref() == b"\x04" => break,
                Got::Frame(_) => {}
                other => panic!("expected the end of input, got {other:?}"),
            }
        }
        peer.exit(0).await;
    });
    let exit = bounded("close() with unread output", shell.close()).await;
    assert_eq!(exit.and_then(|e| e.code), Some(0));
    server.await.unwrap();
}

/// `wait()` does not hang on unread output either: it drains it.
#[tokio::test(start_paused = true)]
async fn wait_drains_unread_output() {
    let (mut shell, mut peer, _h) = shell().await;
    let server = tokio::spawn(async move {
        for _ in 0..400 {
            peer.send(Frame::Stdout(Bytes::from(vec![b'y'; 32 * 1024])))
                .await;
        }
        peer.exit(5).await;
    });
    let exit = bounded("wait() with unread output", shell.wait()).await;
    assert_eq!(exit.and_then(|e| e.code), Some(5));
    server.await.unwrap();
}

/// `close()` and `detach()` never overtake input written before them (they used to travel on
/// another channel, and `select!` picked either first).
#[tokio::test(start_paused = true)]
async fn close_and_detach_come_after_the_input_written_before_them() {
    for _ in 0..25 {
        let (mut shell, mut peer, _h) = shell().await;
        shell.write_all(b"exit 3\n").await.unwrap();
        let server = tokio::spawn(async move {
            let first = peer.input().await;
            assert_eq!(
                first,
                Got::Frame(Frame::Stdin(Bytes::from_static(b"exit 3\n"))),
                "the input comes first"
            );
            peer.exit(3).await;
        });
        let exit = bounded("close", shell.close()).await;
        server.await.unwrap();
        assert_eq!(exit.and_then(|e| e.code), Some(3));
    }
    for _ in 0..25 {
        let (mut shell, mut peer, _h) = shell().await;
        shell.write_all(b"make &\n").await.unwrap();
        let server = tokio::spawn(async move {
            assert_eq!(
                peer.input().await,
                Got::Frame(Frame::Stdin(Bytes::from_static(b"make &\n"))),
                "the input comes first"
            );
            assert_eq!(peer.input().await, Got::Closed(Some(1000)));
        });
        bounded("detach", shell.detach()).await;
        server.await.unwrap();
    }
}

/// Input whose send had started when the connection dropped is not sent again after the
/// reconnect (it may have arrived: sending it again could run a command twice); input not yet
/// handed to the connection is, each frame within the protocol's 64 KiB limit. (All of it
/// used to be re-sent as one frame of up to ~5 × 64 KiB.)
#[tokio::test(start_paused = true)]
async fn input_in_flight_is_not_sent_twice_and_frames_stay_under_64_kib() {
    // A small pipe that the first server never reads: the first frame stays in flight.
    let (mut shell, peer, mut h) = shell_with(1024, Keepalive::default()).await;
    let part = |b: u8| vec![b; MAX_PAYLOAD];
    for b in [b'a', b'b', b'c'] {
        shell.write_all(&part(b)).await.unwrap();
    }
    shell.write_all(b"Z").await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(peer); // the connection drops with `a` half sent
    let mut peer = bounded("the reconnect", h.accept()).await;
    let mut got = Vec::new();
    while !got.ends_with(b"Z") {
        match bounded("input after the reconnect", peer.input()).await {
            Got::Frame(Frame::Stdin(b)) => {
                assert!(b.len() <= MAX_PAYLOAD, "a frame of {} bytes", b.len());
                got.extend_from_slice(&b);
            }
            other => panic!("{other:?}"),
        }
    }
    let mut expected = [part(b'b'), part(b'c')].concat();
    expected.push(b'Z');
    assert!(
        got == expected,
        "got {} bytes, starting {:?}",
        got.len(),
        got.first()
    );
}

/// The keepalive runs on tokio's clock: a connection that answers no ping is declared dead
/// after the pong timeout, and the shell reconnects. (With `std::time::Instant` the pong
/// deadline never passed under a paused clock.)
#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_dead_after_the_pong_timeout() {
    let keepalive = Keepalive::default()
        .ping_interval(Duration::from_secs(1))
        .pong_timeout(Duration::from_secs(3));
    let (shell, peer, mut h) = shell_with(64 * 1024, keepalive).await;
    // The peer neither reads nor answers pings.
    let _silent = peer;
    let again = bounded("a reconnect after the pong timeout", h.accept()).await;
    assert_eq!(h.dials.load(Ordering::SeqCst), 2);
    drop((shell, again));
}

/// A connection that answers pings stays up however long nothing else happens.
#[tokio::test(start_paused = true)]
async fn pongs_keep_the_connection() {
    let keepalive = Keepalive::default()
        .ping_interval(Duration::from_secs(1))
        .pong_timeout(Duration::from_secs(3));
    let (shell, mut peer, h) = shell_with(64 * 1024, keepalive).await;
    let answering = tokio::spawn(async move { while peer.got().await != Got::Gone {} });
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(h.dials.load(Ordering::SeqCst), 1, "no reconnect");
    drop(shell);
    answering.await.unwrap();
}

/// A dropped handle ends the task while it reconnects: no dial after the drop, whatever the
/// time (the flaky `control_is_honoured_while_reconnecting` suspected the SDK of coming back).
#[tokio::test(start_paused = true)]
async fn a_handle_dropped_while_reconnecting_never_dials_again() {
    let (shell, peer, h) = shell().await;
    h.refuse.store(true, Ordering::SeqCst);
    drop(peer);
    // Let it fail a few attempts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = h.dials.load(Ordering::SeqCst);
    assert!(before > 1, "it was reconnecting");
    drop(shell);
    h.refuse.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        h.dials.load(Ordering::SeqCst),
        before,
        "no dial after the drop"
    );
}

/// `detach()` while reconnecting returns at once, and the task dials no more.
#[tokio::test(start_paused = true)]
async fn detach_while_reconnecting_returns_at_once() {
    let (shell, peer, h) = shell().await;
    h.refuse.store(true, Ordering::SeqCst);
    drop(peer);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = tokio::time::Instant::now();
    let handle = bounded("detach", shell.detach()).await;
    assert_eq!(handle.shell_id.as_str(), "main");
    assert_eq!(start.elapsed(), Duration::ZERO, "no wait in virtual time");
    let before = h.dials.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(h.dials.load(Ordering::SeqCst), before);
}

/// `close()` is end of input first; a shell that does not end (a full-screen program
/// ignores Ctrl-D) is hung up once the close grace has passed — the forceful path.
#[tokio::test(start_paused = true)]
async fn close_hangs_up_after_the_grace_when_end_of_input_is_ignored() {
    let mut opts = options(Keepalive::default());
    opts.close_grace = Duration::from_secs(7);
    let (shell, mut peer, _h) = shell_opts(64 * 1024, opts).await;
    let server = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        assert_eq!(
            peer.input().await,
            Got::Frame(Frame::Stdin(Bytes::from_static(b"\x04")))
        );
        assert_eq!(peer.input().await, Got::Frame(Frame::Close), "the hang-up");
        assert_eq!(start.elapsed(), Duration::from_secs(7), "after the grace");
        peer.send(Frame::Status(Box::new(Status::exited(Some(129), Some(1)))))
            .await;
        let _ = peer.ws.close(None).await;
    });
    let exit = bounded("close", shell.close()).await.unwrap();
    assert_eq!((exit.code, exit.signal), (Some(129), Some(1)));
    server.await.unwrap();
}

/// A server that sends no exit status even after the hang-up: `close()` gives up after one
/// more grace instead of waiting forever.
#[tokio::test(start_paused = true)]
async fn close_gives_up_when_no_exit_status_ever_comes() {
    let (shell, mut peer, _h) = shell().await;
    let server = tokio::spawn(async move { while peer.got().await != Got::Gone {} });
    let exit = bounded("close", shell.close()).await;
    assert_eq!(exit, None);
    server.await.unwrap();
}

/// `kill()` hangs up at once — after the input written before it.
#[tokio::test(start_paused = true)]
async fn kill_hangs_up_after_the_input_written_before_it() {
    let (mut shell, mut peer, _h) = shell().await;
    shell.write_all(b"sleep 100\n").await.unwrap();
    let server = tokio::spawn(async move {
        assert_eq!(
            peer.input().await,
            Got::Frame(Frame::Stdin(Bytes::from_static(b"sleep 100\n")))
        );
        assert_eq!(peer.input().await, Got::Frame(Frame::Close));
        peer.send(Frame::Status(Box::new(Status::exited(Some(129), Some(1)))))
            .await;
        let _ = peer.ws.close(None).await;
    });
    let exit = bounded("kill", shell.kill()).await.unwrap();
    assert_eq!(exit.signal, Some(1));
    server.await.unwrap();
}

/// With `InputDelivery::AtLeastOnce` the input in flight is sent again after the reconnect,
/// still one frame per write.
#[tokio::test(start_paused = true)]
async fn at_least_once_resends_the_input_in_flight_in_frames_under_64_kib() {
    let mut opts = options(Keepalive::default());
    opts.delivery = InputDelivery::AtLeastOnce;
    let (mut shell, peer, mut h) = shell_opts(1024, opts).await;
    let part = |b: u8| vec![b; MAX_PAYLOAD];
    for b in [b'a', b'b'] {
        shell.write_all(&part(b)).await.unwrap();
    }
    shell.write_all(b"Z").await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(peer);
    let mut peer = bounded("the reconnect", h.accept()).await;
    let mut got = Vec::new();
    while !got.ends_with(b"Z") {
        match bounded("input after the reconnect", peer.input()).await {
            Got::Frame(Frame::Stdin(b)) => {
                assert!(b.len() <= MAX_PAYLOAD, "a frame of {} bytes", b.len());
                got.extend_from_slice(&b);
            }
            other => panic!("{other:?}"),
        }
    }
    let mut expected = [part(b'a'), part(b'b')].concat();
    expected.push(b'Z');
    assert!(got == expected, "got {} bytes", got.len());
}

/// Dropping the whole shell is a detach: the input written before goes out, then a normal
/// close — no end of input, no hang-up (the shell keeps running for a re-attach).
#[tokio::test(start_paused = true)]
async fn dropping_the_shell_detaches_after_its_input() {
    let (mut shell, mut peer, _h) = shell().await;
    shell.write_all(b"make\n").await.unwrap();
    drop(shell);
    assert_eq!(
        peer.input().await,
        Got::Frame(Frame::Stdin(Bytes::from_static(b"make\n")))
    );
    assert_eq!(peer.input().await, Got::Closed(Some(1000)));
}

/// Writer dropped (end of input), then the reader too while the shell still runs: nobody
/// holds the shell any more, so the connection is closed as a detach.
#[tokio::test(start_paused = true)]
async fn writer_then_reader_dropped_detaches() {
    let (shell, mut peer, _h) = shell().await;
    let (reader, writer) = shell.split();
    drop(writer);
    assert_eq!(
        peer.input().await,
        Got::Frame(Frame::Stdin(Bytes::from_static(b"\x04")))
    );
    drop(reader);
    assert_eq!(peer.input().await, Got::Closed(Some(1000)));
}

/// `shutdown()` is end of input; later writes fail.
#[tokio::test(start_paused = true)]
async fn shutdown_is_end_of_input_and_later_writes_fail() {
    let (mut shell, mut peer, _h) = shell().await;
    shell.write_all(b"ls\n").await.unwrap();
    shell.shutdown().await.unwrap();
    let err = shell.write_all(b"too late\n").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    assert_eq!(
        peer.input().await,
        Got::Frame(Frame::Stdin(Bytes::from_static(b"ls\n")))
    );
    assert_eq!(
        peer.input().await,
        Got::Frame(Frame::Stdin(Bytes::from_static(b"\x04")))
    );
    peer.exit(0).await;
    assert_eq!(
        bounded("wait", shell.wait()).await.and_then(|e| e.code),
        Some(0)
    );
}

/// A close asked while reconnecting is carried out on the next connection, after the input
/// written before it.
#[tokio::test(start_paused = true)]
async fn close_while_reconnecting_is_delivered_after_the_reconnect() {
    let (mut shell, peer, mut h) = shell().await;
    h.refuse.store(true, Ordering::SeqCst);
    drop(peer);
    tokio::time::sleep(Duration::from_secs(1)).await;
    shell.write_all(b"exit 4\n").await.unwrap();
    let closing = tokio::spawn(shell.close());
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.refuse.store(false, Ordering::SeqCst);
    let mut peer = bounded("the reconnect", h.accept()).await;
    assert_eq!(
        peer.input().await,
        Got::Frame(Frame::Stdin(Bytes::from_static(b"exit 4\n")))
    );
    assert_eq!(
        peer.input().await,
        Got::Frame(Frame::Stdin(Bytes::from_static(b"\x04")))
    );
    peer.exit(4).await;
    let exit = bounded("close", closing).await.unwrap();
    assert_eq!(exit.and_then(|e| e.code), Some(4));
}

/// Backoff and the reconnect window run on tokio's clock: attempts follow the policy's
/// delays, and the handle gives up once the window since the loss has passed.
#[tokio::test(start_paused = true)]
async fn reconnects_back_off_and_give_up_after_the_window_in_virtual_time() {
    let (tx, rx) = mpsc::unbounded_channel();
    let dial = MemoryDial {
        peers: tx,
        dials: Arc::default(),
        refuse: Arc::default(),
        keepalive: Keepalive::default(),
        buffer: 1024,
    };
    let mut h = Harness {
        peers: rx,
        dials: dial.dials.clone(),
        refuse: dial.refuse.clone(),
    };
    let ((ws, status), peer) = tokio::join!(async { dial.open(None).await.unwrap() }, h.accept());
    let mut opts = options(Keepalive::default());
    opts.policy = ReconnectPolicy::default()
        .delays(vec![Duration::from_secs(1), Duration::from_secs(2)])
        .jitter(0.0)
        .window(Duration::from_secs(10));
    let handle = ShellHandle {
        runtime_arn: "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345"
            .parse()
            .unwrap(),
        session_id: SessionId::generate(),
        shell_id: "main".parse().unwrap(),
    };
    let mut shell = start(dial, opts, None, handle, ws, status, tracing::Span::none());
    let mut events = shell.events();
    h.refuse.store(true, Ordering::SeqCst);
    let lost = tokio::time::Instant::now();
    drop(peer);
    let mut attempts = Vec::new();
    let gave_up = loop {
        match bounded("events", events.next()).await {
            Some(ShellEvent::Reconnecting { attempt, .. }) => {
                attempts.push((attempt, lost.elapsed().as_secs()));
            }
            Some(ShellEvent::GaveUp { .. }) => break lost.elapsed(),
            Some(_) => {}
            None => panic!("no GaveUp event"),
        }
    };
    // Attempt n is announced when the one before failed: delays 1, 2, 1, 2, 1 … s.
    assert_eq!(
        attempts,
        [(1, 0), (2, 1), (3, 3), (4, 4), (5, 6), (6, 7), (7, 9)]
    );
    assert_eq!(gave_up, Duration::from_secs(10));
    let mut rest = Vec::new();
    let err = shell.read_to_end(&mut rest).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
}
