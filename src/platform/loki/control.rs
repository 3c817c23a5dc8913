//! Stopping, killing, restarting and reconfiguring a running Loki.

use std::time::Duration;

use super::{LocalLoki, LokiPlatformError, write_private};
use crate::client::objstore::S3Credentials;
use crate::stack::loki::{FlushSettings, LokiConfig};

impl LocalLoki {
    /// SIGTERM, then waits (bounded) for the exit: with
    /// `flush_on_shutdown` Loki flushes its chunks and ships its tsdb
    /// index on the way out. Returns how long the shutdown took; kills it
    /// and says so when it outlives `grace`.
    pub async fn stop(&mut self, grace: Duration) -> Result<Duration, LokiPlatformError> {
        self.process
            .stop(grace)
            .await
            .map_err(|_| LokiPlatformError::StopTimeout(grace))
    }

    /// SIGKILL at once: no flush, no index upload.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Deletes Loki's local state (WAL, tsdb head and cache, compactor
    /// dir). Loki must be stopped.
    pub fn remove_local_data(&mut self) -> Result<(), LokiPlatformError> {
        if self.is_running() {
            self.kill();
        }
        let data = &self.cfg.data_dir;
        if data.exists() {
            std::fs::remove_dir_all(data)
                .map_err(LokiPlatformError::io(format!("remove {}", data.display())))?;
        }
        Ok(())
    }

    /// Starts Loki again (after [`LocalLoki::stop`] or a kill) and waits
    /// until `/ready`; with `wipe_local`, its local directories are deleted
    /// first, so it can only answer from the bucket.
    pub async fn restart(&mut self, wipe_local: bool) -> Result<(), LokiPlatformError> {
        if self.is_running() {
            self.stop(Duration::from_secs(60)).await?;
        }
        if wipe_local {
            self.remove_local_data()?;
        }
        self.spawn_and_wait().await
    }

    /// Restarts Loki on its data with a wrong secret key (`wrong = true`) or
    /// the bucket's own again, and waits until `/ready`. The harness keeps
    /// reading the bucket with the right key.
    pub async fn set_wrong_credentials(&mut self, wrong: bool) -> Result<(), LokiPlatformError> {
        let right = self.bucket.credentials.clone();
        self.reconfigure(|cfg| {
            cfg.s3.credentials = if wrong {
                S3Credentials {
                    access_key: right.access_key,
                    secret_key: S3Credentials::generate().secret_key,
                }
            } else {
                right
            };
        })
        .await
    }

    /// Restarts Loki on its data with `flush` as its ingester's flush
    /// settings, and waits until `/ready`.
    pub async fn set_flush_settings(
        &mut self,
        flush: FlushSettings,
    ) -> Result<(), LokiPlatformError> {
        self.reconfigure(|cfg| cfg.flush = flush).await
    }

    /// Restarts Loki on its data with label discovery on or off, and waits
    /// until `/ready`.
    pub async fn set_label_discovery(&mut self, on: bool) -> Result<(), LokiPlatformError> {
        self.reconfigure(|cfg| cfg.label_discovery = on).await
    }

    /// Rewrites its config with `change` made and starts it again on its
    /// data. Killed, not stopped: a Loki with a wrong key retries its
    /// shutdown flush until killed anyway, and its WAL replays every line
    /// on the next start.
    async fn reconfigure(
        &mut self,
        change: impl FnOnce(&mut LokiConfig),
    ) -> Result<(), LokiPlatformError> {
        change(&mut self.cfg);
        write_private(&self.config_file, &self.cfg.render())?;
        std::fs::write(
            self.root.join("loki.redacted.yml"),
            self.cfg.render_redacted(),
        )
        .map_err(LokiPlatformError::io("write the redacted Loki config"))?;
        self.kill();
        self.spawn_and_wait().await
    }
}
