//! The failure bundle: for a failed scenario, what a person needs to see
//! why: component logs (tails), command lines, versions, bucket listing, the
//! failed checks, and the command that reproduces it. Secrets redacted.

use std::path::{Path, PathBuf};

use super::{ReportError, write};
use crate::client::objstore::Objstore;
use crate::platform::Platform;
use crate::process::{redact, tail_lines};
use crate::scenario::ScenarioReport;

/// Writes `DIR/bundles/<scenario>/` and returns its path.
pub async fn write_bundle(
    dir: &Path,
    report: &ScenarioReport,
    platform: &dyn Platform,
    reproduce: &str,
) -> Result<PathBuf, ReportError> {
    let secrets = vec![platform.endpoints().s3.credentials.secret_key.clone()];
    let out = dir.join("bundles").join(super::safe_name(&report.id));
    let mut text = format!(
        "# {} failed on the {} platform\n\n",
        report.id,
        platform.name()
    );
    for (name, msg) in report.failures() {
        text.push_str(&format!("- **{name}**: {msg}\n"));
    }
    text.push_str(&format!("\nReproduce:\n\n    {reproduce}\n\n## Facts\n\n"));
    for f in &report.facts {
        text.push_str(&format!("- {}: {}\n", f.key, f.value));
    }
    let missing = platform.collect_diagnostics(&out).await;
    if !missing.is_empty() {
        text.push_str("\n## Not collected\n\n");
        for m in &missing {
            text.push_str(&format!("- {m}\n"));
        }
    }
    text.push_str("\n## Components\n\n");
    for c in platform.components() {
        text.push_str(&format!(
            "### {}\n\n- pid: {}\n- url: {}\n- command: `{}`\n- log: logs/{}.log\n\n",
            c.name,
            c.pid.map_or("not running".into(), |p| p.to_string()),
            c.url.unwrap_or_default(),
            redact(&c.command_line, &secrets),
            c.name
        ));
        write(
            &out.join("logs").join(format!("{}.log", c.name)),
            &redact(&tail_lines(&c.log, 400), &secrets),
        )?;
    }
    if let Ok(v) = std::fs::read_to_string(crate::versions::default_versions_path()) {
        write(&out.join("versions.toml"), &v)?;
    }
    let listing = match Objstore::new(platform.endpoints().s3.clone())
        .list("")
        .await
    {
        Ok(objs) => objs
            .iter()
            .map(|o| format!("{:>10}  {}", o.size, o.key))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("cannot list the bucket: {e}"),
    };
    write(&out.join("bucket.txt"), &redact(&listing, &secrets))?;
    write(&out.join("README.md"), &redact(&text, &secrets))?;
    Ok(out)
}
