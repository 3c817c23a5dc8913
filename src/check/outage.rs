//! Whether the object store was really down during an outage: the judgement
//! behind `object_storage_outage`'s first check, so that a stop that did
//! nothing (a platform bug, a store behind another endpoint) cannot make
//! every later check pass for the wrong reason.

use std::time::Duration;

/// The sidecars' own count of failed bucket operations (every operation:
/// the shipper's `exists` check fails first when the store refuses), from
/// the instrumented bucket client of each sidecar's `/metrics`.
pub const BUCKET_FAILURES: &str = "thanos_objstore_bucket_operation_failures_total";

/// What showed whether the object store was down.
#[derive(Debug, Clone, PartialEq)]
pub struct OutageEvidence {
    /// How long the store was meant to be down.
    pub held: Duration,
    /// The harness's own request to the bucket late in the outage: `Ok`
    /// when the bucket answered it, else the error it got.
    pub harness: Result<(), String>,
    /// Failed bucket operations each replica's sidecar counted during the
    /// outage, by replica index.
    pub sidecar_failures: Vec<f64>,
}

/// Passes when the store refused the harness and every sidecar counted at
/// least one failed bucket operation meanwhile; otherwise says which of the
/// two saw it up, with the figures.
pub fn store_was_down(e: &OutageEvidence) -> Result<(), String> {
    let counts = e
        .sidecar_failures
        .iter()
        .enumerate()
        .map(|(i, n)| format!("replica {i}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let quiet: Vec<usize> = e
        .sidecar_failures
        .iter()
        .enumerate()
        .filter(|(_, n)| **n < 1.0)
        .map(|(i, _)| i)
        .collect();
    let total: f64 = e.sidecar_failures.iter().sum();
    let secs = e.held.as_secs();
    match (
        &e.harness,
        quiet.is_empty() && !e.sidecar_failures.is_empty(),
    ) {
        (Err(_), true) => Ok(()),
        (Ok(()), _) if total < 1.0 => Err(format!(
            "the object store never went down: the bucket answered the harness during the \
             {secs}s outage and the sidecars counted {total} upload failures \
             ({BUCKET_FAILURES}: {counts}); the platform's stop_object_storage did not \
             stop it, so the outage checks prove nothing"
        )),
        (Ok(()), _) => Err(format!(
            "the object store was not down throughout the {secs}s outage: the bucket answered \
             the harness late in it, though the sidecars counted failures ({BUCKET_FAILURES}: \
             {counts}); did it come back early (restarted by a supervisor)?"
        )),
        (Err(why), false) => Err(format!(
            "the harness could not reach the bucket during the {secs}s outage ({why}), but the \
             sidecar(s) of replica(s) {quiet:?} counted no failed bucket operation \
             ({BUCKET_FAILURES}: {counts}): they never tried (no block cut meanwhile?) or \
             reach the object store by another endpoint"
        )),
    }
}

/// Every replica cut at least one block while the store was down (its own
/// `prometheus_tsdb_compactions_total` moved): otherwise the outage tested
/// no upload at all.
pub fn every_replica_cut(cut_during: &[f64], held: Duration) -> Result<(), String> {
    if !cut_during.is_empty() && cut_during.iter().all(|c| *c >= 1.0) {
        Ok(())
    } else {
        Err(format!(
            "blocks cut per replica during the {}s outage: {cut_during:?}: the outage did not \
             span a block cut, so it tested no upload",
            held.as_secs()
        ))
    }
}

/// The replicas for which fewer blocks reached the bucket since the outage
/// (`uploaded`) than were cut during it, as `replica <i>: <uploaded> of
/// <cut>`; empty when every block cut meanwhile is there.
pub fn short_uploads(cut_during: &[f64], uploaded: &[usize]) -> Vec<String> {
    cut_during
        .iter()
        .enumerate()
        .map(|(i, n)| (i, *n, uploaded.get(i).copied().unwrap_or(0)))
        .filter(|(_, n, up)| (*up as f64) < *n)
        .map(|(i, n, up)| format!("replica {i}: {up} of {n}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(harness: Result<(), String>, failures: &[f64]) -> OutageEvidence {
        OutageEvidence {
            held: Duration::from_secs(55),
            harness,
            sidecar_failures: failures.to_vec(),
        }
    }

    const REFUSED: &str = "HeadBucket: connection refused";

    #[test]
    fn refused_and_failures_on_every_sidecar_pass() {
        assert_eq!(
            store_was_down(&evidence(Err(REFUSED.into()), &[3.0, 1.0])),
            Ok(())
        );
    }

    #[test]
    fn a_store_that_never_went_down_is_named() {
        let err = store_was_down(&evidence(Ok(()), &[0.0, 0.0])).unwrap_err();
        assert!(
            err.starts_with("the object store never went down: "),
            "{err}"
        );
        assert!(err.contains("0 upload failures"), "{err}");
        assert!(err.contains("replica 0: 0, replica 1: 0"), "{err}");
        assert!(err.contains("stop_object_storage"), "{err}");
    }

    #[test]
    fn an_outage_without_a_cut_on_every_replica_fails() {
        let held = Duration::from_secs(55);
        assert_eq!(every_replica_cut(&[1.0, 2.0], held), Ok(()));
        let err = every_replica_cut(&[1.0, 0.0], held).unwrap_err();
        assert!(
            err.contains("[1.0, 0.0]") && err.contains("tested no upload"),
            "{err}"
        );
        assert!(every_replica_cut(&[], held).is_err());
    }

    #[test]
    fn blocks_cut_but_not_uploaded_are_named_per_replica() {
        assert!(short_uploads(&[1.0, 2.0], &[1, 3]).is_empty());
        assert_eq!(
            short_uploads(&[1.0, 2.0], &[1, 1]),
            vec!["replica 1: 1 of 2"]
        );
        assert_eq!(short_uploads(&[1.0], &[]), vec!["replica 0: 0 of 1"]);
    }

    #[test]
    fn a_store_back_early_is_named() {
        let err = store_was_down(&evidence(Ok(()), &[2.0, 1.0])).unwrap_err();
        assert!(err.contains("not down throughout the 55s outage"), "{err}");
    }

    #[test]
    fn a_sidecar_that_never_failed_is_named() {
        let err = store_was_down(&evidence(Err(REFUSED.into()), &[2.0, 0.0])).unwrap_err();
        assert!(
            err.contains("replica(s) [1] counted no failed bucket operation"),
            "{err}"
        );
        assert!(err.contains(REFUSED), "{err}");
        // No sidecar at all proves nothing either.
        assert!(store_was_down(&evidence(Err(REFUSED.into()), &[])).is_err());
    }
}
