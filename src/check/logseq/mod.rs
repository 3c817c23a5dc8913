//! loki-canary-like accounting of sequenced log lines: per stream, which
//! sequence numbers are missing (as ranges), duplicated, out of order, and
//! which lines were not expected at all. Pure functions over what a query
//! returned.
//!
//! Every generated line carries `run=<id>` and `seq=<n>` (logfmt) or
//! `"run": "<id>", "seq": <n>` (JSON); a stream of a run is expected to hold
//! each of `0..n` exactly once, in timestamp order.

use std::collections::BTreeMap;
use std::fmt;

use crate::client::loki::{Entry, Labels};

/// The labels that name a stream in accounting messages, in this order.
pub const STREAM_KEY_LABELS: &[&str] = &["app", "level"];

/// `app=api level=info`: how a stream is named in messages.
pub fn stream_key(labels: &Labels) -> String {
    STREAM_KEY_LABELS
        .iter()
        .filter_map(|k| labels.get(*k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The run id and sequence number a generated line carries, from logfmt
/// (`… seq=12 run=r1 …`) or JSON (`{"seq": 12, "run": "r1", …}`).
pub fn parse_seq(line: &str) -> Option<(String, u64)> {
    let line = line.trim();
    if line.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let seq = v.get("seq")?.as_u64()?;
        let run = v.get("run")?.as_str()?.to_owned();
        return Some((run, seq));
    }
    let fields = logfmt_fields(line);
    let seq = fields.get("seq")?.parse().ok()?;
    Some((fields.get("run")?.clone(), seq))
}

/// `key=value` pairs of a logfmt line; quoted values may hold spaces and
/// `\"`.
pub fn logfmt_fields(line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        } else if key.is_empty() {
            // A stray `=`: skip it.
            chars.next();
            continue;
        }
        if !key.is_empty() {
            out.insert(key, value);
        }
    }
}

/// An inclusive range of sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub first: u64,
    pub last: u64,
}

impl SeqRange {
    /// How many numbers it spans.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never empty; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}–{}", self.first, self.last)
        }
    }
}

/// Folds sorted, distinct numbers into ranges.
pub fn ranges(sorted: &[u64]) -> Vec<SeqRange> {
    let mut out: Vec<SeqRange> = Vec::new();
    for &n in sorted {
        match out.last_mut() {
            Some(r) if r.last + 1 == n => r.last = n,
            _ => out.push(SeqRange { first: n, last: n }),
        }
    }
    out
}

/// A line seen after a line with a higher sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfOrder {
    pub seq: u64,
    pub after: u64,
}

/// What one stream held, against what it should have.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamAccount {
    /// `app=api level=info`.
    pub key: String,
    /// The stream should hold `0..expected`.
    pub expected: u64,
    /// Lines of this run that were read back (duplicates included).
    pub received: u64,
    pub missing: Vec<SeqRange>,
    /// Sequence numbers seen more than once, with how often.
    pub duplicates: Vec<(u64, u32)>,
    pub out_of_order: Vec<OutOfOrder>,
    /// Lines that belong to no expected sequence number (another run, a
    /// number past the end, or no number at all), abbreviated.
    pub unexpected: Vec<String>,
}

impl StreamAccount {
    /// True when every expected line came back exactly once, in order,
    /// and nothing else did.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.duplicates.is_empty()
            && self.out_of_order.is_empty()
            && self.unexpected.is_empty()
    }

    /// One line per kind of problem, each naming the stream.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.missing.is_empty() {
            let n: u64 = self.missing.iter().map(SeqRange::len).sum();
            let list: Vec<String> = self.missing.iter().map(ToString::to_string).collect();
            out.push(format!(
                "{}: missing seq {} ({n} of {} lines)",
                self.key,
                list.join(", "),
                self.expected
            ));
        }
        if !self.duplicates.is_empty() {
            let list: Vec<String> = self
                .duplicates
                .iter()
                .map(|(s, n)| format!("{s} (seen {n}×)"))
                .collect();
            out.push(format!("{}: duplicate seq {}", self.key, list.join(", ")));
        }
        if !self.out_of_order.is_empty() {
            let list: Vec<String> = self
                .out_of_order
                .iter()
                .map(|o| format!("seq {} after seq {}", o.seq, o.after))
                .collect();
            out.push(format!("{}: out of order: {}", self.key, list.join(", ")));
        }
        if !self.unexpected.is_empty() {
            out.push(format!(
                "{}: {} unexpected line(s), e.g. {}",
                self.key,
                self.unexpected.len(),
                self.unexpected[0]
            ));
        }
        out
    }
}

/// The accounting of every stream of a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accounting {
    /// Expected streams, in key order.
    pub streams: Vec<StreamAccount>,
    /// Streams that were read back but not expected: key and line count.
    pub unexpected_streams: Vec<(String, u64)>,
}

impl Accounting {
    /// True when every stream is clean and no other stream showed up.
    pub fn is_clean(&self) -> bool {
        self.unexpected_streams.is_empty() && self.streams.iter().all(StreamAccount::is_clean)
    }

    /// Lines read back, over every expected stream.
    pub fn received(&self) -> u64 {
        self.streams.iter().map(|s| s.received).sum()
    }

    /// Lines expected, over every stream.
    pub fn expected(&self) -> u64 {
        self.streams.iter().map(|s| s.expected).sum()
    }

    /// Every problem, one line each, naming its stream.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .streams
            .iter()
            .flat_map(StreamAccount::problems)
            .collect();
        for (k, n) in &self.unexpected_streams {
            out.push(format!("stream {k}: not expected, {n} line(s)"));
        }
        out
    }

    /// `Ok` when clean, else every problem on its own line.
    pub fn as_result(&self) -> Result<(), String> {
        if self.is_clean() {
            Ok(())
        } else {
            Err(self.problems().join("\n"))
        }
    }
}

fn abbreviate(line: &str) -> String {
    let mut s: String = line.chars().take(80).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    format!("{s:?}")
}

/// Accounts one stream: `entries` as read back (any order), `expected`
/// lines `0..expected` of run `run`.
pub fn account_stream(key: &str, run: &str, expected: u64, entries: &[Entry]) -> StreamAccount {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    // Timestamp order is what Loki promises; equal timestamps keep the
    // answer's order.
    sorted.sort_by_key(|e| e.ts_ns);
    let mut acc = StreamAccount {
        key: key.to_owned(),
        expected,
        ..Default::default()
    };
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let mut highest: Option<u64> = None;
    for e in sorted {
        match parse_seq(&e.line) {
            Some((r, seq)) if r == run && seq < expected => {
                acc.received += 1;
                *seen.entry(seq).or_default() += 1;
                match highest {
                    Some(h) if seq < h => acc.out_of_order.push(OutOfOrder { seq, after: h }),
                    _ => highest = Some(seq),
                }
            }
            _ => acc.unexpected.push(abbreviate(&e.line)),
        }
    }
    let missing: Vec<u64> = (0..expected).filter(|s| !seen.contains_key(s)).collect();
    acc.missing = ranges(&missing);
    acc.duplicates = seen.into_iter().filter(|(_, n)| *n > 1).collect();
    acc
}

/// Accounts a run: `expected` maps stream keys to their line counts;
/// `observed` maps stream keys to what was read back.
pub fn account(
    run: &str,
    expected: &BTreeMap<String, u64>,
    observed: &BTreeMap<String, Vec<Entry>>,
) -> Accounting {
    let empty = Vec::new();
    let streams = expected
        .iter()
        .map(|(k, n)| account_stream(k, run, *n, observed.get(k).unwrap_or(&empty)))
        .collect();
    let unexpected_streams = observed
        .iter()
        .filter(|(k, _)| !expected.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.len() as u64))
        .collect();
    Accounting {
        streams,
        unexpected_streams,
    }
}

/// Groups query streams by [`stream_key`]. Streams that differ only in
/// labels a parser added fold into one.
pub fn group_by_key(streams: &[crate::client::loki::Stream]) -> BTreeMap<String, Vec<Entry>> {
    let mut out: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for s in streams {
        out.entry(stream_key(&s.labels))
            .or_default()
            .extend(s.entries.iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests;
