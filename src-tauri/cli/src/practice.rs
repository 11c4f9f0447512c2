//! `lifeboat practice setup|stop`: the practice database, for a first run without a server of
//! one's own. `setup` makes (or finds) the practice server, its profile "Practice" and the sample
//! database and leaves the server running; the profile then works with every command
//! (`backup --profile Practice`, `restore --profile Practice`, …), headless too: its password is
//! in an owner-only file, not the keychain, and its server starts again when it is down.

use std::process::ExitCode;

use clap::Subcommand;
use lifeboat_engine::ops::practice_db::{
    PracticeSetup, PracticeStop, create_practice_database, stop_practice_database,
};
use lifeboat_engine::util::display::safe;
use lifeboat_engine::{Ctx, Error};

use super::drill::StageProgress;
use super::{JsonFlag, cancel_on_interrupt, finish};

#[derive(Subcommand)]
pub enum PracticeCommand {
    /// Make the practice server (the newest bundled PostgreSQL, run by Lifeboat on this
    /// computer), its profile and the sample database "shop" when missing, and start it.
    Setup(JsonFlag),
    /// Stop the practice database's server (any command using its profile starts it again).
    Stop(JsonFlag),
}

pub async fn run_practice(ctx: Result<Ctx, Error>, command: PracticeCommand) -> ExitCode {
    match command {
        PracticeCommand::Setup(JsonFlag { json }) => {
            use std::io::IsTerminal;
            let progress = StageProgress { terminal: std::io::stderr().is_terminal() && !json };
            let result = async {
                let ctx = ctx?;
                let cancel = cancel_on_interrupt();
                create_practice_database(&ctx, PracticeSetup::default(), &progress, &cancel).await
            }
            .await;
            finish(json, result, |done| {
                let s = &done.profile.settings;
                let what = match (done.created_profile, done.created_database) {
                    (true, _) => "Set up",
                    (false, true) => "Recreated the sample database of",
                    (false, false) => "Ready:",
                };
                println!(
                    "{what} the practice database: PostgreSQL {} on {}:{}, profile \"{}\", \
                     database \"{}\".",
                    done.server_version,
                    s.host,
                    s.port,
                    safe(&s.name),
                    done.database
                );
                println!(
                    "Try: lifeboat backup --profile \"{}\" --database {}",
                    safe(&s.name),
                    done.database
                );
            })
        }
        PracticeCommand::Stop(JsonFlag { json }) => {
            let result =
                async { stop_practice_database(&ctx?, PracticeStop::default()).await }.await;
            finish(json, result, |stopped| {
                if stopped.was_running {
                    println!("Stopped the practice database's server.");
                } else {
                    println!("The practice database's server was not running.");
                }
            })
        }
    }
}
