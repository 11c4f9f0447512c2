//! Reading a whole backup with the bundled pg_restore, without a server: the full read that is
//! the integrity check, and the table of contents.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::NullSink;
use crate::base::tools::{BundledMajor, Tool};
use crate::format::sqltext::{DumpFacts, DumpScanner};
use crate::pg::runner::{self, PipeSource, Route, StdoutTo, ToolCommand};
use crate::util::naming;

/// Reads the whole backup once: an archive through `pg_restore --verbose -f -` (a damaged or
/// truncated archive fails here, where `--list` alone would not notice), a plain dump as it is.
/// SQL text holding a psql backslash command other than pg_dump's own (`\!`, `\o |…`, `\copy`,
/// `\i` …) is refused here, before anything runs: [`Error::BackupHasMetaCommands`].
pub async fn full_read(
    source: &Path,
    reader: Option<&BundledMajor>,
    cancel: &CancellationToken,
) -> Result<DumpFacts> {
    let mut scanner = DumpScanner::default();
    let mut look = |line: &[u8]| {
        scanner.line(line);
        Route::Drop
    };
    let input = match reader {
        Some(reader) => PipeSource::Tool(
            ToolCommand::new(reader, Tool::PgRestore)?
                .args(["--verbose", "--file=-"])
                .file_operand(source),
        ),
        None => PipeSource::File(source.to_owned()),
    };
    match runner::run_pipeline(input, &mut look, None, &NullSink, cancel).await {
        Ok(_) => {}
        Err(Error::ToolFailed { detail, .. }) => {
            let detail = detail
                .lines()
                .map(|l| l.trim_start_matches("pg_restore: ").trim_start_matches("error: "))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::ArchiveDamaged { path: source.to_owned(), detail });
        }
        Err(error) => return Err(error),
    }
    let facts = scanner.finish();
    if facts.command_count > 0 {
        return Err(meta_commands(source, &facts));
    }
    Ok(facts)
}

/// The refusal of a source holding psql backslash commands, naming the first few.
pub fn meta_commands(source: &Path, facts: &DumpFacts) -> Error {
    let mut found = facts.commands.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    if facts.command_count > facts.commands.len() as u64 {
        found.push_str(" …");
    }
    Error::BackupHasMetaCommands { path: source.to_owned(), count: facts.command_count, found }
}

/// `pg_restore --list`: the archive's table of contents.
pub async fn list(
    reader: &BundledMajor,
    source: &Path,
    cancel: &CancellationToken,
) -> Result<String> {
    let command = ToolCommand::new(reader, Tool::PgRestore)?
        .arg("--list")
        .file_operand(source)
        .stdout(StdoutTo::Capture);
    let run = runner::run(command, &NullSink, cancel).await.map_err(|error| match error {
        Error::ToolFailed { detail, .. } => {
            Error::ArchiveDamaged { path: source.to_owned(), detail }
        }
        other => other,
    })?;
    Ok(String::from_utf8_lossy(&run.stdout).into_owned())
}

/// The database a backup file's name gives, for a backup without a manifest or list header.
pub fn database_from_file_name(path: &Path) -> Option<String> {
    path.file_name().map(|_| naming::database_of_backup(&path.to_string_lossy()))
}
