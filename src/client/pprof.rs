//! Go heap profiles (`/debug/pprof/heap`): gzipped `profile.proto`, decoded
//! with `prost` over the few messages the harness reads — sample types,
//! samples, locations, functions and the string table.

use std::collections::BTreeMap;
use std::io::Read;

/// `perftools.profiles.Profile`, only the fields read here (prost skips
/// the others).
#[derive(Clone, PartialEq, prost::Message)]
struct Profile {
    #[prost(message, repeated, tag = "1")]
    sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    string_table: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ValueType {
    #[prost(int64, tag = "1")]
    r#type: i64,
    #[prost(int64, tag = "2")]
    unit: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    value: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Location {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(message, repeated, tag = "4")]
    line: Vec<Line>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Line {
    #[prost(uint64, tag = "1")]
    function_id: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Function {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(int64, tag = "2")]
    name: i64,
}

/// Errors decoding a heap profile.
#[derive(Debug, thiserror::Error)]
pub enum PprofError {
    #[error("not gzip: {0}")]
    Gzip(std::io::Error),
    #[error("not a profile.proto message: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("no {0} sample type in the profile (types: {1})")]
    NoSampleType(&'static str, String),
}

/// What a heap profile says about memory in use.
#[derive(Debug, Clone, PartialEq)]
pub struct HeapSummary {
    /// Sum of the `inuse_space` samples, bytes.
    pub inuse_bytes: i64,
    /// Functions allocating the most in-use bytes themselves (the leaf
    /// frame of each sample), largest first.
    pub top: Vec<(String, i64)>,
}

/// Decodes a gzipped Go heap profile and sums its `inuse_space`.
pub fn heap_summary(gzipped: &[u8], top_n: usize) -> Result<HeapSummary, PprofError> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gzipped)
        .read_to_end(&mut raw)
        .map_err(PprofError::Gzip)?;
    let p: Profile = prost::Message::decode(raw.as_slice())?;
    let s = |i: i64| p.string_table.get(i as usize).map_or("?", String::as_str);
    let types: Vec<&str> = p.sample_type.iter().map(|t| s(t.r#type)).collect();
    let idx = types
        .iter()
        .position(|t| *t == "inuse_space")
        .ok_or_else(|| PprofError::NoSampleType("inuse_space", types.join(", ")))?;
    let functions: BTreeMap<u64, &str> = p.function.iter().map(|f| (f.id, s(f.name))).collect();
    let leaf: BTreeMap<u64, &str> = p
        .location
        .iter()
        .map(|l| {
            // A location's first line is its innermost (inlined) frame.
            let name = l
                .line
                .first()
                .and_then(|x| functions.get(&x.function_id).copied())
                .unwrap_or("?");
            (l.id, name)
        })
        .collect();
    let mut by_site: BTreeMap<&str, i64> = BTreeMap::new();
    let mut inuse_bytes = 0;
    for sample in &p.sample {
        let v = sample.value.get(idx).copied().unwrap_or(0);
        inuse_bytes += v;
        let site = sample
            .location_id
            .first()
            .and_then(|id| leaf.get(id).copied())
            .unwrap_or("?");
        *by_site.entry(site).or_default() += v;
    }
    let mut top: Vec<(String, i64)> = by_site
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(top_n);
    Ok(HeapSummary { inuse_bytes, top })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heap profile saved from a real Prometheus 3.16 of this stack.
    const FIXTURE: &[u8] = include_bytes!("../../fixtures/pprof/prometheus-heap.pb.gz");

    #[test]
    fn a_real_prometheus_heap_profile_decodes() {
        let h = heap_summary(FIXTURE, 5).unwrap();
        // A running Prometheus holds megabytes, not bytes nor gigabytes.
        assert!((1 << 20..1 << 30).contains(&h.inuse_bytes), "{h:?}");
        assert_eq!(h.top.len(), 5, "{h:?}");
        assert!(h.top.windows(2).all(|w| w[0].1 >= w[1].1), "{h:?}");
        assert!(h.top.iter().all(|(f, _)| f.contains('.')), "{h:?}");
        let sum: i64 = h.top.iter().map(|(_, v)| v).sum();
        assert!(sum <= h.inuse_bytes);
    }

    #[test]
    fn garbage_is_named() {
        let e = heap_summary(b"not gzip", 5).unwrap_err();
        assert!(e.to_string().starts_with("not gzip"), "{e}");
    }
}
