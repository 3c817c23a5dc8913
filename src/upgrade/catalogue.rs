//! The catalogue of known Prometheus 2 → 3 changes
//! (`fixtures/upgrade/catalogue.toml`), its probe data, and the user's own
//! rule files and query lists turned into probes.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

/// Errors reading the catalogue or the user's inputs.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// When a probe query is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum At {
    /// `at_s` seconds after the backfilled probe window's start.
    Window,
    /// One instant, the same on A and B, once both scraped the probe page.
    Scraped,
}

/// One probe: a query at a time, or a flag tried on both binaries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub flag: Option<String>,
    #[serde(default = "default_at")]
    pub at: At,
    #[serde(default)]
    pub at_s: i64,
}

fn default_at() -> At {
    At::Scraped
}

impl Probe {
    /// A query evaluated at the instant both have scraped (the user's).
    pub fn query(q: &str) -> Self {
        Self {
            query: Some(q.to_owned()),
            flag: None,
            at: At::Scraped,
            at_s: 0,
        }
    }

    /// What a person reads: the query, or the flag.
    pub fn text(&self) -> &str {
        self.query.as_deref().or(self.flag.as_deref()).unwrap_or("")
    }
}

/// One known change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub id: String,
    pub title: String,
    pub source: String,
    /// Regular expressions on a probe's text: a difference on a matching
    /// probe is explained by this change.
    pub explains: Vec<String>,
    #[serde(default, rename = "probe")]
    pub probes: Vec<Probe>,
}

impl Change {
    /// Whether this change may explain a difference on `text`.
    pub fn explains(&self, text: &str) -> bool {
        self.explains
            .iter()
            .any(|p| Regex::new(p).is_ok_and(|r| r.is_match(text)))
    }
}

/// The parsed catalogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    #[serde(rename = "change")]
    pub changes: Vec<Change>,
}

/// `fixtures/upgrade/` of this repository.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upgrade")
}

fn read(path: &Path) -> Result<String, CatalogueError> {
    std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
        path: path.to_owned(),
        source,
    })
}

impl Catalogue {
    /// Parses catalogue text; every `explains` pattern must compile.
    pub fn parse(text: &str, path: &Path) -> Result<Self, CatalogueError> {
        let err = |message: String| CatalogueError::Parse {
            path: path.to_owned(),
            message,
        };
        let c: Catalogue = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for ch in &c.changes {
            for p in &ch.explains {
                Regex::new(p).map_err(|e| err(format!("change {}: {e}", ch.id)))?;
            }
            for p in &ch.probes {
                if p.query.is_some() == p.flag.is_some() {
                    return Err(err(format!(
                        "change {}: a probe has either `query` or `flag`",
                        ch.id
                    )));
                }
            }
        }
        Ok(c)
    }

    /// The shipped catalogue.
    pub fn load_default() -> Result<Self, CatalogueError> {
        let path = fixtures_dir().join("catalogue.toml");
        Self::parse(&read(&path)?, &path)
    }

    /// The first change that explains a difference on `text`.
    pub fn explain(&self, text: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.explains(text))
    }
}

/// The shipped probe data, as OpenMetrics for promtool with every
/// timestamp moved by `start_s` (comment lines other than `# TYPE`,
/// `# HELP`, `# UNIT` and `# EOF`, which OpenMetrics refuses, dropped).
pub fn probe_openmetrics(text: &str, start_s: i64) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('#') {
            if ["# TYPE ", "# HELP ", "# UNIT ", "# EOF"]
                .iter()
                .any(|k| line.starts_with(k))
            {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        match line.rsplit_once(' ') {
            Some((head, ts)) if ts.parse::<i64>().is_ok() => {
                let t: i64 = ts.parse().unwrap_or_default();
                out.push_str(&format!("{head} {}\n", t + start_s));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[derive(Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
struct RuleGroup {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    expr: String,
}

/// A user probe: where it came from, and the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProbe {
    /// `file: group/rule` or `file:line`.
    pub origin: String,
    pub probe: Probe,
}

/// Every rule's expression of a Prometheus rule file.
pub fn rule_file_probes(path: &Path) -> Result<Vec<UserProbe>, CatalogueError> {
    let text = read(path)?;
    let f: RuleFile = serde_saphyr::from_str(&text).map_err(|e| CatalogueError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let mut probes = Vec::new();
    for g in &f.groups {
        for r in &g.rules {
            let rule = r.record.as_deref().or(r.alert.as_deref()).unwrap_or("?");
            probes.push(UserProbe {
                origin: format!("{}: {}/{rule}", path.display(), g.name),
                probe: Probe::query(&r.expr),
            });
        }
    }
    Ok(probes)
}

/// A query list: one PromQL query per line; blank lines and `#` comments
/// skipped.
pub fn query_list_probes(path: &Path) -> Result<Vec<UserProbe>, CatalogueError> {
    let text = read(path)?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| UserProbe {
            origin: format!("{}:{}", path.display(), i + 1),
            probe: Probe::query(l.trim()),
        })
        .collect())
}
