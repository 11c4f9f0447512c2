//! The restore plan, decided from the facts about the source and the target alone: no server,
//! no files, no clock (the caller passes the time). Each step is a small function; [`plan`]
//! puts them together in the order their findings are listed.

use std::collections::{BTreeSet, HashSet};

use crate::base::error::{Error, Result};
use crate::base::finding::{Finding, FindingCode, Severity};
use crate::format::manifest::BackupFormat;
use crate::format::selection::{self, ArchiveItem, LeftOut, Selection};
use crate::format::sqltext::{DumpEntry, DumpFacts};
use crate::util::naming::{MAX_IDENTIFIER_BYTES, fit_identifier};

use super::findings;
use super::roles::{self, Roles};
use super::source_facts::SourceFacts;
use super::summary::summarize;
use super::target_facts::{Requested, TargetFacts};
use super::{MethodKind, RestoreMethod, RestorePlan, RestoreRequest, RoleLeftOut};

/// The plan, and what the run needs beyond it.
#[derive(Debug)]
pub(super) struct Planned {
    pub plan: RestorePlan,
    pub run: RunDetails,
}

/// What the run needs beyond the plan.
#[derive(Debug, Default)]
pub(super) struct RunDetails {
    /// `pg_restore --list` with the skipped entries commented out (archives, when any).
    pub use_list: Option<String>,
    /// Archives whose skipped entries carry no TOC id: leave out every grant instead.
    pub no_privileges: bool,
    /// Ordinals of the entries a plain dump's filter leaves out.
    pub skip_ordinals: HashSet<usize>,
    /// Kinds of the skipped entries, one per entry.
    pub skipped: Vec<String>,
    /// Names of the entries in order, for progress.
    pub entry_names: Vec<String>,
    /// Whether the target name was chosen by Lifeboat (then a name taken meanwhile is skipped).
    pub auto_named: bool,
    pub name_base: String,
    pub role: Option<String>,
    /// `CREATE ROLE` statements, then `GRANT role TO member` ones, for the roles to create.
    pub role_statements: Vec<(String, String)>,
    pub membership_statements: Vec<String>,
    /// Schemas created (`IF NOT EXISTS`) in the database restored into before the tools run.
    pub create_schemas: Vec<String>,
}

/// Decides the whole restore from the facts, the checked request and the chosen entries
/// ([`requested`], [`select`]). `now` is the local time, for the dated names.
pub(super) fn plan(
    source: &SourceFacts,
    target: &TargetFacts,
    request: &RestoreRequest,
    requested: &Requested,
    selected: Selected,
    now: chrono::NaiveDateTime,
) -> Result<Planned> {
    let dump = &selected.dump;
    let mut found = findings::source(source);
    let naming = target_name(source, target, requested, now);
    if let Some(old) = &requested.replace {
        found.extend(findings::replace(target, old, request.terminate_connections));
    }
    if naming.create_database {
        found.extend(findings::cannot_create_database(target));
    } else {
        let instead = free_name(&naming.base, &target.databases);
        found.extend(findings::not_empty(target, &naming.database, &instead));
    }
    let (encoding, differs) = encoding(source, target, &naming);
    found.extend(differs);
    found.extend(findings::locale(source, target, naming.create_database));
    let mut roles = roles::decide(
        dump,
        source.saved_roles.as_ref(),
        target,
        request,
        requested.role.as_deref(),
    );
    found.append(&mut roles.findings);
    let skipped = skipped_for_roles(dump, &roles);
    found.extend(grants_skipped(&skipped));
    let for_roles = left_out_for_roles(&skipped, &roles);
    found.extend(findings::role_entries_skipped(&for_roles));
    let existing = schemas_already_there(dump);
    found.extend(findings::schemas_exist(&existing));
    let empty_target =
        naming.create_database || target.existing.as_ref().is_some_and(|c| c.is_empty());
    let create_schemas = if empty_target { schemas_to_create(dump) } else { Vec::new() };
    found.extend(findings::schemas_created(&create_schemas, &naming.database));
    let needed = source
        .dump
        .sql_bytes
        .max(source.manifest.as_ref().and_then(|m| m.database_bytes).unwrap_or(0));
    found.push(findings::disk_space(&target.disk, needed));
    found.extend(findings::extensions(dump, target));
    found.extend(findings::newer_source(source, target));
    let method = method(source, target, request, naming.create_database, &mut found);
    found.extend(findings::dependents(&selected.left_out));
    let left_out_entries = [skipped.as_slice(), existing.as_slice()].concat();
    let mut run = run_details(source, &selected, &left_out_entries, &roles, &naming, requested);
    run.create_schemas = create_schemas;
    let plan = RestorePlan {
        source: source.path.display().to_string(),
        format: source.format,
        archive_version: source.archive_version.map(|v| v.to_string()),
        source_database: source.source_database.clone(),
        dumped_from: source.dumped_from.clone(),
        dumped_by: source.dumped_by.clone(),
        manifest: source.manifest.as_ref().map(|m| m.path.display().to_string()),
        verified_files: source.verified as u32,
        profile: target.profile_name.clone(),
        server_version: target.server_version.clone(),
        database: naming.database,
        create_database: naming.create_database,
        encoding,
        method,
        no_owner: roles.no_owner,
        owned_by: roles.owned_by.clone(),
        entries: dump.entries.len() as u64,
        skipped_entries: skipped.len() as u64,
        entry_counts: dump.counts(),
        blocked: found.iter().any(|f| f.severity == Severity::Blocker),
        findings: sorted(found),
        summary: String::new(),
        replace: requested.replace.clone(),
        kept_as: naming.kept_as,
        create_roles: roles.statements.iter().map(|(name, _)| name.clone()).collect(),
        recreatable_roles: roles.recreatable.iter().cloned().collect(),
        plain_roles: roles.plain.iter().cloned().collect(),
        left_out_for_roles: for_roles,
        contents: selected.contents,
        left_out: selected.left_out,
    };
    let summary = summarize(&plan, &source.path, roles.missing_owners, &run.create_schemas);
    Ok(Planned { plan: RestorePlan { summary, ..plan }, run })
}

/// Blockers first, then warnings, then infos; in the order found within each.
fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    findings
}

/// The names a request gives, checked, in the order the errors are reported.
pub(super) fn requested(request: &RestoreRequest) -> Result<Requested> {
    if request.jobs == Some(0) {
        return Err(Error::InvalidInput { field: "jobs", problem: "must be at least 1".into() });
    }
    let role = request.owner_role.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let target = checked_name(request.target_database.as_deref(), "target database")?;
    let replace = request.replace.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if replace.is_some() && target.is_some() {
        return Err(Error::InvalidInput {
            field: "replace",
            problem: "cannot be combined with a target database: a replace restores into a new \
                      database and then gives it the replaced database's name"
                .into(),
        });
    }
    Ok(Requested {
        role: role.map(str::to_owned),
        target,
        replace: checked_name(replace, "replace")?,
    })
}

/// A database name from the request: absent when empty, an error when PostgreSQL would cut it.
fn checked_name(name: Option<&str>, field: &'static str) -> Result<Option<String>> {
    match name.map(str::trim) {
        Some("") | None => Ok(None),
        Some(name) if name.len() > MAX_IDENTIFIER_BYTES => Err(Error::InvalidInput {
            field,
            problem: format!("is longer than {MAX_IDENTIFIER_BYTES} bytes"),
        }),
        Some(name) => Ok(Some(name.to_owned())),
    }
}

/// What of the backup is restored.
#[derive(Debug)]
pub(super) struct Selected {
    /// The dump's facts with only the chosen entries.
    pub dump: DumpFacts,
    /// What the archive holds, for choosing (empty for plain SQL).
    contents: Vec<ArchiveItem>,
    left_out: Vec<LeftOut>,
}

pub(super) fn select(source: &SourceFacts, selection: &Selection) -> Result<Selected> {
    let archive = source.reader.is_some();
    let mut dump = source.dump.clone();
    let selection = &with_backups_left_out(source, selection);
    let contents = if archive { selection::items(&dump.entries) } else { Vec::new() };
    let left_out = if selection.is_empty() {
        Vec::new()
    } else if !archive {
        return Err(Error::InvalidInput {
            field: "selection",
            problem: "a plain SQL backup is restored whole; choosing what to restore needs a \
                      custom, directory or tar backup"
                .into(),
        });
    } else {
        let chosen = selection::choose(&dump.entries, selection)?;
        dump.entries.retain(|e| e.toc_id.is_none_or(|id| chosen.keep.contains(&id)));
        let mut left_out = chosen.left_out;
        say_why_the_backup_left_out(source, &mut left_out);
        left_out
    };
    Ok(Selected { dump, contents, left_out })
}

/// `selection` and the entries the backup's manifest says to leave out: they need objects the
/// backup's scope left out, and would fail wherever those are missing.
fn with_backups_left_out(source: &SourceFacts, selection: &Selection) -> Selection {
    let mut selection = selection.clone();
    let Some(left_out) = source.manifest.as_ref().map(|m| &m.left_out) else { return selection };
    let named =
        |e: &&DumpEntry| left_out.iter().any(|l| l.is(&e.kind, e.schema.as_deref(), &e.name));
    let ids = source.dump.entries.iter().filter(named).filter_map(|e| e.toc_id);
    selection.exclude_entries.extend(ids);
    selection
}

fn say_why_the_backup_left_out(source: &SourceFacts, left_out: &mut [LeftOut]) {
    let Some(manifest) = &source.manifest else { return };
    for entry in left_out.iter_mut().filter(|l| l.because.is_none()) {
        let named = manifest
            .left_out
            .iter()
            .find(|l| l.is(&entry.kind, entry.schema.as_deref(), &entry.name));
        if let Some(named) = named {
            entry.because = Some(format!("{}, which the backup does not carry", named.needs));
        }
    }
}

/// The database restored into, and the name a replaced one is kept under.
#[derive(Debug)]
struct Naming {
    database: String,
    create_database: bool,
    auto_named: bool,
    /// `<db>_restored_YYYYMMDD`, before any `_N`.
    base: String,
    kept_as: Option<String>,
}

fn target_name(
    source: &SourceFacts,
    target: &TargetFacts,
    requested: &Requested,
    now: chrono::NaiveDateTime,
) -> Naming {
    let base_db = match &requested.replace {
        Some(old) => old.clone(),
        None => source.source_database.clone().unwrap_or_else(|| "restored".to_owned()),
    };
    let base = default_base(&base_db, now.date());
    let kept_as =
        requested.replace.as_ref().map(|old| free_name(&kept_name(old, now), &target.databases));
    let (database, create_database, auto_named) = match &requested.target {
        Some(name) => (name.clone(), !target.databases.contains(name), false),
        None => (free_name(&base, &target.databases), true, true),
    };
    Naming { database, create_database, auto_named, base, kept_as }
}

/// `<db>_restored_YYYYMMDD`, the database part cut (on a character boundary) so that a `_NN`
/// suffix still fits PostgreSQL's 63 bytes.
pub(super) fn default_base(database: &str, date: chrono::NaiveDate) -> String {
    fit_identifier(database, &format!("_restored_{}", date.format("%Y%m%d")), 4)
}

/// `<db>_before_YYYYMMDD-HHMMSS`, the database part cut (on a character boundary) so that a
/// `_NN` suffix still fits PostgreSQL's 63 bytes.
pub(super) fn kept_name(database: &str, at: chrono::NaiveDateTime) -> String {
    fit_identifier(database, &format!("_before_{}", at.format("%Y%m%d-%H%M%S")), 4)
}

/// `base`, else `base_2`, `base_3` … the first not in `taken`.
pub(super) fn free_name(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    (2..).map(|n| format!("{base}_{n}")).find(|n| !taken.contains(n)).expect("a free name exists")
}

/// The encoding of the database restored into, and a finding when it is not the backup's: a new
/// database takes the backup's encoding when `template0`'s locale allows it.
fn encoding(
    source: &SourceFacts,
    target: &TargetFacts,
    naming: &Naming,
) -> (Option<String>, Option<Finding>) {
    let dump_encoding = source
        .dump
        .encoding
        .clone()
        .or_else(|| source.manifest.as_ref().map(|m| m.encoding.clone()));
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if !naming.create_database {
        let existing = target.existing.as_ref().map(|c| c.encoding.clone());
        let differs = match (&dump_encoding, &existing) {
            (Some(dump), Some(existing)) if !same(dump, existing) => {
                Some(findings::existing_encoding_differs(dump, &naming.database, existing))
            }
            _ => None,
        };
        return (existing, differs);
    }
    let Some(dump_encoding) = dump_encoding else {
        return (None, None);
    };
    let template = &target.template;
    let any_encoding = template.libc && matches!(template.ctype.as_str(), "C" | "POSIX");
    if same(&dump_encoding, &template.encoding) || any_encoding {
        (Some(dump_encoding.to_ascii_uppercase()), None)
    } else {
        let differs = findings::new_encoding_differs(&dump_encoding, target);
        (Some(template.encoding.clone()), Some(differs))
    }
}

/// Entries whose statements name missing roles beyond their owner: left out whole. Measured
/// with pg_restore 14 and 18: a policy `TO` a missing role, a default privilege `FOR ROLE` or
/// `TO` one, a user mapping `FOR` one and a grant to one all fail ("role … does not exist");
/// an owner is not named at all under `--no-owner`, which a missing owner turns on.
fn skipped_for_roles<'a>(dump: &'a DumpFacts, roles: &Roles) -> Vec<&'a DumpEntry> {
    dump.entries
        .iter()
        .filter(|e| e.roles.iter().any(|r| roles.missing_roles.contains(r)))
        .collect()
}

pub(super) fn is_grant(kind: &str) -> bool {
    kind == "ACL" || kind == "DEFAULT ACL"
}

/// The skipped entries with the missing roles each names, for the plan.
fn left_out_for_roles(skipped: &[&DumpEntry], roles: &Roles) -> Vec<RoleLeftOut> {
    skipped
        .iter()
        .map(|e| RoleLeftOut {
            kind: e.kind.clone(),
            schema: e.schema.clone(),
            name: e.name.clone(),
            roles: e.roles.iter().filter(|r| roles.missing_roles.contains(*r)).cloned().collect(),
        })
        .collect()
}

/// The `CREATE SCHEMA` entries of schemas every database already has. pg_dump writes one for
/// `public` only when that schema is chosen by name (`--schema public`, one file per schema); a
/// whole-database dump assumes it. Restoring it would stop at "schema public already exists".
fn schemas_already_there(dump: &DumpFacts) -> Vec<&DumpEntry> {
    dump.entries.iter().filter(|e| e.kind == "SCHEMA" && e.name == "public").collect()
}

/// The schemas the chosen entries live in that the dump does not create, which a new (or empty)
/// database lacks. pg_dump 14 and 18 write no `CREATE SCHEMA` with `--table`, so a table outside
/// `public` would stop the restore at "schema … does not exist". `public` and the system schemas
/// every database has are never created.
pub(super) fn schemas_to_create(dump: &DumpFacts) -> Vec<String> {
    let created: BTreeSet<&str> =
        dump.entries.iter().filter(|e| e.kind == "SCHEMA").map(|e| e.name.as_str()).collect();
    let lacking: BTreeSet<&str> = dump
        .entries
        .iter()
        .filter_map(|e| e.schema.as_deref())
        .filter(|s| !created.contains(s) && !is_builtin_schema(s))
        .collect();
    lacking.into_iter().map(str::to_owned).collect()
}

fn is_builtin_schema(name: &str) -> bool {
    name == "public" || name == "information_schema" || name.starts_with("pg_")
}

fn grants_skipped(skipped: &[&DumpEntry]) -> Option<Finding> {
    let names: Vec<&str> =
        skipped.iter().filter(|e| is_grant(&e.kind)).map(|e| e.name.as_str()).collect();
    if names.is_empty() {
        return None;
    }
    Some(Finding::new(
        Severity::Warning,
        FindingCode::GrantsSkipped,
        format!(
            "Privileges on {} object{} name missing roles: {}.",
            names.len(),
            findings::plural(names.len()),
            names.join(", ")
        ),
        Some(
            "Those grants are not restored. Restore with --create-missing-roles (the wizard's \
             \"Create the missing roles as NOLOGIN roles\") to keep them, or create the roles \
             and grant the privileges again if they are needed."
                .into(),
        ),
    ))
}

/// How the restore runs: which tools, in one transaction or not, with how many jobs, and the
/// settings left out on the way; its findings go to `found`.
fn method(
    source: &SourceFacts,
    target: &TargetFacts,
    request: &RestoreRequest,
    create_database: bool,
    found: &mut Vec<Finding>,
) -> RestoreMethod {
    // Going on after errors in one transaction would only roll everything back at the end.
    let single_transaction = !create_database && !request.continue_on_errors;
    if request.continue_on_errors {
        found.push(Finding::new(
            Severity::Warning,
            FindingCode::ContinueOnErrors,
            "Errors do not stop this restore: what fails to restore is missing afterwards, and \
             the database is kept as it is."
                .into(),
            Some(
                "Every error is listed in the result. Restore without this option to get all or \
                 nothing."
                    .into(),
            ),
        ));
    }
    let kind = match &source.reader {
        None => MethodKind::Psql,
        Some(reader) if reader.major == target.writer.major => MethodKind::PgRestore,
        Some(_) => MethodKind::Pipeline,
    };
    let dropped_settings = dropped_settings(source, target, kind, found);
    let parallel = kind == MethodKind::PgRestore
        && !single_transaction
        && matches!(source.format, BackupFormat::Custom | BackupFormat::Directory);
    let jobs = if parallel { request.jobs.unwrap_or(1) } else { 1 };
    if request.jobs.is_some_and(|j| j > 1) && !parallel {
        let why = if single_transaction {
            "an existing database is restored in one transaction"
        } else if kind != MethodKind::PgRestore {
            "the SQL goes through one psql session"
        } else {
            "a tar archive is read in order"
        };
        found.push(Finding::new(
            Severity::Info,
            FindingCode::JobsIgnored,
            format!("The restore runs with one job: {why}."),
            None,
        ));
    }
    RestoreMethod {
        kind,
        reader_major: source.reader.as_ref().map(|r| r.major),
        psql_major: (kind != MethodKind::PgRestore).then_some(target.writer.major),
        jobs,
        single_transaction,
        continue_on_errors: request.continue_on_errors,
        dropped_settings,
    }
}

/// `SET` parameters in SQL that goes through psql which the target server does not know.
fn dropped_settings(
    source: &SourceFacts,
    target: &TargetFacts,
    kind: MethodKind,
    found: &mut Vec<Finding>,
) -> Vec<String> {
    if kind == MethodKind::PgRestore {
        return Vec::new();
    }
    let dropped: Vec<String> = source
        .dump
        .set_names
        .iter()
        .filter(|s| !s.contains('.') && !target.settings_reach.known.contains(*s))
        .cloned()
        .collect();
    if !dropped.is_empty() {
        let writer_of_sql = match &source.reader {
            Some(reader) => format!("pg_restore {}", reader.major),
            None => {
                format!("pg_dump {}", source.dumped_by.as_deref().unwrap_or("(unknown version)"))
            }
        };
        found.push(Finding::new(
            Severity::Info,
            FindingCode::SettingsDropped,
            format!(
                "{writer_of_sql} writes SET {}, unknown to PostgreSQL {}.",
                dropped.join(", SET "),
                target.server.major()
            ),
            Some("Lifeboat leaves those lines out; they only tune the restoring session.".into()),
        ));
    }
    dropped
}

/// What the run leaves out and how: a commented-out list for pg_restore, ordinals for the plain
/// dump's filter.
fn run_details(
    source: &SourceFacts,
    selected: &Selected,
    skipped: &[&DumpEntry],
    roles: &Roles,
    naming: &Naming,
    requested: &Requested,
) -> RunDetails {
    let archive = source.reader.is_some();
    let mut skip_ids: HashSet<u32> = skipped.iter().filter_map(|e| e.toc_id).collect();
    skip_ids.extend(selected.left_out.iter().map(|l| l.id));
    let use_list = match (&source.list, skip_ids.is_empty()) {
        (Some(list), false) => Some(comment_out(list, &skip_ids)),
        _ => None,
    };
    RunDetails {
        use_list,
        no_privileges: archive && skipped.iter().any(|e| e.toc_id.is_none()),
        skip_ordinals: if archive {
            HashSet::new()
        } else {
            skipped.iter().map(|e| e.ordinal).collect()
        },
        skipped: skipped.iter().map(|e| e.kind.clone()).collect(),
        entry_names: selected
            .dump
            .entries
            .iter()
            .map(|e| format!("{} {}", e.kind, e.name))
            .collect(),
        auto_named: naming.auto_named,
        name_base: naming.base.clone(),
        role: requested.role.clone(),
        role_statements: roles.statements.clone(),
        membership_statements: roles.memberships.clone(),
        create_schemas: Vec::new(),
    }
}

/// The list with the entries `ids` commented out, for `pg_restore --use-list`.
pub(super) fn comment_out(list: &str, ids: &HashSet<u32>) -> String {
    let mut out = String::with_capacity(list.len());
    for line in list.lines() {
        let id = line.split(';').next().and_then(|id| id.trim().parse::<u32>().ok());
        if id.is_some_and(|id| ids.contains(&id)) {
            out.push(';');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
