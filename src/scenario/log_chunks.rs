//! `log_chunks_in_bucket`: chunks reach the bucket under the tenant's prefix
//! by Loki's own flush, within what the stack's flush settings promise (no
//! `/flush`: users rely on `chunk_idle_period`, not on a manual flush);
//! after a graceful stop the tsdb index is there too; Loki restarted with
//! its local directories deleted still returns every line exactly.
//!
//! Loki ships its tsdb index only when a head rotates (15-minute wall-clock
//! boundaries) or on graceful shutdown, so the path is: push → chunks idle
//! and flushed → SIGTERM (`flush_on_shutdown`) → index uploaded.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::logs::loki_unavailable;
use super::logs::{read_streams, same_lines, version_text};
use super::timing;
use super::{FactValue, ScenarioReport};
use crate::check::logseq::{account, group_by_key};
use crate::client::objstore::Objstore;
use crate::client::prom::sum_metric;
use crate::data::loggen::{GenLine, LogGen, new_run_id};
use crate::eventually::{Eventually, Probe};
use crate::platform::loki::LokiPlatformError;
use crate::platform::{LokiService, Platform};
use crate::stack::loki::FlushSettings;

/// The scenario id.
pub const ID: &str = "log_chunks_in_bucket";

pub use crate::check::chunks::{ChunkKey, TENANT, parse_chunk_key, parse_index_key};
use crate::check::chunks::{chunks_cover, flush_settings_in, index_covers};

/// Check names, shared by the scenario and its negative twin.
pub mod checks {
    pub const CHUNKS: &str = "chunks reach the bucket under the tenant's prefix by Loki's own flush, within its idle period";
    pub const LAYOUT: &str =
        "chunk keys are <tenant>/<fingerprint>/<from>:<through>:<checksum> within the run";
    pub const INDEX: &str = "the tsdb index reaches the bucket on graceful shutdown";
    pub const FROM_BUCKET: &str =
        "after a restart with no local data, every line comes back exactly";
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

/// Negative twin: Loki restarted with its own default flush settings (30 m
/// idle): its chunks stay in memory far past the stack's promise, and the
/// scenario's own check must say so, with the settings Loki runs with.
/// Loki gets the stack's settings back afterwards.
pub async fn twin_slow_flush(loki: &mut dyn LokiService) -> ScenarioReport {
    let id = "log_chunks_in_bucket/twin: slow flush";
    match loki.set_flush_settings(FlushSettings::LOKI_DEFAULTS).await {
        Err(LokiPlatformError::Unsupported(why)) => return ScenarioReport::skipped(id, &why),
        Err(e) => {
            let mut r = ScenarioReport::new(id);
            r.check(
                "Loki restarts with its default flush settings",
                Instant::now(),
                Err(e.to_string()),
            );
            return r;
        }
        Ok(()) => {}
    }
    let mut report = run_as(loki, id).await;
    if let Err(e) = loki.set_flush_settings(FlushSettings::STACK).await {
        report.check(
            "Loki restarts with the stack's flush settings",
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
    report.fact("lines pushed", lines.len());
    let streams = g.keys().len();

    // Chunks: no /flush. Wait, as long as the stack's flush settings
    // promise, for one new chunk per stream, watching Loki's flush failures
    // so a broken store is reported at once.
    let t = Instant::now();
    let promise = FlushSettings::STACK;
    let limit = timing::loki_flush_wait(&promise);
    // Shared with the probe's futures, which outlive each call of the closure.
    let first_chunk: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);
    let waited = Eventually::new(
        format!(
            "{streams} new chunk objects under {TENANT}/ in bucket {} by Loki's own flush",
            loki.bucket().bucket
        ),
        limit,
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
            // Its last error about flushing only: a start-up line ("empty
            // ring") would send a person the wrong way.
            let said = loki.log_lines_matching(&["level=error", "flush"], 1).await;
            let hint = said
                .first()
                .map(|l| format!("; Loki's last flush error: {l}"))
                .unwrap_or_default();
            let runs_with = match client.config().await {
                Ok(c) => flush_settings_in(&c),
                Err(e) => format!("its /config unreadable: {e}"),
            };
            report.check(
                checks::CHUNKS,
                t,
                Err(format!(
                    "Loki did not flush every stream's chunk to the bucket within {:.1}s of the \
                     push, which the stack's flush settings promise ({}: idle + one flush \
                     check + {:.0}s margin); Loki runs with {runs_with}: is its idle period \
                     longer than promised?\n{e}{hint}",
                    limit.as_secs_f64(),
                    promise.text(),
                    (limit - promise.idle - promise.check_period * 6 / 5).as_secs_f64(),
                )),
            );
            return report;
        }
    };
    if let Some(d) = *first_chunk.lock().unwrap() {
        report.fact(
            "time to the first chunk in the bucket",
            FactValue::seconds(d),
        );
    }
    report.fact(
        "time to a chunk for every stream",
        FactValue::seconds(t.elapsed()),
    );
    report.fact("new chunk objects", chunks.len());
    report.check(checks::CHUNKS, t, Ok(()));
    report.check(checks::LAYOUT, t, chunks_cover(&chunks, &lines));

    // Index: only a graceful shutdown ships it before the 15-minute rotation.
    let t = Instant::now();
    match loki.stop(Duration::from_secs(120)).await {
        Ok(d) => report.fact("graceful shutdown took", FactValue::seconds(d)),
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
    let outcome = match index_covers(&days, &index) {
        Ok(()) => {
            report.fact("new tsdb index files", index.len());
            if let Some((_, k)) = index.first() {
                report.fact("an index file", k.clone());
            }
            Ok(())
        }
        Err(e) => Err(format!(
            "{e}; Loki's last lines: {}",
            loki.log_tail(3).await
        )),
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
        FactValue::seconds(t.elapsed()),
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
            report.fact("query latency from the bucket", FactValue::millis(took));
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
    report.fact("lines read back from the bucket", n);
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
