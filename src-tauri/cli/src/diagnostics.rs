//! The CLI's log, `lifeboat diagnostics`, and `lifeboat help-markdown` (the CLI reference in
//! docs/cli.md, made from the same clap definitions that parse the command line).

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::CommandFactory;
use lifeboat_engine::base::logging;
use lifeboat_engine::ops::diagnostics::{self, DiagnosticsInput};
use lifeboat_engine::util::display::safe_text;
use lifeboat_engine::{Ctx, DataDir, Error};

/// Starts the log in the data folder. The CLI's standard error belongs to its user, so the log
/// only goes to the file; a log that cannot be started is no reason to stop the command.
pub fn start_log() {
    let Ok(data_dir) = DataDir::resolve() else { return };
    if logging::init(data_dir.path(), "cli").is_err() {
        return;
    }
    // The subcommand's name only: the other arguments are the user's (a URL may carry a
    // password), and the operations log what they work on themselves.
    let command = crate::Cli::command();
    let first = std::env::args_os().nth(1);
    let first = first.as_ref().and_then(|first| first.to_str());
    let named = first.filter(|first| command.get_subcommands().any(|sub| sub.get_name() == *first));
    logging::command_started(named.unwrap_or("(none)"));
}

/// Logs why the CLI could not assemble its context (tools or catalog missing).
pub fn log_startup(ctx: &Result<Ctx, Error>) {
    if let Err(error) = ctx {
        logging::error("starting", &error.payload());
    }
}

/// `lifeboat diagnostics`: the report, also when Lifeboat could not start (then with the
/// reason).
pub async fn run(ctx: Result<Ctx, Error>, json: bool) -> ExitCode {
    let report = match &ctx {
        Ok(ctx) => diagnostics::diagnostics(ctx, DiagnosticsInput).await,
        Err(error) => {
            let data_dir = DataDir::resolve().ok();
            Ok(diagnostics::startup_failed(data_dir.as_ref().map(DataDir::path), &error.payload()))
        }
    };
    crate::finish(json, report, |report| print!("{}", safe_text(&report.text)))
}

/// `lifeboat help-markdown`: the reference of every command, argument and option.
pub fn help_markdown() -> ExitCode {
    print!("{}", markdown());
    ExitCode::SUCCESS
}

fn markdown() -> String {
    let mut root = crate::Cli::command();
    root.build();
    let mut out = String::new();
    let _ = writeln!(out, "# The `lifeboat` command line\n");
    let _ = writeln!(
        out,
        "<!-- Made by `lifeboat help-markdown` from the definitions that parse the command line. \
         Do not edit: `LIFEBOAT_UPDATE_DOCS=1 cargo nextest run -p lifeboat-cli --test docs` \
         rewrites it, and that test fails when it is stale. -->\n"
    );
    let _ = writeln!(
        out,
        "Every command takes `--help`. Exit codes: 0 success, 1 failure, 2 a usage error. With \
         `--json` a command prints one JSON document: its result, or `{{\"error\": {{\"code\", \
         \"message\", \"hint\"}}}}` (the codes are explained in \
         [troubleshooting.md](troubleshooting.md)). `LIFEBOAT_HOME` sets the data folder, \
         `LIFEBOAT_LOG` the level of the log in its `logs` folder.\n"
    );
    let mut contents = String::new();
    section(&root, 0, &mut contents, &mut out);
    let _ = writeln!(out);
    // The table of contents goes between the introduction and the commands.
    let split = out.find("\n## ").map(|at| at + 1).unwrap_or(out.len());
    let (intro, rest) = out.split_at(split);
    format!("{intro}## Commands\n\n{contents}\n{rest}").trim_end().to_owned() + "\n"
}

/// The commands a reader sees: not hidden, not clap's own `help`.
fn visible(command: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    command.get_subcommands().filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
}

fn section(command: &clap::Command, depth: usize, contents: &mut String, out: &mut String) {
    let path = command.get_bin_name().unwrap_or(command.get_name()).to_owned();
    if depth > 0 {
        let anchor = path.replace(' ', "-");
        let about = command.get_about().map(|a| first_sentence(&a.to_string())).unwrap_or_default();
        let indent = "  ".repeat(depth - 1);
        let _ = writeln!(contents, "{indent}- [`{path}`](#{anchor}): {about}");
        let _ = writeln!(out, "## `{path}`\n");
        if let Some(about) = command.get_long_about().or(command.get_about()) {
            let _ = writeln!(out, "{}\n", about.to_string().trim());
        }
        let usage = command.clone().render_usage().to_string();
        let usage = usage.trim().trim_start_matches("Usage:");
        // A command with subcommands has one usage line per form, indented under the first.
        let usage: Vec<&str> = usage.lines().map(str::trim).collect();
        let usage = usage.join("\n");
        let _ = writeln!(out, "```text\n{usage}\n```\n");
        arguments(command, out);
        if let Some(after) = command.get_after_long_help().or(command.get_after_help()) {
            let _ = writeln!(out, "{}\n", after.to_string().trim());
        }
    }
    for sub in visible(command) {
        section(sub, depth + 1, contents, out);
    }
}

fn first_sentence(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    match line.find(". ") {
        Some(end) => line[..=end].to_owned(),
        None => line.to_owned(),
    }
}

fn arguments(command: &clap::Command, out: &mut String) {
    let args: Vec<&clap::Arg> = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && !matches!(arg.get_id().as_str(), "help" | "version"))
        .collect();
    if args.is_empty() {
        return;
    }
    for arg in args {
        let mut line = format!("- `{}`", spelling(arg));
        let mut notes = Vec::new();
        if arg.is_required_set() {
            notes.push("required".to_owned());
        }
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_owned())
            .collect();
        if !values.is_empty() && arg.get_action().takes_values() {
            notes.push(format!("one of {}", values.join(", ")));
        }
        let defaults: Vec<String> =
            arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        if !defaults.is_empty() && arg.get_action().takes_values() {
            notes.push(format!("default {}", defaults.join(", ")));
        }
        if !notes.is_empty() {
            let _ = write!(line, " ({})", notes.join("; "));
        }
        if let Some(help) = arg.get_long_help().or(arg.get_help()) {
            let help = help.to_string();
            let help = help.trim().replace("\n\n", "\n").replace('\n', "\n  ");
            let _ = write!(line, ": {help}");
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
}

/// How an argument is written: `<SOURCE>`, `--out <OUT>`, `-v, --verbose`.
fn spelling(arg: &clap::Arg) -> String {
    let value = || {
        let names: Vec<String> = arg
            .get_value_names()
            .map(|names| names.iter().map(|n| format!("<{n}>")).collect())
            .unwrap_or_else(|| vec![format!("<{}>", arg.get_id().as_str().to_uppercase())]);
        let repeat = if matches!(arg.get_action(), clap::ArgAction::Append) { "..." } else { "" };
        format!("{}{repeat}", names.join(" "))
    };
    if arg.is_positional() {
        return value();
    }
    let mut spelled = Vec::new();
    if let Some(short) = arg.get_short() {
        spelled.push(format!("-{short}"));
    }
    if let Some(long) = arg.get_long() {
        spelled.push(format!("--{long}"));
    }
    let mut text = spelled.join(", ");
    if arg.get_action().takes_values() {
        let _ = write!(text, " {}", value());
    }
    text
}
