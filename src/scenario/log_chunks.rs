//! `log_chunks_in_bucket`: after a flush and a graceful stop, the bucket
//! holds chunk objects under the tenant's prefix and the tsdb index files;
//! Loki restarted with its local directories deleted still returns every
//! line exactly.
//!
//! Loki ships its tsdb index only when a head rotates (15-minute wall-clock
//! boundaries) or on graceful shutdown, so the fast path is: push → `/flush`
//! → chunks appear → SIGTERM (`flush_on_shutdown`) → index uploaded.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::ScenarioReport;
use super::logs::loki_unavailable;
use super::logs::{read_streams, same_lines, version_text};
use crate::check::logseq::{account, group_by_key};
use crate::client::objstore::Objstore;
use crate::client::prom::sum_metric;
use crate::data::loggen::{GenLine, LogGen, new_run_id};
use crate::eventually::{Eventually, Probe};
use crate::platform::{LokiService, Platform};

/// The scenario id.
pub const ID: &str = "log_chunks_in_bucket";

/// Loki's tenant with auth off.
pub const TENANT: &str = "fake";

/// Check names, shared by the scenario and its negative twin.
pub mod checks {
    pub const CHUNKS: &str = "chunks reach the bucket under the tenant's prefix";
    pub const LAYOUT: &str =
        "chunk keys are <tenant>/<fingerprint>/<from>:<through>:<checksum> within the run";
    pub const INDEX: &str = "the tsdb index reaches the bucket on graceful shutdown";
    pub const FROM_BUCKET: &str =
        "after a restart with no local data, every line comes back exactly";
}

/// One chunk object's key, parsed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChunkKey {
    pub tenant: String,
    pub fingerprint: u64,
    pub from_ms: i64,
    pub through_ms: i64,
    pub checksum: u32,
}

/// Parses `<tenant>/<fingerprint hex>/<from hex>:<through hex>:<checksum
/// hex>` (schema v12+ object layout).
pub fn parse_chunk_key(key: &str) -> Option<ChunkKey> {
    let mut parts = key.split('/');
    let tenant = parts.next()?.to_owned();
    let fp = parts.next()?;
    let rest = parts.next()?;
    if parts.next().is_some() || tenant.is_empty() {
        return None;
    }
    let mut f = rest.split(':');
    let from = f.next()?;
    let through = f.next()?;
    let checksum = f.next()?;
    if f.next().is_some() {
        return None;
    }
    Some(ChunkKey {
        tenant,
        fingerprint: u64::from_str_radix(fp, 16).ok()?,
        from_ms: i64::from_str_radix(from, 16).ok()?,
        through_ms: i64::from_str_radix(through, 16).ok()?,
        checksum: u32::from_str_radix(checksum, 16).ok()?,
    })
}

/// The day number of an index file `index/index_<day>/<file>.tsdb.gz`.
pub fn parse_index_key(key: &str) -> Option<u64> {
    let rest = key.strip_prefix("index/index_")?;
    let (day, file) = rest.split_once('/')?;
    if !file.ends_with(".tsdb.gz") && !file.ends_with(".tsdb") {
        return None;
    }
    day.parse().ok()
}

/// The scenario on the platform's Loki.
pub async fn run(p: &mut dyn Platform) -> ScenarioReport {
    match p.loki().await {
        Ok(loki) => run_on(loki).await,
        Err(e) => loki_unavailable(ID, e),
    }
}

/// The scenario on a running Loki: push, flush, stop gracefully, wipe the
/// local data, restart, read everything back. Loki runs again afterwards.
pub async fn run_on(loki: &mut dyn LokiService) -> ScenarioReport {
    run_as(loki, ID).await
}

/// Negative twin: Loki restarted with a wrong secret key cannot flush; the
/// report must say so, with Loki's own error line. Loki gets its right key
/// back afterwards.
pub async fn twin_wrong_credentials(loki: &mut dyn LokiService) -> ScenarioReport {
    let id = "log_chunks_in_bucket/twin: wrong credentials";
    if let Err(e) = loki.set_wrong_credentials(true).await {
        let mut r = ScenarioReport::new(id);
        r.check(
            "Loki restarts with a wrong secret key",
            Instant::now(),
            Err(e.to_string()),
        );
        return r;
    }
    let mut report = run_as(loki, id).await;
    if let Err(e) = loki.set_wrong_credentials(false).await {
        report.check(
            "Loki restarts with its right key",
            Instant::now(),
            Err(e.to_string()),
        );
    }
    report
}

async fn run_as(loki: &mut dyn LokiService, id: &str) -> ScenarioReport {
    let mut report = ScenarioReport::new(id);
    let client = loki.client();
    if let Ok(v) = client.version().await {
        report.fact("loki version", version_text(v));
    }
    let store = Objstore::new(loki.bucket().clone());
    let before = match store.list("").await {
        Ok(v) => v.into_iter().map(|o| o.key).collect::<BTreeSet<_>>(),
        Err(e) => {
            report.check(
                checks::CHUNKS,
                Instant::now(),
                Err(format!("list the bucket: {e}")),
            );
            return report;
        }
    };
    let g = LogGen::recent(new_run_id(), 30, Duration::from_secs(1));
    report.fact("run id", g.run.clone());
    let lines = g.lines();
    let t = Instant::now();
    if let Err(e) = g.push(&client, 500).await {
        report.check(checks::CHUNKS, t, Err(format!("push: {e}")));
        return report;
    }
    report.fact("lines pushed", lines.len().to_string());
    let streams = g.keys().len();

    // Chunks: /flush, then wait for one new chunk per stream, watching
    // Loki's flush failures so a broken store is reported at once.
    let t = Instant::now();
    if let Err(e) = client.flush().await {
        report.check(checks::CHUNKS, t, Err(format!("POST /flush: {e}")));
        return report;
    }
    // Shared with the probe's futures, which outlive each call of the closure.
    let first_chunk: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);
    let waited = Eventually::new(
        format!(
            "{streams} new chunk objects under {TENANT}/ in bucket {}",
            loki.bucket().bucket
        ),
        Duration::from_secs(120),
    )
    .max_delay(Duration::from_millis(500))
    .until(|| {
        let store = store.clone();
        let client = client.clone();
        let before = &before;
        let first_chunk = &first_chunk;
        let fresh = async move {
            let keys = store
                .list(&format!("{TENANT}/"))
                .await
                .map_err(|e| e.to_string())?;
            let new: Vec<ChunkKey> = keys
                .iter()
                .filter(|o| !before.contains(&o.key))
                .filter_map(|o| parse_chunk_key(&o.key))
                .collect();
            let failures = match client.metrics().await {
                Ok(m) => {
                    sum_metric(&m, "loki_ingester_chunks_flush_failures_total", &[]).unwrap_or(0.0)
                }
                Err(_) => 0.0,
            };
            Ok::<_, String>((new, failures))
        };
        async move {
            match fresh.await {
                Ok((new, failures)) => {
                    if !new.is_empty() {
                        first_chunk.lock().unwrap().get_or_insert(t.elapsed());
                    }
                    let fps: BTreeSet<u64> = new.iter().map(|c| c.fingerprint).collect();
                    if fps.len() >= streams {
                        Probe::Ready(Ok(new))
                    } else if failures > 0.0 {
                        Probe::Ready(Err(failures))
                    } else {
                        Probe::NotYet(format!(
                            "{} new chunk(s) of {} stream(s), 0 flush failures",
                            new.len(),
                            fps.len()
                        ))
                    }
                }
                Err(e) => Probe::NotYet(e),
            }
        }
    })
    .await;
    let chunks = match waited {
        Ok(Ok(c)) => c,
        Ok(Err(failures)) => {
            // The counter moves before the error line reaches the log file:
            // wait (bounded) for Loki's own words.
            let loki_ref = &*loki;
            let said = Eventually::new("Loki to log its flush error", Duration::from_secs(15))
                .max_delay(Duration::from_millis(200))
                .until(|| async move {
                    match loki_ref
                        .log_lines_matching(&["failed to flush"], 1)
                        .await
                        .pop()
                    {
                        Some(l) => Probe::Ready(l),
                        None => {
                            Probe::NotYet("no \"failed to flush\" line in Loki's log yet".into())
                        }
                    }
                })
                .await;
            let said = match said {
                Ok(line) => line,
                Err(e) => format!("{e}; its last lines: {}", loki_ref.log_tail(3).await),
            };
            report.check(
                checks::CHUNKS,
                t,
                Err(format!(
                    "no chunk reached bucket {}: Loki's flush failed ({failures} × loki_ingester_chunks_flush_failures_total); Loki said: {said}",
                    loki.bucket().bucket
                )),
            );
            return report;
        }
        Err(e) => {
            let said = loki.log_lines_matching(&["level=error"], 1).await;
            let hint = said
                .first()
                .map(|l| format!("; Loki's last error: {l}"))
                .unwrap_or_default();
            report.check(checks::CHUNKS, t, Err(format!("{e}{hint}")));
            return report;
        }
    };
    if let Some(d) = *first_chunk.lock().unwrap() {
        report.fact(
            "time to the first chunk in the bucket",
            format!("{:.1}s", d.as_secs_f64()),
        );
    }
    report.fact(
        "time to a chunk for every stream",
        format!("{:.1}s", t.elapsed().as_secs_f64()),
    );
    report.fact("new chunk objects", chunks.len().to_string());
    report.check(checks::CHUNKS, t, Ok(()));
    report.check(checks::LAYOUT, t, chunks_cover(&chunks, &lines));

    // Index: only a graceful shutdown ships it before the 15-minute rotation.
    let t = Instant::now();
    match loki.stop(Duration::from_secs(120)).await {
        Ok(d) => report.fact("graceful shutdown took", format!("{:.1}s", d.as_secs_f64())),
        Err(e) => {
            report.check(checks::INDEX, t, Err(e.to_string()));
            return report;
        }
    }
    let days: BTreeSet<u64> = lines
        .iter()
        .map(|l| (l.ts_ns / 1_000_000 / 86_400_000) as u64)
        .collect();
    let index = match store.list("index/").await {
        Ok(v) => v
            .into_iter()
            .filter(|o| !before.contains(&o.key))
            .filter_map(|o| parse_index_key(&o.key).map(|d| (d, o.key)))
            .collect::<Vec<_>>(),
        Err(e) => {
            report.check(checks::INDEX, t, Err(format!("list index/: {e}")));
            return report;
        }
    };
    let covered: BTreeSet<u64> = index.iter().map(|(d, _)| *d).collect();
    let outcome = if days.is_subset(&covered) {
        report.fact("new tsdb index files", index.len().to_string());
        if let Some((_, k)) = index.first() {
            report.fact("an index file", k.clone());
        }
        Ok(())
    } else {
        Err(format!(
            "no new tsdb index file for day(s) {:?} under index/ after the graceful stop (new: {:?}); Loki's last lines: {}",
            days.difference(&covered).collect::<Vec<_>>(),
            index.iter().map(|(_, k)| k).collect::<Vec<_>>(),
            loki.log_tail(3).await
        ))
    };
    report.check(checks::INDEX, t, outcome);

    // From the bucket alone: local dirs deleted, then every line back.
    let t = Instant::now();
    if let Err(e) = loki.restart(true).await {
        report.check(
            checks::FROM_BUCKET,
            t,
            Err(format!("restart with no local data: {e}")),
        );
        return report;
    }
    report.fact(
        "restart (no local data) ready after",
        format!("{:.1}s", t.elapsed().as_secs_f64()),
    );
    let (start, end) = g.window_ns();
    let want = lines.len();
    let client = loki.client();
    let sel = g.selector();
    let read = Eventually::new(
        format!("Loki to return the {want} lines from the bucket"),
        Duration::from_secs(60),
    )
    .max_delay(Duration::from_secs(1))
    .until(|| {
        let client = client.clone();
        let sel = sel.clone();
        async move {
            match read_streams(&client, &sel, start, end).await {
                Ok((s, took)) if s.iter().map(|s| s.entries.len()).sum::<usize>() >= want => {
                    Probe::Ready((s, took))
                }
                Ok((s, _)) => Probe::NotYet(format!(
                    "{} lines",
                    s.iter().map(|s| s.entries.len()).sum::<usize>()
                )),
                Err(e) => Probe::NotYet(e),
            }
        }
    })
    .await;
    let got = match read {
        Ok((s, took)) => {
            report.fact(
                "query latency from the bucket",
                format!("{:.0} ms", took.as_secs_f64() * 1000.0),
            );
            s
        }
        Err(e) => match read_streams(&client, &sel, start, end).await {
            Ok((s, _)) => s,
            Err(e2) => {
                report.check(checks::FROM_BUCKET, t, Err(format!("{e}; then: {e2}")));
                return report;
            }
        },
    };
    let n: usize = got.iter().map(|s| s.entries.len()).sum();
    report.fact("lines read back from the bucket", n.to_string());
    let expected: Vec<&GenLine> = lines.iter().collect();
    let acc = account(&g.run, &g.expected_counts(), &group_by_key(&got));
    let outcome = match (acc.as_result(), same_lines(&expected, &got)) {
        (Ok(()), Ok(())) => Ok(()),
        (a, b) => Err([a.err(), b.err()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n")),
    };
    report.check(checks::FROM_BUCKET, t, outcome);
    report
}

/// Every chunk belongs to the tenant and overlaps the run's time span.
fn chunks_cover(chunks: &[ChunkKey], lines: &[GenLine]) -> Result<(), String> {
    let first = lines.iter().map(|l| l.ts_ns / 1_000_000).min().unwrap_or(0);
    let last = lines.iter().map(|l| l.ts_ns / 1_000_000).max().unwrap_or(0);
    let bad: Vec<String> = chunks
        .iter()
        .filter(|c| {
            c.tenant != TENANT
                || c.through_ms < first
                || c.from_ms > last
                || c.from_ms > c.through_ms
        })
        .map(|c| format!("{c:?}"))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} chunk(s) outside tenant {TENANT} or the run's span [{first}, {last}] ms: {}",
            bad.len(),
            bad.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_parse_as_loki_writes_them() {
        // The recorded filesystem layout names chunks by base64 of this key
        // part; on S3 the key is plain.
        let k = parse_chunk_key("fake/bdcd69a5653c3492/1a20efd8368:1a20efe1fa8:65c019ab").unwrap();
        assert_eq!(k.tenant, "fake");
        assert_eq!(k.fingerprint, 0xbdcd69a5653c3492);
        assert_eq!(k.from_ms, 1_795_547_825_000);
        assert_eq!(k.through_ms, 1_795_547_865_000);
        assert_eq!(k.checksum, 0x65c019ab);
        assert_eq!(parse_chunk_key("fake/xyz/1:2:3"), None);
        assert_eq!(parse_chunk_key("fake/ab/1:2"), None);
        assert_eq!(parse_chunk_key("loki_cluster_seed.json"), None);
        assert_eq!(parse_chunk_key("fake/ab/1:2:3/extra"), None);
    }

    #[test]
    fn index_keys_name_their_day() {
        assert_eq!(
            parse_index_key("index/index_20781/1795547861-vm-1795547861842522244.tsdb.gz"),
            Some(20781)
        );
        assert_eq!(1_795_547_825_000i64 / 86_400_000, 20781);
        assert_eq!(parse_index_key("index/index_20781/"), None);
        assert_eq!(parse_index_key("fake/ab/1:2:3"), None);
    }

    #[test]
    fn chunks_outside_the_run_are_named() {
        let g = LogGen::recent("rt", 5, Duration::from_secs(1));
        let lines = g.lines();
        let first = lines[0].ts_ns / 1_000_000;
        let ok = ChunkKey {
            tenant: TENANT.into(),
            fingerprint: 1,
            from_ms: first,
            through_ms: first + 4000,
            checksum: 0,
        };
        assert_eq!(chunks_cover(std::slice::from_ref(&ok), &lines), Ok(()));
        let old = ChunkKey {
            from_ms: 1000,
            through_ms: 2000,
            ..ok.clone()
        };
        let err = chunks_cover(&[ok, old], &lines).unwrap_err();
        assert!(err.starts_with("1 chunk(s) outside tenant fake"), "{err}");
    }
}
