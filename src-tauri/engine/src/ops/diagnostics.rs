//! "Copy diagnostic info": one plain-text report of what someone helping a user needs first.
//! Lifeboat's version, the system, the data and log folders, the bundled tools, the profiles,
//! backups and schedules in the catalog, and the last warnings and errors of the log.
//!
//! It is meant to be pasted into an e-mail or an issue, so it holds no secret: profiles are
//! shown with their name, host, port, user, maintenance database, SSL mode and where their
//! password comes from, never the password; addresses lose their `user:password@`; the log it
//! quotes never held one (`base::logging`). The report says so at its top, and that it does name
//! hosts, users, databases and folders, so that the user can read it before sharing.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::base::error::{ErrorPayload, Result};
use crate::base::logging;
use crate::ops::app_info::{AppInfo, AppInfoInput, app_info};
use crate::ops::schedule;
use crate::storage::catalog::{self, BackupRecord, BackupStatus, ListBackups};
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, ListProfiles, PasswordSource, Profile};
use crate::util::display::safe;
use crate::util::redact::redact_urls;

/// How many warnings and errors of the log the report quotes.
pub const RECENT_PROBLEMS: usize = 20;

/// The first lines of every report.
pub const HEADER: &str = "Lifeboat diagnostic information";
const PRIVACY: &str = "This report holds no passwords and no other secrets. It does name your \
                       profiles, hosts, users, databases and folders: read it before you share \
                       it.";

#[derive(Debug, Clone, Default)]
pub struct DiagnosticsInput;

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostics {
    /// The whole report, plain text, ready to paste.
    pub text: String,
}

/// The report for this installation (see the module's documentation).
pub async fn diagnostics(ctx: &Ctx, _input: DiagnosticsInput) -> Result<Diagnostics> {
    let info = app_info(ctx, AppInfoInput).await?;
    let mut text = String::new();
    heading(&mut text, ctx.data_dir.path());
    system(&mut text);
    tools(&mut text, &info);
    let profiles = profiles::list_profiles(ctx, ListProfiles).await?;
    profile_lines(&mut text, &profiles);
    let backups = catalog::list_backups(ctx, ListBackups { database: None, limit: None }).await?;
    backup_lines(&mut text, &backups);
    schedule_lines(&mut text, ctx).await;
    problems(&mut text, ctx.data_dir.path());
    Ok(Diagnostics { text })
}

/// The report when Lifeboat could not start (its tools or catalog are missing or broken):
/// what can be told without them, and why it could not start.
pub fn startup_failed(data_dir: Option<&Path>, problem: &ErrorPayload) -> Diagnostics {
    let mut text = String::new();
    match data_dir {
        Some(data_dir) => heading(&mut text, data_dir),
        None => {
            let _ = writeln!(text, "{HEADER}\n{PRIVACY}\n\n[Lifeboat]");
            let _ = writeln!(text, "  version: {}\n  data folder: (unknown)", crate::VERSION);
        }
    }
    system(&mut text);
    let _ = writeln!(text, "\n[Startup problem]");
    let code = logging::code_name(problem.code);
    let _ = writeln!(text, "  {code}: {}", safe(&redact_urls(&problem.message)));
    let _ = writeln!(text, "  hint: {}", safe(&redact_urls(&problem.hint)));
    if let Some(data_dir) = data_dir {
        problems(&mut text, data_dir);
    }
    Diagnostics { text }
}

fn heading(text: &mut String, data_dir: &Path) {
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z");
    let _ = writeln!(text, "{HEADER} ({now})\n{PRIVACY}\n\n[Lifeboat]");
    let _ = writeln!(text, "  version: {}", crate::VERSION);
    let _ = writeln!(text, "  data folder: {}", safe(&data_dir.display().to_string()));
    let logs = logging::folder(data_dir);
    let _ = writeln!(text, "  log folder: {}", safe(&logs.display().to_string()));
}

/// The first line of a small system file, when it can be read (Linux).
fn read_line(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().next().map(|line| line.trim().to_owned()).filter(|line| !line.is_empty())
}

/// The distribution's name from os-release (Linux).
fn os_name() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    let value = text.lines().find_map(|line| line.strip_prefix("PRETTY_NAME="))?;
    Some(value.trim().trim_matches('"').to_owned())
}

fn system(text: &mut String) {
    let _ = writeln!(text, "\n[System]");
    let os = std::env::consts::OS;
    match os_name() {
        Some(name) => _ = writeln!(text, "  operating system: {os} ({})", safe(&name)),
        None => _ = writeln!(text, "  operating system: {os}"),
    }
    if let Some(kernel) = read_line("/proc/sys/kernel/osrelease") {
        let _ = writeln!(text, "  kernel: {}", safe(&kernel));
    }
    let _ = writeln!(text, "  architecture: {}", std::env::consts::ARCH);
    let root = crate::ops::practice::running_as_root();
    let _ = writeln!(text, "  runs as administrator (root): {}", yes_no(root));
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn tools(text: &mut String, info: &AppInfo) {
    let _ = writeln!(text, "\n[Bundled PostgreSQL tools]");
    for tools in &info.bundled {
        let server = if tools.has_server { ", with server" } else { "" };
        let _ = writeln!(text, "  {}: {}{server}", tools.major, safe(&tools.version));
    }
    match (info.practice_server_major, &info.practice_server_problem) {
        (Some(major), None) => _ = writeln!(text, "  practice server: PostgreSQL {major}"),
        (Some(major), Some(problem)) => {
            _ = writeln!(
                text,
                "  practice server: PostgreSQL {major}, cannot run here: {}",
                safe(problem)
            )
        }
        (None, _) => _ = writeln!(text, "  practice server: none in this installation"),
    }
}

fn password_source(source: PasswordSource) -> &'static str {
    match source {
        PasswordSource::Keychain => "the system keychain",
        PasswordSource::Environment => "PGPASSWORD or .pgpass",
        PasswordSource::Practice => "Lifeboat's practice database",
    }
}

fn profile_lines(text: &mut String, profiles: &[Profile]) {
    let _ = writeln!(text, "\n[Profiles] ({})", profiles.len());
    for profile in profiles {
        let s = &profile.settings;
        let mut line = format!(
            "{}: {}@{}:{}/{}, sslmode {}, password from {}",
            s.name,
            s.user,
            s.host,
            s.port,
            s.maintenance_db,
            s.sslmode.as_str(),
            password_source(s.password_source)
        );
        if s.root_cert.is_some() {
            line.push_str(", root certificate set");
        }
        if s.allow_cleartext_password {
            line.push_str(", cleartext password allowed");
        }
        let _ = writeln!(text, "  {}", safe(&redact_urls(&line)));
    }
}

fn backup_lines(text: &mut String, backups: &[BackupRecord]) {
    let _ = writeln!(text, "\n[Backups] ({} in the catalog)", backups.len());
    let count = |status: BackupStatus| backups.iter().filter(|b| b.status == status).count();
    let tested = backups.iter().filter(|b| b.tested_at.is_some()).count();
    let _ = writeln!(
        text,
        "  finished {}, failed {}, cancelled {}, running {}; tested {tested}",
        count(BackupStatus::Finished),
        count(BackupStatus::Failed),
        count(BackupStatus::Cancelled),
        count(BackupStatus::Running),
    );
    // Newest first: the last few say most about what is going on now.
    for backup in backups.iter().take(5) {
        let status = serde_json::to_value(backup.status).ok();
        let status = status.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
        let mut line = format!(
            "#{} {} on {} ({}:{}), {}, {status}, test {}",
            backup.id,
            backup.database,
            backup.profile,
            backup.host,
            backup.port,
            backup.started_at,
            backup.test_status
        );
        if let Some(code) = &backup.error_code {
            let _ = write!(line, ", error {code}");
        }
        let _ = writeln!(text, "  {}", safe(&redact_urls(&line)));
    }
}

async fn schedule_lines(text: &mut String, ctx: &Ctx) {
    match schedule::list(ctx).await {
        Ok(schedules) => {
            let _ = writeln!(text, "\n[Schedules] ({})", schedules.len());
            for summary in &schedules {
                let s = &summary.schedule;
                let mut line = format!(
                    "{}: {}/{} on days {} at {}",
                    s.name, s.profile, s.database, s.days, s.time
                );
                if let Some(run) = &summary.last_run {
                    let _ = write!(line, "; last run {} {}", run.started_at, run.status);
                    if let Some(code) = &run.error_code {
                        let _ = write!(line, " ({code})");
                    }
                }
                let _ = writeln!(text, "  {}", safe(&redact_urls(&line)));
            }
        }
        Err(error) => {
            _ = writeln!(text, "\n[Schedules]\n  could not be read: {}", safe(&error.to_string()))
        }
    }
}

fn problems(text: &mut String, data_dir: &Path) {
    let lines = logging::recent_problems(&logging::folder(data_dir), RECENT_PROBLEMS);
    let _ = writeln!(
        text,
        "\n[Recent problems in the log] (last {RECENT_PROBLEMS} warnings and errors, oldest first)"
    );
    if lines.is_empty() {
        let _ = writeln!(text, "  none");
    }
    for line in lines {
        let _ = writeln!(text, "  {}", safe(&line));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::base::error::{Error, ErrorCode};
    use crate::storage::keychain::{Keychain, MemoryKeychain};
    use crate::storage::profiles::{AddProfile, ProfileSettings, SslMode, add_profile};
    use crate::util::secret::Secret;

    const SECRET: &str = "Diag-Secret-Pw-8812";

    fn settings(name: &str, host: &str) -> ProfileSettings {
        ProfileSettings {
            name: name.into(),
            host: host.into(),
            port: 5433,
            user: "owner".into(),
            maintenance_db: "postgres".into(),
            sslmode: SslMode::Require,
            root_cert: None,
            password_source: PasswordSource::Keychain,
            allow_cleartext_password: false,
        }
    }

    #[tokio::test]
    async fn the_report_has_its_sections_profiles_and_log_problems_but_no_password() {
        let dir = tempfile::tempdir().unwrap();
        let keychain: Arc<dyn Keychain> = Arc::new(MemoryKeychain::default());
        let ctx = Ctx::for_tests(dir.path(), keychain);
        let input = AddProfile {
            settings: settings("prod", "db.example.com"),
            password: Some(Secret::new(SECRET)),
        };
        add_profile(&ctx, input).await.unwrap();
        let logs = logging::folder(dir.path());
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(
            logs.join("lifeboat.2020-01-01.log"),
            "2020-01-01T00:00:00.000000Z ERROR lifeboat_engine::base::logging: operation \
             failed op=\"backup\" code=password_failed\n\
             2020-01-01T00:00:01.000000Z  INFO lifeboat_engine::base::logging: fine\n",
        )
        .unwrap();

        let text = diagnostics(&ctx, DiagnosticsInput).await.unwrap().text;
        assert!(text.starts_with(HEADER), "{text}");
        assert!(text.contains("no passwords"), "{text}");
        for section in [
            "[Lifeboat]",
            "[System]",
            "[Bundled PostgreSQL tools]",
            "[Profiles] (1)",
            "[Backups] (0 in the catalog)",
            "[Schedules] (0)",
            "[Recent problems in the log]",
        ] {
            assert!(text.contains(section), "no {section}:\n{text}");
        }
        assert!(text.contains(&format!("version: {}", crate::VERSION)), "{text}");
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
        assert!(
            text.contains("prod: owner@db.example.com:5433/postgres, sslmode require"),
            "{text}"
        );
        assert!(text.contains("code=password_failed"), "{text}");
        assert!(!text.contains("fine"), "only warnings and errors are quoted:\n{text}");
        assert!(!text.contains(SECRET), "{text}");
    }

    #[test]
    fn a_failed_start_still_reports_the_system_the_problem_and_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let error = Error::ToolsNotFound { searched: "/nowhere".into(), from_env: false };
        let report = startup_failed(Some(dir.path()), &error.payload());
        assert!(report.text.starts_with(HEADER));
        assert!(report.text.contains("[System]"), "{}", report.text);
        assert!(report.text.contains("tools_not_found: "), "{}", report.text);
        assert!(report.text.contains("/nowhere"), "{}", report.text);
        assert!(report.text.contains("hint: Reinstall Lifeboat"), "{}", report.text);
        let without = startup_failed(None, &Error::Cancelled.payload());
        assert!(without.text.contains("data folder: (unknown)"), "{}", without.text);
        assert_eq!(Error::Cancelled.code(), ErrorCode::Cancelled);
    }
}
