//! `stackproof bench`: how long the local stack takes to start, how much
//! memory it holds, and optionally a scenario and compactor passes on it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use stackproof::platform::local::LocalStack;

/// `min … median … max` of `values`, in seconds, over their count.
fn spread(values: &mut [f64]) -> String {
    values.sort_by(|a, b| a.total_cmp(b));
    match values {
        [] => "no values".into(),
        v => format!(
            "min {:.2}s median {:.2}s max {:.2}s over {}",
            v[0],
            v[v.len() / 2],
            v[v.len() - 1],
            v.len()
        ),
    }
}

pub async fn bench(
    starts: usize,
    with_scenario: bool,
    compactor: usize,
) -> anyhow::Result<ExitCode> {
    let mut readies = Vec::new();
    for i in 0..starts {
        let t = std::time::Instant::now();
        let stack = LocalStack::builder()
            .start()
            .await
            .context("start the local stack")?;
        let ready = stack.ready_after().as_secs_f64();
        readies.push(ready);
        println!(
            "bench: start {}: stack ready (both replicas queryable) in {ready:.2}s",
            i + 1
        );
        let rss: u64 = stack.peak_rss().iter().map(|(_, b)| b).sum();
        println!(
            "bench: start {}: peak RSS of the stack at ready {:.0} MiB",
            i + 1,
            rss as f64 / 1048576.0
        );
        drop(stack);
        println!(
            "bench: start {}: teardown done, {:.2}s total",
            i + 1,
            t.elapsed().as_secs_f64()
        );
    }
    if !readies.is_empty() {
        println!("bench: stack ready: {} starts", spread(&mut readies));
    }
    if with_scenario {
        let mut stack = LocalStack::builder()
            .start()
            .await
            .context("start the local stack")?;
        let params = stackproof::scenario::ha_dedup::Params::default();
        let r = stackproof::scenario::run(stackproof::scenario::ha_dedup::ID, &mut stack).await;
        let wall = r.checks.iter().map(|c| c.duration).sum::<Duration>();
        let unavoidable = params.warm_up + params.outage + params.cool_down;
        let total = r.duration.max(wall);
        println!(
            "bench: ha_dedup: {} in {:.1}s (checks {:.1}s)",
            if r.proved_something() {
                "passed"
            } else {
                "FAILED"
            },
            total.as_secs_f64(),
            wall.as_secs_f64()
        );
        println!(
            "bench: ha_dedup: unavoidable waiting (warm-up + outage + cool-down) {:.0}s",
            unavoidable.as_secs_f64()
        );
        for (name, b) in stack.peak_rss() {
            println!("bench: peak RSS {name:<14} {:.0} MiB", b as f64 / 1048576.0);
        }
        let rss: u64 = stack.peak_rss().iter().map(|(_, b)| b).sum();
        println!(
            "bench: peak RSS of the stack (sum) {:.0} MiB",
            rss as f64 / 1048576.0
        );
    }
    if compactor > 0 {
        use stackproof::scenario::compactor as c;
        let mut stack = LocalStack::builder()
            .start()
            .await
            .context("start the local stack")?;
        let (mut passes, mut walls) = (Vec::new(), Vec::new());
        for i in 0..compactor {
            let r = stackproof::scenario::run(c::ID, &mut stack).await;
            let pass = r.fact_seconds("compactor pass");
            println!(
                "bench: compactor {}: {} in {:.1}s, compactor pass {}",
                i + 1,
                if r.proved_something() {
                    "passed"
                } else {
                    "FAILED"
                },
                r.duration.as_secs_f64(),
                pass.map_or("not run".into(), |p| format!("{p:.1}s"))
            );
            walls.push(r.duration.as_secs_f64());
            passes.extend(pass);
        }
        println!("bench: compactor scenario: {} runs", spread(&mut walls));
        println!(
            "bench: compactor pass (11 days × 2 replicas × 2 series): {} passes",
            spread(&mut passes)
        );
    }
    Ok(ExitCode::SUCCESS)
}
