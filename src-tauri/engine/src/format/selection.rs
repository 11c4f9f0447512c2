//! Selective restore: which entries of an archive to restore, following the dependencies
//! `pg_restore --verbose` reports for each entry.
//!
//! pg_restore's own `--schema`, `--exclude-schema` and `--table` select entries by name only: an
//! excluded schema's function is left out, but the trigger in another schema that calls it is
//! not, and the restore fails on it. Here every entry that needs a left-out entry is left out too
//! (and said so), so the restore of what remains is clean.
//!
//! The rules, in order:
//! 1. `--schema S` keeps only what lives in S (plus S's own SCHEMA entry and database-wide
//!    entries such as extensions); `--exclude-schema S` and the wizard's unticked entries leave
//!    those out.
//! 2. `--table T` keeps the named relations and their data, pulls in the definitions they need
//!    (schemas, types, functions, extensions — never other tables or their data) and attaches
//!    what belongs to them (indexes, constraints, defaults, owned sequences, comments, grants)
//!    when everything that attachment needs is kept. A trigger comes only when its function is
//!    restored anyway: the function may write to tables that are not.
//! 3. Then, until nothing changes: an entry that depends on a left-out entry is left out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::format::manifest::{BackupScope, DependentLeftOut, split_table};
use crate::format::sqltext::DumpEntry;

/// What of an archive to restore. Empty: everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default)]
pub struct Selection {
    /// Restore only these schemas.
    pub schemas: Vec<String>,
    /// Leave these schemas out.
    pub exclude_schemas: Vec<String>,
    /// Restore only these tables (`schema.table`, or `table` in any schema), with their data,
    /// indexes, constraints, defaults and triggers.
    pub tables: Vec<String>,
    /// Entries left out by their archive id (the wizard's definition and data toggles).
    pub exclude_entries: Vec<u32>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
            && self.exclude_schemas.is_empty()
            && self.tables.is_empty()
            && self.exclude_entries.is_empty()
    }
}

/// An entry of the archive the wizard shows in its tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveItem {
    pub id: u32,
    pub kind: String,
    pub schema: Option<String>,
    pub name: String,
    /// For a data entry (TABLE DATA, SEQUENCE SET …): the id of the relation it fills.
    pub data_of: Option<u32>,
}

/// An entry the restore leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LeftOut {
    pub id: u32,
    pub kind: String,
    pub schema: Option<String>,
    pub name: String,
    /// When it is left out only because it needs another left-out entry: that entry, e.g.
    /// "FUNCTION audit.log_change()".
    pub because: Option<String>,
}

/// The outcome of a selection.
#[derive(Debug, Clone, Default)]
pub struct Chosen {
    /// Ids of the entries restored.
    pub keep: HashSet<u32>,
    /// The entries left out, in archive order.
    pub left_out: Vec<LeftOut>,
}

const RELATIONS: &[&str] = &["TABLE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "FOREIGN TABLE"];
const DATA: &[&str] = &["TABLE DATA", "SEQUENCE SET", "MATERIALIZED VIEW DATA"];
/// Definitions a selected table may need, restored along with it.
const SUPPORT: &[&str] = &[
    "SCHEMA",
    "EXTENSION",
    "TYPE",
    "SHELL TYPE",
    "DOMAIN",
    "FUNCTION",
    "PROCEDURE",
    "AGGREGATE",
    "COLLATION",
    "CONVERSION",
    "OPERATOR",
    "OPERATOR CLASS",
    "OPERATOR FAMILY",
    "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY",
    "TEXT SEARCH PARSER",
    "TEXT SEARCH TEMPLATE",
    "PROCEDURAL LANGUAGE",
];
/// Entries that belong to a relation and come with it when everything they need is restored.
const ATTACHED: &[&str] = &[
    "TABLE DATA",
    "SEQUENCE SET",
    "MATERIALIZED VIEW DATA",
    "SEQUENCE",
    "SEQUENCE OWNED BY",
    "DEFAULT",
    "INDEX",
    "INDEX ATTACH",
    "TABLE ATTACH",
    "CONSTRAINT",
    "CHECK CONSTRAINT",
    "FK CONSTRAINT",
    "TRIGGER",
    "RULE",
    "POLICY",
    "ROW SECURITY",
    "STATISTICS",
    "COMMENT",
    "ACL",
    "SECURITY LABEL",
];
/// What the wizard's tree lists; everything else follows by dependency.
const SHOWN: &[&str] = &[
    "SCHEMA",
    "EXTENSION",
    "TABLE",
    "VIEW",
    "MATERIALIZED VIEW",
    "SEQUENCE",
    "FOREIGN TABLE",
    "TABLE DATA",
    "SEQUENCE SET",
    "MATERIALIZED VIEW DATA",
    "TYPE",
    "DOMAIN",
    "FUNCTION",
    "PROCEDURE",
    "AGGREGATE",
];

/// The schema an entry lives in; a SCHEMA entry lives in itself.
fn home(entry: &DumpEntry) -> Option<&str> {
    if entry.kind == "SCHEMA" { Some(entry.name.as_str()) } else { entry.schema.as_deref() }
}

/// "FUNCTION audit.log_change()", "SCHEMA audit".
pub fn describe(kind: &str, schema: Option<&str>, name: &str) -> String {
    // Some tags start with their kind: "TRANSFORM FOR integer LANGUAGE sql".
    if schema.is_none() && name.starts_with(&format!("{kind} ")) {
        return name.to_owned();
    }
    match schema {
        Some(schema) => format!("{kind} {schema}.{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The entries of an archive the wizard's tree shows, in archive order.
pub fn items(entries: &[DumpEntry]) -> Vec<ArchiveItem> {
    let kinds: HashMap<u32, &str> =
        entries.iter().filter_map(|e| Some((e.toc_id?, e.kind.as_str()))).collect();
    entries
        .iter()
        .filter(|e| SHOWN.contains(&e.kind.as_str()))
        .filter_map(|e| {
            let data_of = DATA
                .contains(&e.kind.as_str())
                .then(|| {
                    e.deps
                        .iter()
                        .copied()
                        .find(|d| kinds.get(d).is_some_and(|k| RELATIONS.contains(k)))
                })
                .flatten();
            Some(ArchiveItem {
                id: e.toc_id?,
                kind: e.kind.clone(),
                schema: e.schema.clone(),
                name: e.name.clone(),
                data_of,
            })
        })
        .collect()
}

/// Why each entry is left out, by id: None = chosen by the user, Some(dep) = needs `dep`.
type LeftOutIds = BTreeMap<u32, Option<u32>>;

/// Applies `selection` to the entries of an archive. Names that match nothing are an error, so
/// that a typo does not restore nothing (or everything) quietly.
pub fn choose(entries: &[DumpEntry], selection: &Selection) -> Result<Chosen> {
    let by_id = by_id(entries);
    let out = left_out_ids(entries, &by_id, selection)?;
    chosen(entries, &by_id, &out)
}

fn by_id(entries: &[DumpEntry]) -> HashMap<u32, &DumpEntry> {
    entries.iter().filter_map(|e| Some((e.toc_id?, e))).collect()
}

/// Rules 1 to 3: the ids left out, each with the entry it needs (None: chosen so).
fn left_out_ids(
    entries: &[DumpEntry],
    by_id: &HashMap<u32, &DumpEntry>,
    selection: &Selection,
) -> Result<LeftOutIds> {
    check_names(entries, by_id, selection)?;
    let mut out = left_out_by_name(by_id, selection);
    if !selection.tables.is_empty() {
        keep_tables(entries, by_id, &selection.tables, &mut out)?;
    }
    follow_dependencies(entries, &mut out);
    leave_out_dangling_foreign_keys(entries, by_id, &mut out);
    Ok(out)
}

/// Every schema and entry id the selection names exists in the archive.
fn check_names(
    entries: &[DumpEntry],
    by_id: &HashMap<u32, &DumpEntry>,
    selection: &Selection,
) -> Result<()> {
    let schemas_in_archive: BTreeSet<&str> = entries.iter().filter_map(home).collect();
    for (field, names) in
        [("schema", &selection.schemas), ("exclude-schema", &selection.exclude_schemas)]
    {
        let unknown: Vec<&str> =
            names.iter().map(String::as_str).filter(|s| !schemas_in_archive.contains(s)).collect();
        if !unknown.is_empty() {
            return Err(Error::InvalidInput {
                field,
                problem: format!(
                    "the backup has no schema {}; it has {}",
                    unknown.join(", "),
                    schemas_in_archive.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    let unknown_ids: Vec<u32> =
        selection.exclude_entries.iter().copied().filter(|id| !by_id.contains_key(id)).collect();
    if !unknown_ids.is_empty() {
        return Err(Error::InvalidInput {
            field: "exclude entries",
            problem: format!("the backup has no entries with the ids {unknown_ids:?}"),
        });
    }
    Ok(())
}

/// Rule 1: what the schemas chosen, the schemas excluded and the unticked entries leave out.
fn left_out_by_name(by_id: &HashMap<u32, &DumpEntry>, selection: &Selection) -> LeftOutIds {
    let mut out = LeftOutIds::new();
    let excluded_ids: HashSet<u32> = selection.exclude_entries.iter().copied().collect();
    for (id, entry) in by_id {
        let home = home(entry);
        let wanted = !excluded_ids.contains(id)
            && !home.is_some_and(|s| selection.exclude_schemas.iter().any(|x| x == s))
            && (selection.schemas.is_empty()
                || home.is_none_or(|s| selection.schemas.iter().any(|x| x == s)));
        if !wanted {
            out.insert(*id, None);
        }
    }
    out
}

/// Rule 3: an entry that needs a left-out entry is left out, until nothing changes.
fn follow_dependencies(entries: &[DumpEntry], out: &mut LeftOutIds) {
    loop {
        let mut changed = false;
        for entry in entries {
            let Some(id) = entry.toc_id else { continue };
            if out.contains_key(&id) {
                continue;
            }
            if let Some(dep) = entry.deps.iter().find(|d| out.contains_key(d)) {
                out.insert(id, Some(*dep));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// A foreign key cannot be added when its table gets its rows but the table it references
/// does not: it goes too, naming the rows left out.
fn leave_out_dangling_foreign_keys(
    entries: &[DumpEntry],
    by_id: &HashMap<u32, &DumpEntry>,
    out: &mut LeftOutIds,
) {
    let data_of: HashMap<u32, u32> = entries
        .iter()
        .filter(|e| e.kind == "TABLE DATA")
        .filter_map(|e| Some((*e.deps.first()?, e.toc_id?)))
        .collect();
    for entry in entries.iter().filter(|e| e.kind == "FK CONSTRAINT") {
        let Some(id) = entry.toc_id else { continue };
        if out.contains_key(&id) {
            continue;
        }
        // Its tag is "<table> <constraint>": the referencing table, in the key's schema.
        let is_own = |r: &DumpEntry| {
            r.schema == entry.schema && entry.name.starts_with(&format!("{} ", r.name))
        };
        let relations: Vec<&DumpEntry> = entry
            .deps
            .iter()
            .filter_map(|d| by_id.get(d).copied())
            .filter(|r| RELATIONS.contains(&r.kind.as_str()))
            .collect();
        let own_rows_kept = relations
            .iter()
            .filter(|r| is_own(r))
            .filter_map(|r| data_of.get(&r.toc_id?))
            .any(|d| !out.contains_key(d));
        let referenced_rows_out = relations
            .iter()
            .filter(|r| !is_own(r))
            .filter_map(|r| data_of.get(&r.toc_id?))
            .find(|d| out.contains_key(d));
        if own_rows_kept && let Some(missing) = referenced_rows_out {
            out.insert(id, Some(*missing));
        }
    }
}

/// The entries kept and those left out with the reason; an error when nothing is kept.
fn chosen(
    entries: &[DumpEntry],
    by_id: &HashMap<u32, &DumpEntry>,
    out: &LeftOutIds,
) -> Result<Chosen> {
    let describe_id = |id: u32| {
        by_id
            .get(&id)
            .map(|e| describe(&e.kind, e.schema.as_deref(), &e.name))
            .unwrap_or_else(|| format!("entry {id}"))
    };
    if entries.iter().all(|e| e.toc_id.is_none_or(|id| out.contains_key(&id))) {
        return Err(Error::InvalidInput {
            field: "selection",
            problem: "nothing would be restored: everything chosen needs something that is left \
                      out (a view needs its tables, for example); choose those too"
                .into(),
        });
    }
    let mut chosen = Chosen::default();
    for entry in entries {
        let Some(id) = entry.toc_id else { continue };
        match out.get(&id) {
            None => {
                chosen.keep.insert(id);
            }
            Some(because) => chosen.left_out.push(LeftOut {
                id,
                kind: entry.kind.clone(),
                schema: entry.schema.clone(),
                name: entry.name.clone(),
                because: because.map(describe_id),
            }),
        }
    }
    Ok(chosen)
}

/// Rule 2: with `--table`, everything not reached from the named relations is left out.
fn keep_tables(
    entries: &[DumpEntry],
    by_id: &HashMap<u32, &DumpEntry>,
    tables: &[String],
    out: &mut LeftOutIds,
) -> Result<()> {
    let mut core = named_relations(entries, tables, out)?;
    let mut support: HashSet<u32> = HashSet::new();
    // A seed that needs another table pulls nothing; rule 3 then leaves it out, naming what it
    // needs.
    let seeds: Vec<u32> = core.iter().copied().collect();
    for seed in seeds {
        let kept: HashSet<u32> = core.union(&support).copied().collect();
        if let Some(pulled) = definitions_needed(seed, &kept, by_id, out) {
            support.extend(pulled);
        }
    }
    attach(entries, by_id, out, &mut core, &mut support);
    // What belongs to a kept relation but needs something else (a foreign key to a table not
    // chosen) is left to rule 3, which names what it needs.
    for entry in entries {
        if let Some(id) = entry.toc_id
            && !core.contains(&id)
            && !support.contains(&id)
            && !(ATTACHED.contains(&entry.kind.as_str())
                && entry.deps.iter().any(|d| core.contains(d)))
        {
            out.entry(id).or_insert(None);
        }
    }
    Ok(())
}

/// The relations `--table` names, among those not left out already.
fn named_relations(
    entries: &[DumpEntry],
    tables: &[String],
    out: &LeftOutIds,
) -> Result<HashSet<u32>> {
    let matches = |e: &DumpEntry, pattern: &str| {
        e.name == pattern
            || e.schema.as_deref().is_some_and(|s| format!("{s}.{}", e.name) == pattern)
    };
    let mut core: HashSet<u32> = HashSet::new();
    for pattern in tables {
        let found: Vec<u32> = entries
            .iter()
            .filter(|e| RELATIONS.contains(&e.kind.as_str()) && matches(e, pattern))
            .filter_map(|e| e.toc_id)
            .filter(|id| !out.contains_key(id))
            .collect();
        if found.is_empty() {
            return Err(Error::InvalidInput {
                field: "table",
                problem: format!(
                    "the backup has no table, view or sequence {pattern} (among the schemas \
                     chosen); write it as schema.table to be exact"
                ),
            });
        }
        core.extend(found);
    }
    Ok(core)
}

/// The definitions `id` needs, transitively; None when it needs something that cannot come
/// along (another table, a left-out schema).
fn definitions_needed(
    id: u32,
    kept: &HashSet<u32>,
    by_id: &HashMap<u32, &DumpEntry>,
    out: &LeftOutIds,
) -> Option<HashSet<u32>> {
    let mut pulled = HashSet::new();
    let mut todo = vec![id];
    while let Some(next) = todo.pop() {
        for dep in by_id.get(&next).map(|e| e.deps.as_slice()).unwrap_or_default() {
            if kept.contains(dep) || pulled.contains(dep) {
                continue;
            }
            // Ids outside the archive (objects pg_dump did not dump) need nothing.
            let Some(entry) = by_id.get(dep) else { continue };
            if out.contains_key(dep) || !SUPPORT.contains(&entry.kind.as_str()) {
                return None;
            }
            pulled.insert(*dep);
            todo.push(*dep);
        }
    }
    Some(pulled)
}

/// Brings along what belongs to the kept relations (indexes, constraints, data …) when all it
/// needs can come too, until nothing changes.
fn attach(
    entries: &[DumpEntry],
    by_id: &HashMap<u32, &DumpEntry>,
    out: &LeftOutIds,
    core: &mut HashSet<u32>,
    support: &mut HashSet<u32>,
) {
    loop {
        let mut changed = false;
        for entry in entries {
            let Some(id) = entry.toc_id else { continue };
            if core.contains(&id)
                || support.contains(&id)
                || out.contains_key(&id)
                || !ATTACHED.contains(&entry.kind.as_str())
                || !entry.deps.iter().any(|d| core.contains(d))
            {
                continue;
            }
            let kept: HashSet<u32> = core.union(support).copied().collect();
            if let Some(pulled) = definitions_needed(id, &kept, by_id, out)
                // A trigger's function may work on tables not restored (an audit log); without
                // them every write to the table would fail, so it comes only with its function.
                && (entry.kind != "TRIGGER" || pulled.is_empty())
            {
                support.extend(pulled);
                core.insert(id);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// A kept object of a scoped backup that needs an object the scope leaves out: the backup
/// would carry it and every restore of the backup would fail on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenDependency {
    /// "TRIGGER sales.orders orders_audit".
    pub dependent: String,
    dependent_id: Option<u32>,
    dependent_kind: String,
    dependent_schema: Option<String>,
    dependent_name: String,
    /// "FUNCTION audit.log_change()".
    pub needs: String,
    needed_kind: String,
    needed_schema: Option<String>,
    needed_name: String,
}

impl BrokenDependency {
    pub fn sentence(&self) -> String {
        format!("{} needs {}", self.dependent, self.needs)
    }

    /// The extension needed, when that is what is needed.
    pub fn needed_extension(&self) -> Option<&str> {
        (self.needed_kind == "EXTENSION").then_some(self.needed_name.as_str())
    }
}

/// Database-wide kinds that pg_dump leaves out of a `--schema` or `--table` dump (it dumps
/// them only when it dumps "everything"), with the parts that publish tables.
const LEFT_OUT_BY_NAMED_SCOPES: &[&str] = &[
    "ACCESS METHOD",
    "BLOB",
    "BLOB METADATA",
    "BLOBS",
    "CAST",
    "DEFAULT ACL",
    "EVENT TRIGGER",
    "FOREIGN DATA WRAPPER",
    "LARGE OBJECT",
    "PROCEDURAL LANGUAGE",
    "PUBLICATION",
    "PUBLICATION TABLE",
    "PUBLICATION TABLES IN SCHEMA",
    "SERVER",
    "SUBSCRIPTION",
    "TRANSFORM",
    "USER MAPPING",
];

/// Whether pg_dump with `--schema` or `--table` leaves the entry out for being database-wide:
/// one of [`LEFT_OUT_BY_NAMED_SCOPES`] (a schema's default privileges stay with the schema), an
/// extension the scope does not name, or a comment, grant or label on one of those.
fn database_wide_left_out(
    entry: &DumpEntry,
    by_id: &HashMap<u32, &DumpEntry>,
    scope: &BackupScope,
) -> bool {
    let kind = entry.kind.as_str();
    let left_out = |e: &DumpEntry| {
        (LEFT_OUT_BY_NAMED_SCOPES.contains(&e.kind.as_str())
            && (e.kind != "DEFAULT ACL" || e.schema.is_none()))
            || (e.kind == "EXTENSION" && !scope.extensions.contains(&e.name))
    };
    left_out(entry)
        || (matches!(kind, "COMMENT" | "ACL" | "SECURITY LABEL")
            && entry.schema.is_none()
            && entry.deps.iter().any(|d| by_id.get(d).is_some_and(|e| left_out(e))))
}

/// What pg_dump with a backup's scope carries, as a selection of a whole database's entries.
/// `--table` selects regardless of the schema options and carries only the relations, what
/// belongs to them and (created by the restore) their schemas: no type, function or other
/// table they need. `--schema` and `--table` leave out database-wide objects (extensions,
/// casts, transforms, languages, foreign data wrappers …) that kept objects may need.
pub fn scope_selection(entries: &[DumpEntry], scope: &BackupScope) -> Selection {
    let excluded = |e: &DumpEntry| {
        RELATIONS.contains(&e.kind.as_str())
            && e.schema.as_deref().is_some_and(|s| {
                scope.exclude_tables.iter().any(|spec| split_table(spec) == (s, e.name.as_str()))
            })
    };
    let mut exclude_entries: Vec<u32> =
        entries.iter().filter(|e| excluded(e)).filter_map(|e| e.toc_id).collect();
    if scope.names_objects() {
        let by_id = by_id(entries);
        let wide = entries.iter().filter(|e| database_wide_left_out(e, &by_id, scope));
        exclude_entries.extend(wide.filter_map(|e| e.toc_id));
    }
    if !scope.tables.is_empty() {
        let carried = carried_with_tables(entries, &scope.tables, &exclude_entries);
        exclude_entries =
            entries.iter().filter_map(|e| e.toc_id).filter(|id| !carried.contains(id)).collect();
        return Selection { exclude_entries, ..Default::default() };
    }
    // pg_dump ignores an excluded schema that does not exist; the selection would refuse it.
    let present: BTreeSet<&str> = entries.iter().filter_map(home).collect();
    let exclude_schemas =
        scope.exclude_schemas.iter().filter(|s| present.contains(s.as_str())).cloned().collect();
    Selection {
        schemas: scope.schemas.clone(),
        exclude_schemas,
        tables: Vec::new(),
        exclude_entries,
    }
}

/// The schemas whose objects a backup with `scope` carries, of the entries of a whole
/// database: the files of a one-file-per-schema backup.
pub fn schemas_carried(entries: &[DumpEntry], scope: &BackupScope) -> Vec<String> {
    // Grants on catalog objects name pg_catalog; it is never a file of its own.
    let user = |s: &&str| *s != "information_schema" && !s.starts_with("pg_");
    let schemas: BTreeSet<&str> =
        entries.iter().filter_map(home).filter(user).filter(|s| scope.carries_schema(s)).collect();
    schemas.into_iter().map(str::to_owned).collect()
}

/// The ids a `--table` dump carries: the named relations, what belongs to them, schemas and
/// the database-wide entries not `excluded`.
fn carried_with_tables(entries: &[DumpEntry], tables: &[String], excluded: &[u32]) -> HashSet<u32> {
    let named = |e: &DumpEntry| {
        e.schema
            .as_deref()
            .is_some_and(|s| tables.iter().any(|spec| split_table(spec) == (s, e.name.as_str())))
    };
    let mut carried: HashSet<u32> = entries
        .iter()
        .filter(|e| RELATIONS.contains(&e.kind.as_str()) && named(e))
        .filter_map(|e| e.toc_id)
        .filter(|id| !excluded.contains(id))
        .collect();
    loop {
        let before = carried.len();
        for entry in entries.iter().filter(|e| ATTACHED.contains(&e.kind.as_str())) {
            if let Some(id) = entry.toc_id
                && entry.deps.iter().any(|d| carried.contains(d))
            {
                carried.insert(id);
            }
        }
        if carried.len() == before {
            break;
        }
    }
    let always = entries.iter().filter(|e| e.kind == "SCHEMA" || home(e).is_none());
    carried.extend(always.filter_map(|e| e.toc_id).filter(|id| !excluded.contains(id)));
    carried
}

/// The kept objects of a backup with `scope` that need objects it leaves out, from the entries
/// of a schema-only dump of the whole database. Only the first link of each chain is named
/// (a table needing an excluded type, not also that table's key and data).
pub fn broken_dependencies(
    entries: &[DumpEntry],
    scope: &BackupScope,
) -> Result<Vec<BrokenDependency>> {
    broken_dependencies_without(entries, scope, &BTreeSet::new())
}

/// [`broken_dependencies`] of a backup that also leaves out the entries `left_out`.
fn broken_dependencies_without(
    entries: &[DumpEntry],
    scope: &BackupScope,
    left_out: &BTreeSet<u32>,
) -> Result<Vec<BrokenDependency>> {
    let by_id = by_id(entries);
    let mut selection = scope_selection(entries, scope);
    selection.exclude_entries.extend(left_out.iter().copied());
    let out = left_out_ids(entries, &by_id, &selection)?;
    let mut broken = Vec::new();
    for entry in entries {
        let Some(Some(_)) = entry.toc_id.and_then(|id| out.get(&id)) else { continue };
        let needed = BTreeSet::from_iter(&entry.deps)
            .into_iter()
            .filter(|d| out.get(d) == Some(&None))
            .filter_map(|d| by_id.get(d).copied())
            .filter(|n| !belongs_to(entry, n))
            .collect::<Vec<_>>();
        // A key of a needed table is needed with it: the table is named, not also its key.
        let parts =
            |n: &&DumpEntry| needed.iter().any(|m| m.toc_id != n.toc_id && belongs_to(n, m));
        for needed in needed.iter().filter(|n| !parts(n)) {
            broken.push(BrokenDependency {
                dependent: describe(&entry.kind, entry.schema.as_deref(), &entry.name),
                dependent_id: entry.toc_id,
                dependent_kind: entry.kind.clone(),
                dependent_schema: entry.schema.clone(),
                dependent_name: entry.name.clone(),
                needs: describe(&needed.kind, needed.schema.as_deref(), &needed.name),
                needed_kind: needed.kind.clone(),
                needed_schema: home(needed).map(str::to_owned),
                needed_name: needed.name.clone(),
            });
        }
    }
    Ok(broken)
}

/// Whether `entry` is a part of `owner` (its key, data, comment, grant …), which pg_dump
/// leaves out with it. Tags name their owner: "orders orders_pkey", "TABLE orders",
/// "COLUMN orders.id".
fn belongs_to(entry: &DumpEntry, owner: &DumpEntry) -> bool {
    let name = owner.name.as_str();
    entry.schema == owner.schema
        && (entry.name == name
            || entry.name.starts_with(&format!("{name} "))
            || entry.name.ends_with(&format!(" {name}"))
            || entry.name.contains(&format!(" {name}."))
            // An index or an owned sequence depends on its table without naming it.
            || (matches!(entry.kind.as_str(), "INDEX" | "SEQUENCE")
                && RELATIONS.contains(&owner.kind.as_str())))
}

/// The scope widened so that it carries what its kept objects need, with a sentence per
/// schema or table added; what no scope option can carry (a function with `--table`) stays
/// in the returned list.
pub fn keep_needed(
    entries: &[DumpEntry],
    scope: &BackupScope,
) -> Result<(BackupScope, Vec<String>, Vec<BrokenDependency>)> {
    let mut scope = scope.clone();
    let mut added = Vec::new();
    // What a widened scope brings may need more in turn: until nothing more can be added.
    loop {
        let mut unfixable = Vec::new();
        let mut widened = false;
        for b in broken_dependencies(entries, &scope)? {
            match widen(&mut scope, &b) {
                Some(what) => {
                    added.push(format!("Kept {what} in the backup: {}.", b.sentence()));
                    widened = true;
                }
                None => unfixable.push(b),
            }
        }
        if !widened {
            return Ok((scope, added, unfixable));
        }
    }
}

/// The scope narrowed, and the objects to leave out, so that nothing the backup carries needs
/// what it leaves out: a relation that does is excluded from the dump (`--exclude-table`),
/// anything else is returned to be left out at every restore. What is left out may be needed
/// in turn: until nothing more is. Each returned sentence names one object and its need.
pub fn leave_out_dependents(
    entries: &[DumpEntry],
    scope: &BackupScope,
) -> Result<(BackupScope, Vec<DependentLeftOut>, Vec<String>)> {
    let mut scope = scope.clone();
    let mut ids = BTreeSet::new();
    let mut left_out = Vec::new();
    let mut sentences = Vec::new();
    loop {
        let before = sentences.len();
        for b in broken_dependencies_without(entries, &scope, &ids)? {
            let schema = b.dependent_schema.clone();
            if RELATIONS.contains(&b.dependent_kind.as_str()) && schema.is_some() {
                let spec = format!("{}.{}", schema.unwrap_or_default(), b.dependent_name);
                if scope.exclude_tables.contains(&spec) {
                    continue;
                }
                scope.exclude_tables.push(spec);
            } else if !b.dependent_id.is_some_and(|id| ids.insert(id)) {
                continue;
            } else {
                left_out.push(DependentLeftOut {
                    kind: b.dependent_kind.clone(),
                    schema,
                    name: b.dependent_name.clone(),
                    needs: b.needs.clone(),
                    file_schema: None,
                });
            }
            sentences.push(format!("Left out {}: it needs {}.", b.dependent, b.needs));
        }
        if sentences.len() == before {
            return Ok((scope, left_out, sentences));
        }
    }
}

/// Widens `scope` to carry what `broken` needs; None when it does already or cannot.
fn widen(scope: &mut BackupScope, broken: &BrokenDependency) -> Option<String> {
    if broken.needed_kind == "EXTENSION" {
        if scope.extensions.contains(&broken.needed_name) {
            return None;
        }
        scope.extensions.push(broken.needed_name.clone());
        return Some(format!("extension {}", broken.needed_name));
    }
    let schema = broken.needed_schema.as_deref()?;
    let relation = RELATIONS.contains(&broken.needed_kind.as_str());
    let spec = format!("{schema}.{}", broken.needed_name);
    let names_it = |t: &String| split_table(t) == (schema, broken.needed_name.as_str());
    if relation && scope.exclude_tables.iter().any(names_it) {
        scope.exclude_tables.retain(|t| !names_it(t));
        return Some(format!("table {spec}"));
    }
    if !scope.tables.is_empty() {
        if !relation || scope.tables.iter().any(names_it) {
            return None;
        }
        scope.tables.push(spec.clone());
        return Some(format!("table {spec}"));
    }
    if scope.exclude_schemas.iter().any(|s| s == schema) {
        scope.exclude_schemas.retain(|s| s != schema);
        return Some(format!("schema {schema}"));
    }
    if !scope.schemas.is_empty() && !scope.schemas.iter().any(|s| s == schema) {
        scope.schemas.push(schema.to_owned());
        return Some(format!("schema {schema}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The archive of a real dump (`pg_restore --list --verbose`, PostgreSQL 18): schemas audit
    /// and sales, a trigger on sales.orders calling audit.log_change(), a table in public whose
    /// column has the type audit.level, a view in public on audit.log, and hstore.
    fn shop() -> Vec<DumpEntry> {
        let rows: &[(u32, &str, &str, &str, &[u32])] = &[
            (8, "SCHEMA", "-", "audit", &[]),
            (7, "SCHEMA", "-", "sales", &[]),
            (2, "EXTENSION", "-", "hstore", &[]),
            (2717, "COMMENT", "-", "EXTENSION hstore", &[2]),
            (936, "TYPE", "audit", "level", &[8]),
            (231, "FUNCTION", "audit", "log_change()", &[8]),
            (228, "TABLE", "audit", "log", &[8]),
            (227, "SEQUENCE", "audit", "log_id_seq", &[228, 8]),
            (2718, "SEQUENCE OWNED BY", "audit", "log_id_seq", &[227]),
            (226, "TABLE", "public", "settings", &[936]),
            (229, "VIEW", "public", "v", &[228, 228]),
            (223, "TABLE", "sales", "customers", &[7]),
            (222, "SEQUENCE", "sales", "customers_id_seq", &[7, 223]),
            (2719, "SEQUENCE OWNED BY", "sales", "customers_id_seq", &[222]),
            (225, "TABLE", "sales", "orders", &[7]),
            (224, "SEQUENCE", "sales", "orders_id_seq", &[225, 7]),
            (2720, "SEQUENCE OWNED BY", "sales", "orders_id_seq", &[224]),
            (230, "TABLE", "sales", "x", &[7, 2]),
            (2543, "DEFAULT", "audit", "log id", &[227, 228]),
            (2541, "DEFAULT", "sales", "customers id", &[223, 222]),
            (2542, "DEFAULT", "sales", "orders id", &[225, 224]),
            (2709, "TABLE DATA", "audit", "log", &[228]),
            (2707, "TABLE DATA", "public", "settings", &[226]),
            (2704, "TABLE DATA", "sales", "customers", &[223]),
            (2706, "TABLE DATA", "sales", "orders", &[225]),
            (2710, "TABLE DATA", "sales", "x", &[230]),
            (2721, "SEQUENCE SET", "audit", "log_id_seq", &[227]),
            (2722, "SEQUENCE SET", "sales", "customers_id_seq", &[222]),
            (2723, "SEQUENCE SET", "sales", "orders_id_seq", &[224]),
            (2552, "CONSTRAINT", "audit", "log log_pkey", &[228]),
            (2550, "CONSTRAINT", "public", "settings settings_pkey", &[226]),
            (2546, "CONSTRAINT", "sales", "customers customers_pkey", &[223]),
            (2548, "CONSTRAINT", "sales", "orders orders_pkey", &[225]),
            (2554, "TRIGGER", "sales", "orders orders_audit", &[225, 231]),
            (2553, "FK CONSTRAINT", "sales", "orders orders_customer_id_fkey", &[223, 225, 2546]),
        ];
        rows.iter()
            .enumerate()
            .map(|(i, (id, kind, schema, name, deps))| DumpEntry {
                ordinal: i + 1,
                toc_id: Some(*id),
                name: (*name).to_owned(),
                kind: (*kind).to_owned(),
                schema: (*schema != "-").then(|| (*schema).to_owned()),
                owner: Some("postgres".into()),
                roles: BTreeSet::new(),
                deps: deps.to_vec(),
            })
            .collect()
    }

    fn entry(id: u32, kind: &str, schema: &str, name: &str, deps: &[u32]) -> DumpEntry {
        DumpEntry {
            ordinal: id as usize,
            toc_id: Some(id),
            name: name.into(),
            kind: kind.into(),
            schema: (schema != "-").then(|| schema.into()),
            owner: Some("postgres".into()),
            roles: BTreeSet::new(),
            deps: deps.to_vec(),
        }
    }

    fn out_ids(chosen: &Chosen) -> BTreeSet<u32> {
        chosen.left_out.iter().map(|l| l.id).collect()
    }

    fn because(chosen: &Chosen, id: u32) -> Option<String> {
        chosen.left_out.iter().find(|l| l.id == id).and_then(|l| l.because.clone())
    }

    #[test]
    fn an_empty_selection_keeps_everything() {
        let chosen = choose(&shop(), &Selection::default()).unwrap();
        assert_eq!(chosen.keep.len(), shop().len());
        assert!(chosen.left_out.is_empty());
    }

    #[test]
    fn excluding_a_schema_leaves_out_what_depends_on_it_elsewhere() {
        let selection = Selection { exclude_schemas: vec!["audit".into()], ..Default::default() };
        let chosen = choose(&shop(), &selection).unwrap();
        // The trigger on sales.orders calls audit.log_change(): it goes, the table stays.
        assert_eq!(because(&chosen, 2554).as_deref(), Some("FUNCTION audit.log_change()"));
        assert!(chosen.keep.contains(&225) && chosen.keep.contains(&2706));
        // public.settings uses the type audit.level, and its data and key go with it.
        assert_eq!(because(&chosen, 226).as_deref(), Some("TYPE audit.level"));
        assert_eq!(because(&chosen, 2707).as_deref(), Some("TABLE public.settings"));
        assert!(out_ids(&chosen).contains(&2550));
        assert_eq!(because(&chosen, 229).as_deref(), Some("TABLE audit.log"));
        // The schema's own entries are left out by choice.
        assert_eq!(because(&chosen, 231), None);
        assert!(out_ids(&chosen).contains(&8));
        // Nothing of sales beyond the trigger, and hstore stays.
        for id in [7, 2, 2717, 223, 222, 2541, 2542, 2553, 2546, 230, 2710, 2723] {
            assert!(chosen.keep.contains(&id), "{id} should be kept");
        }
    }

    #[test]
    fn one_schema_keeps_database_wide_entries_and_drops_dependents_of_others() {
        let selection = Selection { schemas: vec!["sales".into()], ..Default::default() };
        let chosen = choose(&shop(), &selection).unwrap();
        assert_eq!(because(&chosen, 2554).as_deref(), Some("FUNCTION audit.log_change()"));
        assert!(chosen.keep.contains(&7) && chosen.keep.contains(&2) && chosen.keep.contains(&230));
        assert!(!chosen.keep.contains(&8) && !chosen.keep.contains(&226));
        assert_eq!(chosen.keep.iter().filter(|id| [225, 2706, 2553].contains(*id)).count(), 3);
    }

    #[test]
    fn a_table_comes_with_its_data_sequence_default_and_key() {
        let selection = Selection { tables: vec!["sales.orders".into()], ..Default::default() };
        let chosen = choose(&shop(), &selection).unwrap();
        let keep: BTreeSet<u32> = chosen.keep.iter().copied().collect();
        // The table, its data, its serial sequence (value too), default, key and schema. Not
        // customers, so not the foreign key; not the trigger, whose function writes to audit.log.
        let expected: BTreeSet<u32> =
            [225, 2706, 224, 2720, 2723, 2542, 2548, 7].into_iter().collect();
        assert_eq!(keep, expected);
        assert_eq!(because(&chosen, 2553).as_deref(), Some("TABLE sales.customers"));
        assert_eq!(because(&chosen, 2554).as_deref(), Some("FUNCTION audit.log_change()"));
    }

    #[test]
    fn two_tables_keep_the_foreign_key_between_them_and_a_table_name_alone_matches() {
        let selection =
            Selection { tables: vec!["orders".into(), "customers".into()], ..Default::default() };
        let chosen = choose(&shop(), &selection).unwrap();
        assert!(chosen.keep.contains(&2553) && chosen.keep.contains(&2546));
        assert!(!chosen.keep.contains(&228));
    }

    #[test]
    fn a_view_alone_without_its_table_is_refused_as_restoring_nothing() {
        let selection = Selection { tables: vec!["public.v".into()], ..Default::default() };
        let error = choose(&shop(), &selection).unwrap_err();
        assert!(error.to_string().contains("nothing would be restored"), "{error}");
        let selection =
            Selection { tables: vec!["public.v".into(), "audit.log".into()], ..Default::default() };
        assert!(choose(&shop(), &selection).unwrap().keep.contains(&229));
    }

    #[test]
    fn a_foreign_key_goes_when_its_table_gets_rows_but_the_referenced_one_does_not() {
        let selection = Selection { exclude_entries: vec![2704], ..Default::default() };
        let chosen = choose(&shop(), &selection).unwrap();
        assert_eq!(because(&chosen, 2553).as_deref(), Some("TABLE DATA sales.customers"));
        // Without the referencing rows (orders) the key stays: an empty table satisfies it.
        for excluded in [vec![2706], vec![2704, 2706]] {
            let selection = Selection { exclude_entries: excluded, ..Default::default() };
            assert!(choose(&shop(), &selection).unwrap().keep.contains(&2553));
        }
    }

    #[test]
    fn unticking_a_tables_data_keeps_its_definition() {
        let selection = Selection { exclude_entries: vec![2706], ..Default::default() };
        let chosen = choose(&shop(), &selection).unwrap();
        assert_eq!(out_ids(&chosen), BTreeSet::from([2706]));
        let selection = Selection { exclude_entries: vec![223], ..Default::default() };
        let chosen = choose(&shop(), &selection).unwrap();
        // customers without its definition: data, sequence, default, key and the foreign key go.
        for id in [2704, 222, 2719, 2722, 2541, 2546, 2553] {
            assert!(out_ids(&chosen).contains(&id), "{id} should be left out");
        }
        assert!(chosen.keep.contains(&225));
    }

    #[test]
    fn unknown_names_are_refused_with_what_exists() {
        let error =
            choose(&shop(), &Selection { schemas: vec!["sale".into()], ..Default::default() })
                .unwrap_err();
        assert!(error.to_string().contains("audit, public, sales"), "{error}");
        let error =
            choose(&shop(), &Selection { tables: vec!["nope".into()], ..Default::default() })
                .unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
        assert!(
            choose(&shop(), &Selection { exclude_entries: vec![1], ..Default::default() }).is_err()
        );
    }

    fn sentences(broken: &[BrokenDependency]) -> Vec<String> {
        broken.iter().map(BrokenDependency::sentence).collect()
    }

    #[test]
    fn a_backup_excluding_a_schema_names_the_kept_objects_that_need_it() {
        let scope = BackupScope { exclude_schemas: vec!["audit".into()], ..Default::default() };
        // The first link of each chain only: not public.settings' data or key.
        assert_eq!(
            sentences(&broken_dependencies(&shop(), &scope).unwrap()),
            [
                "TABLE public.settings needs TYPE audit.level",
                "VIEW public.v needs TABLE audit.log",
                "TRIGGER sales.orders orders_audit needs FUNCTION audit.log_change()",
            ]
        );
        let (widened, added, left) = keep_needed(&shop(), &scope).unwrap();
        assert!(widened.exclude_schemas.is_empty() && left.is_empty());
        assert_eq!(added.len(), 1, "{added:?}");
        assert!(added[0].starts_with("Kept schema audit in the backup: "), "{added:?}");
        // Nothing outside public needs it; an unknown schema is pg_dump's to ignore.
        for excluded in ["public", "nope"] {
            let scope =
                BackupScope { exclude_schemas: vec![excluded.into()], ..Default::default() };
            assert!(broken_dependencies(&shop(), &scope).unwrap().is_empty(), "{excluded}");
        }
    }

    #[test]
    fn leaving_out_dependents_excludes_relations_and_names_the_rest() {
        let scope = BackupScope { exclude_schemas: vec!["audit".into()], ..Default::default() };
        let (narrowed, left_out, sentences) = leave_out_dependents(&shop(), &scope).unwrap();
        assert_eq!(narrowed.exclude_tables, ["public.settings", "public.v"]);
        assert_eq!(narrowed.exclude_schemas, ["audit"]);
        // pg_dump cannot leave out a trigger: the manifest names it for every restore.
        assert_eq!(
            left_out,
            [DependentLeftOut {
                kind: "TRIGGER".into(),
                schema: Some("sales".into()),
                name: "orders orders_audit".into(),
                needs: "FUNCTION audit.log_change()".into(),
                file_schema: None,
            }]
        );
        assert_eq!(sentences.len(), 3, "{sentences:?}");
        assert!(
            broken_dependencies_without(&shop(), &narrowed, &BTreeSet::from([2554]))
                .unwrap()
                .is_empty()
        );
        // What is left out may be needed in turn: a view on a left-out view goes too.
        let mut entries = shop();
        entries.push(entry(400, "VIEW", "public", "w", &[229]));
        let (narrowed, _, _) = leave_out_dependents(&entries, &scope).unwrap();
        assert_eq!(narrowed.exclude_tables, ["public.settings", "public.v", "public.w"]);
    }

    #[test]
    fn one_schema_cannot_carry_database_wide_objects_its_functions_need() {
        let mut entries = shop();
        entries.push(entry(300, "TRANSFORM", "-", "TRANSFORM FOR integer LANGUAGE sql", &[]));
        entries.push(entry(301, "COMMENT", "-", "TRANSFORM FOR integer LANGUAGE sql", &[300]));
        entries.push(entry(302, "FUNCTION", "sales", "f(integer)", &[7, 300]));
        let scope = BackupScope {
            schemas: vec!["sales".into(), "audit".into()],
            extensions: vec!["hstore".into()],
            ..Default::default()
        };
        let broken = broken_dependencies(&entries, &scope).unwrap();
        assert_eq!(
            sentences(&broken),
            ["FUNCTION sales.f(integer) needs TRANSFORM FOR integer LANGUAGE sql"]
        );
        let (_, _, unfixable) = keep_needed(&entries, &scope).unwrap();
        assert_eq!(unfixable.len(), 1);
        let (_, left_out, _) = leave_out_dependents(&entries, &scope).unwrap();
        assert_eq!(left_out[0].name, "f(integer)");
        // Excluding a schema keeps database-wide objects, as pg_dump does.
        let scope = BackupScope { exclude_schemas: vec!["public".into()], ..Default::default() };
        assert!(broken_dependencies(&entries, &scope).unwrap().is_empty());
    }

    #[test]
    fn one_schema_adds_the_schemas_its_objects_need() {
        let scope = BackupScope { schemas: vec!["sales".into()], ..Default::default() };
        // pg_dump --schema carries no extension: sales.x needs hstore named (--extension).
        assert_eq!(
            sentences(&broken_dependencies(&shop(), &scope).unwrap()),
            [
                "TABLE sales.x needs EXTENSION hstore",
                "TRIGGER sales.orders orders_audit needs FUNCTION audit.log_change()",
            ]
        );
        let (widened, added, left) = keep_needed(&shop(), &scope).unwrap();
        assert_eq!(widened.schemas, ["sales", "audit"]);
        assert_eq!(widened.extensions, ["hstore"]);
        assert!(left.is_empty() && added.len() == 2, "{added:?}");
    }

    #[test]
    fn a_table_backup_adds_the_tables_it_needs_but_cannot_carry_a_function() {
        let scope = BackupScope { tables: vec!["sales.orders".into()], ..Default::default() };
        assert_eq!(
            sentences(&broken_dependencies(&shop(), &scope).unwrap()),
            [
                "TRIGGER sales.orders orders_audit needs FUNCTION audit.log_change()",
                "FK CONSTRAINT sales.orders orders_customer_id_fkey needs TABLE sales.customers",
            ]
        );
        let (widened, added, left) = keep_needed(&shop(), &scope).unwrap();
        assert_eq!(widened.tables, ["sales.orders", "sales.customers"]);
        assert_eq!(added.len(), 1);
        assert_eq!(
            sentences(&left),
            ["TRIGGER sales.orders orders_audit needs FUNCTION audit.log_change()"]
        );
    }

    #[test]
    fn an_excluded_table_takes_its_own_parts_and_names_the_keys_pointing_at_it() {
        let scope =
            BackupScope { exclude_tables: vec!["sales.customers".into()], ..Default::default() };
        assert_eq!(
            sentences(&broken_dependencies(&shop(), &scope).unwrap()),
            ["FK CONSTRAINT sales.orders orders_customer_id_fkey needs TABLE sales.customers"]
        );
        let (widened, _, left) = keep_needed(&shop(), &scope).unwrap();
        assert!(widened.exclude_tables.is_empty() && left.is_empty());
    }

    #[test]
    fn the_tree_lists_objects_and_ties_data_to_its_relation() {
        let items = items(&shop());
        let data = items.iter().find(|i| i.id == 2706).unwrap();
        assert_eq!(data.data_of, Some(225));
        let sequence_value = items.iter().find(|i| i.id == 2723).unwrap();
        assert_eq!(sequence_value.data_of, Some(224));
        assert!(items.iter().all(|i| i.kind != "CONSTRAINT" && i.kind != "DEFAULT"));
    }
}
