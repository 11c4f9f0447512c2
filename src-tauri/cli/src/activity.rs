//! `lifeboat activity`: the finished jobs (backups, restores, tests) from the window, the CLI and
//! the schedules, and one job's program log, over the same engine functions as the Activity view.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lifeboat_engine::ops::activity::{
    ActivityEntry, ActivityLogRequest, ActivityOrigin, DEFAULT_LIMIT, ListActivity, activity_log,
    list_activity,
};
use lifeboat_engine::storage::activity::{ActivityOutcome, KEEP_ENTRIES};
use lifeboat_engine::util::display::{safe, safe_text};
use lifeboat_engine::{Ctx, Error};
use serde::Serialize;

use super::{JsonFlag, finish};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ActivityArgs {
    #[command(subcommand)]
    action: Option<ActivityAction>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    limit: u32,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Subcommand)]
enum ActivityAction {
    /// One job: what it was, how it ended, and the last lines its programs wrote.
    Show {
        /// The job's number (`lifeboat activity` lists them).
        id: i64,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// `lifeboat activity show ID --json`.
#[derive(Serialize)]
struct Shown {
    /// The job, when it is among the newest kept (its log is kept as long as it is).
    job: Option<ActivityEntry>,
    log: Vec<String>,
}

pub async fn run_activity(ctx: Result<Ctx, Error>, args: ActivityArgs) -> ExitCode {
    if let Some(ActivityAction::Show { id, json }) = args.action {
        let result = async {
            let ctx = ctx?;
            let log = activity_log(&ctx, ActivityLogRequest { id }).await?;
            let all = ListActivity { limit: Some(KEEP_ENTRIES as u32) };
            let job = list_activity(&ctx, all).await?.into_iter().find(|e| e.id == id);
            Ok(Shown { job, log })
        }
        .await;
        return finish(json.json, result, print_shown);
    }
    let result = async {
        let ctx = ctx?;
        list_activity(&ctx, ListActivity { limit: Some(args.limit) }).await
    }
    .await;
    finish(args.json.json, result, print_list)
}

fn print_list(entries: &Vec<ActivityEntry>) {
    if entries.is_empty() {
        println!(
            "No finished jobs yet. Backups, restores and tests are listed here when they end."
        );
        return;
    }
    println!(
        "{:>5}  {:<16}  {:<13}  {:<8}  {:<9}  what",
        "id", "started", "kind", "from", "outcome"
    );
    for e in entries {
        println!(
            "{:>5}  {:<16}  {:<13}  {:<8}  {:<9}  {}",
            e.id,
            short_time(&e.started_at),
            kind_text(e),
            origin_text(e.origin),
            outcome_text(e.outcome),
            safe(&what(e))
        );
        println!("       {}", safe(&e.summary));
    }
    println!("`lifeboat activity show ID` prints a job's program log.");
}

fn print_shown(shown: &Shown) {
    if let Some(e) = &shown.job {
        println!(
            "Job {}: {} of {}, from {}, {} → {}: {}",
            e.id,
            kind_text(e),
            safe(&what(e)),
            origin_text(e.origin),
            short_time(&e.started_at),
            short_time(&e.ended_at),
            outcome_text(e.outcome)
        );
        println!("{}", safe_text(&e.summary));
        if let Some(code) = &e.error_code {
            println!("Error code: {}", safe(code));
        }
        if e.log_dropped > 0 {
            println!("(The first {} lines of its log are not kept.)", e.log_dropped);
        }
    }
    if shown.log.is_empty() {
        println!("Its programs wrote nothing.");
    }
    for line in &shown.log {
        println!("| {}", safe(line));
    }
}

/// "shop on prod": the subject and the profile it ran on.
fn what(e: &ActivityEntry) -> String {
    match &e.profile {
        Some(profile) => format!("{} on {profile}", e.subject),
        None => e.subject.clone(),
    }
}

fn kind_text(e: &ActivityEntry) -> String {
    serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn origin_text(origin: Option<ActivityOrigin>) -> &'static str {
    match origin {
        Some(ActivityOrigin::Desktop) => "window",
        Some(ActivityOrigin::Cli) => "cli",
        Some(ActivityOrigin::Schedule) => "schedule",
        None => "-",
    }
}

fn outcome_text(outcome: ActivityOutcome) -> &'static str {
    match outcome {
        ActivityOutcome::Succeeded => "succeeded",
        ActivityOutcome::Failed => "FAILED",
        ActivityOutcome::Cancelled => "cancelled",
    }
}

/// "2026-12-01 02:30" of an RFC 3339 time.
fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}
