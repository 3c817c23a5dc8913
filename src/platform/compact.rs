//! One pass of the Thanos compactor as a process on this machine, against
//! whatever bucket the platform shows the harness (the local S3 server, a
//! port-forwarded MinIO, a real bucket): the same code serves every
//! platform, so the `compactor` scenario needs no cluster-side Job.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{CompactPass, CompactRun, PlatformError};
use crate::ports::free_port;
use crate::process::{ManagedProcess, ProcessSpec};
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
    let mut pass = ManagedProcess::new(spec, &log);
    pass.start()?;
    let pid = pass.pid().unwrap_or(0);
    let status = pass
        .wait_exit(
            format!("{name} (pid {pid}) to finish its pass"),
            COMPACT_TIMEOUT,
        )
        .await?;
    if !status.success() {
        return Err(PlatformError::CommandFailed {
            name,
            status: status.to_string(),
            command: pass.spec().command_line(),
            log: log.clone(),
            tail: pass.log_tail(20),
        });
    }
    Ok(CompactPass {
        duration: started.elapsed(),
        log,
    })
}
