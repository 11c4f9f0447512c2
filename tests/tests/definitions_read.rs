//! The drill's definitions read (the archive's table of contents and every entry's SQL but the
//! data blocks) learns exactly the entries a full read learns — ids, kinds, names, owners, the
//! roles they name and what they depend on — from custom, directory and tar archives of
//! pg_dump 14 and 18, on a database with large objects whose grants and comments pg_dump 17+
//! puts in the data section, names with spaces, a policy, grants and a materialized view. And
//! it does not notice a damaged data block, which is why only a drill that restores next uses it.

use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::base::tools::Tool;
use lifeboat_engine::format::read::{definitions_read, full_read, list};
use lifeboat_engine::format::sqltext::DumpFacts;
use lifeboat_engine::pg::runner::{self, StdoutTo, ToolCommand};
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::toolbox;
use tokio_util::sync::CancellationToken;

const DATA: &str = r#"
    CREATE ROLE defs_reader_ROLES NOLOGIN;
    CREATE ROLE "defs lo reader ROLES" NOLOGIN;
    CREATE SCHEMA "odd schema";
    CREATE TABLE "odd schema"."we ird" (id serial PRIMARY KEY, t text);
    INSERT INTO "odd schema"."we ird" (t) SELECT md5(g::text) FROM generate_series(1, 20000) g;
    CREATE TABLE public.plain (a int);
    INSERT INTO public.plain SELECT g FROM generate_series(1, 50) g;
    CREATE TABLE public.parted (k int, v text) PARTITION BY RANGE (k);
    CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (100);
    INSERT INTO public.parted SELECT g, 'v' FROM generate_series(0, 99) g;
    CREATE SEQUENCE public.lonely;
    SELECT nextval('public.lonely');
    CREATE MATERIALIZED VIEW public.mv AS SELECT count(*) AS n FROM public.plain;
    ALTER TABLE public.plain ENABLE ROW LEVEL SECURITY;
    CREATE POLICY p ON public.plain TO defs_reader_ROLES USING (a > 0);
    GRANT SELECT ON "odd schema"."we ird" TO defs_reader_ROLES;
    SELECT lo_from_bytea(424242, 'large object bytes');
    GRANT SELECT ON LARGE OBJECT 424242 TO "defs lo reader ROLES";
    COMMENT ON LARGE OBJECT 424242 IS 'a comment';
"#;

type Key = (Option<u32>, String, Option<String>, String, Option<String>, Vec<String>, Vec<u32>);

fn keyed(facts: &DumpFacts) -> Vec<Key> {
    let mut keys: Vec<Key> = facts
        .entries
        .iter()
        .map(|e| {
            (
                e.toc_id,
                e.kind.clone(),
                e.schema.clone(),
                e.name.clone(),
                e.owner.clone(),
                e.roles.iter().cloned().collect(),
                e.deps.clone(),
            )
        })
        .collect();
    keys.sort();
    keys
}

async fn dump(server: &PgServer, major: u32, db: &str, flag: &str, out: &std::path::Path) {
    let tools = toolbox();
    let tools = tools.get(major).unwrap();
    let command = ToolCommand::new(tools, Tool::PgDump)
        .unwrap()
        .args([flag, "--no-password", "--file"])
        .arg(out)
        .conn(server.target(db))
        .stdout(StdoutTo::Discard);
    runner::run(command, &NullSink, &CancellationToken::new()).await.unwrap();
}

async fn same_entries_as_a_full_read(major: u32) {
    let server = PgServer::shared(major);
    let db = server.create_database("defs").await;
    let client = server.client(&db).await;
    // Roles are cluster-wide and the server shared: named after the database.
    let suffix = db.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    client.batch_execute(&DATA.replace("ROLES", &suffix)).await.unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let tools = toolbox();
    let reader = tools.newest().clone();
    let cancel = CancellationToken::new();
    for (flag, name) in [("-Fc", "db.backup"), ("-Fd", "db.dir"), ("-Ft", "db.tar")] {
        let path = dir.path().join(name);
        dump(&server, major, &db, flag, &path).await;
        let full = full_read(&path, Some(&reader), &cancel).await.unwrap();
        let scratch = dir.path().join("tmp");
        let (defs, listed) =
            definitions_read(&path, Some(&reader), &scratch, &cancel).await.unwrap();
        // The table of contents it returns serves where `--list` did: the same lines, plus the
        // dependencies as comment lines and the entries pg_restore handles by their kind
        // whatever a use-list says (the session's encoding, string and search-path settings;
        // the database itself, restored only with --create).
        let listed = listed.expect("an archive's table of contents");
        let plain = list(&reader, &path, &cancel).await.unwrap();
        let always = ["ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE", "DATABASE PROPERTIES"];
        let by_kind = |line: &str| {
            line.split_once("; ").and_then(|(_, rest)| rest.splitn(3, ' ').nth(2)).is_some_and(
                |rest| {
                    always.iter().any(|k| rest.strip_prefix(k).is_some_and(|r| r.starts_with(" -")))
                },
            )
        };
        let as_plain: Vec<&str> =
            listed.lines().filter(|l| !l.starts_with(";\tdepends on:") && !by_kind(l)).collect();
        assert_eq!(as_plain, plain.lines().collect::<Vec<_>>(), "{major} {name}");
        assert!(listed.lines().any(by_kind), "{major} {name}");
        assert_eq!(keyed(&defs), keyed(&full), "{major} {name}");
        assert_eq!(defs.counts(), full.counts(), "{major} {name}");
        assert_eq!(defs.roles(), full.roles(), "{major} {name}");
        let lo_reader = format!("defs lo reader {suffix}");
        assert!(defs.roles().contains(&lo_reader), "{:?}", defs.roles());
        assert_eq!(defs.set_names, full.set_names);
        assert_eq!(defs.dumped_by, full.dumped_by);
        assert_eq!(defs.encoding, full.encoding);
        assert!(defs.sql_bytes < full.sql_bytes, "the data was not read");
        assert!(std::fs::read_dir(&scratch).unwrap().next().is_none(), "the use-list is removed");
    }
    // A damaged data block: the full read fails, the definitions read does not notice (the
    // checksum and the restore do, in a drill).
    let path = dir.path().join("db.backup");
    let mut bytes = std::fs::read(&path).unwrap();
    let cut = bytes.len() * 2 / 3;
    bytes.truncate(cut);
    std::fs::write(&path, &bytes).unwrap();
    assert!(full_read(&path, Some(&reader), &cancel).await.is_err());
    let scratch = dir.path().join("tmp");
    assert!(definitions_read(&path, Some(&reader), &scratch, &cancel).await.is_ok());
}

#[tokio::test]
async fn definitions_of_pg_dump_18_archives() {
    same_entries_as_a_full_read(18).await;
}

#[tokio::test]
async fn definitions_of_pg_dump_14_archives() {
    same_entries_as_a_full_read(14).await;
}
