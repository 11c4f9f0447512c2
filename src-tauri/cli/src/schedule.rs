//! `lifeboat schedule …`: schedules installed in the system's scheduler (a systemd user timer or
//! a crontab line on Linux, a launchd agent on macOS, a Task Scheduler task on Windows), the run
//! the scheduler starts, and a test-fire in the scheduler's own environment.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::drill::StageProgress;
use clap::{Args, Subcommand};
use lifeboat_engine::base::tools::Toolbox;
use lifeboat_engine::ops::schedule::{
    self, DrillPolicy, Keep, RunOutcome, Schedule, ScheduleEntry, ScheduleInput, TestFireReport,
};
use lifeboat_engine::storage::keychain::OsKeychain;
use lifeboat_engine::util::display::{safe, safe_text};
use lifeboat_engine::{Ctx, DataDir, Error};

use super::{FormatArg, JsonFlag, bundle_candidates, cancel_on_interrupt, finish, report};

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Back up a database on a schedule, through the system's scheduler.
    Add(AddArgs),
    /// List the schedules and how each last ran.
    List(JsonFlag),
    /// Show a schedule's entry in the system's scheduler, verbatim.
    Show {
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Remove a schedule and its entry from the system's scheduler.
    Remove {
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Run a schedule now: what the scheduler calls. Exit code 0 only when every step passed.
    Run {
        name: String,
        /// The data folder (Task Scheduler entries pass it here, having no environment).
        #[arg(long, value_name = "DIR")]
        home: Option<PathBuf>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Run the installed entry exactly as the scheduler would (no desktop session, only the
    /// entry's environment) and report what would break there.
    Test {
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Args)]
pub struct AddArgs {
    /// The database to back up.
    database: String,
    #[arg(long)]
    profile: String,
    /// Every day at HH:MM (local time).
    #[arg(
        long,
        value_name = "HH:MM",
        conflicts_with = "weekly",
        required_unless_present = "weekly"
    )]
    daily: Option<String>,
    /// On these weekdays (mon,wed,fri) at HH:MM.
    #[arg(long, num_args = 2, value_names = ["DAYS", "HH:MM"])]
    weekly: Option<Vec<String>>,
    /// Test each backup (after) or once a week (weekly).
    #[arg(long, value_parser = ["after", "weekly"])]
    drill: Option<String>,
    /// Where the drill restores: practice (the local practice server) or a profile.
    #[arg(long, value_name = "practice|PROFILE", requires = "drill")]
    drill_on: Option<String>,
    /// Keep the newest N backups.
    #[arg(long, value_name = "N")]
    keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N days.
    #[arg(long, value_name = "N")]
    keep_daily: Option<u32>,
    #[arg(long, value_name = "N")]
    keep_weekly: Option<u32>,
    #[arg(long, value_name = "N")]
    keep_monthly: Option<u32>,
    /// Copy each backup to this folder too (another disk), and check the copy.
    #[arg(long, value_name = "DIR")]
    copy_to: Option<PathBuf>,
    /// Where the backups go (default: "backups" in Lifeboat's data folder).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = FormatArg::Custom)]
    format: FormatArg,
    #[command(flatten)]
    json: JsonFlag,
}

impl AddArgs {
    fn input(self) -> ScheduleInput {
        let (days, time) = match (self.daily, self.weekly) {
            (Some(time), _) => ("daily".to_owned(), time),
            (None, Some(pair)) => (pair[0].clone(), pair[1].clone()),
            (None, None) => (String::new(), String::new()),
        };
        ScheduleInput {
            profile: self.profile,
            database: self.database,
            days,
            time,
            format: self.format.into(),
            out_dir: self.out.map(|p| p.display().to_string()),
            drill: self.drill.as_deref().and_then(DrillPolicy::parse).unwrap_or_default(),
            drill_target: self.drill_on,
            keep: Keep {
                last: self.keep_last,
                daily: self.keep_daily,
                weekly: self.keep_weekly,
                monthly: self.keep_monthly,
            },
            copy_to: self.copy_to.map(|p| p.display().to_string()),
        }
    }
}

pub async fn run_schedule(ctx: Result<Ctx, Error>, command: ScheduleCommand) -> ExitCode {
    match command {
        ScheduleCommand::Add(args) => {
            let json = args.json.json;
            let result = async { schedule::add(&ctx?, args.input()).await }.await;
            finish(json, result, print_added)
        }
        ScheduleCommand::List(JsonFlag { json }) => {
            let result = async { schedule::list(&ctx?).await }.await;
            finish(json, result, |schedules| {
                if schedules.is_empty() {
                    println!("No schedules yet. Add one with `lifeboat schedule add`.");
                }
                for s in schedules {
                    let last = s.last_run.as_ref().map_or("never run".to_owned(), |r| {
                        format!("last run {} ({})", r.started_at, r.status)
                    });
                    println!(
                        "{}\t{} on {}\t{}\t{}",
                        safe(&s.schedule.name),
                        safe(&s.schedule.database),
                        safe(&s.schedule.profile),
                        s.schedule.describe_when(),
                        last
                    );
                }
            })
        }
        ScheduleCommand::Show { name, json } => {
            let result = async { schedule::show(&ctx?, &name).await }.await;
            finish(json.json, result, print_entry)
        }
        ScheduleCommand::Remove { name, json } => {
            let result = async { schedule::remove(&ctx?, &name).await }.await;
            finish(json.json, result, |s| {
                println!("Removed the schedule {} and its entry in the scheduler.", s.name)
            })
        }
        ScheduleCommand::Run { name, home, json } => {
            let ctx = match home {
                Some(home) => context_at(home),
                None => ctx,
            };
            let result = async {
                use std::io::IsTerminal;
                let progress =
                    StageProgress { terminal: std::io::stderr().is_terminal() && !json.json };
                schedule::run(&ctx?, &name, &progress, &cancel_on_interrupt()).await
            }
            .await;
            finish(json.json, result, print_run)
        }
        ScheduleCommand::Test { name, json } => {
            let result = async { schedule::test_fire(&ctx?, &name).await }.await;
            report(json.json, result, print_test_fire, |r| r.passed)
        }
    }
}

/// The context on the data folder `home` (`schedule run --home`).
fn context_at(home: PathBuf) -> Result<Ctx, Error> {
    Ctx::open(DataDir::at(home)?, Toolbox::locate(bundle_candidates())?, Arc::new(OsKeychain))
}

fn print_added(s: &Schedule) {
    println!(
        "Added the schedule {}: back up {} on \"{}\" {}.",
        safe(&s.name),
        safe(&s.database),
        safe(&s.profile),
        s.describe_when()
    );
    match s.drill {
        DrillPolicy::None => {}
        DrillPolicy::After => println!("Each backup is then tested on {}.", target(s)),
        DrillPolicy::Weekly => println!("A backup is tested once a week on {}.", target(s)),
    }
    println!(
        "See its entry with `lifeboat schedule show {0}`; try it now as the scheduler would run it \
         with `lifeboat schedule test {0}`.",
        s.name
    );
}

fn target(s: &Schedule) -> String {
    if s.drill_target == "practice" {
        "the practice server".to_owned()
    } else {
        format!("\"{}\"", s.drill_target)
    }
}

fn print_entry(entry: &ScheduleEntry) {
    if !entry.installed {
        println!(
            "# Not installed in the {} now; this is what Lifeboat would install.",
            entry.scheduler.title()
        );
    }
    for piece in &entry.entries {
        println!("# {}", piece.location);
        print!("{}", piece.text);
        if !piece.text.ends_with('\n') {
            println!();
        }
    }
}

fn print_run(outcome: &RunOutcome) {
    println!(
        "Backup finished: {} ({:.1} s).",
        safe(&outcome.backup.manifest_path),
        outcome.backup.duration_ms as f64 / 1000.0
    );
    if let Some(drill) = &outcome.drill {
        println!(
            "Tested: PASSED on {} ({:.1} s).",
            drill.target,
            drill.duration_ms as f64 / 1000.0
        );
    }
    if let Some(copy) = &outcome.copy {
        println!("{}", safe_text(&copy.message));
    }
    if let Some(pruned) = &outcome.pruned {
        println!(
            "Retention kept {} backup(s) and deleted {}.",
            pruned.keep.len(),
            pruned.delete.len()
        );
    }
}

fn print_test_fire(r: &TestFireReport) {
    println!("Ran as the {} would:", r.scheduler.title());
    let env: Vec<String> = r.environment.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("  environment: {}", env.join(" "));
    println!("  command: {}", r.command.join(" "));
    match r.exit_code {
        Some(code) => println!("  exit code: {code}"),
        None => println!("  it did not finish (stopped by a signal)"),
    }
    if !r.output.is_empty() {
        println!("Its output:");
        for line in r.output.lines() {
            println!("  | {}", safe(line));
        }
    }
    for problem in &r.problems {
        let tag = if problem.blocking { "PROBLEM" } else { "note" };
        println!("{tag} [{}]: {}", problem.code, safe_text(&problem.message));
        println!("  → {}", safe_text(&problem.fix));
    }
    if r.passed {
        println!("PASSED: the scheduled run works in the scheduler's environment.");
    } else {
        println!("FAILED: the scheduled run would not work; see above.");
    }
}
