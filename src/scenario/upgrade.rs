//! `upgrade`: Prometheus A → B, rolled replica by replica on each
//! replica's own data dir. The deduplicated view keeps no hole over the
//! whole roll and exact values; B opens A's TSDB (WAL and blocks) and
//! serves every sample A wrote. The rule and query diff of A and B is
//! [`crate::upgrade::diff`]'s.

use std::time::{Duration, Instant};

use super::ha_dedup::check_dedup_view;
use super::{FactValue, ScenarioReport};
use crate::check::dedup::{switch_over_bound, values_match};
use crate::check::gaps::{find_gaps, fmt_time};
use crate::client::prom::{PromClient, QueryOptions};
use crate::data::exporter::{KnownSeries, now_ms};
use crate::eventually::{Eventually, Probe};
use crate::platform::local::wait_replicas_in_query;
use crate::platform::{Platform, Roll};
use crate::upgrade::pair::{Pair, PairSpec, PromVersion, unreadable};

/// The scenario id.
pub const ID: &str = "upgrade";

/// Check names (the deduplicated view's are `ha_dedup`'s own checks).
pub mod checks {
    pub const B_READS_A: &str =
        "B opens A's TSDB (WAL and blocks) on each replica and serves every sample A wrote";
    pub const SUPPORTED: &str =
        "Prometheus supports B on A's TSDB (a 3.x TSDB is read by 2.55 or newer)";
    pub const DIFF_EXPLAINED: &str =
        "every difference between A's and B's answers is explained by a catalogued change";
    pub const CATALOGUE_SHOWN: &str =
        "every catalogued 2 → 3 change shows on this pair, named as its own explanation";
}

/// The blocks metric Prometheus exports about its own TSDB.
const BLOCKS_LOADED: &str = "prometheus_tsdb_blocks_loaded";

/// Runs the upgrade of the pair chosen on the command line (default:
/// Debian's 2.42 → the pinned 3.x).
pub async fn run(p: &mut dyn Platform) -> ScenarioReport {
    run_pair(p, &crate::upgrade::pair::chosen(), ID).await
}

/// How a run rolls and what it adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// Start B on an emptied data dir (the twin that loses A's data).
    pub b_fresh: bool,
    /// Run the rule and query diff after the roll.
    pub diff: bool,
}

impl Mode {
    /// The scenario: B on A's data, then the diff.
    pub const SCENARIO: Mode = Mode {
        b_fresh: false,
        diff: true,
    };
    /// A twin of the roll: no diff.
    const ROLL_ONLY: Mode = Mode {
        b_fresh: false,
        diff: false,
    };
}

/// Negative twin: the downgrade, the pinned 3.x → Debian's 2.42 on 3.x's
/// data. Must fail [`checks::SUPPORTED`] naming both versions and 2.55.
pub async fn twin_downgrade(p: &mut dyn Platform) -> ScenarioReport {
    let spec = PairSpec::new("prometheus", "prometheus_legacy");
    let id = "upgrade/twin: downgrade 3.x → 2.42";
    run_pair_as(p, &spec, id, Mode::ROLL_ONLY).await
}

/// Negative twin: each replica's B started on an emptied data dir (a new
/// volume, a wrong `--storage.tsdb.path`). Must fail [`checks::B_READS_A`]
/// naming the replica and what it lost.
pub async fn twin_lost_data_dir(p: &mut dyn Platform) -> ScenarioReport {
    let id = "upgrade/twin: B on an empty data dir";
    let mode = Mode {
        b_fresh: true,
        diff: false,
    };
    run_pair_as(p, &PairSpec::default(), id, mode).await
}

/// Negative twin of the diff: a user query list whose query differs
/// between A and B for no catalogued reason (each server's own scrape
/// duration). Must fail [`checks::DIFF_EXPLAINED`] naming the query. Only
/// the diff runs: it starts A and B beside the stack.
pub async fn twin_unexplained_difference() -> ScenarioReport {
    let id = "upgrade/twin: a difference no catalogued change explains";
    let mut spec = PairSpec::default();
    spec.query_lists
        .push(crate::upgrade::catalogue::fixtures_dir().join("twin-queries.txt"));
    let pair = match spec.resolve_default() {
        Ok(pair) => pair,
        Err(why) => return ScenarioReport::skipped(id, &why),
    };
    let mut report = ScenarioReport::new(id);
    super::upgrade_diff::diff(&pair, &spec, &mut report).await;
    report
}

/// Rolls `spec`'s pair on `p`; the report is named `id`.
pub async fn run_pair(p: &mut dyn Platform, spec: &PairSpec, id: &str) -> ScenarioReport {
    run_pair_as(p, spec, id, Mode::SCENARIO).await
}

/// [`run_pair`] as `mode` says.
pub async fn run_pair_as(
    p: &mut dyn Platform,
    spec: &PairSpec,
    id: &str,
    mode: Mode,
) -> ScenarioReport {
    let pair = match spec.resolve_default() {
        Ok(pair) => pair,
        Err(why) => return ScenarioReport::skipped(id, &why),
    };
    let mut report = ScenarioReport::new(id);
    report.fact("A (before)", pair.a.to_string());
    report.fact("B (after)", pair.b.to_string());
    if let Err(e) = roll(p, &pair, mode.b_fresh, &mut report).await {
        report.check("scenario ran to the end", Instant::now(), Err(e));
    }
    let t = Instant::now();
    match (pair.a.version, pair.b.version) {
        (Some(a), Some(b)) => report.check(checks::SUPPORTED, t, supported(a, b)),
        _ => report.check(
            checks::SUPPORTED,
            t,
            Err(format!(
                "the version of {} or {} is unknown",
                pair.a, pair.b
            )),
        ),
    }
    if mode.diff {
        super::upgrade_diff::diff(&pair, spec, &mut report).await;
    }
    report
}

/// What one replica's roll to B did.
struct Rolled {
    /// When A was stopped.
    stopped_at: i64,
    /// Blocks A had loaded just before.
    blocks_before: f64,
    /// B's start, or why B did not start.
    outcome: Result<Duration, String>,
}

/// Whether Prometheus supports `b` on a TSDB `a` wrote, in words a person
/// acts on where it does not.
pub fn supported(a: PromVersion, b: PromVersion) -> Result<(), String> {
    match unreadable(a, b) {
        None => Ok(()),
        Some(why) => Err(format!(
            "{why}. This run's data may still open (Prometheus 3.x writes index format v2 so \
             far): the check \"{}\" says what B served",
            checks::B_READS_A
        )),
    }
}

async fn roll(
    p: &mut dyn Platform,
    pair: &Pair,
    b_fresh: bool,
    report: &mut ScenarioReport,
) -> Result<(), String> {
    let shape = p.shape().clone();
    let query = p.endpoints().query.clone();
    let label = shape.replica_label.clone();
    let all = shape.replica_ids();
    // Every replica on A, from empty data dirs: the stack as A runs it.
    for i in 0..shape.replicas {
        let to_a = Roll {
            binary: pair.a.binary.clone(),
            fresh_data: true,
        };
        p.roll_replica(i, &to_a)
            .await
            .map_err(|e| format!("start replica {i} on {}: {e}", pair.a))?;
    }
    let start = now_ms();
    // A cuts at least one block on each replica: B must open blocks and WAL.
    for url in p.endpoints().prometheus.clone() {
        wait_blocks(&url, super::timing::block_wait(&shape)).await?;
    }
    wait_replicas_in_query(&query, &label, &all, now_ms())
        .await
        .map_err(|e| format!("before the roll: {e}"))?;

    let roll_start = Instant::now();
    let mut rolled = Vec::new();
    for i in 0..shape.replicas {
        let url = p.endpoints().prometheus[i].clone();
        let blocks_before = blocks_loaded(&url).await.unwrap_or(0.0);
        let stopped_at = now_ms();
        eprintln!("upgrade: rolling replica {i} to {}", pair.b);
        let to_b = Roll {
            binary: pair.b.binary.clone(),
            fresh_data: b_fresh,
        };
        let outcome = p.roll_replica(i, &to_b).await.map_err(|e| e.to_string());
        match &outcome {
            Ok(ready) => report.fact(
                &format!("replica {i} restart on B (TSDB opened, WAL replayed)"),
                FactValue::seconds(*ready),
            ),
            Err(_) => report.fact(&format!("replica {i} restart on B"), "failed"),
        }
        let failed = outcome.is_err();
        rolled.push(Rolled {
            stopped_at,
            blocks_before,
            outcome,
        });
        if failed {
            // The replica is down: rolling the next would take the stack down.
            break;
        }
    }
    let end = now_ms();
    report.fact("whole roll", FactValue::seconds(roll_start.elapsed()));
    report.fact(
        "window",
        FactValue::Period {
            from_ms: start,
            to_ms: end,
        },
    );
    if rolled.iter().all(|r| r.outcome.is_ok()) {
        check_dedup_view(report, &query, &label, shape.scrape_interval, start, end).await;
    }
    let t = Instant::now();
    let mut reads = Ok(());
    for (i, r) in rolled.iter().enumerate() {
        let url = &p.endpoints().prometheus[i];
        let one = b_reads_a(pair, i, url, r, start, shape.scrape_interval).await;
        reads = reads.and(one);
    }
    report.check(checks::B_READS_A, t, reads);
    Ok(())
}

/// Replica `i`'s own Prometheus, now B, against what A wrote there from
/// `start` until it was stopped.
async fn b_reads_a(
    pair: &Pair,
    i: usize,
    url: &str,
    r: &Rolled,
    start: i64,
    scrape_interval: Duration,
) -> Result<(), String> {
    let who = format!("replica {i}: {} on {}'s data", pair.b, pair.a);
    serves_a(&who, url, r, start, scrape_interval).await
}

async fn serves_a(
    who: &str,
    url: &str,
    r: &Rolled,
    start: i64,
    scrape_interval: Duration,
) -> Result<(), String> {
    if let Err(e) = &r.outcome {
        return Err(format!("{who}: did not start\n{e}"));
    }
    let client = PromClient::new(url);
    let blocks = blocks_loaded(url).await.unwrap_or(0.0);
    if blocks < r.blocks_before {
        return Err(format!(
            "{who}: {blocks} blocks loaded where A had {} ({BLOCKS_LOADED})",
            r.blocks_before
        ));
    }
    let bound = switch_over_bound(scrape_interval).as_millis() as i64;
    for known in KnownSeries::ALL {
        let result = client
            .raw_samples(
                known.metric(),
                start,
                r.stopped_at,
                &QueryOptions::default(),
            )
            .await
            .map_err(|e| format!("{who}: query {}: {e}", known.metric()))?;
        let [series] = result.series.as_slice() else {
            return Err(format!(
                "{who}: {} series of {} where 1 expected over A's time range {} → {}",
                result.series.len(),
                known.metric(),
                fmt_time(start),
                fmt_time(r.stopped_at)
            ));
        };
        let ts: Vec<i64> = series.samples.iter().map(|(t, _)| *t).collect();
        let gaps = find_gaps(&ts, bound, Some((start, r.stopped_at)));
        if !gaps.is_empty() {
            let list: Vec<String> = gaps.iter().map(ToString::to_string).collect();
            return Err(format!(
                "{who}: {} lost part of A's time range: {}",
                known.metric(),
                list.join("; ")
            ));
        }
        values_match(series, known).map_err(|e| format!("{who}: {e}"))?;
    }
    Ok(())
}

async fn blocks_loaded(url: &str) -> Option<f64> {
    PromClient::new(url)
        .own_metric(BLOCKS_LOADED, &[])
        .await
        .ok()
        .flatten()
}

/// Waits until the Prometheus at `url` has loaded at least one block.
async fn wait_blocks(url: &str, timeout: Duration) -> Result<(), String> {
    Eventually::new(format!("{url} to cut its first block"), timeout)
        .until(|| async move {
            match blocks_loaded(url).await {
                Some(n) if n >= 1.0 => Probe::Ready(()),
                other => Probe::NotYet(format!("{BLOCKS_LOADED} = {other:?}")),
            }
        })
        .await
        .map_err(|e| e.to_string())
}
