//! One pass of the Thanos compactor as a process on this machine, against
//! whatever bucket the platform shows the harness (the local S3 server, a
//! port-forwarded MinIO, a real bucket): the same code serves every
//! platform, so the `compactor` scenario needs no cluster-side Job.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{CompactPass, CompactRun, PlatformError};
use crate::eventually::{Eventually, Probe};
use crate::ports::free_port;
use crate::process::{ProcessSpec, RunningProcess};
use crate::stack::config;

/// One compactor pass over the backfill takes ~2 s here; the bound leaves
/// room for a loaded machine and a remote bucket.
const COMPACT_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `thanos compact` once (`compact-<n>`: data in `<dir>/compact-<n>`,
/// log in `<dir>/logs/compact-<n>.log`) with the bucket in `objstore`, and
/// waits for it to exit. A non-zero exit is an error carrying its command
/// line and last log lines; on timeout the process group is killed.
pub(crate) async fn run_once(
    thanos: &Path,
    dir: &Path,
    objstore: &Path,
    n: usize,
    run: &CompactRun,
) -> Result<CompactPass, PlatformError> {
    let name = format!("compact-{n}");
    let data = dir.join(&name);
    let logs = dir.join("logs");
    for d in [&data, &logs] {
        std::fs::create_dir_all(d).map_err(PlatformError::io(format!("create {}", d.display())))?;
    }
    let spec = ProcessSpec::new(&name, thanos).args(config::compact_args(
        free_port()?,
        &data,
        objstore,
        run,
    ));
    let log = logs.join(format!("{name}.log"));
    let started = Instant::now();
    let mut proc = RunningProcess::spawn(spec, &log)?;
    let pid = proc.pid();
    let exited = Eventually::new(
        format!("{name} (pid {pid}) to finish its pass"),
        COMPACT_TIMEOUT,
    )
    .max_delay(Duration::from_millis(500))
    .until(|| {
        let status = proc.try_exit();
        let log = log.clone();
        async move {
            match status {
                Some(s) => Probe::Ready(s),
                None => Probe::NotYet(crate::process::tail_lines(&log, 1)),
            }
        }
    })
    .await;
    let status = match exited {
        Ok(s) => s,
        Err(e) => {
            proc.kill();
            return Err(e.into());
        }
    };
    if !status.success() {
        return Err(PlatformError::CommandFailed {
            name,
            status: status.to_string(),
            command: proc.spec().command_line(),
            log: log.clone(),
            tail: proc.log_tail(20),
        });
    }
    Ok(CompactPass {
        duration: started.elapsed(),
        log,
    })
}
