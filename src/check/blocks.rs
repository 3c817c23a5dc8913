//! Thanos blocks in the bucket: `<ULID>/meta.json`, `index`, `chunks/…`,
//! and what `meta.json` says.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::client::objstore::ObjectInfo;

/// `meta.json` of a block (the fields the checks use).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BlockMeta {
    pub ulid: String,
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// Exclusive.
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    #[serde(default)]
    pub stats: BlockStats,
    pub compaction: Compaction,
    pub version: u32,
    pub thanos: Option<ThanosMeta>,
}

/// Block statistics.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BlockStats {
    #[serde(rename = "numSamples", default)]
    pub num_samples: u64,
    #[serde(rename = "numSeries", default)]
    pub num_series: u64,
    #[serde(rename = "numChunks", default)]
    pub num_chunks: u64,
}

/// Compaction level and sources.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Compaction {
    pub level: u32,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// Thanos' section of `meta.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ThanosMeta {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub downsample: Downsample,
    #[serde(default)]
    pub source: String,
}

/// Downsampling resolution in ms: 0 (raw), 300000 (5m), 3600000 (1h).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Downsample {
    pub resolution: i64,
}

impl BlockMeta {
    /// Parses `meta.json`.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("meta.json does not parse: {e}"))
    }

    /// A Thanos external label of the block.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.thanos.as_ref()?.labels.get(name).map(String::as_str)
    }

    /// The block's resolution (0 for raw).
    pub fn resolution(&self) -> i64 {
        self.thanos.as_ref().map_or(0, |t| t.downsample.resolution)
    }
}

/// True for a 26-character Crockford base32 ULID.
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c)))
}

/// The objects of one block directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockLayout {
    pub ulid: String,
    pub has_meta: bool,
    pub has_index: bool,
    pub chunk_files: usize,
    pub bytes: u64,
}

impl BlockLayout {
    /// What is missing from a complete block, if anything.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if !self.has_meta {
            m.push("meta.json");
        }
        if !self.has_index {
            m.push("index");
        }
        if self.chunk_files == 0 {
            m.push("chunks/");
        }
        m
    }
}

/// Groups a bucket listing into block directories (other keys ignored).
pub fn layouts(objects: &[ObjectInfo]) -> Vec<BlockLayout> {
    let mut by: BTreeMap<String, BlockLayout> = BTreeMap::new();
    for o in objects {
        let Some((dir, rest)) = o.key.split_once('/') else {
            continue;
        };
        if !is_ulid(dir) {
            continue;
        }
        let b = by.entry(dir.to_owned()).or_insert_with(|| BlockLayout {
            ulid: dir.to_owned(),
            ..Default::default()
        });
        b.bytes += o.size;
        match rest {
            "meta.json" => b.has_meta = true,
            "index" => b.has_index = true,
            r if r.starts_with("chunks/") => b.chunk_files += 1,
            _ => {}
        }
    }
    by.into_values().collect()
}

/// Checks one uploaded block against what the stack should have written:
/// complete layout, ULID matching its directory, Thanos labels carrying the
/// cluster and a replica, uploaded by a sidecar, inside the scraped window.
pub fn check_sidecar_block(
    layout: &BlockLayout,
    meta: &BlockMeta,
    cluster: &str,
    replica_label: &str,
    window: (i64, i64),
) -> Result<(), String> {
    let mut problems = Vec::new();
    let missing = layout.missing();
    if !missing.is_empty() {
        problems.push(format!("missing {}", missing.join(", ")));
    }
    if meta.ulid != layout.ulid {
        problems.push(format!("meta.json says ulid {}", meta.ulid));
    }
    match meta.label("cluster") {
        Some(c) if c == cluster => {}
        other => problems.push(format!(
            "thanos label cluster={other:?}, expected {cluster:?}"
        )),
    }
    if meta.label(replica_label).is_none() {
        problems.push(format!("no thanos label {replica_label}"));
    }
    let source = meta.thanos.as_ref().map_or("", |t| t.source.as_str());
    if source != "sidecar" {
        problems.push(format!("source {source:?}, expected \"sidecar\""));
    }
    if meta.min_time >= meta.max_time {
        problems.push(format!(
            "empty time range {}..{}",
            meta.min_time, meta.max_time
        ));
    }
    if meta.min_time < window.0 || meta.max_time > window.1 + 1 {
        problems.push(format!(
            "time range {}..{} outside the scraped window {}..{}",
            crate::check::gaps::fmt_time(meta.min_time),
            crate::check::gaps::fmt_time(meta.max_time),
            crate::check::gaps::fmt_time(window.0),
            crate::check::gaps::fmt_time(window.1)
        ));
    }
    if meta.stats.num_samples == 0 {
        problems.push("no samples".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("block {}: {}", layout.ulid, problems.join("; ")))
    }
}

/// Where the sidecars' own upload counters (`uploaded`, by replica) and the
/// blocks in the bucket (`in_bucket`) disagree: a sidecar that counted more
/// uploads than the bucket holds, or a replica with no block at all. A
/// restarted sidecar counts from zero, so fewer is fine.
pub fn upload_count_mismatches(uploaded: &[usize], in_bucket: &[usize]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (i, (up, held)) in uploaded.iter().zip(in_bucket).enumerate() {
        if up > held {
            diffs.push(format!(
                "replica {i}: sidecar counted {up} uploads, bucket holds {held}"
            ));
        }
        if *held == 0 {
            diffs.push(format!("replica {i}: no block in the bucket"));
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = include_str!("../../fixtures/thanos/meta.json");
    const LISTING: &str = include_str!("../../fixtures/thanos/bucket-listing.txt");

    fn listing() -> Vec<ObjectInfo> {
        LISTING
            .lines()
            .filter_map(|l| {
                let (size, key) = l.trim().split_once(char::is_whitespace)?;
                Some(ObjectInfo {
                    key: key.trim().to_owned(),
                    size: size.parse().ok()?,
                })
            })
            .collect()
    }

    #[test]
    fn parses_a_real_sidecar_meta_json() {
        let m = BlockMeta::parse(META.as_bytes()).unwrap();
        assert!(is_ulid(&m.ulid));
        assert_eq!(m.compaction.level, 1);
        assert_eq!(m.label("cluster"), Some("stackproof"));
        assert!(m.label("replica").is_some());
        assert_eq!(m.thanos.as_ref().unwrap().source, "sidecar");
        assert_eq!(m.resolution(), 0);
        assert!(m.max_time > m.min_time && m.stats.num_samples > 0);
    }

    #[test]
    fn a_real_listing_groups_into_complete_blocks() {
        let l = layouts(&listing());
        assert!(!l.is_empty());
        for b in &l {
            assert!(b.missing().is_empty(), "{b:?}");
        }
    }

    #[test]
    fn a_partial_upload_is_named() {
        let objs = vec![ObjectInfo {
            key: "01JAAAAAAAAAAAAAAAAAAAAAAA/index".into(),
            size: 3,
        }];
        let l = layouts(&objs);
        assert_eq!(l[0].missing(), vec!["meta.json", "chunks/"]);
    }

    #[test]
    fn the_block_check_names_each_problem() {
        let m = BlockMeta::parse(META.as_bytes()).unwrap();
        let layout = BlockLayout {
            ulid: m.ulid.clone(),
            has_meta: true,
            has_index: true,
            chunk_files: 1,
            bytes: 1,
        };
        let window = (m.min_time - 1, m.max_time);
        assert!(check_sidecar_block(&layout, &m, "stackproof", "replica", window).is_ok());
        let err = check_sidecar_block(
            &layout,
            &m,
            "other",
            "replica",
            (m.min_time + 1, m.max_time),
        )
        .unwrap_err();
        assert!(
            err.contains("cluster=Some(\"stackproof\"), expected \"other\""),
            "{err}"
        );
        assert!(err.contains("outside the scraped window"), "{err}");
        let mut no_chunks = layout.clone();
        no_chunks.chunk_files = 0;
        assert!(
            check_sidecar_block(&no_chunks, &m, "stackproof", "replica", window)
                .unwrap_err()
                .contains("missing chunks/")
        );
    }

    #[test]
    fn ulids_are_recognised() {
        assert!(is_ulid("01JDQ6M3W8N3Y7Z5K2P9R4T6V8"));
        assert!(!is_ulid("debug"));
        assert!(!is_ulid("01JDQ6M3W8N3Y7Z5K2P9R4T6VI"));
    }

    #[test]
    fn upload_counters_the_bucket_does_not_match_are_named() {
        assert!(upload_count_mismatches(&[2, 1], &[2, 3]).is_empty());
        assert_eq!(
            upload_count_mismatches(&[3, 0], &[2, 0]),
            vec![
                "replica 0: sidecar counted 3 uploads, bucket holds 2",
                "replica 1: no block in the bucket"
            ]
        );
    }
}
