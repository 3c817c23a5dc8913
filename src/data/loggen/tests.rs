use super::*;
use crate::check::logseq::{account, group_by_key, parse_seq};
use crate::client::loki::Stream;

fn generator() -> LogGen {
    LogGen::recent("rtest", 20, Duration::from_millis(500))
}

#[test]
fn nine_streams_of_known_lines_in_the_recent_past() {
    let g = generator();
    let lines = g.lines();
    assert_eq!(lines.len(), 9 * 20);
    assert_eq!(g.keys().len(), 9);
    let (first, end) = g.window_ns();
    let now = now_ns();
    assert!(end < now - 1_000_000_000, "the last line is in the past");
    assert!(first > now - 60_000_000_000, "within a minute");
    // No line on a whole second.
    assert!(
        lines
            .iter()
            .all(|l| l.ts_ns.rem_euclid(1_000_000_000) >= 250_000_000)
    );
    for l in &lines {
        assert_eq!(
            parse_seq(&l.line),
            Some(("rtest".to_owned(), l.seq)),
            "{}",
            l.line
        );
    }
    let json = lines.iter().find(|l| l.app == "billing").unwrap();
    let v: serde_json::Value = serde_json::from_str(&json.line).unwrap();
    assert_eq!(v["amount"], json.value);
    let api = lines.iter().find(|l| l.app == "api" && l.seq == 3).unwrap();
    assert!(api.line.contains("duration_ms=21"), "{}", api.line);
}

#[test]
fn pushing_what_it_generated_reads_back_clean() {
    let g = generator();
    let streams: Vec<Stream> = g
        .streams()
        .into_iter()
        .map(|p| Stream {
            labels: p.labels,
            entries: p.entries,
        })
        .collect();
    let acc = account(&g.run, &g.expected_counts(), &group_by_key(&streams));
    assert!(acc.is_clean(), "{:?}", acc.problems());
    assert_eq!(acc.received(), 180);
    // Each stream's entries are in timestamp order, as Loki wants them.
    for s in g.streams() {
        assert!(s.entries.windows(2).all(|w| w[0].ts_ns < w[1].ts_ns));
    }
}

#[test]
fn skipped_and_duplicated_lines_show_in_the_accounting() {
    let g = generator()
        .skip("app=api level=info", 4, 7)
        .duplicate("app=billing level=warn", 11);
    let lines = g.lines();
    assert_eq!(lines.len(), 180 - 4 + 1);
    let streams: Vec<Stream> = g
        .streams()
        .into_iter()
        .map(|p| Stream {
            labels: p.labels,
            entries: p.entries,
        })
        .collect();
    let p = account(&g.run, &g.expected_counts(), &group_by_key(&streams))
        .as_result()
        .unwrap_err();
    assert!(
        p.contains("app=api level=info: missing seq 4–7 (4 of 20 lines)"),
        "{p}"
    );
    assert!(
        p.contains("app=billing level=warn: duplicate seq 11 (seen 2×)"),
        "{p}"
    );
    // The copy lies between seq 11 and seq 12: not out of order.
    assert!(!p.contains("out of order"), "{p}");
}

#[test]
fn windows_are_left_open_right_closed() {
    let g = generator();
    let lines = g.lines();
    let t = lines[0].ts_ns;
    assert_eq!(in_window(&lines, t, t + 1).count(), 0);
    assert_eq!(
        in_window(&lines, t - 1, t)
            .filter(|l| l.key == lines[0].key)
            .count(),
        1
    );
}

#[test]
fn batches_cover_every_line_once_in_order() {
    let g = generator().skip("app=api level=info", 0, 9);
    let batches = g.batches(40);
    assert!(batches.len() > 1);
    assert!(
        batches
            .iter()
            .all(|b| b.iter().map(|s| s.entries.len()).sum::<usize>() <= 40)
    );
    let mut seen: Vec<(String, i64)> = batches
        .iter()
        .flatten()
        .flat_map(|s| {
            s.entries
                .iter()
                .map(move |e| (stream_key(&s.labels), e.ts_ns))
        })
        .collect();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!((n, seen.len()), (170, 170));
}
