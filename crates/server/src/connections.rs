//! The accept loop of both ports. `axum::serve` keeps every connection for as long
//! as the client likes, so idle and half-sent connections piled up until file
//! descriptors ran out. Here each connection is bounded:
//! - at most `max_connections` at once; past that, accepting waits for a slot;
//! - a connection must deliver its first request within `read_timeout`, and on
//!   HTTP/1 every later request's headers too (hyper's header timeout);
//! - a connection with no request in flight for `idle_timeout` is closed;
//! - HTTP/2 peers are pinged every `keepalive_interval` and dropped when silent;
//! - at shutdown, connections with no request in flight close at once, the others
//!   finish their requests first.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use http_body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub read_timeout: Duration,
    pub idle_timeout: Duration,
    pub keepalive_interval: Duration,
    pub max_connections: usize,
}

/// Serves `router` until `stopped` turns true, then waits for open connections to
/// finish their requests (the caller bounds that wait).
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot { Ok(slot) => slot, Err(_) => break },
            () = crate::wait_for(stopped.clone()) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = crate::wait_for(stopped.clone()) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors or a reset before accept: the listener itself
                // is fine, so back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let router = router.clone();
        let stopped = stopped.clone();
        connections.spawn(async move {
            serve_connection(stream, router, limits, stopped).await;
            tracing::trace!(%peer, "connection closed");
            drop(slot);
        });
    }
    connections.close();
    connections.wait().await;
}

async fn serve_connection(stream: TcpStream, router: Router, limits: Limits, stopped: watch::Receiver<bool>) {
    // Responses are written in pieces; without this a client's delayed ACK stalls
    // each one by ~40 ms.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let in_flight = InFlight::start(activity.clone());
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| Body::new(TrackedBody { body, _in_flight: in_flight })))
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.keepalive_interval)
        .keep_alive_timeout(limits.keepalive_interval);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(UnvectoredWrites(stream)), service).into_owned();
    tokio::pin!(connection);
    let opened = Instant::now();
    let grace = loop {
        let deadline = activity.close_at(opened, limits);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = tokio::time::sleep_until(deadline) => {
                if activity.idle() && activity.close_at(opened, limits) <= Instant::now() {
                    break Some(limits.read_timeout);
                }
            }
            () = activity.changed.notified() => {}
            // Shutting down: a connection between requests (or stuck in a half-sent
            // one) gets a moment to see the GOAWAY; one with requests in flight
            // finishes them (the caller bounds the whole drain).
            () = crate::wait_for(stopped.clone()) => break activity.idle().then_some(SHUTDOWN_GRACE),
        }
    };
    // HTTP/2 peers get a GOAWAY, so they reconnect instead of losing a request.
    connection.as_mut().graceful_shutdown();
    match grace {
        Some(grace) => drop(tokio::time::timeout(grace, connection).await),
        None => drop(connection.await),
    }
}

/// The accepted socket, saying it writes no vectors. HTTP/2 (h2) then copies a DATA
/// frame under 1 KiB into its write buffer instead of chaining it for a vectored
/// write, so a small gRPC response (headers, message and the status trailers) leaves
/// in one write. Chained, the trailers could not join the buffer before it was
/// written: two writes per response, and two wakeups of the client to read them
/// (ARCHITECTURE.md, "Performance").
struct UnvectoredWrites<S>(S);

impl<S: AsyncRead + Unpin> AsyncRead for UnvectoredWrites<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

/// `is_write_vectored` is the trait's default, false.
impl<S: AsyncWrite + Unpin> AsyncWrite for UnvectoredWrites<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// How long an idle connection may take to close once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// What a connection is doing: requests in flight, and when it last became idle.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    served: AtomicUsize,
    idle_since: std::sync::Mutex<Option<Instant>>,
    /// Wakes the connection's timer when a request ends, so its idle period starts.
    changed: tokio::sync::Notify,
}

impl Activity {
    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// When the connection should close if nothing happens: `read_timeout` after
    /// opening while no request has come, `idle_timeout` after the last one ended.
    /// With a request in flight, check again an idle period later.
    fn close_at(&self, opened: Instant, limits: Limits) -> Instant {
        if !self.idle() {
            return Instant::now() + limits.idle_timeout;
        }
        if self.served.load(Ordering::Acquire) == 0 {
            return opened + limits.read_timeout;
        }
        let since = *self.idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        since.unwrap_or(opened) + limits.idle_timeout
    }
}

/// One request in flight, from its headers until its response body is dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.served.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// A response body that keeps its request counted as in flight until it is sent.
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Bytes;
    use http_body_util::{BodyExt, StreamBody};
    use hyper::{Request, Response};

    use super::*;

    /// A stream that counts the writes that carry bytes, and says it writes vectors
    /// when `vectored` (as a TCP socket does).
    struct CountedWrites<S> {
        inner: S,
        vectored: bool,
        writes: Arc<AtomicUsize>,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for CountedWrites<S> {
        fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl<S: AsyncWrite + Unpin> AsyncWrite for CountedWrites<S> {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            let written = Pin::new(&mut self.inner).poll_write(cx, buf);
            if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
                self.writes.fetch_add(1, Ordering::SeqCst);
            }
            written
        }

        /// All the buffers as one write, as a socket's `writev`.
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let joined: Vec<u8> = bufs.iter().flat_map(|buf| buf.iter().copied()).collect();
            self.poll_write(cx, &joined)
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// How many writes the server makes for the second of two gRPC-shaped responses
    /// over HTTP/2 (a 400-byte message, then the status trailers), on `io`.
    async fn writes_of_a_response<S>(io: impl FnOnce(CountedWrites<tokio::io::DuplexStream>) -> S) -> usize
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let writes = Arc::new(AtomicUsize::new(0));
        let server_io = io(CountedWrites { inner: server_io, vectored: true, writes: writes.clone() });
        let service = hyper::service::service_fn(|_: Request<hyper::body::Incoming>| async {
            let mut trailers = hyper::HeaderMap::new();
            trailers.insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
            let frames = [Frame::data(Bytes::from(vec![7u8; 400])), Frame::trailers(trailers)];
            let body = StreamBody::new(tokio_stream::iter(frames.map(Ok::<_, Infallible>)));
            Ok::<_, Infallible>(Response::new(body))
        });
        let server =
            hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(server_io), service);
        tokio::spawn(server);
        let (mut sender, client) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(client_io)).await.expect("handshake");
        tokio::spawn(client);
        let mut counted = 0;
        for _ in 0..2 {
            let before = writes.load(Ordering::SeqCst);
            let request = Request::post("http://test/payment.v1.PaymentService/GetPayment")
                .header("content-type", "application/grpc")
                .body(String::new())
                .expect("request");
            let response = sender.send_request(request).await.expect("response");
            let collected = response.into_body().collect().await.expect("body");
            assert_eq!(collected.trailers().and_then(|t| t.get("grpc-status")).map(|v| v.as_bytes()), Some(&b"0"[..]));
            counted = writes.load(Ordering::SeqCst) - before;
        }
        counted
    }

    /// Through `UnvectoredWrites` a small response leaves in one write; on a stream
    /// that writes vectors (a bare socket) its trailers took a second one.
    #[tokio::test]
    async fn a_small_response_leaves_in_one_write() {
        assert_eq!(writes_of_a_response(UnvectoredWrites).await, 1);
        assert_eq!(writes_of_a_response(|counted| counted).await, 2);
    }
}
