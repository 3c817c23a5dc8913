//! The catalogue against answers recorded from real binaries (Debian's
//! Prometheus 2.42 and the pinned 3.16, by the `upgrade` scenario's diff:
//! its `upgrade-diff-recorded.json`): one test per catalogued change, each
//! showing that the change makes a difference and that the diff names it.

use super::catalogue::{Catalogue, fixtures_dir, probe_openmetrics};
use super::diff::{Recorded, differences};

fn recorded() -> Vec<Recorded> {
    let path = fixtures_dir().join("recorded-2.42.0-3.16.0.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The recorded difference on change `id`'s own probe is explained by it.
fn shows_and_is_explained(id: &str) -> String {
    let catalogue = Catalogue::load_default().unwrap();
    assert!(
        catalogue.changes.iter().any(|c| c.id == id),
        "{id} not catalogued"
    );
    let diffs = differences(&recorded(), &catalogue);
    let d = diffs
        .iter()
        .find(|d| d.origin == id)
        .unwrap_or_else(|| panic!("no difference recorded for {id}: {diffs:#?}"));
    assert_eq!(
        d.explained_by.as_ref().map(|(c, _)| c.as_str()),
        Some(id),
        "{d:#?}"
    );
    format!("A: {}; B: {}", d.a, d.b)
}

#[test]
fn range_left_open_drops_the_boundary_sample() {
    let d = shows_and_is_explained("range-left-open");
    assert!(d.contains("A: {} = 5; B: {} = 4"), "{d}");
}

#[test]
fn le_normalised_empties_the_old_selector() {
    let d = shows_and_is_explained("le-normalised");
    assert!(d.ends_with("B: no series"), "{d}");
}

#[test]
fn regex_dot_matches_a_newline_in_3() {
    let d = shows_and_is_explained("regex-dot-newline");
    assert!(d.starts_with("A: no series; B: {} = 1"), "{d}");
}

#[test]
fn holt_winters_is_refused_by_3() {
    let d = shows_and_is_explained("holt-winters-renamed");
    assert!(d.contains("B: refused:"), "{d}");
    assert!(d.contains("holt_winters"), "{d}");
}

#[test]
fn a_removed_flag_is_refused_by_3() {
    let d = shows_and_is_explained("flag-removed");
    assert!(d.starts_with("A: accepted; B: refused:"), "{d}");
    assert!(d.contains("allow-overlapping-blocks"), "{d}");
}

#[test]
fn both_refusing_is_no_difference_and_an_unexplained_one_is_kept() {
    let catalogue = Catalogue::load_default().unwrap();
    let r = |text: &str, a: &str, b: &str| Recorded {
        origin: "user.txt:1".into(),
        text: text.into(),
        a: a.into(),
        b: b.into(),
    };
    let v = |x: &str| {
        format!(
            r#"ok:{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1,"{x}"]}}]}}}}"#
        )
    };
    let diffs = differences(
        &[
            r("nope(", "error:parse error", "error:another parse error"),
            r("up", &v("1"), &v("1")),
            r("scrape_duration_seconds", &v("0.001"), &v("0.002")),
        ],
        &catalogue,
    );
    assert_eq!(diffs.len(), 1, "{diffs:#?}");
    assert_eq!(diffs[0].explained_by, None);
}

#[test]
fn probe_data_is_moved_to_the_window_and_stripped_of_comments() {
    let om = probe_openmetrics("# a comment\n# TYPE x gauge\nx 1 15\n# EOF\n", 3600);
    assert_eq!(om, "# TYPE x gauge\nx 1 3615\n# EOF\n");
}

#[test]
fn the_shipped_catalogue_parses_and_each_change_has_a_probe() {
    let c = Catalogue::load_default().unwrap();
    assert!(c.changes.len() >= 5);
    for ch in &c.changes {
        assert!(!ch.probes.is_empty(), "{}", ch.id);
        for p in &ch.probes {
            assert!(
                ch.explains(p.text()),
                "{} does not explain its own probe {}",
                ch.id,
                p.text()
            );
        }
    }
}

#[test]
fn a_users_rule_file_and_query_list_become_probes() {
    use super::catalogue::{query_list_probes, rule_file_probes};
    let rules = rule_file_probes(&fixtures_dir().join("example-rules.yml")).unwrap();
    let texts: Vec<&str> = rules.iter().map(|r| r.probe.text()).collect();
    assert_eq!(texts[0], "holt_winters(probe_gauge[5m], 0.5, 0.5)");
    assert_eq!(rules.len(), 3);
    assert!(
        rules[1]
            .origin
            .ends_with("example-rules.yml: example/ProbeHistogramSlow"),
        "{}",
        rules[1].origin
    );
    let queries = query_list_probes(&fixtures_dir().join("twin-queries.txt")).unwrap();
    assert_eq!(queries.len(), 1);
    assert!(queries[0].origin.ends_with("twin-queries.txt:4"));
    // Each of the example's rules is explained by the change it exercises.
    let c = Catalogue::load_default().unwrap();
    let ids: Vec<&str> = texts
        .iter()
        .map(|t| c.explain(t).unwrap().id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["holt-winters-renamed", "le-normalised", "range-left-open"]
    );
}
