//! A throwaway PostgreSQL server for the test suite: Debian's package (set-up installs it
//! when missing), a fresh data folder, a free loopback port, stopped and removed when the
//! run ends. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user
//! the package creates.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// Where Debian installs the server's programs: `/usr/lib/postgresql/<major>/bin`; the
/// newest major version present.
pub fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A running server; dropping it stops the server and removes its data.
pub struct TestServer {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl TestServer {
    /// A server on PostgreSQL's default settings, as the test suite runs it.
    pub fn start() -> Result<TestServer> {
        TestServer::start_with(&[])
    }

    /// A server with `settings` (`name=value`, each passed as `-c`) over the defaults.
    pub fn start_with(settings: &[&str]) -> Result<TestServer> {
        let bin = bin_dir().context("PostgreSQL is not installed (set-up installs it)")?;
        let as_postgres_user = crate::tools::is_root();
        let data = std::env::temp_dir().join(format!("xtask-postgres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data)?;
        let port = free_port()?;
        let server = TestServer {
            bin,
            data,
            port,
            as_postgres_user,
        };
        if as_postgres_user {
            crate::run(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&server.data),
            )?;
        }
        let cluster = server.data.join("cluster");
        crate::run(
            server
                .command("initdb")
                .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
                .args(["--locale=C.UTF-8", "--no-sync", "--pgdata"])
                .arg(&cluster)
                .stdout(std::process::Stdio::null()),
        )?;
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300",
            server.data.display()
        );
        for setting in settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        crate::run(
            server
                .command("pg_ctl")
                .args(["start", "--wait", "--silent", "-D"])
                .arg(&cluster)
                .args(["-o", &options, "-l"])
                .arg(server.data.join("server.log")),
        )?;
        Ok(server)
    }

    /// The server's URL, as `SEKUIRE_TEST_POSTGRES` takes it.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn cluster(&self) -> PathBuf {
        self.data.join("cluster")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let stopped = self
            .command("pg_ctl")
            .args(["stop", "--silent", "-m", "immediate", "-D"])
            .arg(self.cluster())
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            eprintln!(
                "warning: the test PostgreSQL server in {} did not stop",
                self.data.display()
            );
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A loopback port nothing listens on now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Runs `command` with `SEKUIRE_TEST_POSTGRES` naming a throwaway server, then removes it.
pub fn run_beside(command: &[String]) -> Result<()> {
    let Some((program, args)) = command.split_first() else {
        bail!("usage: cargo xtask postgres <command…>, e.g. cargo test -p fleet-registry");
    };
    let server = TestServer::start()?;
    println!("PostgreSQL at {}", server.url());
    crate::run(
        Command::new(program)
            .args(args)
            .env("SEKUIRE_TEST_POSTGRES", server.url()),
    )
}
