//! `lifeboat backups`, `lifeboat prune` and `lifeboat copy`: the catalog, retention and the
//! second copy from the command line, over the same engine functions as the app and the
//! schedules.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use lifeboat_engine::ops::copy::{CopyOutcome, CopyRequest, VerifyCopy, copy_backup, verify_copy};
use lifeboat_engine::ops::delete::{DeleteBackup, DeletedBackup, delete_backup};
use lifeboat_engine::ops::overview::{Overview, OverviewRequest, database_overview};
use lifeboat_engine::ops::retention::{
    PruneItem, PruneReport, PruneRequest, RetentionPolicy, prune,
};
use lifeboat_engine::storage::catalog::{
    BackupRecord, BackupStatus, CatalogQuery, CopyStatus, query_catalog,
};
use lifeboat_engine::storage::jobs;
use lifeboat_engine::util::display::{safe, safe_text};
use lifeboat_engine::{Ctx, Error};

use super::{CliProgress, JsonFlag, cancel_on_interrupt, finish, human_size, report};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupsArgs {
    #[command(subcommand)]
    action: Option<BackupsAction>,
    /// Only backups of this database.
    #[arg(long)]
    database: Option<String>,
    /// Only backups made with this profile.
    #[arg(long)]
    profile: Option<String>,
    /// Also the backups retention deleted (kept in the catalog as history).
    #[arg(long)]
    all: bool,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Subcommand)]
enum BackupsAction {
    /// Delete one backup: its files, its manifest and the test certificates beside it. The
    /// catalog keeps its row, marked deleted (`lifeboat backups --all` shows it). A backup a
    /// test or a restore is using is refused.
    Delete {
        /// The backup's number (`lifeboat backups` lists them).
        id: i64,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Args)]
pub struct StatusArgs {
    #[arg(long)]
    profile: String,
    #[arg(long)]
    database: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Args)]
pub struct PruneArgs {
    #[arg(long)]
    profile: String,
    #[arg(long)]
    database: String,
    /// Keep the newest N backups.
    #[arg(long)]
    keep_last: u32,
    /// Also keep the newest backup of each of the last N days that have one.
    #[arg(long, default_value_t = 0)]
    keep_daily: u32,
    /// Also keep the newest backup of each of the last N weeks that have one.
    #[arg(long, default_value_t = 0)]
    keep_weekly: u32,
    /// Also keep the newest backup of each of the last N months that have one.
    #[arg(long, default_value_t = 0)]
    keep_monthly: u32,
    /// Only show what would be deleted, and why each other backup is kept.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Args)]
pub struct CopyArgs {
    /// The backup's number (`lifeboat backups` lists them).
    backup: i64,
    /// The folder on another disk the copy goes into (it must exist).
    #[arg(long, required_unless_present = "verify", conflicts_with = "verify")]
    to: Option<PathBuf>,
    /// Read the existing copy again and check every file against the manifest.
    #[arg(long)]
    verify: bool,
    #[command(flatten)]
    json: JsonFlag,
}

/// `lifeboat backups` and `lifeboat backups delete`.
pub async fn run_backups(ctx: Result<Ctx, Error>, args: BackupsArgs) -> ExitCode {
    if let Some(BackupsAction::Delete { id, json }) = args.action {
        let result = async { delete_backup(&ctx?, DeleteBackup { backup_id: id }).await }.await;
        return finish(json.json, result, print_deleted);
    }
    let query = CatalogQuery {
        database: args.database,
        profile: args.profile,
        limit: Some(args.limit),
        include_deleted: args.all,
    };
    // Restores that stopped halfway and left a database behind, said before the backups.
    let interrupted = ctx.as_ref().ok().and_then(|c| jobs::interrupted(c).ok()).unwrap_or_default();
    let result = ctx.and_then(|ctx| query_catalog(&ctx, &query));
    finish(args.json.json, result, |backups| {
        for job in &interrupted {
            println!("warning: {}", safe_text(&job.describe()));
        }
        if backups.is_empty() {
            println!("No backups in the catalog yet. Make one with `lifeboat backup`.");
            return;
        }
        println!(
            "{:>5}  {:<16}  {:<20}  {:<9}  {:>9}  {:<13}  {:<7}  where",
            "id", "started", "database", "status", "size", "test", "copy"
        );
        for b in backups {
            println!(
                "{:>5}  {:<16}  {:<20}  {:<9}  {:>9}  {:<13}  {:<7}  {}",
                b.id,
                short_time(&b.started_at),
                safe(&b.database),
                status_text(b),
                human_size(b.size_bytes),
                b.test_status,
                copy_text(b.copy_status),
                safe(b.manifest_path.as_deref().unwrap_or("-"))
            );
            if let Some(error) = b.error_message.as_deref().filter(|_| b.deleted_at.is_none()) {
                println!("       {}", safe_text(error));
            }
            if let (Some(status @ (CopyStatus::Failed | CopyStatus::Missing)), Some(why)) =
                (b.copy_status, b.copy_error.as_deref())
            {
                println!("       copy {}: {}", status.as_str(), safe_text(why));
            }
        }
    })
}

fn print_deleted(d: &DeletedBackup) {
    println!(
        "Deleted backup {} of {} ({}); the catalog keeps it as history.",
        d.backup.id,
        safe(&d.backup.database),
        human_size(Some(d.freed_bytes as i64))
    );
    if d.removed.is_empty() {
        println!("No file of it was left to remove.");
    }
    for file in &d.removed {
        println!("  removed {}", safe(file));
    }
}

/// `lifeboat status`: the dashboard of one database, as the desktop shows it.
pub async fn run_status(ctx: Result<Ctx, Error>, args: StatusArgs) -> ExitCode {
    let request = OverviewRequest { profile: args.profile, database: args.database, now: None };
    let result = async { database_overview(&ctx?, request).await }.await;
    finish(args.json.json, result, print_status)
}

fn print_status(o: &Overview) {
    println!("{} on {} ({}:{})", safe(&o.database), safe(&o.profile), safe(&o.host), o.port);
    let size = match (&o.live, o.on_server, &o.server_problem) {
        (Some(live), _, _) => human_size(live.size_bytes),
        (None, Some(false), _) => "not on the server".to_owned(),
        (_, _, Some(problem)) => format!("unknown ({})", safe_text(&problem.message)),
        _ => "unknown".to_owned(),
    };
    println!("  size:         {size}");
    match &o.last_backup {
        Some(b) => println!(
            "  last backup:  {} #{} {} {}",
            short_time(&b.started_at),
            b.id,
            human_size(b.size_bytes),
            b.test_status
        ),
        None => println!("  last backup:  none"),
    }
    if let Some(a) = &o.last_attempt {
        println!("  last attempt: {} #{} {}", short_time(&a.started_at), a.id, status_text(a));
    }
    match &o.last_test {
        Some(t) => {
            let result = if t.passed { "passed" } else { "failed" };
            println!(
                "  last test:    {} {result}: {}",
                short_time(&t.started_at),
                safe(&t.summary)
            );
            if let Some(html) = &t.certificate_html {
                println!("  certificate:  {}", safe(html));
            }
        }
        None => println!("  last test:    none"),
    }
    println!("  backups kept: {} ({})", o.backups_kept, human_size(Some(o.kept_bytes)));
    if o.schedules.is_empty() {
        println!("  schedule:     none");
    }
    for s in &o.schedules {
        let last = s.last_run.as_ref().map_or("never run".to_owned(), |r| {
            format!("last run {} {}", short_time(&r.started_at), r.status)
        });
        println!(
            "  schedule:     {} ({}; {last})",
            safe(&s.schedule.name),
            s.schedule.describe_when()
        );
    }
    if let Some(r) = &o.readiness {
        println!("  readiness:    {}", safe_text(&r.line));
    }
    if o.attention.is_empty() {
        println!("Nothing needs attention.");
    } else {
        println!("Needs attention:");
        for item in &o.attention {
            println!("  {}: {}", safe_text(&item.title), safe_text(&item.message));
        }
    }
}

fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}

fn status_text(b: &BackupRecord) -> &'static str {
    if b.deleted_at.is_some() {
        return "deleted";
    }
    match b.status {
        BackupStatus::Running => "running",
        BackupStatus::Finished => "finished",
        BackupStatus::Failed => "failed",
        BackupStatus::Cancelled => "cancelled",
    }
}

fn copy_text(status: Option<CopyStatus>) -> &'static str {
    status.map_or("-", CopyStatus::as_str)
}

/// `lifeboat prune`. Exit code 1 when a backup could not be deleted.
pub async fn run_prune(ctx: Result<Ctx, Error>, args: PruneArgs) -> ExitCode {
    let request = PruneRequest {
        profile: args.profile,
        database: args.database,
        policy: RetentionPolicy {
            keep_last: args.keep_last,
            keep_daily: args.keep_daily,
            keep_weekly: args.keep_weekly,
            keep_monthly: args.keep_monthly,
        },
        dry_run: args.dry_run,
    };
    let result = async { prune(&ctx?, request).await }.await;
    report(args.json.json, result, print_prune, |r| r.failures.is_empty())
}

fn print_prune(r: &PruneReport) {
    let line = |item: &PruneItem| {
        format!(
            "{:>5}  {}  {:>9}  {}",
            item.backup.id,
            short_time(&item.backup.started_at),
            human_size(item.backup.size_bytes),
            item.backup.manifest_path.as_deref().unwrap_or("-")
        )
    };
    let verb = if r.dry_run { "Would delete" } else { "Deleted" };
    if r.delete.is_empty() {
        println!("Nothing to delete for {} on {}:{}.", safe(&r.database), safe(&r.host), r.port);
    } else {
        println!(
            "{verb} {} backup(s), {}:",
            r.delete.len(),
            human_size(Some(r.freed_bytes as i64))
        );
        for item in &r.delete {
            println!("{}", line(item));
        }
    }
    println!("Keeping {}:", r.keep.len());
    for item in &r.keep {
        let why: Vec<String> = item.reasons.iter().map(|r| r.describe()).collect();
        println!("{}  ({})", line(item), why.join("; "));
    }
    for failure in &r.failures {
        let message = safe_text(&failure.message);
        eprintln!("error: backup {} could not be deleted: {message}", failure.backup_id);
    }
    if r.dry_run && !r.delete.is_empty() {
        println!("Nothing was deleted (dry run). Run again without --dry-run to delete.");
    }
}

/// `lifeboat copy`. A destination that is not there is a warning (exit 0): the backup is fine.
pub async fn run_copy(ctx: Result<Ctx, Error>, args: CopyArgs) -> ExitCode {
    let result = async {
        let ctx = ctx?;
        match args.to {
            Some(to) if !args.verify => {
                let sink = CliProgress {
                    terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
                    doing: "Copying: byte",
                };
                let request =
                    CopyRequest { backup_id: args.backup, destination: to.display().to_string() };
                copy_backup(&ctx, request, &sink, &cancel_on_interrupt()).await
            }
            _ => verify_copy(&ctx, VerifyCopy { backup_id: args.backup }).await,
        }
    }
    .await;
    finish(args.json.json, result, |outcome: &CopyOutcome| match outcome.status {
        // The warning went to standard error already.
        CopyStatus::Missing if args.verify => println!("{}", safe_text(&outcome.message)),
        CopyStatus::Missing => {}
        _ => println!("{} ({})", safe_text(&outcome.message), safe(&outcome.copy_path)),
    })
}
