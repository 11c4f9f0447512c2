//! `lifeboat`: Lifeboat's engine from the command line. Exit codes: 0 success, 1 failure,
//! 2 usage error (clap's own).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lifeboat_engine::ops::app_info::{AppInfoInput, app_info};
use lifeboat_engine::tools::Toolbox;
use lifeboat_engine::{Ctx, DataDir, Error};

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
    Tools {
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Where the CLI looks for the bundled tools, after `LIFEBOAT_PG_BUNDLE`.
fn bundle_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(PathBuf::from))
    {
        candidates.push(dir.join("postgres"));
        candidates.push(dir.join("resources/postgres"));
        // Linux packages put the desktop app's resources under /usr/lib/Lifeboat.
        candidates.push(dir.join("../lib/Lifeboat/postgres"));
        // Running from a source checkout: target/<profile>/lifeboat.
        candidates.push(dir.join("../../src-tauri/resources/postgres"));
    }
    candidates
}

fn context() -> Result<Ctx, Error> {
    Ok(Ctx::new(DataDir::resolve()?, Toolbox::locate(bundle_candidates())?))
}

fn fail(error: &Error, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::json!({ "error": error.payload() }));
    } else {
        eprintln!("error: {error}\nhint: {}", error.hint());
    }
    ExitCode::FAILURE
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Tools { json } => {
            let info = match context() {
                Ok(ctx) => app_info(&ctx, AppInfoInput).await,
                Err(error) => Err(error),
            };
            match info {
                Ok(info) if json => {
                    println!("{}", serde_json::to_string_pretty(&info).expect("serializable"));
                    ExitCode::SUCCESS
                }
                Ok(info) => {
                    println!("Lifeboat {}", info.version);
                    println!("Data folder: {}", info.data_dir);
                    println!("{:<6} {:<10} server", "major", "version");
                    for tools in &info.bundled {
                        let server = if tools.has_server { "yes" } else { "-" };
                        println!("{:<6} {:<10} {server}", tools.major, tools.version);
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error, json),
            }
        }
    }
}
