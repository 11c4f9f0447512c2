//! Reading a whole backup with the bundled pg_restore, without a server: the full read that is
//! the integrity check, and the table of contents.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::NullSink;
use crate::base::tools::{BundledMajor, Tool};
use crate::format::sqltext::{DumpEntry, DumpFacts, DumpScanner};
use crate::pg::runner::{self, PipeSource, Route, StdoutTo, ToolCommand};
use crate::util::{naming, private_fs};

/// Reads the whole backup once: an archive through `pg_restore --verbose -f -` (a damaged or
/// truncated archive fails here, where `--list` alone would not notice), a plain dump as it is.
/// SQL text holding a psql backslash command other than pg_dump's own (`\!`, `\o |…`, `\copy`,
/// `\i` …) is refused here, before anything runs: [`Error::BackupHasMetaCommands`].
pub async fn full_read(
    source: &Path,
    reader: Option<&BundledMajor>,
    cancel: &CancellationToken,
) -> Result<DumpFacts> {
    scan(source, reader, &[], cancel).await
}

/// What an archive defines, without decompressing its data: the SQL of every entry but those
/// holding data blocks (table data, large objects' contents), read like [`full_read`] reads the
/// whole (`pg_restore --verbose -f - --use-list`, backslash commands refused alike), and those
/// data entries from the table of contents (`pg_restore --list --verbose`), each with its TOC
/// id, dependencies, schema, name and owner as a full read names them. (`--schema-only` would
/// miss more: pg_dump 17+ puts large objects' grants and comments in the data section.)
///
/// This is no integrity check: a truncated or damaged data block goes unnoticed here. Callers
/// use it only where every file's sha256 was just checked against the manifest and a restore
/// reads every entry's data anyway (a drill), so that the data is decompressed once instead of
/// three times. A plain SQL file has no separate definitions: it is read whole. `scratch` is a
/// folder for the use-list file (removed again).
///
/// Also returns the table of contents it read (`--list --verbose`: [`list`]'s, with each
/// entry's dependencies in comment lines), so that a caller needs no second `--list`.
pub async fn definitions_read(
    source: &Path,
    reader: Option<&BundledMajor>,
    scratch: &Path,
    cancel: &CancellationToken,
) -> Result<(DumpFacts, Option<String>)> {
    let Some(reader) = reader else {
        return Ok((full_read(source, None, cancel).await?, None));
    };
    let list = list_with(reader, source, &["--verbose"], cancel).await?;
    let use_list = UseList::write(scratch, &without_data_blocks(&list))?;
    let use_arg = format!("--use-list={}", use_list.0.display());
    let mut facts = scan(source, Some(reader), &[use_arg.as_str()], cancel).await?;
    drop(use_list);
    add_data_entries(&mut facts, &list);
    Ok((facts, Some(list)))
}

/// Entries whose content is a data block in the archive rather than SQL in its table of
/// contents: what a definitions read leaves to the restore.
const DATA_BLOCK_KINDS: [&str; 2] = ["TABLE DATA", "BLOBS"];

fn data_block_kind(rest: &str) -> Option<&'static str> {
    DATA_BLOCK_KINDS
        .iter()
        .find(|k| rest.strip_prefix(**k).is_some_and(|r| r.starts_with(' ')))
        .copied()
}

/// The list with every data-block entry commented out.
fn without_data_blocks(list: &str) -> String {
    let mut out = String::with_capacity(list.len());
    for line in list.lines() {
        let data = listed_line(line).is_some_and(|(_, rest)| data_block_kind(rest).is_some());
        if data {
            out.push(';');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A use-list file, owner-only, removed when dropped.
struct UseList(std::path::PathBuf);

impl UseList {
    fn write(dir: &Path, text: &str) -> Result<UseList> {
        let path = dir.join(format!("read-{}.list", uuid::Uuid::new_v4().simple()));
        let io =
            |source| Error::Io { action: "Writing a list of entries", path: path.clone(), source };
        private_fs::create_private_dirs(dir).map_err(io)?;
        private_fs::write_private_file(&path, text.as_bytes()).map_err(io)?;
        Ok(UseList(path))
    }
}

impl Drop for UseList {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn scan(
    source: &Path,
    reader: Option<&BundledMajor>,
    extra: &[&str],
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
                .args(extra.iter().copied())
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

/// One line of `pg_restore --list --verbose`: `id; tableoid oid KIND schema name owner`, and
/// the `;\tdepends on: …` line after it.
struct Listed<'a> {
    id: u32,
    rest: &'a str,
    deps: Vec<u32>,
}

/// `id; tableoid oid REST` → (id, REST); None for comments and anything else.
fn listed_line(line: &str) -> Option<(u32, &str)> {
    if line.starts_with(';') {
        return None;
    }
    let (id, rest) = line.split_once("; ")?;
    let id = id.trim().parse().ok()?;
    let mut parts = rest.splitn(3, ' ');
    let (Some(_), Some(_), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    Some((id, rest))
}

fn listed_entries(list: &str) -> Vec<Listed<'_>> {
    let mut entries: Vec<Listed<'_>> = Vec::new();
    for line in list.lines() {
        if let Some(deps) = line.strip_prefix(";\tdepends on:") {
            if let Some(last) = entries.last_mut() {
                last.deps = deps.split_whitespace().filter_map(|d| d.parse().ok()).collect();
            }
            continue;
        }
        if let Some((id, rest)) = listed_line(line) {
            entries.push(Listed { id, rest, deps: Vec::new() });
        }
    }
    entries
}

/// Adds the data-block entries the table of contents lists and the definitions read left out,
/// each between the definitions around it in the archive's order. A table's data takes its schema, name and owner from the table it depends on (the list's
/// words are ambiguous when a name holds spaces); large objects' contents from the list,
/// whose first word after the kind is the schema and last the owner.
fn add_data_entries(facts: &mut DumpFacts, list: &str) {
    let listed = listed_entries(list);
    let position: std::collections::HashMap<u32, usize> =
        listed.iter().enumerate().map(|(i, l)| (l.id, i)).collect();
    let scanned: std::collections::HashMap<u32, usize> =
        facts.entries.iter().enumerate().filter_map(|(i, e)| Some((e.toc_id?, i))).collect();
    let mut added = Vec::new();
    for (at, entry) in listed.iter().enumerate() {
        if scanned.contains_key(&entry.id) {
            continue;
        }
        let Some(kind) = data_block_kind(entry.rest) else { continue };
        // `KIND schema name owner`, one space apart; an absent owner leaves an empty last word.
        let words: Vec<&str> = entry.rest[kind.len() + 1..].split(' ').collect();
        let defined = entry
            .deps
            .iter()
            .filter_map(|d| scanned.get(d).map(|i| &facts.entries[*i]))
            .find(|e| e.kind == "TABLE");
        let (schema, name, owner) = match defined {
            Some(def) if kind == "TABLE DATA" => {
                (def.schema.clone(), def.name.clone(), def.owner.clone())
            }
            _ => {
                let word = |w: Option<&&str>| {
                    w.filter(|w| !w.is_empty() && **w != "-").map(|w| (*w).to_owned())
                };
                let middle = if words.len() > 2 {
                    words[1..words.len() - 1].join(" ")
                } else {
                    String::new()
                };
                let owner = if words.len() > 1 { word(words.last()) } else { None };
                (word(words.first()), middle, owner)
            }
        };
        added.push((
            at,
            DumpEntry {
                ordinal: 0,
                toc_id: Some(entry.id),
                name,
                kind: kind.to_owned(),
                schema,
                owner,
                roles: Default::default(),
                deps: entry.deps.clone(),
            },
        ));
    }
    if added.is_empty() {
        return;
    }
    let mut merged = Vec::with_capacity(facts.entries.len() + added.len());
    let mut data = added.into_iter().peekable();
    for entry in std::mem::take(&mut facts.entries) {
        let here = entry.toc_id.and_then(|id| position.get(&id).copied());
        while let Some(next) = data.next_if(|(at, _)| here.is_some_and(|h| *at < h)) {
            merged.push(next.1);
        }
        merged.push(entry);
    }
    merged.extend(data.map(|(_, e)| e));
    for (i, entry) in merged.iter_mut().enumerate() {
        entry.ordinal = i + 1;
    }
    facts.entries = merged;
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
    list_with(reader, source, &[], cancel).await
}

async fn list_with(
    reader: &BundledMajor,
    source: &Path,
    extra: &[&str],
    cancel: &CancellationToken,
) -> Result<String> {
    let command = ToolCommand::new(reader, Tool::PgRestore)?
        .arg("--list")
        .args(extra.iter().copied())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::sqltext::DumpScanner;

    const LIST: &str = ";\n; Selected TOC Entries:\n;\n\
        2596; 0 0 ENCODING - ENCODING \n\
        223; 1259 16411 TABLE public we ird postgres\n\
        2607; 0 0 ACL public TABLE we ird postgres\n\
        ;\tdepends on: 223\n\
        2590; 0 16411 TABLE DATA public we ird postgres\n\
        ;\tdepends on: 223\n\
        2599; 2613 16415 BLOB METADATA - 16415 postgres\n\
        2600; 0 0 BLOBS - 16415 lo owner\n\
        2601; 0 0 BLOBS - BLOBS \n\
        ;\tdepends on: 2599\n\
        2436; 2606 16409 CONSTRAINT public we ird we_pkey postgres\n\
        ;\tdepends on: 223\n";

    #[test]
    fn data_blocks_are_left_to_the_restore_and_listed_as_a_full_read_names_them() {
        let kept = without_data_blocks(LIST);
        assert!(kept.contains("\n;2590; 0 16411 TABLE DATA"), "{kept}");
        assert!(kept.contains("\n;2600; 0 0 BLOBS"), "{kept}");
        assert!(kept.contains("\n2599; 2613 16415 BLOB METADATA"), "{kept}");
        assert!(kept.contains("\n2607; 0 0 ACL"), "{kept}");

        // What the use-listed read scans: every entry but the data blocks, ACLs last.
        let mut scanner = DumpScanner::default();
        for line in [
            "-- TOC entry 223 (class 1259 OID 16411)",
            "-- Name: we ird; Type: TABLE; Schema: public; Owner: postgres",
            "CREATE TABLE public.\"we ird\" (a integer);",
            "-- TOC entry 2599 (class 2613 OID 16415)",
            "-- Name: 16415; Type: BLOB METADATA; Schema: -; Owner: postgres",
            "-- TOC entry 2436 (class 2606 OID 16409)",
            "-- Dependencies: 223",
            "-- Name: we ird we_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres",
            "-- TOC entry 2607 (class 0 OID 0)",
            "-- Dependencies: 223",
            "-- Name: TABLE \"we ird\"; Type: ACL; Schema: public; Owner: postgres",
            "GRANT SELECT ON TABLE public.\"we ird\" TO reader;",
        ] {
            scanner.line(format!("{line}\n").as_bytes());
        }
        let mut facts = scanner.finish();
        add_data_entries(&mut facts, LIST);
        type Seen<'a> = (Option<u32>, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
        let seen: Vec<Seen> = facts
            .entries
            .iter()
            .map(|e| {
                (
                    e.toc_id,
                    e.kind.as_str(),
                    e.name.as_str(),
                    e.schema.as_deref(),
                    e.owner.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (Some(223), "TABLE", "we ird", Some("public"), Some("postgres")),
                (Some(2590), "TABLE DATA", "we ird", Some("public"), Some("postgres")),
                (Some(2599), "BLOB METADATA", "16415", None, Some("postgres")),
                (Some(2600), "BLOBS", "16415 lo", None, Some("owner")),
                (Some(2601), "BLOBS", "BLOBS", None, None),
                (Some(2436), "CONSTRAINT", "we ird we_pkey", Some("public"), Some("postgres")),
                (Some(2607), "ACL", "TABLE \"we ird\"", Some("public"), Some("postgres")),
            ]
        );
        assert_eq!(facts.entries[1].deps, vec![223]);
        assert_eq!(
            facts.entries.iter().map(|e| e.ordinal).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6, 7]
        );
        assert!(facts.roles().contains("reader"));
        assert_eq!(facts.counts().get("TABLE DATA"), Some(&1));
    }
}
