//! `lifeboat`: Lifeboat's engine from the command line. Exit codes: 0 success, 1 failure,
//! 2 usage error (clap's own). With `--json` a command prints exactly one JSON document: its
//! result, or `{"error": {code, message, hint}}`.

mod activity;
mod backups;
mod diagnostics;
mod drill;
mod practice;
mod remind;
mod schedule;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use lifeboat_engine::base::progress::{ProgressEvent, ProgressSink};
use lifeboat_engine::base::tools::{self, Toolbox};
use lifeboat_engine::format::selection::{self, Selection};
use lifeboat_engine::ops::activity::{self as recorded, ActivityOrigin};
use lifeboat_engine::ops::app_info::{AppInfoInput, app_info};
use lifeboat_engine::ops::backup::{BackupFormat, BackupScope, Compression, StartBackup};
use lifeboat_engine::ops::backup_server::{
    DatabaseBackupState, ServerBackupOutcome, ServerBackupStatus, StartServerBackup,
};
use lifeboat_engine::ops::browse::{ListDatabases, list_databases};
use lifeboat_engine::ops::restore::{RestorePlan, RestoreRequest, preflight};
use lifeboat_engine::pg::connect::{CheckProfile, check_profile};
use lifeboat_engine::storage::keychain::OsKeychain;
use lifeboat_engine::storage::profiles::{
    AddProfile, ListProfiles, PasswordSource, ProfileSettings, RemoveProfile, SslMode, add_profile,
    list_profiles, remove_profile,
};
use lifeboat_engine::util::display::{safe, safe_text};
use lifeboat_engine::util::secret::Secret;
use lifeboat_engine::{Ctx, DataDir, Error};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "Back up PostgreSQL, restore it, and prove that the backups restore."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the bundled PostgreSQL tools and the data folder.
    Tools(JsonFlag),
    /// Manage server connection profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Back up one database (--database) or every database of the server (--all-databases):
    /// pg_dump of the server's own major, checksummed, with a manifest per database.
    Backup(BackupArgs),
    /// Restore a backup into a new database (or an existing empty one), after a pre-flight check
    /// that changes nothing. Exit code 1 when a finding blocks the restore.
    Restore(RestoreArgs),
    /// Test a backup (restore drill): checksums and a full read, a restore into a scratch
    /// database on the practice server (or --profile), comparison with the manifest, pg_amcheck,
    /// the smoke checks; then the scratch database is dropped and a certificate written next to
    /// the backup. Exit code 0 only when every check passed.
    Test(drill::TestArgs),
    /// Check a backup's integrity without any server: checksums and a full read.
    Verify(drill::VerifyArgs),
    /// The smoke checks a drill runs, saved per database name.
    #[command(subcommand)]
    Checks(drill::ChecksCommand),
    /// What needs attention, per database: old or untested backups, missed or failed scheduled
    /// runs, missing files, tables that lost their rows, a full disk. With --notify also as
    /// desktop notifications (each at most once a day). Exit code 1 when anything needs attention.
    Remind(remind::RemindArgs),
    /// The catalog: every backup with its status, size, place, test result and second copy;
    /// `lifeboat backups delete ID` deletes one (the catalog keeps its row as history).
    Backups(backups::BackupsArgs),
    /// One database at a glance: its size, last backup, last test and certificate, schedules
    /// and what needs attention (the desktop's dashboard).
    Status(backups::StatusArgs),
    /// Delete old backups of a database by a retention policy (files, manifest, certificates;
    /// the catalog keeps the row). Never the newest tested one, the only one, or one in use.
    Prune(backups::PruneArgs),
    /// Back up on a schedule through the system's scheduler, and test-fire a schedule.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Copy a finished backup to a folder on another disk and check the copy (or, with
    /// --verify, check an existing copy again).
    Copy(backups::CopyArgs),
    /// The practice database: a server Lifeboat runs on this computer with a sample database,
    /// for trying backups, tests and restores without a server of your own.
    #[command(subcommand)]
    Practice(practice::PracticeCommand),
    /// A report for whoever helps you: versions, system, bundled tools, profiles (never their
    /// passwords), backups, schedules and the last problems in the log.
    Diagnostics(JsonFlag),
    /// The jobs run so far (backups, restores, tests, from the window, this command and
    /// schedules), newest first; `lifeboat activity show ID` prints one job's program log.
    Activity(activity::ActivityArgs),
    /// Print this reference as Markdown (docs/cli.md is made from it).
    #[command(hide = true)]
    HelpMarkdown,
    /// List the databases of a profile's server.
    Databases {
        profile: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Args)]
#[command(
    after_help = "Back up a whole server: `lifeboat backup --all-databases --profile P` backs \
up every database the profile's user may connect to, one after the other, each with its own \
files, manifest and catalog entry, and saves the server's roles and tablespaces once (with the \
first database, without passwords). template0 and template1 are left out; other templates and \
databases that cannot be connected to are listed as skipped with the reason. A database that \
fails does not stop the others. Exit code 0 only when every database was backed up."
)]
struct BackupArgs {
    #[arg(long)]
    profile: String,
    /// The database to back up (or --all-databases).
    #[arg(long, required_unless_present = "all_databases")]
    database: Option<String>,
    /// Back up every database of the server, and its roles once (see below).
    #[arg(
        long,
        conflicts_with_all = ["database", "schemas", "exclude_schemas", "tables", "exclude_tables",
            "data_only", "schema_only", "per_schema", "globals", "keep_needed", "leave_out_dependents"]
    )]
    all_databases: bool,
    #[arg(long, value_enum, default_value_t = FormatArg::Custom)]
    format: FormatArg,
    /// Compression as METHOD[:LEVEL]: zstd (levels 1-22, default 4), gzip (1-9, default 6),
    /// lz4 (1-12, default 1) or none. Default: zstd for custom and directory when the server's
    /// pg_dump is 16 or newer, gzip before that; tar and plain are never compressed (pg_dump
    /// cannot compress tar; compressed SQL would not restore with psql). zstd and lz4 are
    /// refused, before anything runs, for servers backed up with pg_dump 14 or 15.
    #[arg(long, value_name = "METHOD[:LEVEL]", value_parser = parse_compression)]
    compress: Option<Compression>,
    /// Only this schema (repeatable).
    #[arg(long = "schema")]
    schemas: Vec<String>,
    #[arg(long = "exclude-schema")]
    exclude_schemas: Vec<String>,
    /// Only this table, as schema.table (repeatable).
    #[arg(long = "table")]
    tables: Vec<String>,
    #[arg(long = "exclude-table")]
    exclude_tables: Vec<String>,
    #[arg(long, conflicts_with = "schema_only")]
    data_only: bool,
    #[arg(long)]
    schema_only: bool,
    /// One file per schema, each restorable on its own.
    #[arg(long)]
    per_schema: bool,
    /// Parallel workers (directory format).
    #[arg(long)]
    jobs: Option<u32>,
    /// Also save roles and tablespaces (without role passwords).
    #[arg(long)]
    globals: bool,
    /// When kept objects need objects the scope leaves out (a trigger calling a function of an
    /// excluded schema), add their schemas or tables to the backup instead of refusing it.
    #[arg(long)]
    keep_needed: bool,
    /// When kept objects still need objects the scope leaves out (a view on a table of an
    /// excluded schema, a function using a transform a one-schema backup cannot carry): leave
    /// them out as well, and name them. Views and tables are left out of the file; a trigger
    /// or a function is named in the manifest and left out at every restore and test
    #[arg(long)]
    leave_out_dependents: bool,
    /// Destination folder (default: the "backups" folder in Lifeboat's data folder).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Args)]
struct RestoreArgs {
    /// The backup: a file (custom, tar or plain SQL), the folder of a directory backup, or a
    /// Lifeboat manifest (….lifeboat.json).
    source: PathBuf,
    /// The server to restore into.
    #[arg(long)]
    profile: String,
    /// The database to restore into: created when it does not exist, used when it exists and is
    /// empty (default: a new database <db>_restored_YYYYMMDD).
    #[arg(long)]
    target_db: Option<String>,
    /// Ignore the dump's owners: the connecting user owns what is restored.
    #[arg(long, conflicts_with = "owner")]
    no_owner: bool,
    /// Restore as this role, which then owns what is restored.
    #[arg(long, value_name = "ROLE")]
    owner: Option<String>,
    /// Create the roles the server lacks from the roles saved with the backup (made with
    /// --globals), without passwords or superuser rights, so owners and grants stay as they were.
    #[arg(long)]
    create_roles: bool,
    /// Create every other role the restored entries name that the server lacks as a plain
    /// NOLOGIN role (no password, no other attribute), so policies, grants, default privileges
    /// and owners restore; without it, what names a missing role is left out and named.
    #[arg(long)]
    create_missing_roles: bool,
    /// Parallel pg_restore workers (custom and directory archives).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Replace this existing database: restore into a new database first and, only after that
    /// succeeded, rename DB to DB_before_YYYYMMDD-HHMMSS (kept, never dropped) and the new
    /// database to DB. Needs --yes (without it: usage error, exit code 2), except with --dry-run.
    #[arg(long, value_name = "DB", conflicts_with = "target_db")]
    replace: Option<String>,
    /// With --replace: end the other sessions connected to DB (else they block the restore).
    #[arg(long, requires = "replace")]
    terminate_connections: bool,
    /// Restore only this schema (repeatable). With the manifest of a one-file-per-schema backup,
    /// one --schema picks that schema's file.
    #[arg(long, value_name = "SCHEMA")]
    schema: Vec<String>,
    /// Leave this schema out (repeatable); what elsewhere depends on it is left out too.
    #[arg(long, value_name = "SCHEMA")]
    exclude_schema: Vec<String>,
    /// Restore only this table, view or sequence (repeatable; schema.table or table), with its
    /// data, indexes, constraints, defaults and triggers.
    #[arg(long, value_name = "TABLE")]
    table: Vec<String>,
    /// Go on after errors: every error is reported, the database keeps what restored, and the
    /// exit code is 1.
    #[arg(long)]
    continue_on_errors: bool,
    /// Allow a plain http:// address, which is not encrypted: anyone on the network can read or
    /// change the backup on its way (a warning says so). Use it only on a network you trust.
    #[arg(long)]
    allow_http: bool,
    /// Confirm --replace.
    #[arg(long)]
    yes: bool,
    /// Only run the pre-flight and print the plan and its findings; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: list every entry left out, not only how many of each kind.
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Custom,
    Directory,
    Tar,
    Plain,
}

impl From<FormatArg> for BackupFormat {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Custom => BackupFormat::Custom,
            FormatArg::Directory => BackupFormat::Directory,
            FormatArg::Tar => BackupFormat::Tar,
            FormatArg::Plain => BackupFormat::Plain,
        }
    }
}

/// `--compress`: the engine's own reading of `METHOD[:LEVEL]`, so a bad value is a usage error.
fn parse_compression(text: &str) -> Result<Compression, String> {
    Compression::parse(text).map_err(|e| format!("{e} {}", e.hint()))
}

/// Progress on standard error: a line that rewrites itself on a terminal, nothing otherwise
/// (scheduled runs keep their logs clean); warnings always.
struct CliProgress {
    terminal: bool,
    /// e.g. "Backing up: table".
    doing: &'static str,
}

impl ProgressSink for CliProgress {
    fn emit(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Step { done, total, current } if self.terminal => {
                let doing = self.doing;
                eprint!("\r\x1b[2K{doing} {done} of {total} ({})", safe(&current));
            }
            ProgressEvent::Warning { message } => eprintln!("warning: {}", safe_text(&message)),
            _ => {}
        }
    }
}

async fn run_backup(
    ctx: Result<Ctx, Error>,
    args: BackupArgs,
) -> Result<lifeboat_engine::ops::backup::BackupOutcome, Error> {
    let ctx = ctx?;
    let destination = match args.out {
        Some(out) => out,
        None => lifeboat_engine::ops::backup::default_folder(&ctx)?,
    };
    let input = StartBackup {
        profile: args.profile,
        database: args.database.unwrap_or_default(),
        destination: destination.display().to_string(),
        format: args.format.into(),
        compression: args.compress,
        scope: BackupScope {
            schemas: args.schemas,
            exclude_schemas: args.exclude_schemas,
            tables: args.tables,
            exclude_tables: args.exclude_tables,
            data_only: args.data_only,
            schema_only: args.schema_only,
            extensions: Vec::new(),
        },
        per_schema: args.per_schema,
        jobs: args.jobs,
        globals: args.globals,
        role_passwords: false,
        keep_needed: args.keep_needed,
        leave_out_dependents: args.leave_out_dependents,
    };
    let cancel = cancel_on_interrupt();
    use std::io::IsTerminal;
    let progress = CliProgress {
        terminal: std::io::stderr().is_terminal() && !args.json.json,
        doing: "Backing up: table",
    };
    // The tracker forwards every event to `progress` and records the job in the activity.
    let outcome = recorded::backup(&ctx, ActivityOrigin::Cli, input, &progress, &cancel).await;
    if progress.terminal {
        eprintln!();
    }
    outcome
}

/// `lifeboat backup --all-databases`.
async fn run_backup_server(
    ctx: Result<Ctx, Error>,
    args: BackupArgs,
) -> Result<ServerBackupOutcome, Error> {
    let ctx = ctx?;
    let destination = match args.out {
        Some(out) => out,
        None => lifeboat_engine::ops::backup::default_folder(&ctx)?,
    };
    let input = StartServerBackup {
        profile: args.profile,
        destination: destination.display().to_string(),
        format: args.format.into(),
        compression: args.compress,
        jobs: args.jobs,
        role_passwords: false,
    };
    let cancel = cancel_on_interrupt();
    use std::io::IsTerminal;
    let progress = ServerProgress {
        inner: CliProgress {
            terminal: std::io::stderr().is_terminal() && !args.json.json,
            doing: "  table",
        },
        quiet: args.json.json,
    };
    recorded::backup_server(&ctx, ActivityOrigin::Cli, input, &progress, &cancel).await
}

/// A line per database as it starts (on standard error, unless --json), then the tables.
struct ServerProgress {
    inner: CliProgress,
    quiet: bool,
}

impl ProgressSink for ServerProgress {
    fn emit(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Stage { index, total, name } if !self.quiet => {
                if self.inner.terminal {
                    eprint!("\r\x1b[2K");
                }
                eprintln!("Database {index} of {total}: {}", safe(&name));
            }
            event => self.inner.emit(event),
        }
    }
}

fn print_server_backup(outcome: &ServerBackupOutcome) {
    println!("{}", safe_text(&outcome.summary));
    for db in &outcome.databases {
        let name = safe(&db.database);
        match (db.state, &db.outcome, &db.error, &db.reason) {
            (DatabaseBackupState::BackedUp, Some(o), _, _) => println!(
                "  ok       {name}  {}  {}  {}",
                human_size(Some(o.size_bytes as i64)),
                o.compression,
                safe(&o.manifest_path)
            ),
            (DatabaseBackupState::Failed, _, Some(e), _) => {
                println!("  failed   {name}  {}", safe_text(&e.message))
            }
            (_, _, _, reason) => {
                println!("  skipped  {name}  {}", safe_text(reason.as_deref().unwrap_or("")))
            }
        }
    }
    if let Some(globals) = &outcome.globals {
        println!(
            "Roles and tablespaces: {} (listed in the manifest of {})",
            safe(&globals.file.name),
            safe(&globals.database)
        );
    }
    println!(
        "{} in {:.1} s",
        human_size(Some(outcome.size_bytes as i64)),
        outcome.duration_ms as f64 / 1000.0
    );
}

/// A token that Ctrl-C cancels: the operation then stops its tools and cleans up.
fn cancel_on_interrupt() -> tokio_util::sync::CancellationToken {
    let cancel = tokio_util::sync::CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    cancel
}

fn restore_request(args: &RestoreArgs) -> RestoreRequest {
    RestoreRequest {
        source: args.source.display().to_string(),
        profile: args.profile.clone(),
        target_database: args.target_db.clone(),
        no_owner: args.no_owner,
        owner_role: args.owner.clone(),
        jobs: args.jobs,
        replace: args.replace.clone(),
        terminate_connections: args.terminate_connections,
        selection: Selection {
            schemas: args.schema.clone(),
            exclude_schemas: args.exclude_schema.clone(),
            tables: args.table.clone(),
            exclude_entries: Vec::new(),
        },
        continue_on_errors: args.continue_on_errors,
        create_roles: args.create_roles,
        create_missing_roles: args.create_missing_roles,
        allow_http: args.allow_http,
        ..RestoreRequest::default()
    }
}

/// `lifeboat restore`: the plan with `--dry-run` (exit 1 when blocked), else the restore.
async fn run_restore(ctx: Result<Ctx, Error>, args: RestoreArgs) -> ExitCode {
    let json = args.json.json;
    if args.replace.is_some() && !args.yes && !args.dry_run {
        clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--replace renames an existing database: confirm with --yes (or look first with \
             --dry-run)\n",
        )
        .exit();
    }
    let ctx = match ctx {
        Ok(ctx) => ctx,
        Err(error) => return finish(json, Err::<(), _>(error), |_| {}),
    };
    if args.dry_run {
        let plan = preflight(&ctx, restore_request(&args)).await;
        return report(json, plan, |plan| print_plan(plan, args.verbose), |plan| !plan.blocked);
    }
    let cancel = cancel_on_interrupt();
    use std::io::IsTerminal;
    let progress = CliProgress {
        terminal: std::io::stderr().is_terminal() && !json,
        doing: "Restoring: entry",
    };
    let request = restore_request(&args);
    let outcome = recorded::restore(&ctx, ActivityOrigin::Cli, request, &progress, &cancel).await;
    if progress.terminal {
        eprintln!();
    }
    match outcome {
        // The blocking findings travel with the error, so scripts see their codes.
        Err(Error::RestoreBlocked { blockers }) if json => {
            let error = Error::RestoreBlocked { blockers: blockers.clone() };
            println!("{}", serde_json::json!({ "error": error.payload(), "findings": blockers }));
            ExitCode::FAILURE
        }
        // Errors gone past are never a success.
        Ok(outcome) if !outcome.errors.is_empty() => {
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome).expect("serializable"));
            } else {
                println!(
                    "Restored into {} with {} error{}: what failed is missing there.",
                    safe(&outcome.database),
                    outcome.errors.len(),
                    if outcome.errors.len() == 1 { "" } else { "s" }
                );
                for error in &outcome.errors {
                    println!("error: {}", safe_text(error));
                }
            }
            ExitCode::FAILURE
        }
        outcome => finish(json, outcome, |outcome| {
            println!(
                "Restored {} entries into {}{} in {:.1} s ({}).",
                outcome.restored_entries,
                safe(&outcome.database),
                if outcome.kept_as.is_some() {
                    " (replaced)"
                } else if outcome.created {
                    " (new database)"
                } else {
                    ""
                },
                outcome.duration_ms as f64 / 1000.0,
                outcome.tool_versions.join(", ")
            );
            if let Some(kept) = &outcome.kept_as {
                println!("The previous {} is kept as {}.", safe(&outcome.database), safe(kept));
            }
            if !outcome.created_roles.is_empty() {
                println!(
                    "Created the roles {} (no passwords yet).",
                    safe(&outcome.created_roles.join(", "))
                );
            }
            for warning in &outcome.warnings {
                println!("warning: {}", safe_text(warning));
            }
        }),
    }
}

fn print_plan(plan: &RestorePlan, verbose: bool) {
    println!("{}", safe_text(&plan.summary));
    let format = serde_json::to_value(plan.format).expect("serializable");
    let mut source =
        format!("Source: {} ({}", safe(&plan.source), format.as_str().unwrap_or_default());
    if let Some(version) = &plan.archive_version {
        source.push_str(&format!(", archive {version}"));
    }
    if let Some(by) = &plan.dumped_by {
        source.push_str(&format!(", pg_dump {by}"));
    }
    if let Some(from) = &plan.dumped_from {
        source.push_str(&format!(", from PostgreSQL {from}"));
    }
    println!("{source})");
    println!(
        "Target: {} database {} on \"{}\" (PostgreSQL {})",
        if plan.create_database { "new" } else { "existing" },
        safe(&plan.database),
        safe(&plan.profile),
        plan.server_version
    );
    print_left_out(plan, verbose);
    if plan.findings.is_empty() {
        return;
    }
    println!("Findings:");
    for finding in &plan.findings {
        let severity = serde_json::to_value(finding.severity).expect("serializable");
        let code = serde_json::to_value(finding.code).expect("serializable");
        println!(
            "  [{}] {}: {}",
            severity.as_str().unwrap_or_default(),
            code.as_str().unwrap_or_default(),
            safe_text(&finding.message)
        );
        if let Some(fix) = &finding.fix {
            println!("      → {}", safe_text(fix));
        }
    }
}

/// How many left-out entries are listed one by one without --verbose.
const LEFT_OUT_LISTED: usize = 20;

/// The entries a restore leaves out: each one, or, when there are many, how many of each kind.
fn print_left_out(plan: &RestorePlan, verbose: bool) {
    let chosen: Vec<(&str, String)> = plan
        .left_out
        .iter()
        .map(|entry| {
            let what = selection::describe(&entry.kind, entry.schema.as_deref(), &entry.name);
            let line = match &entry.because {
                Some(needs) => format!("{what} (needs {needs})"),
                None => what,
            };
            (entry.kind.as_str(), line)
        })
        .collect();
    print_entries("Left out:", &chosen, verbose);
    let for_roles: Vec<(&str, String)> = plan
        .left_out_for_roles
        .iter()
        .map(|entry| {
            let what = selection::describe(&entry.kind, entry.schema.as_deref(), &entry.name);
            (entry.kind.as_str(), format!("{what} (names {})", entry.roles.join(", ")))
        })
        .collect();
    print_entries("Left out, naming roles this server lacks:", &for_roles, verbose);
}

/// `title` and one line per entry; past [`LEFT_OUT_LISTED`] entries, without `verbose`, only
/// how many of each kind.
fn print_entries(title: &str, entries: &[(&str, String)], verbose: bool) {
    if entries.is_empty() {
        return;
    }
    if verbose || entries.len() <= LEFT_OUT_LISTED {
        println!("{title}");
        for (_, line) in entries {
            println!("  {}", safe(line));
        }
        return;
    }
    let kinds = count_by_kind(entries.iter().map(|(kind, _)| *kind));
    println!("{title} {} entries ({kinds}); --verbose lists each.", entries.len());
}

/// "2100 TABLE DATA, 600 TABLE, 25 SEQUENCE", most first.
fn count_by_kind<'a>(kinds: impl Iterator<Item = &'a str>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for kind in kinds {
        *counts.entry(kind).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts.iter().map(|(kind, n)| format!("{n} {kind}")).collect::<Vec<_>>().join(", ")
}

#[derive(Args)]
struct JsonFlag {
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// Add a profile. The password goes to the system keychain.
    Add {
        name: String,
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 5432)]
        port: u16,
        #[arg(long)]
        user: String,
        /// Maintenance database used for checks and listings.
        #[arg(long, default_value = "postgres")]
        dbname: String,
        #[arg(long, default_value = "prefer", value_parser = parse_sslmode)]
        sslmode: SslMode,
        /// CA certificate file for --sslmode verify-ca / verify-full.
        #[arg(long)]
        root_cert: Option<PathBuf>,
        /// Read the password from standard input (first line).
        #[arg(long, conflicts_with = "use_pgpass")]
        password_stdin: bool,
        /// Take the password from PGPASSWORD or .pgpass instead of the keychain.
        #[arg(long)]
        use_pgpass: bool,
        /// Send the password when the server asks for it in clear text (pg_hba.conf
        /// `password`, LDAP, PAM) over a connection that does not verify the server. Unsafe
        /// without TLS: anyone on the way can read it. Not needed with --sslmode verify-full.
        #[arg(long)]
        allow_cleartext_password: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List the profiles.
    List(JsonFlag),
    /// Remove a profile and its keychain entry.
    Remove {
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Connect with a profile and report the server version and your rights.
    Check {
        name: String,
        /// Seconds before a silent server counts as unreachable.
        #[arg(long, default_value_t = 10)]
        timeout: u32,
        #[command(flatten)]
        json: JsonFlag,
    },
}

fn parse_sslmode(text: &str) -> Result<SslMode, String> {
    SslMode::parse(text).ok_or_else(|| {
        let all: Vec<&str> = SslMode::ALL.iter().map(|m| m.as_str()).collect();
        format!("expected one of {}", all.join(", "))
    })
}

/// Where the CLI looks for the bundled tools, after `LIFEBOAT_PG_BUNDLE`: the install it belongs
/// to (found from its own path), then the installers' folders.
fn bundle_candidates() -> Vec<PathBuf> {
    std::env::current_exe().map(|exe| tools::bundle_candidates(&exe)).unwrap_or_default()
}

fn context() -> Result<Ctx, Error> {
    Ctx::open(DataDir::resolve()?, Toolbox::locate(bundle_candidates())?, Arc::new(OsKeychain))
}

fn read_password_from_stdin() -> Result<Secret, Error> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|source| Error::Io {
        action: "Reading the password",
        path: PathBuf::from("standard input"),
        source,
    })?;
    let line = text.lines().next().unwrap_or_default();
    Ok(Secret::new(line))
}

/// Prints a result as JSON or text and turns it into the exit code.
fn finish<T: Serialize>(json: bool, result: Result<T, Error>, text: impl FnOnce(&T)) -> ExitCode {
    report(json, result, text, |_| true)
}

/// Prints a result as JSON or as text; the exit code is 0 only when it is a value that `passed`.
fn report<T: Serialize>(
    json: bool,
    result: Result<T, Error>,
    text: impl FnOnce(&T),
    passed: impl FnOnce(&T) -> bool,
) -> ExitCode {
    match result {
        Ok(value) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&value).expect("serializable"));
            } else {
                text(&value);
            }
            if passed(&value) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) if json => {
            println!("{}", serde_json::json!({ "error": error.payload() }));
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!(
                "error: {}\nhint: {}",
                safe_text(&error.to_string()),
                safe_text(&error.hint())
            );
            ExitCode::FAILURE
        }
    }
}

fn human_size(bytes: Option<i64>) -> String {
    bytes.map_or_else(
        || "-".to_owned(),
        |b| lifeboat_engine::util::size::human_bytes(b.max(0) as u64),
    )
}

/// `lifeboat profile …`.
async fn run_profile(ctx: Result<Ctx, Error>, command: ProfileCommand) -> ExitCode {
    match command {
        ProfileCommand::Add {
            name,
            host,
            port,
            user,
            dbname,
            sslmode,
            root_cert,
            password_stdin,
            use_pgpass,
            allow_cleartext_password,
            json,
        } => {
            let result = async {
                let ctx = ctx?;
                let password =
                    if password_stdin { Some(read_password_from_stdin()?) } else { None };
                let settings = ProfileSettings {
                    name,
                    host,
                    port,
                    user,
                    maintenance_db: dbname,
                    sslmode,
                    root_cert: root_cert.map(|p| p.display().to_string()),
                    password_source: if use_pgpass {
                        PasswordSource::Environment
                    } else {
                        PasswordSource::Keychain
                    },
                    allow_cleartext_password,
                };
                add_profile(&ctx, AddProfile { settings, password }).await
            }
            .await;
            finish(json.json, result, |p| println!("Added profile \"{}\".", p.settings.name))
        }
        ProfileCommand::List(JsonFlag { json }) => {
            let result = async { list_profiles(&ctx?, ListProfiles).await }.await;
            finish(json, result, |profiles| {
                if profiles.is_empty() {
                    println!("No profiles yet. Add one with `lifeboat profile add`.");
                }
                for p in profiles {
                    let s = &p.settings;
                    println!(
                        "{}\t{}@{}:{}/{}\tsslmode={}",
                        s.name,
                        s.user,
                        s.host,
                        s.port,
                        s.maintenance_db,
                        s.sslmode.as_str()
                    );
                }
            })
        }
        ProfileCommand::Remove { name, json } => {
            let result = async {
                remove_profile(&ctx?, RemoveProfile { name: name.clone() }).await?;
                Ok(serde_json::json!({ "removed": name }))
            }
            .await;
            finish(json.json, result, |_| {
                println!("Removed profile \"{name}\" and its stored password.")
            })
        }
        ProfileCommand::Check { name, timeout, json } => {
            let result = async {
                check_profile(&ctx?, CheckProfile { name, timeout_secs: Some(timeout) }).await
            }
            .await;
            finish(json.json, result, |r| {
                println!(
                    "Connected: PostgreSQL {} as {}{}",
                    r.server_version,
                    r.user,
                    if r.ssl { " (SSL)" } else { "" }
                );
                println!("Superuser: {}", if r.is_superuser { "yes" } else { "no" });
                println!("Can create databases: {}", if r.can_create_db { "yes" } else { "no" });
                println!("Lifeboat uses the PostgreSQL {} tools for this server.", r.tools_major);
            })
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    diagnostics::start_log();
    let ctx = context();
    diagnostics::log_startup(&ctx);
    match cli.command {
        Command::Tools(JsonFlag { json }) => {
            let result = match ctx {
                Ok(ctx) => app_info(&ctx, AppInfoInput).await,
                Err(error) => Err(error),
            };
            finish(json, result, |info| {
                println!("Lifeboat {}", info.version);
                println!("Data folder: {}", info.data_dir);
                println!("{:<6} {:<10} server", "major", "version");
                for tools in &info.bundled {
                    let server = if tools.has_server { "yes" } else { "-" };
                    println!("{:<6} {:<10} {server}", tools.major, tools.version);
                }
            })
        }
        Command::Profile(command) => run_profile(ctx, command).await,
        Command::Backup(args) if args.all_databases => {
            let json = args.json.json;
            let result = run_backup_server(ctx, args).await;
            report(json, result, print_server_backup, |o| o.status == ServerBackupStatus::Ok)
        }
        Command::Backup(args) => {
            let json = args.json.json;
            let result = run_backup(ctx, args).await;
            finish(json, result, |outcome| {
                println!(
                    "Backup finished in {:.1} s: {} ({} compression) in {}",
                    outcome.duration_ms as f64 / 1000.0,
                    human_size(Some(outcome.size_bytes as i64)),
                    outcome.compression,
                    safe(&outcome.manifest_path)
                );
                for file in &outcome.files {
                    println!(
                        "  {}  {}  sha256 {}",
                        safe(&file.name),
                        human_size(Some(file.bytes as i64)),
                        file.sha256
                    );
                }
                // Its warnings were printed on standard error as they came.
            })
        }
        Command::Restore(args) => run_restore(ctx, args).await,
        Command::Test(args) => drill::run_test(ctx, args).await,
        Command::Verify(args) => drill::run_verify(ctx, args).await,
        Command::Checks(command) => drill::run_checks(ctx, command),
        Command::Remind(args) => remind::run_remind(ctx, args).await,
        Command::Backups(args) => backups::run_backups(ctx, args).await,
        Command::Status(args) => backups::run_status(ctx, args).await,
        Command::Prune(args) => backups::run_prune(ctx, args).await,
        Command::Schedule(command) => schedule::run_schedule(ctx, command).await,
        Command::Copy(args) => backups::run_copy(ctx, args).await,
        Command::Practice(command) => practice::run_practice(ctx, command).await,
        Command::Diagnostics(JsonFlag { json }) => diagnostics::run(ctx, json).await,
        Command::Activity(args) => activity::run_activity(ctx, args).await,
        Command::HelpMarkdown => diagnostics::help_markdown(),
        Command::Databases { profile, json } => {
            let result = async { list_databases(&ctx?, ListDatabases { profile }).await }.await;
            finish(json.json, result, |databases| {
                for d in databases {
                    println!(
                        "{}\t{}\towner {}\t{}",
                        safe(&d.name),
                        human_size(d.size_bytes),
                        safe(&d.owner),
                        safe(&d.encoding)
                    );
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_left_out_entries_are_counted_by_kind_most_first() {
        let kinds = ["TABLE", "TABLE DATA", "TABLE DATA", "ACL"];
        assert_eq!(count_by_kind(kinds.into_iter()), "2 TABLE DATA, 1 ACL, 1 TABLE");
    }
}
