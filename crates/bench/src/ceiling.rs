//! The ceiling: the fastest answer an HTTP server can give on this machine.
//!
//! A bare hyper 1 server that answers every request with the same `302`, the same
//! `Location` and `Cache-Control` as a Capstone redirect, and does nothing else: no routing,
//! no cache lookup, no click recording. Whatever rate the load generator reaches against it
//! is the most any Rust HTTP server could reach here, so the links app is judged as a share
//! of it rather than against a number from some other machine.
//!
//! It runs as its own process (`capstone-bench ceiling --port N`, started by `links`), on a
//! default multi-threaded runtime like `capstone serve`, so that it and the load generator
//! never share a runtime; they share the machine's cores exactly as Capstone does.

use std::convert::Infallible;

use anyhow::Context;
use http_body_util::Empty;
use hyper::{Response, StatusCode, body::Bytes, header, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves on 127.0.0.1:`port` until the process is killed (SIGTERM's default action is
/// fine here: there is nothing to finish).
pub fn serve(port: u16) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        loop {
            let (stream, _) = listener.accept().await?;
            // Each answer is one small write; no reason to let Nagle delay it.
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                // A client that goes away mid-request is not our concern.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(redirect))
                    .await;
            });
        }
    })
}

async fn redirect<B>(_: hyper::Request<B>) -> Result<Response<Empty<Bytes>>, Infallible> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        header::HeaderValue::from_static("https://example.com/articles/1"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, max-age=0"),
    );
    Ok(response)
}
