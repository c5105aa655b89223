//! Running the real `chat-api` binary: servers that can be killed, and one-shot subcommands.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::helpers::TEST_SECRET;

const BINARY: &str = env!("CARGO_BIN_EXE_chat-api");

/// A `Command` for the binary with a test environment: the given database, cheap bcrypt, a known
/// secret, and a scratch working directory (so no stray `config/` is picked up).
pub fn command(database_url: &str, workdir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(workdir)
        .env_remove("DATABASE_URL")
        .env("CHAT_API__DATABASE__URL", database_url)
        .env("CHAT_API__AUTH__BCRYPT_COST", "4")
        .env("CHAT_API__AUTH__JWT_SECRET", TEST_SECRET)
        .env("CHAT_API__LOG__LEVEL", "warn")
        .stdin(Stdio::null());
    command
}

/// Runs a subcommand to completion.
pub fn run(database_url: &str, workdir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(database_url, workdir);
    command.args(args).envs(env.iter().copied());
    command.output().expect("run chat-api")
}

/// A free loopback port (bound and released; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `chat-api serve` process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub address: String,
}

impl ServerProcess {
    /// Starts the server and waits (bounded) until it answers HTTP.
    pub async fn start(database_url: &str, workdir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_logging_to(database_url, workdir, env, Stdio::inherit()).await
    }

    /// [`ServerProcess::start`], with the server's log (its standard error) going to `log`.
    pub async fn start_logging_to(
        database_url: &str,
        workdir: &Path,
        env: &[(&str, &str)],
        log: Stdio,
    ) -> Self {
        let port = free_port();
        let mut command = command(database_url, workdir);
        command
            .arg("serve")
            .env("CHAT_API__SERVER__PORT", port.to_string())
            .env("CHAT_API__SERVER__WORKERS", "2")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log);
        let child = command.spawn().expect("spawn chat-api serve");
        let server = Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_ready().await;
        server
    }

    async fn wait_until_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client
                .get(format!("{}/token_balance/", self.address))
                .send()
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chat-api did not start within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown hooks, no flushing, exactly like a crash.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL chat-api");
        self.child.wait().expect("reap chat-api");
    }

    /// Sends `signal` (`TERM`, `INT`, …) to the process, as an orchestrator or Ctrl-C would.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal}");
    }

    /// Waits for the process to die by itself (e.g. a failpoint aborted it).
    pub fn wait_for_exit(mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll chat-api") {
                return status;
            }
            assert!(Instant::now() < deadline, "chat-api did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _already_dead = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// A throwaway PostgreSQL cluster of this test's own, so stopping it cuts no other test's
/// connections; stopped and removed on drop.
pub struct OwnCluster {
    dir: tempfile::TempDir,
    pub url: String,
}

const PG_CLUSTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-cluster");

impl OwnCluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(PG_CLUSTER)
            .arg("start")
            .arg(dir.path().join("pg"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        Self { dir, url }
    }

    /// `scripts/pg-cluster stop|resume` on this cluster.
    pub fn control(&self, action: &str) {
        let status = std::process::Command::new(PG_CLUSTER)
            .arg(action)
            .arg(self.dir.path().join("pg"))
            .status()
            .unwrap();
        assert!(status.success(), "pg-cluster {action}");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _stopped = std::process::Command::new(PG_CLUSTER)
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .status();
    }
}
