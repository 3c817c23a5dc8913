//! What serde cannot check about an assertion file, each mistake placed.

use super::AssertionFile;

pub(super) type Invalid = (serde_saphyr::Location, String);

pub(super) fn validate(f: &AssertionFile) -> Result<(), Invalid> {
    let fail =
        |loc: serde_saphyr::Location, what: &str, msg: String| Err((loc, format!("{what}: {msg}")));
    for a in &f.promql {
        let e = &a.expect.value;
        let what = format!("promql `{}`", a.name.value);
        if e.tolerance.is_some() && e.value.is_none() {
            return fail(
                a.expect.referenced,
                &what,
                "`tolerance` needs `value`".into(),
            );
        }
        if let Some(m) = nothing_expected(
            e.series.is_none()
                && e.value.is_none()
                && e.labels.is_empty()
                && e.no_label.is_none()
                && e.max_gap.is_none(),
            "series, value, labels, no_label or max_gap",
        ) {
            return fail(a.expect.referenced, &what, m);
        }
        if a.range.is_some() && a.window.is_some() {
            return fail(
                a.name.referenced,
                &what,
                "`range` and `window` exclude each other: `window` reads raw samples, `range` runs query_range".into(),
            );
        }
        if e.max_gap.is_some() && a.range.is_none() && a.window.is_none() {
            return fail(
                a.expect.referenced,
                &what,
                "`max_gap` needs `window` (raw samples, the right place to look for holes) or `range`".into(),
            );
        }
    }
    for a in &f.logql {
        let e = &a.expect.value;
        let what = format!("logql `{}`", a.name.value);
        if e.tolerance.is_some() && e.value.is_none() {
            return fail(
                a.expect.referenced,
                &what,
                "`tolerance` needs `value`".into(),
            );
        }
        if let Some(m) = nothing_expected(
            e.lines.is_none()
                && e.exact_lines.is_none()
                && e.contains.is_empty()
                && e.series.is_none()
                && e.value.is_none(),
            "lines, exact_lines, contains, series or value",
        ) {
            return fail(a.expect.referenced, &what, m);
        }
        let about_lines = e.lines.is_some() || e.exact_lines.is_some() || !e.contains.is_empty();
        if about_lines && a.range.is_none() {
            return fail(
                a.expect.referenced,
                &what,
                "`lines`, `exact_lines` and `contains` need `range` (Loki answers log selectors only over a range)".into(),
            );
        }
    }
    for a in &f.bucket {
        let e = &a.expect.value;
        let what = format!("bucket `{}`", a.name.value);
        if a.blocks.is_some() == a.prefix.is_some() {
            return fail(
                a.name.referenced,
                &what,
                "expected exactly one of `blocks` (external labels) or `prefix`".into(),
            );
        }
        if let Some(m) = nothing_expected(
            e.at_least.is_none() && e.at_most.is_none() && e.exactly.is_none(),
            "at_least, at_most or exactly",
        ) {
            return fail(a.expect.referenced, &what, m);
        }
    }
    Ok(())
}

fn nothing_expected(empty: bool, fields: &str) -> Option<String> {
    empty.then(|| format!("`expect` is empty: expected at least one of {fields}"))
}
