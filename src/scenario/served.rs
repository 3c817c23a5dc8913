//! Reading what a query serves for the uploaded blocks, for the "served
//! exactly" checks of `blocks_in_bucket` and `history_from_bucket` and for
//! their twins, which go through the same function with a query that lacks
//! what the check relies on.

use std::time::Duration;

use super::blocks_in_bucket::Block;
use crate::check::served::{Samples, compare_samples};
use crate::client::prom::{PromClient, QueryOptions};
use crate::data::exporter::KnownSeries;
use crate::eventually::{Eventually, Seen, WaitError};
use crate::platform::{ExtraQuery, Platform, Stores};

/// How long a query may take to serve every block series: a store gateway
/// loads a new block on its next sync (3 s locally, and listing a loaded
/// bucket), a sidecar answers at once. The twins wait it out in full.
const SERVE_WAIT: Duration = Duration::from_secs(60);

/// Reads every block's samples through a Thanos Query over `served_by`
/// (the store gateway alone, for the checks) and compares them with
/// `expected` (or, when None, with what the sidecars serve from Prometheus
/// now): [`compare_samples`] judges.
pub async fn served_like_prometheus(
    p: &mut dyn Platform,
    blocks: &[Block],
    expected: Option<&Samples>,
    served_by: Stores,
) -> Result<(), String> {
    let label = p.shape().replica_label.clone();
    let owned;
    let expected = match expected {
        Some(e) => e,
        None => {
            let url = p
                .start_extra_query(ExtraQuery {
                    replica_labels: vec![label.clone()],
                    stores: Stores::SidecarsOnly,
                })
                .await
                .map_err(|e| format!("start a Thanos Query over the sidecars alone: {e}"))?;
            let (samples, waited) = samples_by_block(&url, blocks, &label).await;
            if let Some(e) = waited {
                return Err(format!("from Prometheus: {e}"));
            }
            owned = samples;
            &owned
        }
    };
    let url = p
        .start_extra_query(ExtraQuery {
            replica_labels: vec![label.clone()],
            stores: served_by,
        })
        .await
        .map_err(|e| format!("start a Thanos Query over {}: {e}", stores_text(served_by)))?;
    let (served, waited) = samples_by_block(&url, blocks, &label).await;
    compare_samples(expected, &served).map_err(|e| match waited {
        Some(w) => format!(
            "{e}\n(read through a Thanos Query over {}: {w})",
            stores_text(served_by)
        ),
        None => e,
    })
}

fn stores_text(s: Stores) -> &'static str {
    match s {
        Stores::All => "every store",
        Stores::SidecarsOnly => "the sidecars alone",
        Stores::GatewayOnly => "the store gateway alone",
    }
}

/// Raw samples of every known series of each block's replica over the
/// block's range, keyed by `<ulid> <selector>`, read through `query_url`.
/// Polls until every key has samples (a store gateway loads new blocks on
/// its next sync); when some never do, returns what was served at the last
/// poll with the wait's error, so that the comparison names what is
/// missing.
pub async fn samples_by_block(
    query_url: &str,
    blocks: &[Block],
    replica_label: &str,
) -> (Samples, Option<WaitError>) {
    let client = PromClient::new(query_url);
    let keys: Vec<(String, String, i64, i64)> = blocks
        .iter()
        .filter_map(|b| Some((b, b.meta.label(replica_label)?)))
        .flat_map(|(b, r)| {
            KnownSeries::ALL.into_iter().map(move |k| {
                let sel = format!("{}{{{replica_label}=\"{r}\"}}", k.metric());
                (
                    format!("{} {sel}", b.layout.ulid),
                    sel,
                    b.meta.min_time,
                    b.meta.max_time - 1,
                )
            })
        })
        .collect();
    let waited = Eventually::new(
        format!("samples of {} block series through {query_url}", keys.len()),
        SERVE_WAIT,
    )
    .until_seen(|| async {
        let mut out = Samples::new();
        let mut short = Vec::new();
        for (key, sel, start, end) in &keys {
            match client
                .raw_samples(sel, *start, *end, &QueryOptions::strict_raw())
                .await
            {
                Ok(r) if r.series.len() == 1 && !r.series[0].samples.is_empty() => {
                    out.insert(key.clone(), r.series[0].samples.clone());
                }
                Ok(r) => short.push(format!(
                    "{key}: {} series with samples",
                    r.series.iter().filter(|s| !s.samples.is_empty()).count()
                )),
                Err(e) => short.push(format!("{key}: {e}")),
            }
        }
        match short.first() {
            None => Seen::Ready(out),
            Some(first) => {
                let why = format!(
                    "{} of {} block series short; first: {first}",
                    short.len(),
                    keys.len()
                );
                Seen::NotYet(out, why)
            }
        }
    })
    .await;
    match waited {
        Ok(s) => (s, None),
        Err((last, e)) => (last.unwrap_or_default(), Some(e)),
    }
}
