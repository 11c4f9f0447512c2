//! Running a planned restore: the roles and the database it creates, then pg_restore straight
//! into the database, or SQL (from a newer pg_restore or a plain dump) filtered into psql.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::{NullSink, ProgressEvent, ProgressSink};
use crate::base::tools::Tool;
use crate::format::sqltext::{DumpFilter, session_setting};
use crate::pg::admin::{
    Created, conninfo_dbname, create_database as create, create_schemas, drop_empty_schemas,
};
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::pg::runner::{self, ConnTarget, Consumer, PipeSource, Route, ToolCommand};
use crate::storage::context::Ctx;
use crate::util::quote::quote_ident;

use super::plan::free_name;
use super::{MethodKind, Prepared};

/// Creates the new database; a name Lifeboat chose that was taken meanwhile moves on to the next
/// suffix. Returns the name.
pub(super) async fn create_database(ctx: &Ctx, prepared: &Prepared) -> Result<String> {
    let profile = &prepared.profile;
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let mut name = prepared.plan.database.clone();
    let mut taken = HashSet::new();
    let encoding = prepared.plan.encoding.as_deref();
    // The role that will own the objects owns the database too, so it may create schemas.
    let owner = prepared.details.role.as_deref();
    loop {
        match create(&client, &name, encoding, owner).await? {
            Created::Yes => return Ok(name),
            Created::NameTaken(error) if !prepared.details.auto_named || taken.len() >= 1000 => {
                return Err(error);
            }
            Created::NameTaken(_) => {}
        }
        taken.insert(name.clone());
        name = free_name(&prepared.details.name_base, &taken);
    }
}

/// Creates the roles the plan recreates from the saved globals, then their memberships; returns
/// the roles created. When one fails, those created before are dropped again.
pub(super) async fn create_roles(ctx: &Ctx, prepared: &Prepared) -> Result<Vec<String>> {
    let details = &prepared.details;
    if details.role_statements.is_empty() {
        return Ok(Vec::new());
    }
    let profile = &prepared.profile;
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let mut created = Vec::new();
    let statements = details.role_statements.iter().map(|(name, sql)| (Some(name), sql));
    let grants = details.membership_statements.iter().map(|sql| (None, sql));
    for (name, sql) in statements.chain(grants) {
        if let Err(error) = client.batch_execute(sql).await {
            drop_roles(ctx, prepared, &created, &NullSink).await;
            return Err(query_error(&error));
        }
        if let Some(name) = name {
            created.push(name.clone());
        }
    }
    Ok(created)
}

/// Drops roles this restore created (after a failure), warning about those that remain.
pub(super) async fn drop_roles(
    ctx: &Ctx,
    prepared: &Prepared,
    roles: &[String],
    sink: &dyn ProgressSink,
) {
    if roles.is_empty() {
        return;
    }
    let profile = &prepared.profile;
    let client = match ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db) {
        Ok(spec) => connect(&spec).await,
        Err(error) => Err(error),
    };
    for role in roles {
        let result = match &client {
            Ok(client) => client
                .batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(role)))
                .await
                .map_err(|e| query_error(&e).to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(detail) = result {
            sink.emit(ProgressEvent::Warning {
                message: format!(
                    "The role {role}, created for this restore, could not be removed: {detail}. \
                     Drop it by hand."
                ),
            });
        }
    }
}

/// A list file for `pg_restore --use-list`, removed when dropped.
struct ListFile(PathBuf);

impl ListFile {
    fn write(ctx: &Ctx, text: &str) -> Result<ListFile> {
        let dir = ctx.data_dir.path().join("tmp");
        let io = |path: &Path, source| Error::Io {
            action: "Writing the restore list",
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let path = dir.join(format!("restore-{}.list", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        Ok(ListFile(path))
    }
}

impl Drop for ListFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What one run of the tools needs besides the plan.
struct Session<'a> {
    ctx: &'a Ctx,
    prepared: &'a Prepared,
    database: &'a str,
    list: Option<ListFile>,
    sink: &'a dyn ProgressSink,
    cancel: &'a CancellationToken,
}

impl Session<'_> {
    /// pg_restore's options that choose what it writes: owners, role, privileges, entries.
    fn restore_options(&self, mut command: ToolCommand) -> ToolCommand {
        let prepared = self.prepared;
        if prepared.plan.no_owner {
            command = command.arg("--no-owner");
        }
        if let Some(role) = &prepared.details.role {
            command = command.arg(format!("--role={role}"));
        }
        if prepared.details.no_privileges {
            command = command.arg("--no-privileges");
        }
        if let Some(list) = &self.list {
            command = command.arg("--use-list").arg(list.0.as_os_str());
        }
        command
    }

    fn target(&self) -> Result<ConnTarget> {
        ConnTarget::for_profile(self.ctx, &self.prepared.profile, self.database)
    }
}

/// Runs the restore into `database`, after creating the schemas the dump needs and does not
/// create; returns the versions of the tools used and, when it goes on after errors, the errors.
pub(super) async fn run(
    ctx: &Ctx,
    prepared: &Prepared,
    database: &str,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<(Vec<String>, Vec<String>)> {
    let schemas = &prepared.details.create_schemas;
    if schemas.is_empty() {
        return run_tools(ctx, prepared, database, sink, cancel).await;
    }
    let profile = &prepared.profile;
    let client = connect(&ConnectSpec::for_profile(ctx, profile, database)?).await?;
    let created = create_schemas(&client, schemas, prepared.details.role.as_deref()).await?;
    let result = run_tools(ctx, prepared, database, sink, cancel).await;
    // A database the restore created is dropped on failure; an existing one was restored into
    // in one transaction and must be left as empty as it was.
    if result.is_err()
        && !prepared.plan.create_database
        && let Err(error) = drop_empty_schemas(&client, &created).await
    {
        sink.emit(ProgressEvent::Warning {
            message: format!(
                "The schemas {} created for this restore in {database} could not be removed: \
                 {error}. Drop them by hand.",
                created.join(", ")
            ),
        });
    }
    result
}

/// pg_restore or the pipeline into `database`.
async fn run_tools(
    ctx: &Ctx,
    prepared: &Prepared,
    database: &str,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<(Vec<String>, Vec<String>)> {
    let collector = ErrorCollector::new(sink);
    let list = match &prepared.details.use_list {
        Some(text) => Some(ListFile::write(ctx, text)?),
        None => None,
    };
    let session = Session { ctx, prepared, database, list, sink: &collector, cancel };
    let total = prepared.plan.entries;
    collector.emit(ProgressEvent::Step { done: 0, total, current: String::new() });
    let versions = match prepared.plan.method.kind {
        MethodKind::PgRestore => pg_restore(&session, &collector).await,
        MethodKind::Pipeline | MethodKind::Psql => pipeline(&session, &collector).await,
    }
    .map_err(|error| collector.name_failure(error))?;
    collector.emit(ProgressEvent::Step { done: total, total, current: String::new() });
    let errors = collector.errors.into_inner().expect("errors");
    Ok((versions, errors.into_iter().map(|found| found.text).collect()))
}

/// pg_restore straight into the database.
async fn pg_restore(session: &Session<'_>, collector: &ErrorCollector<'_>) -> Result<Vec<String>> {
    let prepared = session.prepared;
    let method = &prepared.plan.method;
    let reader = prepared.reader.as_ref().expect("an archive has a reader");
    let versions = vec![runner::version_line(reader, Tool::PgRestore, session.cancel).await?];
    let mut command = ToolCommand::new(reader, Tool::PgRestore)?
        .args(["--no-password", "--verbose"])
        .conn(session.target()?);
    if !method.continue_on_errors {
        command = command.arg("--exit-on-error");
    }
    command = session.restore_options(command);
    if method.jobs > 1 {
        command = command.arg(format!("--jobs={}", method.jobs));
    }
    if method.single_transaction {
        command = command.arg("--single-transaction");
    }
    command = command
        .arg(format!("--dbname={}", conninfo_dbname(session.database)))
        .file_operand(&prepared.source);
    let counter = EntryCounter::new(session.sink, prepared.plan.entries);
    match runner::run(command, &counter, session.cancel).await {
        Ok(_) => Ok(versions),
        // pg_restore ends with 1 after going past errors ("errors ignored on restore").
        Err(Error::ToolFailed { exit_code: Some(1), .. })
            if method.continue_on_errors
                && !collector.errors.lock().expect("errors").is_empty() =>
        {
            Ok(versions)
        }
        Err(error) => Err(error),
    }
}

/// SQL from a newer pg_restore, or a plain dump, filtered on its way into the target's psql.
async fn pipeline(session: &Session<'_>, collector: &ErrorCollector<'_>) -> Result<Vec<String>> {
    let prepared = session.prepared;
    let plan = &prepared.plan;
    let cancel = session.cancel;
    let mut versions = Vec::new();
    let mut psql = ToolCommand::new(&prepared.writer, Tool::Psql)?
        .args(["-X", "-q", "--no-password"])
        .conn(session.target()?);
    if plan.method.single_transaction {
        psql = psql.arg("--single-transaction");
    }
    let source = match &prepared.reader {
        Some(reader) => {
            versions.push(runner::version_line(reader, Tool::PgRestore, cancel).await?);
            let command =
                ToolCommand::new(reader, Tool::PgRestore)?.args(["--verbose", "--file=-"]);
            PipeSource::Tool(session.restore_options(command).file_operand(&prepared.source))
        }
        None => {
            if let Some(role) = &prepared.details.role {
                psql = psql.arg("-c").arg(format!("SET ROLE {}", quote_ident(role)));
            }
            PipeSource::File(prepared.source.clone())
        }
    };
    versions.push(runner::version_line(&prepared.writer, Tool::Psql, cancel).await?);
    let mut feed = Feed::new(session, psql.args(["-f", "-"]), collector);
    let first = feed.first_consumer();
    runner::run_pipeline(source, &mut |line| feed.route(line), Some(first), session.sink, cancel)
        .await?;
    Ok(versions)
}

/// A copy of `command` (for one more psql of a restore fed in parts).
fn same_command(command: &ToolCommand) -> ToolCommand {
    ToolCommand {
        tool: command.tool,
        major: command.major,
        program: command.program.clone(),
        args: command.args.clone(),
        conn: command.conn.clone(),
        stdout: command.stdout.clone(),
    }
}

/// How the SQL text reaches psql.
///
/// - psql is restricted (`\restrict KEY` first, `\unrestrict KEY` last, with a key made for this
///   run that the source cannot know), so it refuses every backslash command the source might
///   hold; the source's own `\restrict` lines are left out. A line with a backslash command
///   stops the restore before psql reads it (the pre-flight refuses such sources already; this
///   holds if the file changed since).
/// - A restore that goes on after errors runs psql without `ON_ERROR_STOP`, which reads the
///   rows after a `COPY … FROM stdin` that failed (its table was not created) as SQL. So each
///   `COPY` with its data goes to a psql of its own that stops at its first error: a failed
///   COPY's rows are never read as SQL. The parts between run in psqls that go on after
///   errors. Each psql first sets the session settings the dump set before its part.
struct Feed<'a> {
    filter: DumpFilter,
    psql: ToolCommand,
    key: String,
    /// Whether the SQL goes in parts (the restore goes on after errors).
    in_parts: bool,
    in_copy_part: bool,
    /// The session settings the kept text made so far, by name, in order.
    settings: Vec<(String, String)>,
    collector: &'a ErrorCollector<'a>,
    session: &'a Session<'a>,
    lines: u64,
    seen: usize,
    fed: u64,
}

impl<'a> Feed<'a> {
    fn new(session: &'a Session<'a>, psql: ToolCommand, collector: &'a ErrorCollector<'a>) -> Self {
        let prepared = session.prepared;
        // pg_restore already left out owners and skipped entries; a plain dump is filtered.
        let plain = prepared.reader.is_none();
        let filter = DumpFilter::new(
            Some(prepared.known_settings.clone()),
            plain && prepared.plan.no_owner,
            if plain { prepared.details.skip_ordinals.clone() } else { HashSet::new() },
        );
        Feed {
            filter,
            psql,
            key: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
            in_parts: prepared.plan.method.continue_on_errors,
            in_copy_part: false,
            settings: Vec::new(),
            collector,
            session,
            lines: 0,
            seen: 0,
            fed: 0,
        }
    }

    /// The psql that reads from the start: it stops at the first error unless the restore goes
    /// on after errors.
    fn first_consumer(&mut self) -> Consumer {
        self.consumer(!self.in_parts)
    }

    /// A psql for the next part, restricted, first setting what the dump set before it.
    fn consumer(&mut self, stop_on_error: bool) -> Consumer {
        let mut command = same_command(&self.psql);
        if stop_on_error {
            command = command.args(["-v", "ON_ERROR_STOP=1"]);
        }
        let mut prologue = format!("\\restrict {}\n", self.key);
        for (_, line) in &self.settings {
            prologue.push_str(line);
            prologue.push('\n');
        }
        let prologue_lines = 1 + self.settings.len() as u64;
        self.collector.part_starts(self.fed, prologue_lines);
        Consumer {
            command,
            prologue: prologue.into_bytes(),
            epilogue: format!("\n\\unrestrict {}\n", self.key).into_bytes(),
            // A part that may stop at an error stops with psql's exit code 3.
            may_stop_with: (stop_on_error && self.in_parts).then_some(3),
        }
    }

    fn route(&mut self, line: &[u8]) -> Route {
        self.lines += 1;
        let keep = self.filter.keep(line);
        if let Some(at) = self.filter.command_at() {
            let text = String::from_utf8_lossy(&line[at..]);
            let found: String = text.trim_end().chars().take(60).collect();
            return Route::Abort(Error::BackupHasMetaCommands {
                path: self.session.prepared.source.clone(),
                count: 1,
                found: format!("line {}: {}", self.lines, found.replace(char::is_control, " ")),
            });
        }
        self.progress();
        if !keep {
            return Route::Drop;
        }
        let route = if !self.in_parts || !self.filter.starts_statement() {
            Route::Keep
        } else if self.filter.starts_copy() {
            self.in_copy_part = true;
            Route::NewConsumer(self.consumer(true))
        } else if self.in_copy_part {
            self.in_copy_part = false;
            Route::NewConsumer(self.consumer(false))
        } else {
            Route::Keep
        };
        if self.filter.starts_statement() && self.filter.at_rest() {
            self.remember_setting(line);
        }
        self.fed += 1;
        route
    }

    fn remember_setting(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let Some(name) = session_setting(&text) else { return };
        let text = text.trim().to_owned();
        match self.settings.iter_mut().find(|(n, _)| *n == name) {
            Some(setting) => setting.1 = text,
            None => self.settings.push((name, text)),
        }
    }

    /// Progress by entry, and where each entry starts in what psql reads.
    fn progress(&mut self) {
        let entry = self.filter.entry();
        if entry == self.seen {
            return;
        }
        self.seen = entry;
        let prepared = self.session.prepared;
        let current = prepared.details.entry_names.get(entry - 1).cloned().unwrap_or_default();
        // The entry's first line is the next line psql reads (its header, when kept).
        self.collector.entry_starts(self.fed + 1, current.clone());
        let total = prepared.plan.entries;
        self.session.sink.emit(ProgressEvent::Step {
            done: (entry as u64).saturating_sub(1).min(total),
            total,
            current,
        });
    }
}

/// Keeps the errors pg_restore and psql report, each named by the entry it belongs to: for a
/// restore that goes on after them, so that the user knows what is missing; for one that stops
/// at the first, so that its failure names what could not be restored.
struct ErrorCollector<'a> {
    inner: &'a dyn ProgressSink,
    errors: Mutex<Vec<Found>>,
    /// pg_restore's last "from TOC entry …" line: the entry its next error belongs to.
    toc_entry: Mutex<Option<String>>,
    /// Where each entry starts in what psql reads of the source (line number, entry), for
    /// psql's `<stdin>:N:`.
    entry_lines: Mutex<Vec<(u64, String)>>,
    /// Each psql's part: the source lines fed before it and the lines Lifeboat wrote first.
    parts: Mutex<Vec<(u64, u64)>>,
    /// psqls started so far: the last one's part is the one its errors belong to.
    psqls: AtomicU64,
}

impl<'a> ErrorCollector<'a> {
    fn new(inner: &'a dyn ProgressSink) -> Self {
        ErrorCollector {
            inner,
            errors: Mutex::new(Vec::new()),
            toc_entry: Mutex::new(None),
            entry_lines: Mutex::new(Vec::new()),
            parts: Mutex::new(Vec::new()),
            psqls: AtomicU64::new(0),
        }
    }

    /// The next psql reads `prologue` lines of Lifeboat's own, then the source after `fed`
    /// lines of it.
    fn part_starts(&self, fed: u64, prologue: u64) {
        self.parts.lock().expect("parts").push((fed, prologue));
    }

    /// The line of the source fed to psql that psql's input line `n` is, in the part of the
    /// psql running (None for Lifeboat's own lines).
    fn source_line(&self, n: u64) -> Option<u64> {
        let parts = self.parts.lock().expect("parts");
        let running = (self.psqls.load(Ordering::Relaxed) as usize).saturating_sub(1);
        let (fed, prologue) = parts.get(running).copied().unwrap_or((0, 0));
        (n > prologue).then(|| fed + n - prologue)
    }

    /// The entry `name` starts at line `line` of what psql reads.
    fn entry_starts(&self, line: u64, name: String) {
        self.entry_lines.lock().expect("entry lines").push((line, name));
    }

    /// The error a line of `tool`'s output reports, with the entry it belongs to.
    fn error_in(&self, tool: Tool, line: &str) -> Option<Found> {
        if let Some(entry) = line.strip_prefix("pg_restore: from TOC entry ") {
            *self.toc_entry.lock().expect("toc entry") = Some(toc_entry_name(entry));
            return None;
        }
        if let Some(error) = line.strip_prefix("pg_restore: error: ") {
            let entry = self.toc_entry.lock().expect("toc entry").take();
            return Some(Found::new(tool, entry.as_deref(), error));
        }
        let (place, error) = line.split_once(": ERROR:  ")?;
        let entry = psql_line(place).and_then(|n| self.source_line(n)).and_then(|n| {
            let lines = self.entry_lines.lock().expect("entry lines");
            let at = lines.partition_point(|(start, _)| *start <= n);
            at.checked_sub(1).map(|i| lines[i].1.clone())
        });
        Some(Found::new(tool, entry.as_deref(), &format!("ERROR: {error}")))
    }

    /// A tool that stopped at an error (`--exit-on-error`, `ON_ERROR_STOP`) fails with the
    /// errors it reported named by their entries, instead of its bare message (psql's
    /// `psql:<stdin>:172: ERROR:  …` says nothing about what failed). Other failures, and errors
    /// no entry is known for, keep their message; the error stays the same kind.
    fn name_failure(&self, error: Error) -> Error {
        let Error::ToolFailed { tool, exit_code, detail } = error else { return error };
        let errors = self.errors.lock().expect("errors");
        let own: Vec<&Found> = errors.iter().filter(|found| found.tool == tool).collect();
        if !own.iter().any(|found| found.named) {
            return Error::ToolFailed { tool, exit_code, detail };
        }
        let detail = own.iter().map(|found| found.text.as_str()).collect::<Vec<_>>().join("\n");
        Error::ToolFailed { tool, exit_code, detail }
    }
}

impl ProgressSink for ErrorCollector<'_> {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::ToolStarted { tool: Tool::Psql, .. } = &event {
            // The parts run one after the other: every line of a psql's errors has been read
            // before the next one starts.
            self.psqls.fetch_add(1, Ordering::Relaxed);
        }
        if let ProgressEvent::ToolOutput { tool, line } = &event
            && let Some(error) = self.error_in(*tool, line)
        {
            self.errors.lock().expect("errors").push(error);
        }
        self.inner.emit(event);
    }
}

/// One error a tool reported, as the user reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    tool: Tool,
    /// `<entry>: <error>`, or the bare error when its entry is unknown.
    text: String,
    /// Whether the text names the entry.
    named: bool,
}

impl Found {
    fn new(tool: Tool, entry: Option<&str>, error: &str) -> Found {
        match entry {
            Some(entry) if !entry.is_empty() => {
                Found { tool, text: format!("{entry}: {error}"), named: true }
            }
            _ => Found { tool, text: error.to_owned(), named: false },
        }
    }
}

/// `2709; 0 16410 TABLE DATA public settings postgres` → `TABLE DATA public settings postgres`
/// (the id and the catalog oids say nothing to a user).
fn toc_entry_name(line: &str) -> String {
    let described = line.split_once("; ").map_or(line, |(_, rest)| rest);
    let mut words = described.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some(a), Some(b), Some(rest)) if a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok() => {
            rest.to_owned()
        }
        _ => described.to_owned(),
    }
}

/// The input line number of psql's `psql:<stdin>:N` error prefix.
fn psql_line(place: &str) -> Option<u64> {
    place.rsplit(':').next()?.trim().parse().ok()
}

/// Turns `pg_restore --verbose` lines into "entry n of m" progress.
struct EntryCounter<'a> {
    inner: &'a dyn ProgressSink,
    total: u64,
    done: AtomicU64,
}

impl<'a> EntryCounter<'a> {
    fn new(inner: &'a dyn ProgressSink, total: u64) -> Self {
        EntryCounter { inner, total, done: AtomicU64::new(0) }
    }
}

/// What `pg_restore --verbose` prints once per entry it restores (also from parallel workers).
const ENTRY_LINES: [&str; 4] = [
    "pg_restore: creating ",
    "pg_restore: processing data for table ",
    "pg_restore: executing ",
    "pg_restore: setting owner and privileges for ",
];

impl ProgressSink for EntryCounter<'_> {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::ToolOutput { line, .. } = &event
            && let Some(current) = ENTRY_LINES.iter().find_map(|p| line.strip_prefix(p))
            && !current.starts_with("SELECT ")
        {
            let done = (self.done.fetch_add(1, Ordering::Relaxed) + 1).min(self.total);
            self.inner.emit(ProgressEvent::Step {
                done,
                total: self.total,
                current: current.to_owned(),
            });
        }
        self.inner.emit(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_never_become_connection_strings() {
        assert_eq!(conninfo_dbname("shop"), "dbname='shop'");
        assert_eq!(conninfo_dbname("a=b 'c'\\"), "dbname='a=b \\'c\\'\\\\'");
        assert_eq!(quote_ident("Odd \"x\""), "\"Odd \"\"x\"\"\"");
    }

    /// The texts of the errors `lines` of `tool`'s output report.
    fn errors_in(collector: &ErrorCollector<'_>, tool: Tool, lines: &[&str]) -> Vec<String> {
        lines.iter().filter_map(|l| collector.error_in(tool, l)).map(|f| f.text).collect()
    }

    /// Feeds `lines` of `tool`'s output through the collector, as the tools' output streams.
    fn feed(collector: &ErrorCollector<'_>, tool: Tool, lines: &[&str]) {
        for line in lines {
            collector.emit(ProgressEvent::ToolOutput { tool, line: (*line).to_owned() });
        }
    }

    #[test]
    fn errors_are_named_by_their_entry() {
        let collector = ErrorCollector::new(&NullSink);
        let pg_restore = [
            "pg_restore: while PROCESSING TOC:",
            "pg_restore: from TOC entry 3385; 3256 16420 POLICY public orders own_rows alice",
            "pg_restore: error: could not execute query: ERROR:  role \"app_reader\" does not exist",
            "pg_restore: error: could not connect",
        ];
        assert_eq!(
            errors_in(&collector, Tool::PgRestore, &pg_restore),
            [
                "POLICY public orders own_rows alice: could not execute query: ERROR:  role \"app_reader\" does not exist",
                "could not connect",
            ]
        );
        collector.entry_starts(1, "SCHEMA sales".into());
        collector.entry_starts(40, "TABLE orders".into());
        collector.entry_starts(55, "POLICY own_rows".into());
        let psql = "psql:<stdin>:52: ERROR:  relation \"nope\" does not exist";
        assert_eq!(
            errors_in(&collector, Tool::Psql, &[psql]),
            ["TABLE orders: ERROR: relation \"nope\" does not exist"]
        );
        assert_eq!(collector.error_in(Tool::Psql, "psql:<stdin>:12: NOTICE:  hi"), None);
    }

    #[test]
    fn psql_stopping_at_an_error_names_the_entry() {
        let collector = ErrorCollector::new(&NullSink);
        collector.entry_starts(1, "SCHEMA public".into());
        collector.entry_starts(25, "COLLATION public.regress_pg_c_utf8".into());
        collector.entry_starts(31, "TABLE public.t".into());
        let line = "psql:<stdin>:29: ERROR:  unrecognized collation provider: builtin";
        feed(&collector, Tool::Psql, &["pg_restore: creating COLLATION \"x\"", line]);
        // What the pipeline returns for psql -v ON_ERROR_STOP=1 (exit code 3).
        let failed =
            Error::ToolFailed { tool: Tool::Psql, exit_code: Some(3), detail: line.into() };
        let named = collector.name_failure(failed);
        assert_eq!(
            named.to_string(),
            "psql failed with exit code 3: COLLATION public.regress_pg_c_utf8: ERROR: \
             unrecognized collation provider: builtin"
        );
        assert!(matches!(named, Error::ToolFailed { tool: Tool::Psql, exit_code: Some(3), .. }));
        assert_eq!(named.code(), crate::base::error::ErrorCode::ToolFailed);
        assert!(named.hint().contains("Read the message"));
    }

    #[test]
    fn pg_restore_stopping_at_an_error_names_the_entry() {
        let collector = ErrorCollector::new(&NullSink);
        // pg_restore --verbose --exit-on-error, as it prints a failed COPY.
        feed(
            &collector,
            Tool::PgRestore,
            &[
                "pg_restore: processing data for table \"public.a_t\"",
                "pg_restore: while PROCESSING TOC:",
                "pg_restore: from TOC entry 2570; 0 16438 TABLE DATA a_t postgres",
                "pg_restore: error: COPY failed for table \"a_t\": ERROR:  new row for relation \"a_t\" violates check constraint \"a_t_a_check\"",
                "DETAIL:  Failing row contains (1).",
                "CONTEXT:  COPY a_t, line 1: \"1\"",
            ],
        );
        let failed = Error::ToolFailed {
            tool: Tool::PgRestore,
            exit_code: Some(1),
            detail: "pg_restore: error: COPY failed for table \"a_t\": ERROR:  …".into(),
        };
        let Error::ToolFailed { tool, exit_code, detail } = collector.name_failure(failed) else {
            panic!("still a tool failure")
        };
        assert_eq!((tool, exit_code), (Tool::PgRestore, Some(1)));
        assert_eq!(
            detail,
            "TABLE DATA a_t postgres: COPY failed for table \"a_t\": ERROR:  new row for relation \
             \"a_t\" violates check constraint \"a_t_a_check\""
        );
    }

    #[test]
    fn failures_without_a_named_error_keep_their_message() {
        let collector = ErrorCollector::new(&NullSink);
        let connect = "pg_restore: error: connection to server failed: FATAL:  no such database";
        feed(&collector, Tool::PgRestore, &[connect]);
        let failed =
            Error::ToolFailed { tool: Tool::PgRestore, exit_code: Some(1), detail: connect.into() };
        assert_eq!(
            collector.name_failure(failed).to_string(),
            format!("pg_restore failed with exit code 1: {connect}")
        );
        // psql's named error does not rename pg_restore's failure in the same pipeline.
        collector.entry_starts(1, "TABLE public.t".into());
        feed(&collector, Tool::Psql, &["psql:<stdin>:3: ERROR:  boom"]);
        let failed =
            Error::ToolFailed { tool: Tool::PgRestore, exit_code: Some(1), detail: connect.into() };
        assert!(collector.name_failure(failed).to_string().ends_with(connect));
        assert!(matches!(collector.name_failure(Error::Cancelled), Error::Cancelled));
    }

    #[test]
    fn the_entry_counter_counts_restored_entries() {
        let recorder = crate::base::progress::Recorder::default();
        let counter = EntryCounter::new(&recorder, 3);
        for line in [
            "pg_restore: connecting to database for restore",
            "pg_restore: executing SELECT pg_catalog.set_config('search_path', '', false);",
            "pg_restore: creating TABLE \"public.t\"",
            "pg_restore: processing data for table \"public.t\"",
            "pg_restore: executing SEQUENCE SET t_id_seq",
            "pg_restore: creating INDEX \"public.t_idx\"",
        ] {
            counter.emit(ProgressEvent::ToolOutput { tool: Tool::PgRestore, line: line.into() });
        }
        let steps: Vec<(u64, String)> = recorder
            .events()
            .into_iter()
            .filter_map(|e| match e {
                ProgressEvent::Step { done, current, .. } => Some((done, current)),
                _ => None,
            })
            .collect();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0], (1, "TABLE \"public.t\"".to_owned()));
        assert_eq!(steps[3].0, 3, "capped at the total");
    }
}
