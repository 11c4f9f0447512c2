//! The practice database's own server: a cluster in `practice/sample/` of the data folder that
//! `ops::practice_db` creates and fills with the sample database, reached through a stored
//! profile whose password source is [`PasswordSource::Practice`].
//!
//! It is not the drill's practice server (`ops::practice`, started and emptied per drill under a
//! lock): this one keeps what the user restores into it and may run between Lifeboat's runs.
//! Every connection a profile makes goes through `ConnectSpec::for_profile` or
//! `ConnTarget::for_profile`, and both ask [`ensure_running`] first, so a backup, a restore, a
//! drill of a profile or the tree starts the server when it is down (after a reboot, or a
//! `lifeboat practice stop`) — from the window and the command line alike. When another program
//! took its port meanwhile, it starts on a free one and the profile is updated.
//!
//! The checks and the start are synchronous (they are called from the synchronous `for_profile`
//! constructors): a running server costs a read of `postmaster.pid` and `pg_ctl status`, a
//! start one `pg_ctl start -w` (well under a second on a cluster with fsync off).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::base::error::{Error, Result};
use crate::base::tools::{BundledMajor, Tool};
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, PasswordSource, Profile};
use crate::util::private_fs;

/// The cluster's data folder.
pub fn data_dir(ctx: &Ctx) -> PathBuf {
    profiles::practice_sample_home(ctx).join("data")
}

/// The major of the cluster in `data` (its `PG_VERSION`), when there is one.
pub fn cluster_major(data: &Path) -> Option<u32> {
    std::fs::read_to_string(data.join("PG_VERSION")).ok()?.trim().parse().ok()
}

/// The bundled major that runs the cluster: the one that created it.
pub fn cluster_bundle(ctx: &Ctx) -> Result<BundledMajor> {
    let data = data_dir(ctx);
    let major = cluster_major(&data).ok_or_else(|| Error::PracticeServerFailed {
        detail: format!(
            "the practice database's server has no cluster in {}; set the practice database \
             up again (`lifeboat practice setup`, or \"Try the practice database\" in the app)",
            data.display()
        ),
    })?;
    ctx.tools.get(major).filter(|b| b.has_server).cloned().ok_or_else(|| {
        Error::PracticeServerFailed {
            detail: format!(
                "the practice database was made with PostgreSQL {major}, whose server this \
                 Lifeboat does not include; set the practice database up again to make a new one"
            ),
        }
    })
}

/// The port `profile` reaches its server on: its own for every profile but the practice
/// database's, whose server is started first when it is down (on the profile's port, or a free
/// one recorded in the profile when that port is taken).
pub fn ensure_running(ctx: &Ctx, profile: &Profile) -> Result<u16> {
    let port = profile.settings.port;
    if profile.settings.password_source != PasswordSource::Practice {
        return Ok(port);
    }
    let bundle = cluster_bundle(ctx)?;
    let data = data_dir(ctx);
    // Two Lifeboats (the window and a scheduled run) may find it down at the same moment.
    let _lock = lock(&profiles::practice_sample_home(ctx))?;
    let running = match running_port(&bundle, &data) {
        Some(running) => running,
        None => start(&bundle, &data, port)?,
    };
    if running != port {
        profiles::set_practice_port(ctx, profile, running)?;
    }
    Ok(running)
}

/// The port of the server of `data`, when it runs (`postmaster.pid` names the port; `pg_ctl
/// status` tells a live postmaster from a file a crash left).
pub fn running_port(bundle: &BundledMajor, data: &Path) -> Option<u16> {
    let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let port = port_of_pid_file(&pid_file)?;
    let status = pg_ctl(bundle, data, &["status"]).ok()?;
    status.status.success().then_some(port)
}

/// The port line (the fourth) of a `postmaster.pid`.
fn port_of_pid_file(text: &str) -> Option<u16> {
    text.lines().nth(3)?.trim().parse().ok()
}

/// Stops the server when it runs; returns whether it ran.
pub fn stop(ctx: &Ctx) -> Result<bool> {
    let bundle = cluster_bundle(ctx)?;
    let data = data_dir(ctx);
    let _lock = lock(&profiles::practice_sample_home(ctx))?;
    if running_port(&bundle, &data).is_none() {
        return Ok(false);
    }
    let out = pg_ctl(&bundle, &data, &["-w", "-t", "60", "-m", "fast", "stop"])?;
    if out.status.success() {
        Ok(true)
    } else {
        Err(Error::PracticeServerFailed { detail: output_text(&out) })
    }
}

fn lock(home: &Path) -> Result<std::fs::File> {
    let path = home.join("start.lock");
    let file = private_fs::open_private(&path, false)
        .map_err(|e| Error::writing("Locking the practice database's server", &path, e))?;
    file.lock().map_err(|e| Error::writing("Locking the practice database's server", &path, e))?;
    Ok(file)
}

/// Starts the postmaster on `wanted` when that port is free, else on a free one; a few tries,
/// because another program may take a port between the check and the server binding it.
fn start(bundle: &BundledMajor, data: &Path, wanted: u16) -> Result<u16> {
    let mut port = if port_is_free(wanted) { wanted } else { free_port()? };
    let mut detail = String::new();
    for _ in 0..3 {
        let log = data.join("server.log");
        let port_option = format!("-p {port}");
        let args = ["-w", "-t", "60", "-o", &port_option, "-l"];
        let mut command = pg_ctl_command(bundle, data)?;
        command.args(args).arg(&log).arg("start");
        let out = run(command)?;
        if out.status.success() {
            return Ok(port);
        }
        if let Some(running) = running_port(bundle, data) {
            return Ok(running);
        }
        detail = output_text(&out);
        if detail.contains("cannot be run as root") {
            return Err(Error::PracticeServerAsRoot);
        }
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = log_text.lines().rev().take(3).collect();
        if !tail.is_empty() {
            detail = format!("{detail}; {}", tail.into_iter().rev().collect::<Vec<_>>().join(" "));
        }
        port = free_port()?;
    }
    Err(Error::PracticeServerFailed { detail })
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|source| Error::Io {
        action: "Finding a free port for the practice database's server",
        path: PathBuf::new(),
        source,
    })?;
    Ok(listener.local_addr().map(|a| a.port()).unwrap_or(0))
}

fn pg_ctl_command(bundle: &BundledMajor, data: &Path) -> Result<Command> {
    let mut command = Command::new(bundle.program(Tool::PgCtl)?);
    command.arg("-D").arg(data);
    // Nothing inherited may point pg_ctl or the server elsewhere; English messages, so that
    // a refusal to run as root is recognised.
    for name in ["PGDATA", "PGPORT", "PGHOST", "PGOPTIONS", "PGCTLTIMEOUT"] {
        command.env_remove(name);
    }
    command.env("LC_MESSAGES", "C");
    Ok(command)
}

fn pg_ctl(bundle: &BundledMajor, data: &Path, args: &[&str]) -> Result<Output> {
    let mut command = pg_ctl_command(bundle, data)?;
    command.args(args);
    run(command)
}

fn run(mut command: Command) -> Result<Output> {
    // pg_ctl start hands the server its log file for output, so its pipes close when it exits.
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.output().map_err(|source| Error::ToolSpawn { tool: Tool::PgCtl, source })
}

fn output_text(out: &Output) -> String {
    let text = format!(
        "{} {}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_the_fourth_line_of_the_pid_file() {
        let file = "4242\n/home/u/.local/share/Lifeboat/practice/sample/data\n1733000000\n\
                    54321\n\n127.0.0.1\n  1234   5678\nready   \n";
        assert_eq!(port_of_pid_file(file), Some(54321));
        assert_eq!(port_of_pid_file("4242\n/data\n"), None);
        assert_eq!(port_of_pid_file("4242\n/data\n1\nnot a port\n"), None);
    }

    #[test]
    fn only_a_cluster_with_a_version_file_has_a_major() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cluster_major(dir.path()), None);
        std::fs::write(dir.path().join("PG_VERSION"), "18\n").unwrap();
        assert_eq!(cluster_major(dir.path()), Some(18));
    }
}
