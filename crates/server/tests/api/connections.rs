//! Hostile clients at the TCP level: thousands of idle and half-sent connections,
//! more connections than allowed, and a half-sent request at shutdown. These are
//! about the edge, not the database, so they run on SQLite only.

use std::time::Duration;

use api::proto::HealthCheckRequest;
use api::proto::payment_service_client::PaymentServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Db, spawn_app_with};

const IDLE_CONNECTIONS: usize = 1500;
const SLOWLORIS_CONNECTIONS: usize = 500;

async fn open(addr: std::net::SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        streams.push(TcpStream::connect(addr).await.expect("connect"));
    }
    streams
}

/// Reads until the server closes the connection (EOF or reset); panics after `within`.
async fn closed_by_server(mut stream: TcpStream, within: Duration) {
    let mut buffer = [0_u8; 512];
    tokio::time::timeout(within, async {
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .expect("the server closes the connection");
}

/// The server's read and idle timeouts in the test below: no hostile connection is
/// closed before `READ_TIMEOUT`, so a client answered sooner was served beside them.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(12);

/// A new client's HealthCheck over a fresh connection, answered before the server
/// could have closed any of the hostile connections opened before it (the margin is
/// for a loaded machine).
async fn health_check_while_they_are_open(addr: std::net::SocketAddr) {
    tokio::time::timeout(READ_TIMEOUT - Duration::from_secs(2), async {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{addr}")).expect("uri").connect().await.expect("connects");
        PaymentServiceClient::new(channel).health_check(HealthCheckRequest {}).await.expect("health check answers")
    })
    .await
    .expect("HealthCheck answered while the hostile connections were open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slowloris_connections_are_closed_while_new_clients_are_served() {
    let (read_timeout, idle_timeout) = (format!("{}s", READ_TIMEOUT.as_secs()), format!("{}s", IDLE_TIMEOUT.as_secs()));
    let app = spawn_app_with(Db::Sqlite, &[("SERVER_READ_TIMEOUT", &read_timeout), ("SERVER_IDLE_TIMEOUT", &idle_timeout)]).await;
    let idle = open(app.addr, IDLE_CONNECTIONS).await;
    let mut slow = open(app.addr, SLOWLORIS_CONNECTIONS).await;
    for stream in &mut slow {
        stream.write_all(b"POST /payment/mock/complete HTTP/1.1\r\nHost: shop\r\n").await.expect("half a request");
    }
    // Slowloris: one more header line every half second, never the blank line.
    let dribble = tokio::spawn(async move {
        let mut open_streams = slow;
        let mut ticker = tokio::time::interval(Duration::from_millis(500));
        while !open_streams.is_empty() {
            ticker.tick().await;
            let mut still_open = Vec::new();
            for mut stream in open_streams {
                if stream.write_all(b"X-Slow: 1\r\n").await.is_ok() {
                    still_open.push(stream);
                } else {
                    // The server gave up on it: drain to EOF to prove it is closed.
                    closed_by_server(stream, Duration::from_secs(30)).await;
                }
            }
            open_streams = still_open;
        }
    });

    health_check_while_they_are_open(app.addr).await;

    let deadline = Duration::from_secs(60);
    let closing: Vec<_> = idle.into_iter().map(|stream| tokio::spawn(closed_by_server(stream, deadline))).collect();
    for closed in closing {
        closed.await.expect("idle connection closed");
    }
    tokio::time::timeout(deadline, dribble).await.expect("slowloris connections closed").expect("dribble task");

    // The test's own channel reconnects after its idle connection was closed.
    let health = app.payments().health_check(HealthCheckRequest {}).await.expect("the service still answers");
    assert_eq!(health.into_inner().status, "SERVING");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_limit_a_new_client_waits_for_a_slot() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[("SERVER_MAX_CONNECTIONS", "5"), ("SERVER_READ_TIMEOUT", "2s"), ("SERVER_IDLE_TIMEOUT", "60s")],
    )
    .await;
    // With the test's own channel these fill every slot; the last ones wait in
    // the kernel's backlog until a slot frees.
    let idle = open(app.addr, 5).await;
    let response = app.http.get(app.url("/payment/mock?session_id=cs_none")).send().await.expect("served eventually");
    assert_eq!(response.status().as_u16(), 404);
    // A slot freed only because the server closed a connection that never sent a
    // request: without the limit the page would have answered before any closed.
    let mut closed = 0;
    for stream in &idle {
        let mut buffer = [0_u8; 1];
        if matches!(stream.try_read(&mut buffer), Ok(0)) {
            closed += 1;
        }
    }
    assert!(closed >= 1, "the new client was served before any slot freed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_does_not_hold_up_shutdown() {
    let app = spawn_app_with(Db::Sqlite, &[("SERVER_READ_TIMEOUT", "60s"), ("SERVER_SHUTDOWN_TIMEOUT", "60s")]).await;
    let mut half = TcpStream::connect(app.addr).await.expect("connect");
    half.write_all(b"POST /payment/mock/complete HTTP/1.1\r\nHost: shop\r\n").await.expect("half a request");
    health_check_while_they_are_open(app.addr).await;
    tokio::time::timeout(Duration::from_secs(15), app.stop())
        .await
        .expect("shutdown does not wait for a request that never finishes");
    closed_by_server(half, Duration::from_secs(5)).await;
}
