//! What the compactor should have left in the bucket: one deduplicated raw
//! block in place of the replicas' overlapping ones, and downsampled blocks
//! at 5m and 1h.

use serde::Deserialize;

use super::blocks::BlockMeta;

/// Thanos' 5m resolution, in ms.
pub const RES_5M: i64 = 300_000;
/// Thanos' 1h resolution, in ms.
pub const RES_1H: i64 = 3_600_000;

/// The block that replaced the `uploads`: raw, without any replica label,
/// compacted (level ≥ 2) from every upload. Returns its ULID, or what is
/// wrong in words a person can act on.
pub fn deduplicated_block<'a>(
    blocks: &'a [BlockMeta],
    uploads: &[String],
    replica_label: &str,
) -> Result<&'a BlockMeta, String> {
    let merged = blocks.iter().find(|b| {
        b.resolution() == 0
            && b.label(replica_label).is_none()
            && uploads.iter().all(|u| b.compaction.sources.contains(u))
    });
    let Some(m) = merged else {
        let still: Vec<String> = blocks
            .iter()
            .filter_map(|b| {
                b.label(replica_label)
                    .map(|r| format!("{} ({replica_label}={r})", b.ulid))
            })
            .collect();
        return Err(if still.is_empty() {
            format!(
                "no raw block without `{replica_label}` whose sources are the uploaded blocks {uploads:?}; \
                 blocks seen: {}",
                describe(blocks)
            )
        } else {
            format!(
                "the replicas' blocks were not merged: {} still carry `{replica_label}` and no block \
                 without it replaces them. Is a compactor running on this bucket with \
                 --deduplication.replica-label={replica_label}?",
                still.join(", ")
            )
        });
    };
    if m.compaction.level < 2 {
        return Err(format!(
            "block {} has compaction level {}: a merge of {} blocks must be level ≥ 2",
            m.ulid,
            m.compaction.level,
            uploads.len()
        ));
    }
    let left: Vec<&str> = blocks
        .iter()
        .filter(|b| uploads.contains(&b.ulid))
        .map(|b| b.ulid.as_str())
        .collect();
    if !left.is_empty() {
        return Err(format!(
            "the deduplicated block {} is there, but the blocks it replaced are still in the \
             bucket: {left:?} (the store gateway serves both until they are deleted)",
            m.ulid
        ));
    }
    Ok(m)
}

/// The downsampled block at `resolution` made from `raw`, or what is
/// missing.
pub fn downsampled_block<'a>(
    blocks: &'a [BlockMeta],
    raw_sources: &[String],
    resolution: i64,
) -> Result<&'a BlockMeta, String> {
    blocks
        .iter()
        .find(|b| {
            b.resolution() == resolution
                && raw_sources.iter().all(|s| b.compaction.sources.contains(s))
        })
        .ok_or_else(|| {
            let span_h = blocks
                .iter()
                .filter(|b| b.resolution() == 0)
                .map(|b| (b.max_time - b.min_time) as f64 / 3_600_000.0)
                .fold(0.0, f64::max);
            format!(
                "no downsampled block at {} (resolution {resolution}) for the backfilled data; \
                 the longest raw block spans {span_h:.0}h (5m needs ≥ 40h, 1h a 5m block ≥ 240h). \
                 Blocks seen: {}. Is `thanos compact` running on this bucket without \
                 --downsampling.disable?",
                res_name(resolution),
                describe(blocks)
            )
        })
}

/// `5m`, `1h`, or `raw`.
pub fn res_name(resolution: i64) -> &'static str {
    match resolution {
        RES_5M => "5m",
        RES_1H => "1h",
        0 => "raw",
        _ => "an unknown resolution",
    }
}

/// One line per block: ULID, resolution, level, labels.
pub fn describe(blocks: &[BlockMeta]) -> String {
    if blocks.is_empty() {
        return "none".into();
    }
    blocks
        .iter()
        .map(|b| {
            let labels = b
                .thanos
                .as_ref()
                .map(|t| {
                    t.labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            format!(
                "{} ({}, level {}, {{{labels}}})",
                b.ulid,
                res_name(b.resolution()),
                b.compaction.level
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Deserialize)]
struct Loaded {
    data: LoadedData,
}

#[derive(Deserialize)]
struct LoadedData {
    #[serde(default)]
    blocks: Vec<BlockMeta>,
}

/// The blocks a store gateway has loaded, from its
/// `/api/v1/blocks?view=loaded` answer.
pub fn parse_loaded(body: &str) -> Result<Vec<BlockMeta>, String> {
    serde_json::from_str::<Loaded>(body)
        .map(|l| l.data.blocks)
        .map_err(|e| format!("the store gateway's loaded-blocks answer does not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(
        ulid: &str,
        res: i64,
        level: u32,
        sources: &[&str],
        labels: &[(&str, &str)],
    ) -> BlockMeta {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        let v = serde_json::json!({
            "ulid": ulid, "minTime": 0, "maxTime": 264 * 3_600_000i64, "version": 1,
            "compaction": {"level": level, "sources": sources},
            "thanos": {"labels": labels, "downsample": {"resolution": res}, "source": "compactor"}
        });
        BlockMeta::parse(v.to_string().as_bytes()).unwrap()
    }

    const A: &str = "01M8993CSFY895Q0BXQ23339B2";
    const B: &str = "01M8993CX6ZNH1KVDGMPKYY4ZQ";
    const M: &str = "01M8993NWAM0DP39KDDMAFX1WC";

    fn uploads() -> Vec<String> {
        vec![A.to_owned(), B.to_owned()]
    }

    fn after_compaction() -> Vec<BlockMeta> {
        vec![
            meta(M, 0, 2, &[A, B], &[("cluster", "c")]),
            meta(
                "01M8993QBHS3W44Z79T9NYDH9Q",
                RES_5M,
                2,
                &[A, B],
                &[("cluster", "c")],
            ),
            meta(
                "01M8993QD98HDC9P2802JW74AV",
                RES_1H,
                2,
                &[A, B],
                &[("cluster", "c")],
            ),
        ]
    }

    fn before_compaction() -> Vec<BlockMeta> {
        vec![
            meta(A, 0, 1, &[A], &[("cluster", "c"), ("replica", "0")]),
            meta(B, 0, 1, &[B], &[("cluster", "c"), ("replica", "1")]),
        ]
    }

    #[test]
    fn a_compacted_bucket_passes() {
        let blocks = after_compaction();
        let m = deduplicated_block(&blocks, &uploads(), "replica").unwrap();
        assert_eq!(m.ulid, M);
        for res in [RES_5M, RES_1H] {
            downsampled_block(&blocks, &m.compaction.sources, res).unwrap();
        }
    }

    #[test]
    fn without_a_compactor_both_checks_say_what_is_missing() {
        let blocks = before_compaction();
        let e = deduplicated_block(&blocks, &uploads(), "replica").unwrap_err();
        assert!(e.contains("not merged"), "{e}");
        assert!(e.contains("--deduplication.replica-label=replica"), "{e}");
        let e = downsampled_block(&blocks, &uploads(), RES_5M).unwrap_err();
        assert!(
            e.starts_with("no downsampled block at 5m (resolution 300000)"),
            "{e}"
        );
        assert!(e.contains("spans 264h"), "{e}");
    }

    #[test]
    fn replaced_blocks_left_behind_are_named() {
        let mut blocks = after_compaction();
        blocks.extend(before_compaction());
        let e = deduplicated_block(&blocks, &uploads(), "replica").unwrap_err();
        assert!(e.contains("still in the bucket"), "{e}");
        assert!(e.contains(A) && e.contains(B), "{e}");
    }

    #[test]
    fn a_level_one_merge_is_refused() {
        let blocks = vec![meta(M, 0, 1, &[A, B], &[("cluster", "c")])];
        let e = deduplicated_block(&blocks, &uploads(), "replica").unwrap_err();
        assert!(e.contains("level 1"), "{e}");
    }

    #[test]
    fn loaded_blocks_parse() {
        let body = format!(
            r#"{{"status":"success","data":{{"blocks":[{}],"label":"","refreshedAt":"x","err":null}}}}"#,
            serde_json::json!({"ulid": M, "minTime": 1, "maxTime": 2, "version": 1,
                "compaction": {"level": 2, "sources": [A, B]},
                "thanos": {"labels": {"cluster": "c"}, "downsample": {"resolution": 300000}}})
        );
        let b = parse_loaded(&body).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].resolution(), RES_5M);
        assert!(parse_loaded("{}").is_err());
    }
}
