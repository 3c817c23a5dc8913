//! Known long-range data for the compactor: eleven days of one sample a
//! minute from two replicas, written as OpenMetrics, turned into TSDB blocks
//! by `promtool tsdb create-blocks-from openmetrics` and uploaded to the
//! bucket with Thanos labels, as a sidecar would have.
//!
//! Why eleven days: Thanos downsamples a raw block to 5m once it spans
//! ≥ 40 h and a 5m block to 1h once it spans ≥ 10 d
//! (`pkg/compact/downsample`: `ResLevel1DownsampleRange`,
//! `ResLevel2DownsampleRange`); eleven days is the smallest whole number of
//! days over the second bound.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::check::blocks::{BlockMeta, is_ulid};
use crate::client::objstore::{Objstore, ObjstoreError};

/// Every backfilled block's `cluster` label starts with this, so scenarios
/// that look at the sidecars' own uploads can tell the two apart.
pub const CLUSTER_PREFIX: &str = "stackproof-backfill-";
/// The gauge: the sample's minute of the hour, 0…59.
pub const GAUGE: &str = "stackproof_backfill_gauge";
/// The counter: one per minute since the start, reset once on day 3.
pub const COUNTER: &str = "stackproof_backfill_events_total";
/// One sample a minute.
pub const STEP_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// `promtool` rounds `--max-block-duration` down to a Prometheus range
/// (2 h × 3ⁿ) and aligns blocks to multiples of it from the epoch: 486 h is
/// the first such range over eleven days, so the whole backfill lands in one
/// block per replica when it starts and ends inside one 486 h window.
const BLOCK_RANGE_MS: i64 = 486 * 3_600_000;
/// The `thanos.source` the harness writes into a backfilled block's meta.
pub const SOURCE: &str = "stackproof-backfill";

/// True for a block this module uploaded (or one compacted from those).
pub fn is_backfilled(meta: &BlockMeta) -> bool {
    meta.label("cluster")
        .is_some_and(|c| c.starts_with(CLUSTER_PREFIX))
}

/// The plan of a backfill: where it starts, how long, and when each replica
/// was down.
#[derive(Debug, Clone, PartialEq)]
pub struct Backfill {
    /// First sample of replica 0, at midnight UTC.
    pub start_ms: i64,
    /// Whole days of samples.
    pub days: i64,
    /// How many replicas to write.
    pub replicas: usize,
    /// Replica `i` samples `i × offset_ms` after replica 0, as two
    /// Prometheus servers never scrape at the same instant.
    pub offset_ms: i64,
    /// `(replica, from, to)` relative to `start_ms`: that replica has no
    /// sample in `[from, to)`, so only deduplication keeps the minute.
    pub outages: Vec<(usize, i64, i64)>,
    /// Minute index at which the counter starts again from 0.
    pub reset_minute: i64,
}

impl Backfill {
    /// The plan used by the `compactor` scenario: eleven days ending at
    /// least ~4 weeks before `now_ms`, replica 1 scraping 20 s after
    /// replica 0, replica 0 down 3 h on day 2 and replica 1 down 3 h on
    /// day 5, the counter reset at noon on day 3.
    pub fn standard(now_ms: i64) -> Self {
        let window = (now_ms - 40 * DAY_MS).div_euclid(BLOCK_RANGE_MS) * BLOCK_RANGE_MS;
        let start_ms = (window + DAY_MS - 1).div_euclid(DAY_MS) * DAY_MS;
        let h = 3_600_000;
        Self {
            start_ms,
            days: 11,
            replicas: 2,
            offset_ms: 20_000,
            outages: vec![
                (0, DAY_MS + 6 * h, DAY_MS + 9 * h),
                (1, 4 * DAY_MS + 12 * h, 4 * DAY_MS + 15 * h),
            ],
            reset_minute: 2 * 1440 + 720,
        }
    }

    /// Minutes of samples.
    pub fn minutes(&self) -> i64 {
        self.days * 1440
    }

    /// End of the backfilled range (exclusive), one step after the last
    /// minute of the last day.
    pub fn end_ms(&self) -> i64 {
        self.start_ms + self.days * DAY_MS
    }

    /// The end of each whole day (midnight UTC after it).
    pub fn day_ends(&self) -> Vec<i64> {
        (1..=self.days)
            .map(|d| self.start_ms + d * DAY_MS)
            .collect()
    }

    /// When replica `r` took its sample of minute `k`, or None when it was
    /// down then.
    pub fn sample_time(&self, r: usize, k: i64) -> Option<i64> {
        let rel = k * STEP_MS;
        let down = self
            .outages
            .iter()
            .any(|&(o, from, to)| o == r && (from..to).contains(&rel));
        (!down).then_some(self.start_ms + rel + r as i64 * self.offset_ms)
    }

    fn minute_of(&self, t_ms: i64) -> i64 {
        (t_ms - self.start_ms).div_euclid(STEP_MS)
    }

    /// The gauge's value for a sample taken at `t_ms`.
    pub fn gauge_at(&self, t_ms: i64) -> f64 {
        self.minute_of(t_ms).rem_euclid(60) as f64
    }

    /// The counter's value for a sample taken at `t_ms`.
    pub fn counter_at(&self, t_ms: i64) -> f64 {
        let k = self.minute_of(t_ms);
        (if k < self.reset_minute {
            k
        } else {
            k - self.reset_minute
        }) as f64
    }

    /// How much the counter really grew over the minutes `[from_ms, to_ms)`
    /// (one per minute, none at the reset, where it restarts from 0): what
    /// `increase()` over that range should estimate.
    pub fn true_increase(&self, from_ms: i64, to_ms: i64) -> f64 {
        let first = self.minute_of(from_ms).max(1);
        let last = self.minute_of(to_ms - 1).min(self.minutes() - 1);
        (first..=last).filter(|&k| k != self.reset_minute).count() as f64
    }

    /// Replica `r`'s samples as an OpenMetrics text, ready for
    /// `promtool tsdb create-blocks-from openmetrics`.
    pub fn openmetrics(&self, r: usize) -> String {
        let times: Vec<i64> = (0..self.minutes())
            .filter_map(|k| self.sample_time(r, k))
            .collect();
        let mut out = String::with_capacity(times.len() * 2 * 48);
        let family = COUNTER.trim_end_matches("_total");
        out.push_str(&format!("# TYPE {GAUGE} gauge\n"));
        for &t in &times {
            out.push_str(&format!("{GAUGE} {} {}\n", self.gauge_at(t), fmt_secs(t)));
        }
        out.push_str(&format!("# TYPE {family} counter\n"));
        for &t in &times {
            out.push_str(&format!(
                "{COUNTER} {} {}\n",
                self.counter_at(t),
                fmt_secs(t)
            ));
        }
        out.push_str("# EOF\n");
        out
    }
}

/// OpenMetrics timestamps are seconds.
fn fmt_secs(t_ms: i64) -> String {
    format!("{}.{:03}", t_ms.div_euclid(1000), t_ms.rem_euclid(1000))
}

/// Errors making or uploading backfilled blocks.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("promtool tsdb create-blocks-from openmetrics failed ({status}):\n{output}")]
    Promtool { status: String, output: String },
    #[error("promtool made {0} blocks where 1 was expected in {1}")]
    BlockCount(usize, PathBuf),
    #[error("{0}")]
    Meta(String),
    #[error(transparent)]
    Objstore(#[from] ObjstoreError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackfillError {
    let context = context.into();
    move |source| BackfillError::Io { context, source }
}

/// Writes `openmetrics` to `dir/input.om`, runs promtool on it and returns
/// the one block directory it made (a fresh ULID every time).
pub fn create_block(
    promtool: &Path,
    dir: &Path,
    openmetrics: &str,
) -> Result<PathBuf, BackfillError> {
    let input = dir.join("input.om");
    let out = dir.join("blocks");
    std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
    std::fs::write(&input, openmetrics).map_err(io(format!("write {}", input.display())))?;
    let result = std::process::Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(format!(
            "--max-block-duration={}h",
            BLOCK_RANGE_MS / 3_600_000
        ))
        .arg(&input)
        .arg(&out)
        .output()
        .map_err(io(format!("run {}", promtool.display())))?;
    if !result.status.success() {
        let mut output = String::from_utf8_lossy(&result.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&result.stderr));
        return Err(BackfillError::Promtool {
            status: result.status.to_string(),
            output,
        });
    }
    let blocks: Vec<PathBuf> = std::fs::read_dir(&out)
        .map_err(io(format!("read {}", out.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(is_ulid))
        .collect();
    match <[PathBuf; 1]>::try_from(blocks) {
        Ok([one]) => Ok(one),
        Err(v) => Err(BackfillError::BlockCount(v.len(), out)),
    }
}

/// A ULID for `now_ms` and 80 bits of `random` (Crockford base32, 26
/// characters).
pub fn ulid(now_ms: u64, random: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let v = (u128::from(now_ms) << 80) | (random & ((1u128 << 80) - 1));
    (0..26)
        .rev()
        .map(|i| ALPHABET[((v >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// `meta.json` renamed to `ulid` (its own source) with a Thanos section
/// added: external `labels`, raw resolution, `source`.
pub fn with_thanos_labels(
    meta: &[u8],
    ulid: &str,
    labels: &[(String, String)],
) -> Result<Vec<u8>, BackfillError> {
    let mut v: serde_json::Value = serde_json::from_slice(meta)
        .map_err(|e| BackfillError::Meta(format!("promtool's meta.json does not parse: {e}")))?;
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let obj = v
        .as_object_mut()
        .ok_or_else(|| BackfillError::Meta("promtool's meta.json is not an object".into()))?;
    obj.insert("ulid".into(), serde_json::json!(ulid));
    obj.insert(
        "compaction".into(),
        serde_json::json!({"level": 1, "sources": [ulid]}),
    );
    obj.insert(
        "thanos".into(),
        serde_json::json!({
            "labels": labels,
            "downsample": {"resolution": 0},
            "source": SOURCE,
        }),
    );
    serde_json::to_vec_pretty(&v).map_err(|e| BackfillError::Meta(e.to_string()))
}

/// Uploads block directory `block` to `<ULID>/…` with Thanos `labels`;
/// `meta.json` goes last, as Thanos' shipper does, so a reader never takes
/// a half-uploaded block for a whole one. Returns the ULID.
///
/// The block gets a ULID of now: promtool dates its ULIDs at the data's
/// start (weeks ago here), and a compactor sharing the bucket deletes a
/// block without `meta.json` whose ULID is over two days old as an aborted
/// upload, which ours would look like for the moment it takes.
pub async fn upload_block(
    store: &Objstore,
    block: &Path,
    labels: &[(String, String)],
) -> Result<String, BackfillError> {
    let ulid = ulid(crate::data::exporter::now_ms() as u64, rand::random());
    let mut files = Vec::new();
    collect_files(block, &mut files)?;
    files.sort();
    for f in &files {
        let rel = f
            .strip_prefix(block)
            .unwrap_or(f)
            .to_string_lossy()
            .into_owned();
        if rel == "meta.json" || rel == "tombstones" {
            continue;
        }
        let bytes = std::fs::read(f).map_err(io(format!("read {}", f.display())))?;
        store.put(&format!("{ulid}/{rel}"), bytes).await?;
    }
    let meta_path = block.join("meta.json");
    let meta = std::fs::read(&meta_path).map_err(io(format!("read {}", meta_path.display())))?;
    store
        .put(
            &format!("{ulid}/meta.json"),
            with_thanos_labels(&meta, &ulid, labels)?,
        )
        .await?;
    Ok(ulid)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BackfillError> {
    for e in std::fs::read_dir(dir).map_err(io(format!("read {}", dir.display())))? {
        let p = e.map_err(io(format!("read {}", dir.display())))?.path();
        if p.is_dir() {
            collect_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// How far `increase()` may stray from [`Backfill::true_increase`]: it
/// extrapolates from the first and last samples in its range, so a hole of
/// up to `hole` at either end moves it by up to that many steps.
pub fn increase_tolerance(hole: Duration) -> f64 {
    (hole.as_millis() as i64 / STEP_MS).max(1) as f64
}

#[cfg(test)]
mod tests;
