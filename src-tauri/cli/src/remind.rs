//! `lifeboat remind [--notify] [--json] [--database D]`: what needs attention, per database, in
//! plain text or one JSON document; with `--notify` also as desktop notifications (each item at
//! most once a day). Exit code 1 when anything needs attention, 0 otherwise, also headless.

use std::process::ExitCode;

use clap::Args;
use lifeboat_engine::base::error::ErrorPayload;
use lifeboat_engine::ops::notify::{self, NotifySummary};
use lifeboat_engine::ops::watch::{Severity, WatchReport, WatchRequest, watch};
use lifeboat_engine::util::display::{safe, safe_text};
use lifeboat_engine::{Ctx, Error};
use serde::Serialize;

use super::{JsonFlag, finish};

#[derive(Args)]
pub struct RemindArgs {
    /// Also send a desktop notification for each item not notified within the last day.
    #[arg(long)]
    notify: bool,
    /// Only databases with this name.
    #[arg(long)]
    database: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

/// What `--json` prints: the watch's report and, with `--notify`, what was sent.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RemindOutput {
    #[serde(flatten)]
    report: WatchReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    notifications: Option<Notifications>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Notifications {
    #[serde(flatten)]
    summary: NotifySummary,
    /// Why nothing could be sent (no notification service), when so.
    error: Option<ErrorPayload>,
}

pub async fn run_remind(ctx: Result<Ctx, Error>, args: RemindArgs) -> ExitCode {
    let json = args.json.json;
    let ctx = match ctx {
        Ok(ctx) => ctx,
        Err(error) => return finish(json, Err::<(), _>(error), |_| {}),
    };
    let request = WatchRequest { database: args.database, ..WatchRequest::default() };
    let report = match watch(&ctx, request).await {
        Ok(report) => report,
        Err(error) => return finish(json, Err::<(), _>(error), |_| {}),
    };
    let notifications = if args.notify {
        let now = chrono_now(&report);
        Some(match notify::send(&ctx, &report.items, now).await {
            Ok(summary) => Notifications { summary, error: None },
            Err(error) => {
                Notifications { summary: NotifySummary::default(), error: Some(error.payload()) }
            }
        })
    } else {
        None
    };
    let attention = !report.items.is_empty();
    let output = RemindOutput { report, notifications };
    if json {
        println!("{}", serde_json::to_string_pretty(&output).expect("serializable"));
    } else {
        print_text(&output);
    }
    if attention { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// The report's own clock, so that "notified at" matches what the rules saw.
fn chrono_now(report: &WatchReport) -> lifeboat_engine::ops::watch::Now {
    lifeboat_engine::ops::watch::parse_checked_at(&report.checked_at)
}

fn print_text(output: &RemindOutput) {
    let report = &output.report;
    if report.databases.is_empty() {
        println!("Lifeboat knows no backups or schedules yet. Back up a database to start.");
    }
    for readiness in &report.databases {
        let db = &readiness.database;
        let (name, profile, host) = (safe(&db.database), safe(&db.profile), safe(&db.host));
        println!("{name} on {profile} ({host}:{})", db.port);
        println!("  {}", safe_text(&readiness.line));
        let items = report.items.iter().filter(|i| i.database == *db);
        for item in items {
            let severity = match item.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Critical => "critical",
            };
            println!("  [{severity}] {}", safe_text(&item.message));
            let target = item
                .action
                .manifest_path
                .as_deref()
                .or(item.action.schedule.as_deref())
                .map(|t| format!(": {t}"))
                .unwrap_or_default();
            println!("      → {}{}", item.action.label, safe(&target));
        }
    }
    match report.items.len() {
        0 => println!("Nothing needs attention."),
        1 => println!("1 item needs attention."),
        n => println!("{n} items need attention."),
    }
    let Some(notifications) = &output.notifications else { return };
    if let Some(error) = &notifications.error {
        let (message, hint) = (safe_text(&error.message), safe_text(&error.hint));
        println!("Notifications could not be sent. {message} {hint}");
        return;
    }
    let sent = notifications.summary.sent.len();
    let quiet = notifications.summary.already_notified.len();
    println!(
        "Sent {sent} notification{}{}.",
        if sent == 1 { "" } else { "s" },
        if quiet > 0 {
            format!("; {quiet} already notified within the last day")
        } else {
            String::new()
        }
    );
}
