//! The rule and query diff of A and B: each probe's answers compared, and
//! each difference explained by a catalogued change where one does. Pure:
//! the answers come from [`super::run`] (real binaries) or, in unit
//! tests, from recorded answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalogue::Catalogue;
use crate::client::prom::parse_query_response;

/// What one Prometheus answered to one probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Series (by label text) with their samples.
    Series(BTreeMap<String, Vec<(i64, f64)>>),
    /// A flag it starts with.
    Accepted,
    /// It refused the query or the flag: its message.
    Error(String),
}

/// One probe's raw answers as recorded: the API's body (or the error's
/// text) from A and from B.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Where the probe came from: a catalogue change's id, a rule, a line.
    pub origin: String,
    /// The query or the flag.
    pub text: String,
    /// `ok:<body>` or `error:<message>` (`ok:` with an empty body for a
    /// flag accepted).
    pub a: String,
    pub b: String,
}

impl Answer {
    /// Reads a recorded answer (see [`Recorded`]).
    pub fn from_recorded(s: &str) -> Self {
        if let Some(msg) = s.strip_prefix("error:") {
            return Answer::Error(msg.trim().to_owned());
        }
        let body = s.strip_prefix("ok:").unwrap_or(s);
        if body.trim().is_empty() {
            return Answer::Accepted;
        }
        match parse_query_response(body) {
            Ok(r) => Answer::Series(
                r.series
                    .into_iter()
                    .map(|s| (s.label_text(), s.samples))
                    .collect(),
            ),
            Err(e) => Answer::Error(format!("unreadable answer: {e}")),
        }
    }

    fn same(&self, other: &Answer) -> bool {
        match (self, other) {
            // Both refuse it: no difference to act on (wording may vary).
            (Answer::Error(_), Answer::Error(_)) => true,
            (Answer::Series(a), Answer::Series(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
                        ka == kb
                            && va.len() == vb.len()
                            && va.iter().zip(vb).all(|((ta, xa), (tb, xb))| {
                                ta == tb
                                    && (xa.to_bits() == xb.to_bits()
                                        || (xa.is_nan() && xb.is_nan()))
                            })
                    })
            }
            (a, b) => a == b,
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Accepted => write!(f, "accepted"),
            Answer::Error(e) => write!(f, "refused: {}", e.lines().next().unwrap_or_default()),
            Answer::Series(s) if s.is_empty() => write!(f, "no series"),
            Answer::Series(s) => {
                let parts: Vec<String> = s
                    .iter()
                    .take(3)
                    .map(|(k, v)| {
                        let vals: Vec<String> = v.iter().map(|(_, x)| x.to_string()).collect();
                        format!("{k} = {}", vals.join(", "))
                    })
                    .collect();
                let more = s.len().saturating_sub(3);
                write!(f, "{}", parts.join("; "))?;
                if more > 0 {
                    write!(f, "; … {more} more series")?;
                }
                Ok(())
            }
        }
    }
}

/// One difference between A and B.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub origin: String,
    pub text: String,
    pub a: Answer,
    pub b: Answer,
    /// The catalogued change that explains it: `(id, title)`.
    pub explained_by: Option<(String, String)>,
}

/// The differences among `recorded`, each explained where the catalogue
/// can.
pub fn differences(recorded: &[Recorded], catalogue: &Catalogue) -> Vec<Difference> {
    recorded
        .iter()
        .filter_map(|r| {
            let (a, b) = (Answer::from_recorded(&r.a), Answer::from_recorded(&r.b));
            (!a.same(&b)).then(|| Difference {
                origin: r.origin.clone(),
                text: r.text.clone(),
                explained_by: catalogue
                    .explain(&r.text)
                    .map(|c| (c.id.clone(), c.title.clone())),
                a,
                b,
            })
        })
        .collect()
}

/// The diff as Markdown: every difference, A's and B's answers, and the
/// change that explains it (or that none does).
pub fn render(a: &str, b: &str, probes: usize, diffs: &[Difference]) -> String {
    let mut s = format!(
        "# Rule and query diff: {a} → {b}\n\n{probes} probes evaluated on both over the same data; \
         {} differ{}.\n\n",
        diffs.len(),
        if diffs.len() == 1 { "s" } else { "" }
    );
    for d in diffs {
        s.push_str(&format!("## `{}`\n\nfrom: {}\n\n", d.text, d.origin));
        s.push_str(&format!("- A: {}\n- B: {}\n", d.a, d.b));
        match &d.explained_by {
            Some((id, title)) => s.push_str(&format!("- explained by `{id}`: {title}\n\n")),
            None => s.push_str("- explained by no catalogued change: look at it\n\n"),
        }
    }
    s
}
