//! The bare HTTP baseline for the load test: an axum endpoint that reads
//! the same claim JSON with medaid's own parser and answers a fixed body.
//! Whatever `medaid serve` does beyond this (registry, policy, engine,
//! durable commit) is what the ratio in `benches/load.sh` measures.
//!
//! `target/release/deps/echo-* --listen 127.0.0.1:0` prints the address.

use axum::{routing::post, Router};

const ANSWER: &str = r#"{"status":"settled"}"#;

async fn echo(body: String) -> (axum::http::StatusCode, &'static str) {
    match medaid::engine::claim::parse_json(&body) {
        Ok(_) => (axum::http::StatusCode::CREATED, ANSWER),
        Err(_) => (axum::http::StatusCode::UNPROCESSABLE_ENTITY, "{}"),
    }
}

#[tokio::main]
async fn main() {
    let mut listen = "127.0.0.1:0".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().expect("--listen ADDR"),
            // `cargo bench` runs every harness-less bench: nothing to serve
            "--bench" => return,
            _ => {}
        }
    }
    let app = Router::new().route("/echo", post(echo));
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    println!(
        "echo listening on http://{}",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app).await.expect("serve");
}
