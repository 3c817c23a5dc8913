//! `ha_dedup`'s picture: the deduplicated series against each replica's own
//! samples around the kill, with replica 0's hole and the deduplication's
//! switch-overs (where the deduplicated series changes replica) marked.
//! Drawn with `plotters` into an SVG string.

use plotters::prelude::*;

use crate::check::gaps::find_gaps;

/// What the picture shows: sample timestamps (ms) over one window.
#[derive(Debug, Clone, Default)]
pub struct KillWindow {
    /// The metric plotted, for the title.
    pub metric: String,
    /// Each replica's own raw sample timestamps, by replica index.
    pub replicas: Vec<Vec<i64>>,
    /// The deduplicated series' raw sample timestamps.
    pub dedup: Vec<i64>,
    pub killed_at: i64,
    pub restarted_at: i64,
    /// The switch-over bound the check holds the deduplicated holes to.
    pub bound_ms: i64,
}

/// Drawing failed (plotters' own error, in words).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the kill-window picture: {0}")]
pub struct PlotError(String);

/// Where the deduplicated series moves from one replica to another: the
/// last sample from the old one, the first from the new, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    pub from_ms: i64,
    pub to_ms: i64,
    pub from_replica: usize,
    pub to_replica: usize,
}

/// The replica each deduplicated sample came from: the one holding a sample
/// at exactly that timestamp (the exporter stamps each scrape, so the
/// replicas' timestamps differ); None when none or several do.
pub fn sources(w: &KillWindow) -> Vec<Option<usize>> {
    w.dedup
        .iter()
        .map(|t| {
            let mut hits = w
                .replicas
                .iter()
                .enumerate()
                .filter(|(_, r)| r.binary_search(t).is_ok());
            match (hits.next(), hits.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        })
        .collect()
}

/// Every switch-over of the deduplicated series, in time order.
pub fn switches(w: &KillWindow) -> Vec<Switch> {
    let known: Vec<(i64, usize)> = w
        .dedup
        .iter()
        .zip(sources(w))
        .filter_map(|(t, s)| Some((*t, s?)))
        .collect();
    known
        .windows(2)
        .filter(|p| p[0].1 != p[1].1)
        .map(|p| Switch {
            from_ms: p[0].0,
            to_ms: p[1].0,
            from_replica: p[0].1,
            to_replica: p[1].1,
        })
        .collect()
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const HOLE: RGBColor = RGBColor(255, 205, 205);
const SWITCH: RGBColor = RGBColor(255, 127, 14);

/// The picture as an SVG document. One lane per replica (replica 0 on
/// top) and the deduplicated series at the bottom, each sample a dot,
/// coloured by replica (deduplicated dots by the replica they came from);
/// time in seconds from the kill.
pub fn kill_window_svg(w: &KillWindow) -> Result<String, PlotError> {
    let e = |e: &dyn std::fmt::Display| PlotError(e.to_string());
    let all = w.replicas.iter().flatten().chain(&w.dedup);
    let (lo, hi) = all.fold((w.killed_at, w.restarted_at), |(lo, hi), t| {
        (lo.min(*t), hi.max(*t))
    });
    let secs = |t: i64| (t - w.killed_at) as f64 / 1000.0;
    let n = w.replicas.len();
    // Lanes from the bottom: the deduplicated series, then replica n-1 … 0.
    let lane_of = |replica: usize| (n - replica) as f64;
    let names: Vec<String> = std::iter::once("deduplicated".to_owned())
        .chain((0..n).rev().map(|i| format!("replica {i}")))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 190 + 70 * (n as u32 + 1)))
            .into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "ha_dedup: raw samples of {} around the SIGKILL of replica 0",
                    w.metric
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(110)
            // Headroom above the lanes for the legend, so it hides no sample.
            .build_cartesian_2d(secs(lo) - 1.0..secs(hi) + 1.0, -0.7..n as f64 + 1.9)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            // Lanes are named, not measured: a tick mark would also land
            // on the unnamed positions between and above them.
            .set_tick_mark_size(LabelAreaPosition::Left, 0)
            .y_labels(2 * n + 3)
            .y_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("seconds from the SIGKILL of replica 0")
            .draw()
            .map_err(|x| e(&x))?;

        // Replica 0's hole: its longest gap over the scrape-based bound.
        let r0 = w.replicas.first().map(Vec::as_slice).unwrap_or_default();
        if let Some(g) = find_gaps(r0, w.bound_ms, None)
            .into_iter()
            .max_by_key(|g| g.len_ms())
        {
            let y = lane_of(0);
            chart
                .draw_series([Rectangle::new(
                    [(secs(g.after_ms), y - 0.3), (secs(g.before_ms), y + 0.3)],
                    HOLE.filled(),
                )])
                .map_err(|x| e(&x))?
                .label(format!(
                    "replica 0's hole: {:.1}s",
                    g.len_ms() as f64 / 1000.0
                ))
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], HOLE.filled()));
        }
        // The kill and the restart, across every lane.
        for (t, what) in [(w.killed_at, "SIGKILL"), (w.restarted_at, "restart")] {
            let x = secs(t);
            chart
                .draw_series([PathElement::new(
                    vec![(x, -0.7), (x, n as f64 + 0.7)],
                    BLACK.stroke_width(1),
                )])
                .map_err(|x| e(&x))?;
            chart
                .draw_series([Text::new(
                    what,
                    (x + 0.3, n as f64 + 0.55),
                    ("sans-serif", 13),
                )])
                .map_err(|x| e(&x))?;
        }
        // Switch-overs: the stretch between the old replica's last sample
        // and the new one's first, on the deduplicated lane.
        for (k, s) in switches(w).iter().enumerate() {
            let gap = (s.to_ms - s.from_ms) as f64 / 1000.0;
            let ann = chart
                .draw_series([Rectangle::new(
                    [(secs(s.from_ms), -0.35), (secs(s.to_ms), 0.35)],
                    SWITCH.mix(0.35).filled(),
                )])
                .map_err(|x| e(&x))?;
            if k == 0 {
                ann.label(format!(
                    "switch-over (bound {:.0}s)",
                    w.bound_ms as f64 / 1000.0
                ))
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], SWITCH.mix(0.35).filled())
                });
            }
            chart
                .draw_series([Text::new(
                    format!("replica {} → {}: {gap:.1}s", s.from_replica, s.to_replica),
                    (secs(s.from_ms), 0.62),
                    ("sans-serif", 12).into_font().color(&SWITCH),
                )])
                .map_err(|x| e(&x))?;
        }
        // Without a switch-over the kill needed none: say which replica
        // the deduplicated series read, and its longest gap near the kill.
        if switches(w).is_empty() {
            let src = sources(w);
            let read = src.iter().flatten().next().copied();
            let longest = w
                .dedup
                .windows(2)
                .filter(|p| p[1] >= w.killed_at && p[0] <= w.restarted_at)
                .map(|p| p[1] - p[0])
                .max()
                .unwrap_or(0);
            let text = match read {
                Some(r) => format!(
                    "no switch-over: the deduplicated series read replica {r} throughout \
                     (longest gap while replica 0 was down {:.1}s; bound {:.0}s)",
                    longest as f64 / 1000.0,
                    w.bound_ms as f64 / 1000.0
                ),
                None => "no switch-over seen (no deduplicated sample matched a replica's)".into(),
            };
            chart
                .draw_series([Text::new(
                    text,
                    (secs(w.killed_at) + 0.3, 0.62),
                    ("sans-serif", 12).into_font().color(&SWITCH),
                )])
                .map_err(|x| e(&x))?;
        }
        // The samples: each replica on its lane, then the deduplicated ones
        // in the colour of the replica each came from (grey: unknown).
        for (i, ts) in w.replicas.iter().enumerate() {
            let c = COLORS[i % COLORS.len()];
            chart
                .draw_series(
                    ts.iter()
                        .map(|t| Circle::new((secs(*t), lane_of(i)), 3, c.filled())),
                )
                .map_err(|x| e(&x))?
                .label(format!("replica {i}'s samples"))
                .legend(move |(x, y)| Circle::new((x + 7, y), 4, c.filled()));
        }
        let src = sources(w);
        chart
            .draw_series(w.dedup.iter().zip(&src).map(|(t, s)| {
                let c = s.map_or(RGBColor(128, 128, 128), |i| COLORS[i % COLORS.len()]);
                Circle::new((secs(*t), 0.0), 3, c.filled())
            }))
            .map_err(|x| e(&x))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    Ok(svg)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Replica 0 scrapes every second and dies at 10 s for 30 s; replica 1
    /// scrapes 400 ms later throughout; dedup reads replica 0, moves to
    /// replica 1 at the kill and back after the restart.
    pub(crate) fn window() -> KillWindow {
        let r0: Vec<i64> = (0..55)
            .filter(|s| !(10..40).contains(s))
            .map(|s| s * 1000)
            .collect();
        let r1: Vec<i64> = (0..55).map(|s| s * 1000 + 400).collect();
        let dedup = r0
            .iter()
            .copied()
            .filter(|t| *t < 10_000)
            .chain(r1.iter().copied().filter(|t| (12_000..45_000).contains(t)))
            .chain(r0.iter().copied().filter(|t| *t >= 45_000))
            .collect();
        KillWindow {
            metric: "stackproof_gauge".into(),
            replicas: vec![r0, r1],
            dedup,
            killed_at: 9_500,
            restarted_at: 38_000,
            bound_ms: 7_000,
        }
    }

    #[test]
    fn switch_overs_are_found_by_the_samples_source() {
        let s = switches(&window());
        assert_eq!(
            s,
            [
                Switch {
                    from_ms: 9_000,
                    to_ms: 12_400,
                    from_replica: 0,
                    to_replica: 1
                },
                Switch {
                    from_ms: 44_400,
                    to_ms: 45_000,
                    from_replica: 1,
                    to_replica: 0
                },
            ]
        );
    }

    #[test]
    fn a_kill_without_switch_over_is_said() {
        let mut w = window();
        w.dedup = w.replicas[1].clone();
        let svg = kill_window_svg(&w).unwrap();
        assert!(
            svg.contains("no switch-over: the deduplicated series read replica 1 throughout"),
            "{svg}"
        );
    }

    #[test]
    fn the_picture_is_an_svg_with_its_marks() {
        let svg = kill_window_svg(&window()).unwrap();
        if let Some(p) = std::env::var_os("STACKPROOF_PLOT_OUT") {
            std::fs::write(p, &svg).unwrap();
        }
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        for text in [
            "replica 0&apos;s hole: 31.0s",
            "replica 0 → 1: 3.4s",
            "SIGKILL",
            "restart",
            "deduplicated",
        ] {
            let plain = text.replace("&apos;", "'");
            assert!(
                svg.contains(text) || svg.contains(&plain),
                "missing {text:?}"
            );
        }
    }
}
