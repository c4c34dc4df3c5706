//! Sekuire's own published CLI (`sekuire-cli` 0.2.11, installed by `cargo xtask setup`)
//! on a workstation of its own: a home (`~/.sekuire/auth.json`) and a project folder
//! (`sekuire.yml`, `.sekuire/secret.key`), run as real child processes.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The `sekuire` binary: `SEKUIRE_CLI`, as `cargo xtask test` sets it.
pub fn binary() -> Result<PathBuf> {
    let bin = std::env::var_os("SEKUIRE_CLI")
        .map(PathBuf::from)
        .context("SEKUIRE_CLI is not set; run the suite with `cargo xtask test`")?;
    if !bin.is_file() {
        bail!("{} is missing; run `cargo xtask setup`", bin.display());
    }
    Ok(bin)
}

/// A developer's machine with Sekuire's CLI, pointed at one registry.
pub struct Workstation {
    home: tempfile::TempDir,
    binary: PathBuf,
    registry: String,
}

impl Workstation {
    /// A machine that has never signed in.
    pub fn new(registry: &str) -> Result<Workstation> {
        let home = tempfile::tempdir()?;
        std::fs::create_dir_all(home.path().join("project"))?;
        Ok(Workstation {
            home,
            binary: binary()?,
            registry: registry.to_owned(),
        })
    }

    /// A machine whose `~/.sekuire/auth.json` holds `key`, as if signed in.
    pub fn signed_in(key: &str, registry: &str) -> Result<Workstation> {
        let station = Workstation::new(registry)?;
        let dir = station.home().join(".sekuire");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("auth.json"),
            serde_json::json!({ "api_key": key }).to_string(),
        )?;
        Ok(station)
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Where `sekuire.yml` and the publisher key live; every command runs here.
    pub fn project(&self) -> PathBuf {
        self.home().join("project")
    }

    /// `sekuire <args>` in the project, with this home, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(self.project())
            .env("HOME", self.home())
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY");
        command
    }

    /// Runs `sekuire <args> --registry <ours>`.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        self.command(args)
            .args(["--registry", &self.registry])
            .output()
            .with_context(|| format!("running sekuire {args:?}"))
    }

    /// Runs a command that must succeed; returns what it printed.
    pub fn ok(&self, args: &[&str]) -> Result<String> {
        succeeded(args, self.run(args)?)
    }

    /// Runs a command that talks to no registry (`keygen`, `hash`), which must succeed.
    pub fn ok_offline(&self, args: &[&str]) -> Result<String> {
        let output = self
            .command(args)
            .output()
            .with_context(|| format!("running sekuire {args:?}"))?;
        succeeded(args, output)
    }

    /// `sekuire login --backend <ours>`, typing `key` at its prompt as a person would: the
    /// CLI asks on a terminal, so it runs in a pseudo-terminal. Returns what it showed.
    pub fn login(&self, key: &str) -> Result<String> {
        use portable_pty::{native_pty_system, CommandBuilder, PtySize};
        let pair = native_pty_system().openpty(PtySize {
            rows: 24,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        let mut command = CommandBuilder::new(&self.binary);
        command.args(["login", "--backend", &self.registry]);
        command.cwd(self.project());
        command.env("HOME", self.home());
        command.env("NO_PROXY", "127.0.0.1,localhost");
        command.env_remove("HTTP_PROXY");
        command.env_remove("HTTPS_PROXY");
        let mut child = pair.slave.spawn_command(command)?;
        drop(pair.slave);
        let mut screen = pair.master.try_clone_reader()?;
        let mut keyboard = pair.master.take_writer()?;
        let (shown, seen) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = screen.read(&mut buf) {
                if n == 0
                    || shown
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        let mut transcript = String::new();
        let started = Instant::now();
        while !transcript.contains("Enter your API Key") {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("sekuire login never asked for a key; it showed: {transcript}");
            }
            if let Ok(text) = seen.recv_timeout(Duration::from_millis(200)) {
                transcript.push_str(&text);
            }
        }
        keyboard.write_all(format!("{key}\r").as_bytes())?;
        keyboard.flush()?;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                child.kill()?;
                bail!("sekuire login did not finish; it showed: {transcript}");
            }
            while let Ok(text) = seen.try_recv() {
                transcript.push_str(&text);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(text) = seen.recv_timeout(Duration::from_millis(200)) {
            transcript.push_str(&text);
        }
        if !status.success() {
            bail!("sekuire login failed ({status:?}): {transcript}");
        }
        Ok(transcript)
    }

    /// Writes a small agent project: `sekuire.yml`, its prompt and its tools.
    pub fn write_project(&self, name: &str, version: &str, model: &str) -> Result<()> {
        let project = self.project();
        std::fs::write(
            project.join("sekuire.yml"),
            format!(
                "project:\n  name: {name}\n  version: \"{version}\"\n  description: A test agent\n\
                 identity:\n  model: {model}\n  system_prompt_path: prompt.md\n  tools_path: tools.json\n\
                 capabilities:\n  provides:\n    - support:tickets:triage\n"
            ),
        )?;
        std::fs::write(project.join("prompt.md"), "You triage support tickets.\n")?;
        std::fs::write(project.join("tools.json"), "[]")?;
        Ok(())
    }
}

/// What a command printed, or why it failed.
fn succeeded(args: &[&str], output: Output) -> Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "sekuire {args:?} failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// The state letter of a process (`R`, `S`, `T` for stopped, …) from `/proc/<pid>/stat`,
/// or `None` once it is gone.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S …`: the state follows the last `)`, as comm may hold anything.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The children of process `pid`, from every process's parent in `/proc`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat
                        .rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .to_owned();
                    rest.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}
