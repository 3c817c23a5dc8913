//! The synthetic exporter: series whose value is a known function of the
//! sample's timestamp, so the expected value of any stored sample can be
//! computed. Each sample carries an explicit timestamp, which makes the
//! stored `(t, v)` pair exactly `(t, f(t))` whatever the scrape delay.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// A series the exporter serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownSeries {
    /// `stackproof_counter_total`: seconds since the epoch, so its rate is 1.
    Counter,
    /// `stackproof_gauge`: a sawtooth rising 0 → 60 over each minute.
    Gauge,
}

impl KnownSeries {
    /// Every series the exporter serves.
    pub const ALL: [KnownSeries; 2] = [KnownSeries::Counter, KnownSeries::Gauge];

    /// The metric name.
    pub fn metric(self) -> &'static str {
        match self {
            KnownSeries::Counter => "stackproof_counter_total",
            KnownSeries::Gauge => "stackproof_gauge",
        }
    }

    /// The value every sample at `t_ms` must carry.
    pub fn value_at(self, t_ms: i64) -> f64 {
        match self {
            KnownSeries::Counter => t_ms as f64 / 1000.0,
            KnownSeries::Gauge => t_ms.rem_euclid(60_000) as f64 / 1000.0,
        }
    }

    /// Looks a series up by metric name.
    pub fn from_metric(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.metric() == name)
    }
}

/// Renders the exposition text for one scrape at `t_ms`.
pub fn render(t_ms: i64) -> String {
    let mut out = String::new();
    for s in KnownSeries::ALL {
        let kind = match s {
            KnownSeries::Counter => "counter",
            KnownSeries::Gauge => "gauge",
        };
        out.push_str(&format!(
            "# HELP {m} stackproof known series\n# TYPE {m} {kind}\n{m} {v} {t_ms}\n",
            m = s.metric(),
            v = fmt_value(s.value_at(t_ms)),
        ));
    }
    out
}

/// Formats a float so that parsing it back gives the same bits.
fn fmt_value(v: f64) -> String {
    // Rust's Display prints the shortest string that round-trips.
    format!("{v}")
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The running exporter; dropping it stops it.
#[derive(Debug)]
pub struct Exporter {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Exporter {
    /// Serves `/metrics` on 127.0.0.1 at a free port, on a thread of its own
    /// so it outlives whichever async runtime started it.
    pub fn start() -> std::io::Result<Self> {
        Self::start_serving(None)
    }

    /// Serves the fixed exposition `page` on `/metrics` instead of the
    /// known series (the upgrade diff's scraped probe).
    pub fn with_page(page: &str) -> std::io::Result<Self> {
        Self::start_serving(Some(std::sync::Arc::from(page)))
    }

    fn start_serving(page: Option<std::sync::Arc<str>>) -> std::io::Result<Self> {
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, mut stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("stackproof-exporter".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("exporter runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(std_listener).expect("exporter listener");
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let page = page.clone();
                                tokio::spawn(async move {
                                    let service = service_fn(move |req| serve(req, page.clone()));
                                    let _ = http1::Builder::new()
                                        .serve_connection(TokioIo::new(stream), service)
                                        .await;
                                });
                            }
                        }
                    }
                });
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `host:port` to scrape.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }
}

async fn serve(
    req: Request<hyper::body::Incoming>,
    page: Option<std::sync::Arc<str>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let resp = if req.uri().path() == "/metrics" {
        let body = page.map_or_else(|| render(now_ms()), |p| p.to_string());
        Response::builder()
            .header("content-type", "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from(body)))
    } else {
        Response::builder()
            .status(404)
            .body(Full::new(Bytes::from_static(b"not found\n")))
    };
    Ok(resp.expect("static response"))
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_known_functions() {
        assert_eq!(
            KnownSeries::Counter.value_at(1_700_000_000_123),
            1_700_000_000.123
        );
        assert_eq!(KnownSeries::Gauge.value_at(1_700_000_082_500), 42.5);
        assert_eq!(KnownSeries::Gauge.value_at(1_700_000_040_000), 0.0);
    }

    #[test]
    fn rendered_values_round_trip_exactly() {
        for t in [1_700_000_000_001_i64, 1_764_000_000_999, 1_764_000_059_999] {
            let text = render(t);
            for s in KnownSeries::ALL {
                let line = text
                    .lines()
                    .find(|l| l.starts_with(&format!("{} ", s.metric())))
                    .unwrap();
                let mut parts = line.split(' ').skip(1);
                let v: f64 = parts.next().unwrap().parse().unwrap();
                let ts: i64 = parts.next().unwrap().parse().unwrap();
                assert_eq!(ts, t);
                assert_eq!(v.to_bits(), s.value_at(t).to_bits());
            }
        }
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        let e = Exporter::start().unwrap();
        let body = crate::client::http::HttpApi::new(format!("http://{}", e.target()))
            .get_text("/metrics", &[])
            .await
            .unwrap();
        assert!(body.contains("stackproof_counter_total "), "{body}");
        assert!(body.contains("# TYPE stackproof_gauge gauge"), "{body}");
    }
}
