//! Bucket assertions: Thanos blocks whose `meta.json` carries given
//! external labels, or objects under a key prefix, counted. Read-only: the
//! bucket is listed and `meta.json` files are read, nothing is written.

use std::collections::BTreeMap;

use super::schema::{BucketAssertion, CountExpect};
use crate::check::blocks::{BlockMeta, layouts};
use crate::client::objstore::Objstore;

/// Lists the bucket once, as `a` says, and judges the count.
pub async fn evaluate(a: &BucketAssertion, store: &Objstore) -> Result<(), String> {
    let bucket = &store.target().bucket;
    if let Some(prefix) = &a.prefix {
        let objects = store.list(prefix).await.map_err(|e| e.to_string())?;
        let what = format!("objects under `{prefix}` in bucket `{bucket}`");
        let sample: Vec<&str> = objects.iter().take(3).map(|o| o.key.as_str()).collect();
        return judge_count(&a.expect.value, objects.len(), &what, &sample);
    }
    let want = a.blocks.as_ref().expect("schema: blocks or prefix");
    let objects = store.list("").await.map_err(|e| e.to_string())?;
    let mut matching = Vec::new();
    let mut seen_labels = Vec::new();
    for block in layouts(&objects) {
        // A block without meta.json is a partial upload (meta.json is
        // written last): Thanos readers ignore it, so do we.
        if !block.has_meta {
            continue;
        }
        let bytes = store
            .get(&format!("{}/meta.json", block.ulid))
            .await
            .map_err(|e| e.to_string())?;
        let meta = BlockMeta::parse(&bytes).map_err(|e| format!("block {}: {e}", block.ulid))?;
        if want.iter().all(|(k, v)| meta.label(k) == Some(v.as_str())) {
            matching.push(block.ulid);
        } else if let Some(t) = &meta.thanos {
            seen_labels.push(labels_text(&t.labels));
        }
    }
    seen_labels.sort();
    seen_labels.dedup();
    let what = format!(
        "blocks with external labels {} in bucket `{bucket}`",
        labels_text(want)
    );
    let sample: Vec<&str> = matching.iter().take(3).map(String::as_str).collect();
    judge_count(&a.expect.value, matching.len(), &what, &sample).map_err(|m| {
        if seen_labels.is_empty() {
            m
        } else {
            format!("{m}; other blocks carry {}", seen_labels.join(", "))
        }
    })
}

/// Judges a count `n` of `what` (first few in `sample`) against `e`.
pub fn judge_count(e: &CountExpect, n: usize, what: &str, sample: &[&str]) -> Result<(), String> {
    let wrong = match (e.exactly, e.at_least, e.at_most) {
        (Some(x), _, _) if n != x => Some(format!("exactly {x}")),
        (_, Some(x), _) if n < x => Some(format!("at least {x}")),
        (_, _, Some(x)) if n > x => Some(format!("at most {x}")),
        _ => None,
    };
    match wrong {
        None => Ok(()),
        Some(expected) => Err(format!(
            "{n} {what} where {expected} expected{}",
            if sample.is_empty() {
                String::new()
            } else {
                format!(" (e.g. {})", sample.join(", "))
            }
        )),
    }
}

fn labels_text(l: &BTreeMap<String, String>) -> String {
    crate::client::loki::label_text(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_exactly_at_least_at_most() {
        let e = |exactly, at_least, at_most| CountExpect {
            exactly,
            at_least,
            at_most,
        };
        assert!(judge_count(&e(Some(2), None, None), 2, "x", &[]).is_ok());
        assert_eq!(
            judge_count(
                &e(None, Some(1), None),
                0,
                "blocks with external labels {replica=\"7\"}",
                &[]
            )
            .unwrap_err(),
            "0 blocks with external labels {replica=\"7\"} where at least 1 expected"
        );
        assert_eq!(
            judge_count(&e(None, None, Some(1)), 3, "objects", &["a", "b", "c"]).unwrap_err(),
            "3 objects where at most 1 expected (e.g. a, b, c)"
        );
        assert!(judge_count(&e(None, Some(1), Some(3)), 3, "x", &[]).is_ok());
    }
}
