use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// A server that answers one request with `status` and `body`; returns
/// its base URL and the request it saw.
async fn answer_once(
    status: &'static str,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            req.extend_from_slice(&buf[..n]);
        }
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(resp.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&req).into_owned()
    });
    (base, seen)
}

#[tokio::test]
async fn sends_its_headers_and_params_and_reads_a_2xx_body() {
    let (base, seen) = answer_once("200 OK", "hello").await;
    let api = HttpApi::new(format!("{base}/")).with_header("X-Scope-OrgID", "tenant-a");
    let body = api
        .get_text("/x", &[("query", "up{a=\"b\"}".into())])
        .await
        .unwrap();
    assert_eq!(body, "hello");
    let req = seen.await.unwrap();
    assert!(
        req.starts_with("GET /x?query=up%7Ba%3D%22b%22%7D HTTP/1.1"),
        "{req}"
    );
    assert!(
        req.to_ascii_lowercase().contains("x-scope-orgid: tenant-a"),
        "{req}"
    );
}

#[tokio::test]
async fn a_non_2xx_answer_names_method_url_status_and_body() {
    let (base, _) = answer_once("503 Service Unavailable", "not ready\n").await;
    let err = HttpApi::new(&base).post("/flush", None).await.unwrap_err();
    match &err {
        HttpError::Status { status, body, .. } => {
            assert_eq!(*status, 503);
            assert_eq!(body, "not ready");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("POST {base}/flush answered 503: not ready")
    );
}

#[tokio::test]
async fn an_unparseable_2xx_answer_is_a_parse_error() {
    let (base, _) = answer_once("200 OK", "not json").await;
    let err = HttpApi::new(&base)
        .get_json::<serde_json::Value>("/api", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Parse { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("GET {base}/api: cannot parse the answer: ")),
        "{err}"
    );
}

#[tokio::test]
async fn no_answer_is_a_request_error_with_the_whole_chain() {
    // A port nothing listens on: bound, then released.
    let port = crate::ports::free_port().unwrap();
    let api = HttpApi::new(format!("http://127.0.0.1:{port}"));
    let err = api.get_bytes("/debug/pprof/heap").await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("GET http://127.0.0.1:{port}/debug/pprof/heap: ")),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    assert!(api.status("/").await.is_err());
}
