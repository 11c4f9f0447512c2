//! `lifeboat test`, `lifeboat verify` and `lifeboat checks`: restore drills from the command
//! line, over the same engine functions as the app.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use lifeboat_engine::base::progress::{ProgressEvent, ProgressSink};
use lifeboat_engine::ops::activity::{self as recorded, ActivityOrigin};
use lifeboat_engine::ops::drill::{DrillReport, DrillRequest, DrillTarget, StepStatus};
use lifeboat_engine::ops::verify::verify;
use lifeboat_engine::storage::smoke::{self, Expectation, SmokeCheck};
use lifeboat_engine::util::display::{safe, safe_text};
use lifeboat_engine::{Ctx, Error};

use super::{JsonFlag, cancel_on_interrupt, finish, report};

#[derive(Args)]
pub struct TestArgs {
    /// The backup: a file, the folder of a directory backup, or its manifest (….lifeboat.json).
    backup: PathBuf,
    /// Restore on this profile's server instead of the local practice server.
    #[arg(long, conflicts_with = "practice")]
    profile: Option<String>,
    /// Restore on the local practice server (the default).
    #[arg(long)]
    practice: bool,
    /// Keep the scratch database afterwards.
    #[arg(long)]
    keep: bool,
    /// Of a one-file-per-schema backup's manifest: test this schema's file.
    #[arg(long)]
    schema: Option<String>,
    /// Allow a plain http:// address, which is not encrypted: anyone on the network can read or
    /// change the backup on its way (a warning says so). Use it only on a network you trust.
    #[arg(long)]
    allow_http: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The backup: a file, the folder of a directory backup, or its manifest.
    backup: PathBuf,
    /// Of a one-file-per-schema backup's manifest: check this schema's file.
    #[arg(long)]
    schema: Option<String>,
    /// Allow a plain http:// address, which is not encrypted: anyone on the network can read or
    /// change the backup on its way (a warning says so). Use it only on a network you trust.
    #[arg(long)]
    allow_http: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Subcommand)]
pub enum ChecksCommand {
    /// List the smoke checks saved for a database name.
    List {
        database: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Add a smoke check: a query and what it must give.
    Add {
        database: String,
        #[arg(long)]
        sql: String,
        /// rows | no-rows | at-least:N | equals:TEXT (the first value of the first row).
        #[arg(long, value_parser = parse_expectation)]
        expect: Expectation,
        /// A name for it (default: the SQL).
        #[arg(long)]
        label: Option<String>,
    },
    /// Remove every smoke check of a database name.
    Clear { database: String },
}

fn parse_expectation(text: &str) -> Result<Expectation, String> {
    Expectation::parse(text)
        .ok_or_else(|| "expected rows, no-rows, at-least:N or equals:TEXT".to_owned())
}

/// Prints the step that starts, on a terminal, and every warning on standard error (a
/// scheduler keeps them in its log). `lifeboat test`, `verify` and `schedule run` share it.
pub(crate) struct StageProgress {
    pub(crate) terminal: bool,
}

impl ProgressSink for StageProgress {
    fn emit(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Stage { index, total, name } if self.terminal => {
                eprintln!("[{index}/{total}] {}…", safe(&name));
            }
            ProgressEvent::Warning { message } => eprintln!("warning: {}", safe_text(&message)),
            _ => {}
        }
    }
}

/// `lifeboat test`: exit 0 only when every check passed, 1 otherwise.
pub async fn run_test(ctx: Result<Ctx, Error>, args: TestArgs) -> ExitCode {
    let json = args.json.json;
    let ctx = match ctx {
        Ok(ctx) => ctx,
        Err(error) => return finish(json, Err::<(), _>(error), |_| {}),
    };
    let request = DrillRequest {
        source: args.backup.display().to_string(),
        target: match args.profile {
            Some(name) => DrillTarget::Profile { name },
            None => DrillTarget::Practice,
        },
        keep: args.keep,
        schema: args.schema,
        allow_http: args.allow_http,
        ..DrillRequest::default()
    };
    use std::io::IsTerminal;
    let progress = StageProgress { terminal: std::io::stderr().is_terminal() && !json };
    let cancel = cancel_on_interrupt();
    let outcome = recorded::drill(&ctx, ActivityOrigin::Cli, request, &progress, &cancel).await;
    report(json, outcome, print_report, |report| report.passed)
}

fn print_report(report: &DrillReport) {
    for step in &report.steps {
        let mark = match step.status {
            StepStatus::Passed => "ok  ",
            StepStatus::Failed => "FAIL",
            StepStatus::Skipped => "skip",
        };
        println!("{mark} {}: {}", step.kind.title(), safe_text(&step.summary));
        for check in step.checks.iter().filter(|c| !c.passed) {
            let (name, expected, actual) = (&check.name, &check.expected, &check.actual);
            println!("       {}: expected {}, found {}", safe(name), safe(expected), safe(actual));
        }
    }
    if !report.stood_in_roles.is_empty() {
        println!("Roles stood in for: {}", safe(&report.stood_in_roles.join(", ")));
    }
    if let Some(role) = &report.restored_as {
        println!("{}", safe_text(&role.summary));
        if let Some(warning) = &role.warning {
            println!("WARNING: {}", safe_text(warning));
        }
    }
    match &report.failure {
        None => {
            println!("PASSED: the backup restores ({:.1} s).", report.duration_ms as f64 / 1000.0)
        }
        Some(failure) => println!("FAILED: {}", safe_text(failure)),
    }
    if let Some(html) = &report.certificate_html {
        println!("Certificate: {}", safe(html));
    }
}

/// `lifeboat verify`: checksums and a full read, no server.
pub async fn run_verify(ctx: Result<Ctx, Error>, args: VerifyArgs) -> ExitCode {
    let json = args.json.json;
    let result = async {
        let ctx = ctx?;
        let cancel = cancel_on_interrupt();
        let progress = StageProgress { terminal: false };
        let source = args.backup.display().to_string();
        verify(&ctx, &source, args.schema.as_deref(), args.allow_http, &progress, &cancel).await
    }
    .await;
    finish(json, result, |v| {
        match &v.manifest {
            Some(manifest) => println!(
                "{} the checksums in {manifest}.",
                if v.verified_files == 1 {
                    "1 file matches".to_owned()
                } else {
                    format!("{} files match", v.verified_files)
                }
            ),
            None => println!("No manifest: no checksums to compare."),
        }
        println!(
            "Read completely: {} entries, {} of SQL ({:.1} s). The backup is intact.",
            v.entries,
            lifeboat_engine::util::size::human_bytes(v.sql_bytes),
            v.duration_ms as f64 / 1000.0
        );
    })
}

pub fn run_checks(ctx: Result<Ctx, Error>, command: ChecksCommand) -> ExitCode {
    match command {
        ChecksCommand::List { database, json } => {
            let result = ctx.and_then(|ctx| smoke::list(&ctx, &database));
            finish(json.json, result, |checks| {
                if checks.is_empty() {
                    println!("No smoke checks for {database}.");
                }
                for check in checks {
                    println!("{}: {} → {}", check.label, check.sql, check.expect.describe());
                }
            })
        }
        ChecksCommand::Add { database, sql, expect, label } => {
            let result = ctx.and_then(|ctx| {
                let mut checks = smoke::list(&ctx, &database)?;
                checks.push(SmokeCheck { label: label.unwrap_or_default(), sql, expect });
                smoke::save(&ctx, &database, &checks)?;
                Ok(checks.len())
            });
            finish(false, result, |n| println!("{database} has {n} smoke check(s)."))
        }
        ChecksCommand::Clear { database } => {
            let result = ctx.and_then(|ctx| smoke::save(&ctx, &database, &[]));
            finish(false, result, |()| println!("Removed the smoke checks of {database}."))
        }
    }
}
