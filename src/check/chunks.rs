//! Loki's objects in the bucket, as `log_chunks_in_bucket` judges them:
//! chunk and index keys, the chunks' span against the run, and the flush
//! settings Loki says it runs with.

use crate::data::loggen::GenLine;

/// Loki's tenant with auth off.
pub const TENANT: &str = "fake";

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

/// Every chunk belongs to the tenant and overlaps the run's time span.
pub fn chunks_cover(chunks: &[ChunkKey], lines: &[GenLine]) -> Result<(), String> {
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

/// The flush settings in Loki's running config (`/config`), as one line.
pub fn flush_settings_in(config: &str) -> String {
    let found: Vec<&str> = [
        "chunk_idle_period:",
        "max_chunk_age:",
        "flush_check_period:",
    ]
    .iter()
    .filter_map(|key| config.lines().map(str::trim).find(|l| l.starts_with(key)))
    .collect();
    if found.is_empty() {
        "no flush settings in its /config".into()
    } else {
        found.join(", ")
    }
}

/// Every day the run's lines fall on (`days`) has a new tsdb index file
/// among `index` (`(day, key)` of the new ones), or which days have none.
pub fn index_covers(
    days: &std::collections::BTreeSet<u64>,
    index: &[(u64, String)],
) -> Result<(), String> {
    let covered: std::collections::BTreeSet<u64> = index.iter().map(|(d, _)| *d).collect();
    if !days.is_empty() && days.is_subset(&covered) {
        Ok(())
    } else {
        Err(format!(
            "no new tsdb index file for day(s) {:?} under index/ after the graceful stop (new: {:?})",
            days.difference(&covered).collect::<Vec<_>>(),
            index.iter().map(|(_, k)| k).collect::<Vec<_>>(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::loggen::LogGen;
    use std::time::Duration;

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
    fn the_flush_settings_are_read_from_lokis_config() {
        let config = "ingester:\n  chunk_idle_period: 30m\n  chunk_block_size: 262144\n  \
                      max_chunk_age: 2h0m0s\n  flush_check_period: 30s\n";
        assert_eq!(
            flush_settings_in(config),
            "chunk_idle_period: 30m, max_chunk_age: 2h0m0s, flush_check_period: 30s"
        );
        assert_eq!(
            flush_settings_in("server: {}"),
            "no flush settings in its /config"
        );
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

    #[test]
    fn a_day_without_a_new_index_file_is_named() {
        let days = std::collections::BTreeSet::from([20781, 20782]);
        let one = vec![(20781, "index/index_20781/a.tsdb.gz".to_owned())];
        let err = index_covers(&days, &one).unwrap_err();
        assert!(
            err.starts_with("no new tsdb index file for day(s) [20782]"),
            "{err}"
        );
        let both = vec![
            one[0].clone(),
            (20782, "index/index_20782/b.tsdb.gz".to_owned()),
        ];
        assert_eq!(index_covers(&days, &both), Ok(()));
        assert!(index_covers(&std::collections::BTreeSet::new(), &both).is_err());
    }
}
