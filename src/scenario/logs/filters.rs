//! The line-filter and parser checks: `|=`, `!=`, `|~`, `| json`,
//! `| logfmt` with label filters, each against the lines it must select.

use std::time::Instant;

use super::{checks, read_streams, same_lines};
use crate::client::loki::LokiClient;
use crate::data::loggen::{GenLine, LogGen};
use crate::scenario::ScenarioReport;

async fn check_query(
    client: &LokiClient,
    q: &str,
    start: i64,
    end: i64,
    expected: Vec<&GenLine>,
) -> Result<(), String> {
    let (got, _) = read_streams(client, q, start, end)
        .await
        .map_err(|e| format!("{q}: {e}"))?;
    if expected.is_empty() {
        return Err(format!("{q}: the check selects no line; it proves nothing"));
    }
    same_lines(&expected, &got).map_err(|e| format!("{q}: {e}"))
}

pub(super) async fn check_filters(
    report: &mut ScenarioReport,
    client: &LokiClient,
    g: &LogGen,
    lines: &[GenLine],
    start: i64,
    end: i64,
) {
    let t = Instant::now();
    let q = format!(
        "{} |= \"seq=4\" != \"level=warn\"",
        g.selector_with("app=\"checkout\"")
    );
    let want = lines
        .iter()
        .filter(|l| {
            l.app == "checkout" && l.line.contains("seq=4") && !l.line.contains("level=warn")
        })
        .collect();
    let r1 = check_query(client, &q, start, end, want).await;
    let q = format!(
        "{} |~ \"seq=1[0-9] \"",
        g.selector_with("app=\"api\", level=\"error\"")
    );
    let want = lines
        .iter()
        .filter(|l| l.app == "api" && l.level == "error" && (10..20).contains(&l.seq))
        .collect();
    let r2 = check_query(client, &q, start, end, want).await;
    report.check(checks::LINE_FILTER, t, r1.and(r2));

    let t = Instant::now();
    let q = format!(
        "{} | json | amount >= 100 and level_extracted=\"info\"",
        g.selector_with("app=\"billing\"")
    );
    let want = lines
        .iter()
        .filter(|l| l.app == "billing" && l.value >= 100 && l.level == "info")
        .collect();
    report.check(
        checks::JSON,
        t,
        check_query(client, &q, start, end, want).await,
    );

    let t = Instant::now();
    let q = format!(
        "{} | logfmt | duration_ms > 50",
        g.selector_with("app=\"api\"")
    );
    let want = lines
        .iter()
        .filter(|l| l.app == "api" && l.value > 50)
        .collect();
    report.check(
        checks::LOGFMT,
        t,
        check_query(client, &q, start, end, want).await,
    );
}
