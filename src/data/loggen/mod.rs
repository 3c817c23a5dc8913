//! A log generator that writes known, sequenced lines: several apps and
//! levels, logfmt and JSON lines, each carrying the run id and a sequence
//! number, at known timestamps. It keeps every line it pushes, so every
//! LogQL answer can be computed from it.
//!
//! Stream labels: `job="stackproof"`, `run="<id>"`, `app`, `level`. The run
//! id is a label too, so that runs sharing one Loki never see each other.
//! Line `k` of a stream is at `start + k × interval + stream offset`, where
//! `start` sits 250 ms after a whole second and offsets are 10 ms apart:
//! no line ever falls on a whole second, so a metric query stepping on
//! whole seconds never meets a line on a window's edge.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::check::logseq::{SeqRange, stream_key};
use crate::client::loki::{Entry, Labels, LokiClient, LokiError, PushStream};

/// How an app writes its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `level=info msg="order placed" seq=3 run=r1 duration_ms=21`
    Logfmt,
    /// `{"level":"info","msg":"charge","seq":3,"run":"r1","amount":30}`
    Json,
}

/// One app: its name, line format, message, and the numeric field its lines
/// carry (`duration_ms` for logfmt, `amount` for JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub name: String,
    pub format: Format,
    pub msg: String,
}

impl App {
    /// The numeric field of this app's lines.
    pub fn field(&self) -> &'static str {
        match self.format {
            Format::Logfmt => "duration_ms",
            Format::Json => "amount",
        }
    }
}

/// One line the generator pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenLine {
    pub app: String,
    pub level: String,
    /// `app=api level=info`, as [`crate::check::logseq`] names streams.
    pub key: String,
    pub seq: u64,
    pub ts_ns: i64,
    pub line: String,
    /// The value of the app's numeric field in this line.
    pub value: u64,
    /// True for the extra copy of a duplicated line.
    pub duplicate: bool,
}

/// Unix nanoseconds now.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64
}

/// A fresh run id: `r` and 8 lowercase alphanumerics.
pub fn new_run_id() -> String {
    use rand::Rng;
    let s: String = rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(8)
        .map(char::from)
        .collect();
    format!("r{}", s.to_lowercase())
}

/// The generator's settings and, once built, every line it pushes.
#[derive(Debug, Clone)]
pub struct LogGen {
    pub run: String,
    pub apps: Vec<App>,
    pub levels: Vec<String>,
    pub lines_per_stream: u64,
    pub interval: Duration,
    /// Timestamp of line 0 of the first stream.
    pub start_ns: i64,
    skip: Vec<(String, SeqRange)>,
    duplicate: Vec<(String, u64)>,
}

const STREAM_OFFSET_NS: i64 = 10_000_000;

impl LogGen {
    /// Three apps (`api` logfmt, `billing` JSON, `checkout` logfmt) × three
    /// levels, `lines_per_stream` lines each, one every `interval`, the last
    /// one at least 2 s before now (Loki accepts the recent past; the
    /// future only within 10 minutes).
    pub fn recent(run: impl Into<String>, lines_per_stream: u64, interval: Duration) -> Self {
        let span = interval.as_nanos() as i64 * lines_per_stream as i64;
        let start = now_ns() - span - 2_000_000_000;
        // 250 ms after a whole second: see the module doc.
        let start = start - start.rem_euclid(1_000_000_000) + 250_000_000;
        Self {
            run: run.into(),
            apps: vec![
                App {
                    name: "api".into(),
                    format: Format::Logfmt,
                    msg: "request served".into(),
                },
                App {
                    name: "billing".into(),
                    format: Format::Json,
                    msg: "charge".into(),
                },
                App {
                    name: "checkout".into(),
                    format: Format::Logfmt,
                    msg: "order placed".into(),
                },
            ],
            levels: vec!["info".into(), "warn".into(), "error".into()],
            lines_per_stream,
            interval,
            start_ns: start,
            skip: Vec::new(),
            duplicate: Vec::new(),
        }
    }

    /// Leaves out sequence numbers `first..=last` of the stream `key`
    /// (e.g. `app=api level=info`): a negative twin's loss.
    pub fn skip(mut self, key: &str, first: u64, last: u64) -> Self {
        self.skip.push((key.to_owned(), SeqRange { first, last }));
        self
    }

    /// Pushes line `seq` of stream `key` a second time, half an interval
    /// later (same content at the same timestamp would be dropped by Loki
    /// itself as a duplicate entry).
    pub fn duplicate(mut self, key: &str, seq: u64) -> Self {
        self.duplicate.push((key.to_owned(), seq));
        self
    }

    /// The stream labels of `app`, `level`.
    pub fn labels(&self, app: &str, level: &str) -> Labels {
        let mut l = Labels::new();
        l.insert("job".into(), "stackproof".into());
        l.insert("run".into(), self.run.clone());
        l.insert("app".into(), app.to_owned());
        l.insert("level".into(), level.to_owned());
        l
    }

    /// `{job="stackproof", run="<id>"}`: every stream of this run.
    pub fn selector(&self) -> String {
        format!("{{job=\"stackproof\", run=\"{}\"}}", self.run)
    }

    /// `{job="stackproof", run="<id>", <extra>}`.
    pub fn selector_with(&self, extra: &str) -> String {
        format!("{{job=\"stackproof\", run=\"{}\", {extra}}}", self.run)
    }

    /// Every stream key, in push order.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.apps {
            for l in &self.levels {
                out.push(stream_key(&self.labels(&a.name, l)));
            }
        }
        out
    }

    /// What a complete run holds: every stream, `lines_per_stream` lines.
    pub fn expected_counts(&self) -> BTreeMap<String, u64> {
        self.keys()
            .into_iter()
            .map(|k| (k, self.lines_per_stream))
            .collect()
    }

    fn value(app_index: usize, format: Format, seq: u64) -> u64 {
        match format {
            Format::Logfmt => (seq * 7 + app_index as u64 * 3) % 100,
            Format::Json => (seq * 10) % 250,
        }
    }

    fn render(&self, app: &App, level: &str, seq: u64, value: u64) -> String {
        match app.format {
            Format::Logfmt => format!(
                "level={level} msg=\"{}\" seq={seq} run={} duration_ms={value}",
                app.msg, self.run
            ),
            Format::Json => serde_json::json!({
                "level": level,
                "msg": app.msg,
                "seq": seq,
                "run": self.run,
                "amount": value,
            })
            .to_string(),
        }
    }

    /// Every line pushed, stream by stream, each stream in timestamp order.
    pub fn lines(&self) -> Vec<GenLine> {
        let step = self.interval.as_nanos() as i64;
        let mut out = Vec::new();
        let mut stream_index = 0i64;
        for (ai, app) in self.apps.iter().enumerate() {
            for level in &self.levels {
                let key = stream_key(&self.labels(&app.name, level));
                let base = self.start_ns + stream_index * STREAM_OFFSET_NS;
                stream_index += 1;
                for seq in 0..self.lines_per_stream {
                    let skipped = self
                        .skip
                        .iter()
                        .any(|(k, r)| *k == key && (r.first..=r.last).contains(&seq));
                    if skipped {
                        continue;
                    }
                    let value = Self::value(ai, app.format, seq);
                    let line = GenLine {
                        app: app.name.clone(),
                        level: level.clone(),
                        key: key.clone(),
                        seq,
                        ts_ns: base + seq as i64 * step,
                        line: self.render(app, level, seq, value),
                        value,
                        duplicate: false,
                    };
                    let dup = self.duplicate.iter().any(|(k, s)| *k == key && *s == seq);
                    out.push(line.clone());
                    if dup {
                        out.push(GenLine {
                            ts_ns: line.ts_ns + step / 2,
                            duplicate: true,
                            ..line
                        });
                    }
                }
            }
        }
        out
    }

    /// The push request: one stream per app × level.
    pub fn streams(&self) -> Vec<PushStream> {
        let mut by_stream: BTreeMap<(String, String), Vec<Entry>> = BTreeMap::new();
        for l in self.lines() {
            by_stream
                .entry((l.app.clone(), l.level.clone()))
                .or_default()
                .push(Entry {
                    ts_ns: l.ts_ns,
                    line: l.line,
                });
        }
        by_stream
            .into_iter()
            .map(|((app, level), entries)| PushStream {
                labels: self.labels(&app, &level),
                entries,
            })
            .collect()
    }

    /// `[first line, last line + 1 ns)`: the span a log query must cover
    /// (Loki's `end` is exclusive).
    pub fn window_ns(&self) -> (i64, i64) {
        let lines = self.lines();
        let first = lines.iter().map(|l| l.ts_ns).min().unwrap_or(self.start_ns);
        let last = lines.iter().map(|l| l.ts_ns).max().unwrap_or(self.start_ns);
        (first, last + 1)
    }

    /// The push requests: each holds every stream, at most `batch` lines
    /// in all, cut across time as a shipper would send them, so entries
    /// stay in order within each stream.
    pub fn batches(&self, batch: usize) -> Vec<Vec<PushStream>> {
        let streams = self.streams();
        let longest = streams.iter().map(|s| s.entries.len()).max().unwrap_or(0);
        let per_stream = (batch / streams.len().max(1)).max(1);
        let mut out = Vec::new();
        let mut from = 0;
        while from < longest {
            out.push(
                streams
                    .iter()
                    .filter(|s| s.entries.len() > from)
                    .map(|s| PushStream {
                        labels: s.labels.clone(),
                        entries: s.entries[from..(from + per_stream).min(s.entries.len())].to_vec(),
                    })
                    .collect(),
            );
            from += per_stream;
        }
        out
    }

    /// Pushes every line in requests of at most `batch` lines; returns how
    /// many lines were pushed.
    pub async fn push(&self, client: &LokiClient, batch: usize) -> Result<usize, LokiError> {
        let mut pushed = 0;
        for part in self.batches(batch) {
            client.push(&part).await?;
            pushed += part.iter().map(|s| s.entries.len()).sum::<usize>();
        }
        Ok(pushed)
    }
}

/// Lines with `ts` in `(from_ns, to_ns]`: the window of a LogQL range
/// aggregation evaluated at `to_ns` over `to_ns − from_ns`.
pub fn in_window(lines: &[GenLine], from_ns: i64, to_ns: i64) -> impl Iterator<Item = &GenLine> {
    lines
        .iter()
        .filter(move |l| l.ts_ns > from_ns && l.ts_ns <= to_ns)
}

#[cfg(test)]
mod tests;
