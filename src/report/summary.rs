//! `summary.md`: the table a person reads in CI.

use crate::scenario::{Artifact, Outcome, ScenarioReport};

use super::totals;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

/// Renders the Markdown summary of a run on `platform`.
pub fn render(platform: &str, reports: &[ScenarioReport]) -> String {
    let t = totals(reports);
    let mut s = format!(
        "# stackproof — {platform} platform\n\n**{}**\n\n\
         | scenario | check | result | time | details |\n|---|---|---|---|---|\n",
        t.counts()
    );
    for r in reports {
        for c in &r.checks {
            let (result, details) = match &c.outcome {
                Outcome::Passed => ("✅ passed", String::new()),
                Outcome::Failed(m) => ("❌ failed", m.clone()),
                Outcome::Skipped(why) => ("⏭ skipped", why.clone()),
                Outcome::Error(why) => ("💥 error", why.clone()),
            };
            s.push_str(&format!(
                "| `{}` | {} | {} | {:.1}s | {} |\n",
                r.id,
                cell(&c.name),
                result,
                c.duration.as_secs_f64(),
                cell(&details)
            ));
        }
    }
    let with_facts: Vec<&ScenarioReport> = reports.iter().filter(|r| !r.facts.is_empty()).collect();
    if !with_facts.is_empty() {
        s.push_str("\n## Measured\n\n| scenario | what | value |\n|---|---|---|\n");
        for r in with_facts {
            for f in &r.facts {
                s.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    r.id,
                    cell(&f.key),
                    cell(&f.value.to_string())
                ));
            }
        }
    }
    let files: Vec<(&ScenarioReport, &Artifact)> = reports
        .iter()
        .flat_map(|r| r.artifacts.iter().map(move |a| (r, a)))
        .collect();
    if !files.is_empty() {
        // Each file linked; pictures (SVG) also shown in place.
        s.push_str("\n## Files\n\n");
        for (r, a) in files {
            let path = super::artifact_path(&r.id, &a.name);
            let path = path.display();
            s.push_str(&format!("- `{}`: [{}]({path})\n", r.id, a.name));
            if a.name.ends_with(".svg") {
                s.push_str(&format!("\n  ![{}: {}]({path})\n\n", r.id, a.name));
            }
        }
    }
    // Beside each wall time, the stack's own waiting in it: what the
    // harness adds is the difference.
    s.push_str("\n| scenario | wall time | the stack's own waiting |\n|---|---|---|\n");
    for r in reports {
        let floor = r.floor.as_ref().map_or("—".to_owned(), |f| {
            format!("{:.1}s: {}", f.wait.as_secs_f64(), f.why)
        });
        s.push_str(&format!(
            "| `{}` | {:.1}s | {} |\n",
            r.id,
            r.duration.as_secs_f64(),
            floor.replace('|', "\\|")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::CheckReport;
    use std::time::Duration;

    #[test]
    fn a_row_per_check_with_counts_and_facts() {
        let mut r = ScenarioReport::new("ha_dedup");
        r.checks.push(CheckReport {
            name: "x".into(),
            outcome: Outcome::Failed("a | b\nc".into()),
            duration: Duration::from_millis(1500),
        });
        r.fact(
            "replica 0 hole length",
            crate::scenario::FactValue::seconds_of_ms(31_000, 1),
        );
        r.duration = Duration::from_secs(60);
        r.floor = Some(crate::scenario::floor::Floor {
            wait: Duration::from_secs(40),
            why: "30s replica 0 dead".into(),
        });
        r.artifacts.push(Artifact {
            name: "kill-window.svg".into(),
            bytes: b"<svg/>".to_vec(),
        });
        let md = render("local", &[r]);
        assert!(
            md.contains("[kill-window.svg](ha_dedup/kill-window.svg)"),
            "{md}"
        );
        assert!(md.contains("**0 passed, 1 failed, 0 skipped**"), "{md}");
        assert!(
            md.contains("| `ha_dedup` | x | ❌ failed | 1.5s | a \\| b<br>c |"),
            "{md}"
        );
        assert!(
            md.contains("| `ha_dedup` | replica 0 hole length | 31.0s |"),
            "{md}"
        );
        assert!(
            md.contains("| `ha_dedup` | 60.0s | 40.0s: 30s replica 0 dead |"),
            "{md}"
        );
    }
}
