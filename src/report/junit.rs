//! `junit.xml`: one testsuite per scenario id, one testcase per check.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::scenario::{Outcome, ScenarioReport};

/// Renders the JUnit XML of a run.
pub fn render(run_name: &str, reports: &[ScenarioReport]) -> String {
    let mut report = Report::new(run_name);
    for r in reports {
        let mut suite = TestSuite::new(r.id.as_str());
        for c in &r.checks {
            let status = match &c.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Failed(m) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(m.as_str());
                    s
                }
                Outcome::Error(m) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(m.as_str());
                    s
                }
                Outcome::Skipped(why) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(why.as_str());
                    s
                }
            };
            let mut case = TestCase::new(c.name.as_str(), status);
            case.set_classname(r.id.as_str()).set_time(c.duration);
            suite.add_test_case(case);
        }
        suite.set_time(r.duration);
        report.add_test_suite(suite);
    }
    report.to_string().expect("JUnit serialisation")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::CheckReport;
    use std::time::Duration;

    #[test]
    fn suites_cases_failures_and_skips() {
        let r = ScenarioReport {
            floor: None,
            id: "ha_dedup".into(),
            checks: vec![
                CheckReport {
                    name: "a".into(),
                    outcome: Outcome::Passed,
                    duration: Duration::from_secs(1),
                },
                CheckReport {
                    name: "b".into(),
                    outcome: Outcome::Failed("2 series where 1 expected".into()),
                    duration: Duration::ZERO,
                },
                CheckReport {
                    name: "c".into(),
                    outcome: Outcome::Skipped("needs Docker".into()),
                    duration: Duration::ZERO,
                },
            ],
            facts: vec![],
            artifacts: vec![],
            duration: Duration::from_secs(3),
        };
        let xml = render("stackproof", &[r]);
        assert!(
            xml.contains(
                r#"<testsuite name="ha_dedup" tests="3" disabled="1" errors="0" failures="1""#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="2 series where 1 expected""#),
            "{xml}"
        );
        assert!(xml.contains(r#"<skipped message="needs Docker""#), "{xml}");
    }
}
