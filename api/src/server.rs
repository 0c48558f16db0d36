//! The HTTP server: hyper's HTTP/1 connections over the router, with the
//! limits that keep it answering under abuse.
//!
//! - A header read timeout: a connection that does not finish a request's
//!   headers in time (a slow client, an idle keep-alive) is closed.
//! - A connection cap below the process's file limit: when it is reached,
//!   the oldest connection with no request in flight (a response being
//!   written counts as in flight) is closed to make room, so a thousand
//!   idle half-sent connections cannot take the server offline —
//!   `/healthz` still answers. With every connection busy, a new one is
//!   refused rather than queued.
//! - A cap per client address (not for loopback, where a reverse proxy's
//!   connections all come from): one client cannot hold every slot.
//! - A bounded shutdown: on the stop signal the server stops accepting,
//!   lets requests in flight finish for a grace period, then closes every
//!   connection left (a stuck client cannot hold SIGTERM up).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

/// How the server treats connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long a client may take to send a request's headers (and how
    /// long a keep-alive connection may sit idle).
    pub header_read_timeout: Duration,
    /// Most connections held open at once.
    pub max_connections: usize,
    /// Most connections one client address holds at once (loopback
    /// excepted: a reverse proxy's all come from there).
    pub per_client: usize,
    /// How long requests in flight may finish after the stop signal.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            header_read_timeout: Duration::from_secs(20),
            max_connections: 1024,
            per_client: 128,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServeOptions {
    /// A connection cap that leaves room under the process's file limit
    /// (the database, the mail transport and the log need descriptors too).
    pub fn for_file_limit(limit: u64) -> ServeOptions {
        let room = limit.saturating_sub(64).max(16);
        ServeOptions {
            max_connections: usize::try_from(room).unwrap_or(usize::MAX).min(8192),
            ..ServeOptions::default()
        }
    }
}

/// One open connection: its client, whether a request is in flight on
/// it, and how to close it.
struct Conn {
    client: IpAddr,
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
    closed: Arc<AtomicBool>,
}

impl Conn {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.close.notify_one();
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Conn>>,
    next: AtomicU64,
}

impl Registry {
    /// Makes room for a new connection under `max`: closes the oldest one
    /// with nothing in flight. `false` when every connection is busy.
    fn make_room(&self, max: usize) -> bool {
        self.make_room_where(max, |_| true)
    }

    /// Makes room for one more connection of a client under `max` of its
    /// own (loopback is never limited).
    fn make_room_for(&self, client: IpAddr, max: usize) -> bool {
        client.is_loopback() || self.make_room_where(max, |c| c.client == client)
    }

    fn make_room_where(&self, max: usize, counts: impl Fn(&Conn) -> bool) -> bool {
        let Ok(mut conns) = self.conns.lock() else {
            return false;
        };
        while conns.values().filter(|c| counts(c)).count() >= max {
            let idle = conns
                .iter()
                .find(|(_, c)| counts(c) && c.busy.load(Ordering::SeqCst) == 0)
                .map(|(id, _)| *id);
            match idle.and_then(|id| conns.remove(&id)) {
                Some(c) => c.close(),
                None => return false,
            }
        }
        true
    }

    /// Closes every connection (the end of a shutdown).
    fn close_all(&self) {
        if let Ok(mut conns) = self.conns.lock() {
            for (_, c) in std::mem::take(&mut *conns) {
                c.close();
            }
        }
    }

    fn add(&self, client: IpAddr) -> (u64, Arc<AtomicUsize>, Arc<Notify>, Arc<AtomicBool>) {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let conn = Conn {
            client,
            busy: Arc::new(AtomicUsize::new(0)),
            close: Arc::new(Notify::new()),
            closed: Arc::new(AtomicBool::new(false)),
        };
        let handles = (
            id,
            conn.busy.clone(),
            conn.close.clone(),
            conn.closed.clone(),
        );
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, conn);
        }
        handles
    }

    fn remove(&self, id: u64) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&id);
        }
    }

    fn len(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Counts a request in flight on its connection while it lives: from the
/// request's head until its response's body is written.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn start(busy: &Arc<AtomicUsize>) -> InFlight {
        busy.fetch_add(1, Ordering::SeqCst);
        InFlight(busy.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted in flight until hyper
/// has written (or dropped) it: a slow download is not an idle connection.
struct Guarded {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves the router on a listener until `stop` resolves; then finishes
/// requests in flight for at most the grace period.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(64 * 1024);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or the peer gave up first: wait
                    // a moment (connections close meanwhile), go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        if !registry.make_room_for(peer.ip(), options.per_client)
            || !registry.make_room(options.max_connections)
        {
            tracing::warn!(
                open = registry.len(),
                client = %peer.ip(),
                "every connection is busy: refusing one"
            );
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (id, busy, close, closed) = registry.add(peer.ip());
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let in_flight = InFlight::start(&busy);
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = router.oneshot(req).await;
                response
                    .map(|r| {
                        r.map(|inner| {
                            Body::new(Guarded {
                                inner,
                                _in_flight: in_flight,
                            })
                        })
                    })
                    .map_err(|e: Infallible| match e {})
            }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(connection);
        let registry = registry.clone();
        tokio::spawn(async move {
            if !closed.load(Ordering::SeqCst) {
                tokio::select! {
                    _ = watched => {}
                    _ = close.notified() => {}
                }
            }
            registry.remove(id);
        });
    }
    drop(listener);
    tracing::info!(
        open = registry.len(),
        "stopped accepting; finishing requests in flight"
    );
    if tokio::time::timeout(options.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = registry.len(),
            "requests still in flight after the grace period: closing them"
        );
    }
    registry.close_all();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_made_by_closing_the_oldest_idle_connection() {
        let r = Registry::default();
        let here = IpAddr::from([127, 0, 0, 1]);
        let (_, busy0, _, closed0) = r.add(here);
        let (_, _busy1, _, closed1) = r.add(here);
        busy0.fetch_add(1, Ordering::SeqCst);
        // At the cap of two: the busy oldest stays, the idle one goes.
        assert!(r.make_room(2));
        assert!(!closed0.load(Ordering::SeqCst));
        assert!(closed1.load(Ordering::SeqCst));
        assert_eq!(r.len(), 1);
        // Every connection busy: no room.
        assert!(!r.make_room(1));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn one_client_cannot_hold_every_slot() {
        let r = Registry::default();
        let client = IpAddr::from([198, 51, 100, 7]);
        let other = IpAddr::from([198, 51, 100, 8]);
        let (_, _, _, first) = r.add(client);
        let (_, _, _, theirs) = r.add(other);
        // At its cap of one, the client's own idle connection makes room.
        assert!(r.make_room_for(client, 1));
        assert!(first.load(Ordering::SeqCst));
        assert!(!theirs.load(Ordering::SeqCst));
        // Loopback (a reverse proxy) is never limited.
        let proxy = IpAddr::from([127, 0, 0, 1]);
        r.add(proxy);
        assert!(r.make_room_for(proxy, 1));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn the_cap_leaves_room_under_the_file_limit() {
        assert_eq!(ServeOptions::for_file_limit(1024).max_connections, 960);
        assert_eq!(ServeOptions::for_file_limit(50).max_connections, 16);
        assert_eq!(ServeOptions::for_file_limit(1 << 20).max_connections, 8192);
    }
}
