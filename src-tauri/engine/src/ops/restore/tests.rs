//! The plan driven with made-up facts: no server, no backup file.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

use super::findings::disk_severity;
use super::plan::{Planned, comment_out, default_base, free_name, requested, select};
use super::source_facts::{ManifestFacts, SourceFacts};
use super::target_facts::{Contents, Disk, Replaced, TargetFacts, Template};
use super::*;
use crate::format::archive::ArchiveVersion;
use crate::format::globals::{self, SavedMembership, SavedRole, SavedRoles};
use crate::format::sqltext::{DumpEntry, DumpFacts};
use crate::pg::inventory::SettingsReach;
use crate::util::naming::MAX_IDENTIFIER_BYTES;

fn major(major: u32) -> BundledMajor {
    BundledMajor { major, version: format!("{major}.2"), root: PathBuf::new(), has_server: false }
}

fn entry(id: u32, kind: &str, name: &str, owner: &str, roles: &[&str]) -> DumpEntry {
    DumpEntry {
        ordinal: id as usize,
        toc_id: Some(id),
        name: name.into(),
        kind: kind.into(),
        schema: (kind != "SCHEMA").then(|| "shop".into()),
        owner: (!owner.is_empty()).then(|| owner.into()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        deps: if kind == "TABLE DATA" { vec![2] } else { Vec::new() },
    }
}

fn names(list: &[&str]) -> HashSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A custom archive of `shop` made by pg_dump 17, owned by alice, granting to bob.
fn source() -> SourceFacts {
    let entries = vec![
        entry(1, "SCHEMA", "shop", "alice", &[]),
        entry(2, "TABLE", "orders", "alice", &[]),
        entry(3, "ACL", "TABLE orders", "", &["alice", "bob"]),
        entry(4, "TABLE DATA", "orders", "alice", &[]),
    ];
    SourceFacts {
        path: PathBuf::from("/backups/shop.backup"),
        format: BackupFormat::Custom,
        archive_version: Some(ArchiveVersion::new(1, 16, 0)),
        manifest: Some(ManifestFacts {
            path: PathBuf::from("/backups/shop.lifeboat.json"),
            encoding: "UTF8".into(),
            collate: "en_US.UTF-8".into(),
            database_bytes: Some(2000),
            ..ManifestFacts::default()
        }),
        verified: 1,
        reader: Some(major(17)),
        dump: DumpFacts {
            entries,
            encoding: Some("UTF8".into()),
            complete: true,
            sql_bytes: 1000,
            ..DumpFacts::default()
        },
        list: Some(
            ";     dbname: shop\n1; 2615 1 SCHEMA - shop alice\n3; 0 0 ACL shop TABLE orders\n"
                .into(),
        ),
        source_database: Some("shop".into()),
        dumped_from: Some("17.2".into()),
        dumped_by: Some("17.2".into()),
        saved_roles: None,
    }
}

/// A PostgreSQL 17 server where lifeboat may create databases and is a member of alice and bob.
fn target() -> TargetFacts {
    TargetFacts {
        profile_name: "prod".into(),
        maintenance_db: "postgres".into(),
        server: ServerVersion(170_002),
        server_version: "17.2".into(),
        writer: major(17),
        user: "lifeboat".into(),
        superuser: false,
        createdb: true,
        createrole: false,
        roles: names(&["lifeboat", "alice", "bob", "postgres"]),
        member_of: names(&["lifeboat", "alice", "bob"]),
        settings_reach: SettingsReach {
            known: names(&["search_path", "client_encoding"]),
            ..SettingsReach::default()
        },
        extensions: names(&["plpgsql"]),
        databases: names(&["postgres", "template0", "template1"]),
        template: Template {
            encoding: "UTF8".into(),
            ctype: "en_US.UTF-8".into(),
            collate: "en_US.UTF-8".into(),
            libc: true,
        },
        existing: None,
        replaced: None,
        disk: Disk::Free { data_directory: "/var/lib/pg".into(), bytes: 1 << 40 },
    }
}

fn now() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap().and_hms_opt(13, 45, 1).unwrap()
}

/// The plan as the pre-flight makes it: the request checked, the entries chosen, then planned.
fn plan(source: &SourceFacts, target: &TargetFacts, request: &RestoreRequest) -> Result<Planned> {
    let requested = requested(request)?;
    let selected = select(source, &request.selection)?;
    super::plan::plan(source, target, request, &requested, selected, now())
}

fn planned(source: &SourceFacts, target: &TargetFacts, request: &RestoreRequest) -> Planned {
    plan(source, target, request).expect("a plan")
}

fn codes(plan: &RestorePlan) -> Vec<(FindingCode, Severity)> {
    plan.findings.iter().map(|f| (f.code, f.severity)).collect()
}

fn message(plan: &RestorePlan, code: FindingCode) -> &str {
    &finding(plan, code).message
}

fn finding(plan: &RestorePlan, code: FindingCode) -> &Finding {
    plan.findings.iter().find(|f| f.code == code).unwrap_or_else(|| panic!("no {code:?}"))
}

#[test]
fn default_names_are_dated_suffixed_and_fit_postgres() {
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    let base = default_base("shop", date);
    assert_eq!(base, "shop_restored_20261121");
    let mut taken = HashSet::new();
    assert_eq!(free_name(&base, &taken), base);
    taken.insert(base.clone());
    assert_eq!(free_name(&base, &taken), "shop_restored_20261121_2");
    taken.insert("shop_restored_20261121_2".into());
    assert_eq!(free_name(&base, &taken), "shop_restored_20261121_3");
    let long = "ü".repeat(40);
    let base = default_base(&long, date);
    assert!(base.len() + 4 <= MAX_IDENTIFIER_BYTES, "{}", base.len());
    assert!(base.ends_with("_restored_20261121"));
}

#[test]
fn disk_space_blocks_when_the_data_cannot_fit_and_warns_below_twice() {
    assert_eq!(disk_severity(100, 99), Severity::Blocker);
    assert_eq!(disk_severity(100, 150), Severity::Warning);
    assert_eq!(disk_severity(100, 200), Severity::Info);
    assert_eq!(disk_severity(0, 0), Severity::Info);
}

#[test]
fn the_list_comments_out_skipped_entries() {
    let list = ";\n; Archive created at x\n;     dbname: shop\n;\n\
                6; 2615 16385 SCHEMA - sales postgres\n\
                2709; 0 0 ACL sales TABLE orders postgres\n";
    let out = comment_out(list, &HashSet::from([2709]));
    assert!(out.contains(";2709; 0 0 ACL"));
    assert!(out.contains("\n6; 2615"));
}

#[test]
fn a_backup_that_fits_becomes_a_new_dated_database_restored_by_pg_restore() {
    let Planned { plan, run } = planned(&source(), &target(), &RestoreRequest::default());
    assert_eq!(plan.database, "shop_restored_20261121");
    assert!(plan.create_database && run.auto_named && !plan.blocked);
    assert_eq!(run.name_base, "shop_restored_20261121");
    assert_eq!(plan.method.kind, MethodKind::PgRestore);
    assert_eq!((plan.method.reader_major, plan.method.psql_major), (Some(17), None));
    assert!(!plan.no_owner && plan.owned_by.is_none());
    assert_eq!(plan.encoding.as_deref(), Some("UTF8"));
    assert_eq!(
        codes(&plan),
        [
            (FindingCode::ChecksumsVerified, Severity::Info),
            (FindingCode::DiskSpace, Severity::Info)
        ]
    );
    assert_eq!(
        message(&plan, FindingCode::ChecksumsVerified),
        "1 file matches the checksums in /backups/shop.lifeboat.json."
    );
    assert_eq!(
        plan.summary,
        "Creates database shop_restored_20261121 on \"prod\" (PostgreSQL 17.2) and restores 4 \
         entries from shop.backup with pg_restore 17; nothing existing is changed."
    );
    assert_eq!(run.use_list, None);
}

#[test]
fn the_default_name_takes_the_next_suffix_when_taken() {
    let mut target = target();
    target.databases.extend(names(&["shop_restored_20261121", "shop_restored_20261121_2"]));
    let Planned { plan, run } = planned(&source(), &target, &RestoreRequest::default());
    assert_eq!(plan.database, "shop_restored_20261121_3");
    assert_eq!(run.name_base, "shop_restored_20261121");
    let mut unnamed = source();
    unnamed.source_database = None;
    let plan = planned(&unnamed, &self::target(), &RestoreRequest::default()).plan;
    assert_eq!(plan.database, "restored_restored_20261121");
}

#[test]
fn missing_roles_warn_restore_without_owners_and_leave_their_grants_out() {
    let mut target = target();
    target.roles = names(&["lifeboat", "postgres"]);
    let Planned { plan, run } = planned(&source(), &target, &RestoreRequest::default());
    assert!(plan.no_owner && !plan.blocked);
    assert_eq!(plan.owned_by.as_deref(), Some("lifeboat"));
    let missing = finding(&plan, FindingCode::RolesMissing);
    assert_eq!(missing.severity, Severity::Warning);
    assert_eq!(missing.message, "2 roles the backup names do not exist on \"prod\": alice, bob.");
    assert_eq!(
        missing.fix.as_deref(),
        Some("Restored with --no-owner (objects owned by the connecting user, lifeboat).")
    );
    let grants = finding(&plan, FindingCode::GrantsSkipped);
    assert_eq!(grants.message, "Privileges on 1 object name missing roles: TABLE orders.");
    assert_eq!(plan.skipped_entries, 1);
    assert_eq!(run.skipped, ["ACL"]);
    assert!(run.use_list.as_deref().unwrap().contains("\n;3; 0 0 ACL"));
    assert!(plan.summary.contains("; 1 owner role missing → owned by lifeboat; "));
    assert!(plan.summary.contains("1 grant entry naming missing roles left out"));
}

#[test]
fn an_owner_the_user_is_not_a_member_of_is_not_kept() {
    let mut target = target();
    target.member_of = names(&["lifeboat", "bob"]);
    let plan = planned(&source(), &target, &RestoreRequest::default()).plan;
    assert!(plan.no_owner);
    assert_eq!(
        message(&plan, FindingCode::RolesMissing),
        "The user lifeboat may not create objects owned by alice."
    );
    assert_eq!(plan.skipped_entries, 0, "no role is missing, no grant is left out");
    target.superuser = true;
    let plan = planned(&source(), &target, &RestoreRequest::default()).plan;
    assert!(!plan.no_owner, "a superuser creates objects for anyone");
    assert!(plan.findings.iter().all(|f| f.code != FindingCode::RolesMissing));
}

#[test]
fn the_owner_role_must_exist_and_be_granted() {
    let request = RestoreRequest { owner_role: Some(" carol ".into()), ..Default::default() };
    let plan = planned(&source(), &target(), &request).plan;
    let missing = finding(&plan, FindingCode::OwnerRoleMissing);
    assert_eq!(
        (missing.severity, missing.message.as_str()),
        (Severity::Blocker, "The role carol does not exist on \"prod\".")
    );
    let mut target = target();
    target.roles.insert("carol".into());
    let plan = planned(&source(), &target, &request).plan;
    assert_eq!(finding(&plan, FindingCode::OwnerRoleNotGranted).severity, Severity::Blocker);
    target.member_of.insert("carol".into());
    let Planned { plan, run } = planned(&source(), &target, &request);
    assert!(!plan.blocked && plan.no_owner);
    assert_eq!(plan.owned_by.as_deref(), Some("carol"));
    assert_eq!(run.role.as_deref(), Some("carol"));
}

#[test]
fn an_extension_the_server_cannot_provide_blocks() {
    let mut source = source();
    source.dump.entries.push(entry(5, "EXTENSION", "postgis", "", &[]));
    let plan = planned(&source, &target(), &RestoreRequest::default()).plan;
    assert!(plan.blocked);
    assert_eq!(plan.findings[0].code, FindingCode::ExtensionUnavailable, "blockers come first");
    assert_eq!(
        plan.findings[0].message,
        "The backup needs the extension postgis, which \"prod\" (PostgreSQL 17.2) cannot provide."
    );
    assert_eq!(
        plan.summary,
        "Cannot restore shop.backup: The backup needs the extension postgis, which \"prod\" \
         (PostgreSQL 17.2) cannot provide."
    );
}

#[test]
fn an_existing_target_must_be_empty_and_is_restored_in_one_transaction() {
    let request = RestoreRequest { target_database: Some("shop".into()), ..Default::default() };
    let mut target = target();
    target.databases.insert("shop".into());
    target.existing = Some(Contents {
        encoding: "UTF8".into(),
        relations: 2,
        public_objects: 2,
        ..Default::default()
    });
    let plan = planned(&source(), &target, &request).plan;
    let full = finding(&plan, FindingCode::TargetNotEmpty);
    assert_eq!(full.severity, Severity::Blocker);
    assert_eq!(
        full.message,
        "The database shop on \"prod\" is not empty: it holds 2 tables, views or sequences (2 of \
         them in public)."
    );
    assert!(full.fix.as_deref().unwrap().contains("(shop_restored_20261121)"));
    target.existing = Some(Contents { encoding: "LATIN1".into(), ..Default::default() });
    let request = RestoreRequest { jobs: Some(4), ..request };
    let Planned { plan, run } = planned(&source(), &target, &request);
    assert!(!plan.blocked && !plan.create_database && !run.auto_named);
    assert!(plan.method.single_transaction);
    assert_eq!(plan.method.jobs, 1);
    assert_eq!(plan.encoding.as_deref(), Some("LATIN1"));
    assert_eq!(
        message(&plan, FindingCode::EncodingDiffers),
        "The backup is in UTF8; the database shop is LATIN1."
    );
    assert_eq!(
        message(&plan, FindingCode::JobsIgnored),
        "The restore runs with one job: an existing database is restored in one transaction."
    );
    assert!(plan.summary.contains("into the empty database shop on"));
}

#[test]
fn a_new_database_takes_the_backup_encoding_only_where_the_locale_allows() {
    let mut source = source();
    source.dump.encoding = Some("latin1".into());
    if let Some(manifest) = &mut source.manifest {
        manifest.collate = "de_DE.UTF-8".into();
    }
    let plan = planned(&source, &target(), &RestoreRequest::default()).plan;
    assert_eq!(plan.encoding.as_deref(), Some("UTF8"));
    let differs = finding(&plan, FindingCode::EncodingDiffers);
    assert_eq!(differs.severity, Severity::Warning);
    assert_eq!(
        differs.message,
        "The backup is in latin1; new databases on \"prod\" (locale en_US.UTF-8) can only be UTF8."
    );
    assert_eq!(finding(&plan, FindingCode::LocaleDiffers).severity, Severity::Info);
    let mut target = target();
    target.template.ctype = "C".into();
    let plan = planned(&source, &target, &RestoreRequest::default()).plan;
    assert_eq!(plan.encoding.as_deref(), Some("LATIN1"));
    assert!(plan.findings.iter().all(|f| f.code != FindingCode::EncodingDiffers));
}

#[test]
fn a_newer_archive_goes_through_a_newer_pg_restore_into_psql() {
    let mut source = source();
    source.reader = Some(major(18));
    source.dumped_from = Some("18.1".into());
    source.dump.set_names = BTreeSet::from(["transaction_timeout".into(), "search_path".into()]);
    let mut target = target();
    target.writer = major(16);
    target.server = ServerVersion(160_004);
    target.server_version = "16.4".into();
    let request = RestoreRequest { jobs: Some(4), ..Default::default() };
    let plan = planned(&source, &target, &request).plan;
    let method = &plan.method;
    assert_eq!(method.kind, MethodKind::Pipeline);
    assert_eq!((method.reader_major, method.psql_major, method.jobs), (Some(18), Some(16), 1));
    assert_eq!(method.dropped_settings, ["transaction_timeout"]);
    assert_eq!(finding(&plan, FindingCode::NewerSource).severity, Severity::Warning);
    assert_eq!(
        message(&plan, FindingCode::SettingsDropped),
        "pg_restore 18 writes SET transaction_timeout, unknown to PostgreSQL 16."
    );
    let jobs = message(&plan, FindingCode::JobsIgnored);
    assert!(jobs.ends_with("one job: the SQL goes through one psql session."), "{jobs}");
    assert!(plan.summary.contains(
        "with pg_restore 18 turned into SQL for psql 16; leaving out SET transaction_timeout;"
    ));
}

#[test]
fn a_replace_with_sessions_connected_blocks_unless_they_may_be_ended() {
    let request = RestoreRequest { replace: Some("shop".into()), ..Default::default() };
    let plan = planned(&source(), &target(), &request).plan;
    assert_eq!(finding(&plan, FindingCode::ReplaceTargetMissing).severity, Severity::Blocker);
    let mut target = target();
    target.databases.insert("shop".into());
    let sessions = vec![("alice".into(), "psql".into()), (String::new(), String::new())];
    target.replaced = Some(Replaced { owner: "lifeboat".into(), sessions });
    let plan = planned(&source(), &target, &request).plan;
    let in_use = finding(&plan, FindingCode::DatabaseInUse);
    assert_eq!(in_use.severity, Severity::Blocker);
    assert_eq!(
        in_use.message,
        "2 sessions are connected to shop: an unnamed application, psql (alice)."
    );
    let request = RestoreRequest { terminate_connections: true, ..request };
    let plan = planned(&source(), &target, &request).plan;
    assert!(!plan.blocked);
    assert_eq!(finding(&plan, FindingCode::DatabaseInUse).severity, Severity::Warning);
    assert_eq!(plan.database, "shop_restored_20261121");
    assert_eq!(plan.kept_as.as_deref(), Some("shop_before_20261121-134501"));
    assert!(plan.summary.contains(
        "then renames shop to shop_before_20261121-134501 and shop_restored_20261121 to shop; \
         nothing is dropped."
    ));
}

#[test]
fn a_replace_needs_the_right_to_rename_the_database() {
    let request = RestoreRequest { replace: Some("postgres".into()), ..Default::default() };
    let mut target = target();
    target.replaced = Some(Replaced { owner: "admin".into(), sessions: Vec::new() });
    let plan = planned(&source(), &target, &request).plan;
    let rename: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::CannotRenameDatabase)
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(rename.len(), 2, "the maintenance database, and owned by someone else");
    assert!(rename[1].starts_with("The user lifeboat may not rename the database postgres"));
    target.member_of.insert("admin".into());
    let plan = planned(&source(), &target, &request).plan;
    assert_eq!(
        plan.findings.iter().filter(|f| f.code == FindingCode::CannotRenameDatabase).count(),
        1
    );
}

#[test]
fn too_little_disk_space_blocks_and_a_remote_disk_is_not_checked() {
    let mut target = target();
    target.disk = Disk::Free { data_directory: "/var/lib/pg".into(), bytes: 1500 };
    let plan = planned(&source(), &target, &RestoreRequest::default()).plan;
    let disk = finding(&plan, FindingCode::DiskSpace);
    assert_eq!(disk.severity, Severity::Blocker, "the manifest's 2000 bytes do not fit");
    assert!(disk.fix.as_deref().unwrap().starts_with("Free at least "));
    target.disk = Disk::Remote;
    let plan = planned(&source(), &target, &RestoreRequest::default()).plan;
    let disk = finding(&plan, FindingCode::DiskSpace);
    assert_eq!(disk.severity, Severity::Info);
    assert!(
        disk.message
            .ends_with("its disk is on another machine, so Lifeboat cannot check the free space.")
    );
}

#[test]
fn what_the_backup_says_to_leave_out_is_left_out_with_its_reason() {
    let mut source = source();
    let manifest = source.manifest.as_mut().unwrap();
    manifest.left_out.push(crate::format::manifest::DependentLeftOut {
        kind: "TABLE".into(),
        schema: Some("shop".into()),
        name: "orders".into(),
        needs: "TYPE audit.level".into(),
        file_schema: None,
    });
    let Planned { plan, run } = planned(&source, &target(), &RestoreRequest::default());
    let left: Vec<(u32, Option<&str>)> =
        plan.left_out.iter().map(|l| (l.id, l.because.as_deref())).collect();
    assert_eq!(
        left,
        [
            (2, Some("TYPE audit.level, which the backup does not carry")),
            (4, Some("TABLE shop.orders"))
        ]
    );
    assert!(run.use_list.is_some());
}

#[test]
fn a_selection_leaves_out_what_depends_on_what_it_leaves_out() {
    let selection = Selection { exclude_entries: vec![2], ..Default::default() };
    let request = RestoreRequest { selection, ..Default::default() };
    let Planned { plan, run } = planned(&source(), &target(), &request);
    let left: Vec<(u32, Option<&str>)> =
        plan.left_out.iter().map(|l| (l.id, l.because.as_deref())).collect();
    assert_eq!(left, [(2, None), (4, Some("TABLE shop.orders"))]);
    let dependents = finding(&plan, FindingCode::DependentsLeftOut);
    assert_eq!(
        dependents.message,
        "1 entry depends on what is left out and is left out too: TABLE DATA shop.orders (needs \
         TABLE shop.orders)."
    );
    assert!(plan.summary.contains("leaving out 1 entry by choice and 1 that needs them"));
    assert!(run.use_list.is_some());
    assert_eq!(run.entry_names.len(), plan.entries as usize);
    let mut plain = source();
    plain.reader = None;
    plain.format = BackupFormat::Plain;
    let error = plan_error(&plain, &request);
    assert!(matches!(error, Error::InvalidInput { field: "selection", .. }), "{error:?}");
}

fn plan_error(source: &SourceFacts, request: &RestoreRequest) -> Error {
    plan(source, &target(), request).expect_err("no plan")
}

#[test]
fn missing_roles_are_created_from_the_saved_ones_when_asked() {
    let mut source = source();
    let mut roles = BTreeMap::new();
    roles.insert("alice".to_owned(), SavedRole { login: Some(true), ..SavedRole::default() });
    let memberships =
        vec![SavedMembership { role: "alice".into(), member: "lifeboat".into(), admin: false }];
    source.saved_roles = Some(SavedRoles { roles, memberships });
    let mut target = target();
    target.roles = names(&["lifeboat", "bob", "postgres"]);
    target.member_of.remove("alice");
    let plan = planned(&source, &target, &RestoreRequest::default()).plan;
    assert_eq!(plan.recreatable_roles, ["alice"]);
    assert!(plan.create_roles.is_empty() && plan.no_owner);
    assert!(
        finding(&plan, FindingCode::RolesMissing)
            .fix
            .as_deref()
            .unwrap()
            .ends_with("Or create alice from the roles saved with the backup (--create-roles).")
    );
    let request = RestoreRequest { create_roles: true, ..Default::default() };
    assert_eq!(
        finding(&planned(&source, &target, &request).plan, FindingCode::CannotCreateRoles).severity,
        Severity::Blocker
    );
    target.createrole = true;
    let Planned { plan, run } = planned(&source, &target, &request);
    assert!(!plan.blocked && !plan.no_owner, "the owner exists once created");
    assert_eq!(plan.create_roles, ["alice"]);
    assert_eq!(finding(&plan, FindingCode::RolesCreated).severity, Severity::Warning);
    assert_eq!(
        run.membership_statements,
        ["GRANT \"alice\" TO \"lifeboat\""],
        "not the saved grant to an existing role: Lifeboat's own, so that the user may give \
         alice what she owns"
    );
    assert!(message(&plan, FindingCode::RolesCreated).contains("its grant to lifeboat"));
    source.saved_roles = None;
    let plan = planned(&source, &target, &request).plan;
    assert_eq!(finding(&plan, FindingCode::CannotCreateRoles).severity, Severity::Warning);
}

#[test]
fn a_plain_dump_cut_short_or_switching_databases_blocks() {
    let mut plain = source();
    plain.reader = None;
    plain.format = BackupFormat::Plain;
    plain.list = None;
    plain.dump.complete = false;
    plain.dump.connects = true;
    plain.manifest = None;
    let mut target = target();
    target.roles = names(&["lifeboat"]);
    let Planned { plan, run } = planned(&plain, &target, &RestoreRequest::default());
    assert_eq!(plan.method.kind, MethodKind::Psql);
    assert_eq!(plan.method.psql_major, Some(17));
    assert_eq!(
        codes(&plan)[..2],
        [
            (FindingCode::DumpIncomplete, Severity::Blocker),
            (FindingCode::DumpSwitchesDatabase, Severity::Blocker)
        ]
    );
    assert_eq!(finding(&plan, FindingCode::NoManifest).severity, Severity::Info);
    assert_eq!(run.skip_ordinals, HashSet::from([3]), "the plain filter leaves out the grant");
    assert!(run.use_list.is_none() && !run.no_privileges);
}

#[test]
fn requests_are_checked_before_anything_is_decided() {
    let jobs = RestoreRequest { jobs: Some(0), ..Default::default() };
    assert!(matches!(requested(&jobs), Err(Error::InvalidInput { field: "jobs", .. })));
    let both = RestoreRequest {
        target_database: Some("a".into()),
        replace: Some("b".repeat(70)),
        ..Default::default()
    };
    let error = requested(&both).expect_err("both");
    assert!(error.to_string().contains("cannot be combined"), "{error}");
    let long = RestoreRequest { target_database: Some("x".repeat(64)), ..Default::default() };
    assert!(matches!(requested(&long), Err(Error::InvalidInput { field: "target database", .. })));
    let blank = RestoreRequest { target_database: Some("  ".into()), ..Default::default() };
    assert_eq!(requested(&blank).unwrap().target, None);
}

#[test]
fn a_backup_of_the_public_schema_restores_into_the_one_the_new_database_has() {
    let mut source = source();
    source.dump.entries[0] = entry(1, "SCHEMA", "public", "pg_database_owner", &[]);
    source.list = Some(
        ";     dbname: shop\n1; 2615 2200 SCHEMA - public pg_database_owner\n\
         2; 1259 16410 TABLE public orders alice\n"
            .into(),
    );
    let Planned { plan, run } = planned(&source, &target(), &RestoreRequest::default());
    assert!(!plan.blocked);
    assert_eq!(finding(&plan, FindingCode::SchemaExists).severity, Severity::Info);
    assert!(message(&plan, FindingCode::SchemaExists).contains("schema public"));
    let list = run.use_list.expect("the CREATE SCHEMA entry is commented out");
    assert!(list.contains("\n;1; 2615 2200 SCHEMA - public"), "{list}");
    assert!(list.contains("\n2; 1259 16410 TABLE public orders"), "{list}");
    assert_eq!(plan.skipped_entries, 0, "nothing the user would miss is skipped");
}

/// The source with a policy `TO app_reader`, a default privilege `FOR ROLE app_owner` and a
/// user mapping `FOR app_reader`, on a target that has none of those roles.
fn source_naming_app_roles() -> SourceFacts {
    let mut source = source();
    source.dump.entries.extend([
        entry(5, "POLICY", "orders orders_read", "alice", &["app_reader"]),
        entry(6, "DEFAULT ACL", "DEFAULT PRIVILEGES FOR TABLES", "app_owner", &["app_owner"]),
        entry(7, "USER MAPPING", "USER MAPPING app_reader SERVER files", "alice", &["app_reader"]),
        // `TO public` names no role.
        entry(8, "POLICY", "orders orders_all", "alice", &[]),
    ]);
    source.list = Some(
        ";     dbname: shop\n1; 2615 1 SCHEMA - shop alice\n5; 0 0 POLICY shop orders \
         orders_read alice\n6; 0 0 DEFAULT ACL - DEFAULT PRIVILEGES FOR TABLES app_owner\n\
         7; 0 0 USER MAPPING - USER MAPPING app_reader SERVER files alice\n\
         8; 0 0 POLICY shop orders orders_all alice\n"
            .into(),
    );
    source
}

#[test]
fn entries_naming_missing_roles_are_left_out_and_named() {
    let Planned { plan, run } =
        planned(&source_naming_app_roles(), &target(), &RestoreRequest::default());
    assert!(
        !plan.blocked && plan.no_owner,
        "app_owner owns the default privileges, and is missing"
    );
    let left: Vec<(&str, &[String])> =
        plan.left_out_for_roles.iter().map(|l| (l.kind.as_str(), l.roles.as_slice())).collect();
    assert_eq!(
        left,
        [
            ("POLICY", &["app_reader".to_owned()][..]),
            ("DEFAULT ACL", &["app_owner".to_owned()][..]),
            ("USER MAPPING", &["app_reader".to_owned()][..]),
        ]
    );
    assert_eq!(plan.skipped_entries, 3);
    let list = run.use_list.as_deref().unwrap();
    assert!(list.contains("\n;5; ") && list.contains("\n;6; ") && list.contains("\n;7; "));
    assert!(list.contains("\n8; "), "a policy TO public restores");
    let skipped = finding(&plan, FindingCode::RoleEntriesSkipped);
    assert_eq!(skipped.severity, Severity::Warning);
    assert_eq!(
        skipped.message,
        "2 entries name roles missing on the target and are left out: POLICY shop.orders \
         orders_read (role app_reader), USER MAPPING shop.USER MAPPING app_reader SERVER files \
         (role app_reader)."
    );
    assert!(skipped.fix.as_deref().unwrap().contains("--create-missing-roles"));
    assert!(plan.summary.contains("3 entries naming missing roles left out"), "{}", plan.summary);
    assert!(plan.create_roles.is_empty() && plan.plain_roles.is_empty());
}

#[test]
fn missing_roles_are_created_as_plain_nologin_roles_when_asked() {
    let mut source = source_naming_app_roles();
    source.dump.entries.push(entry(9, "ACL", "TABLE orders", "", &["Odd \"Role"]));
    source.dump.entries.push(entry(10, "ACL", "SCHEMA shop", "", &["pg_read_all_data"]));
    let mut target = target();
    target.roles = names(&["lifeboat", "bob", "postgres"]);
    target.member_of.remove("alice");
    let request = RestoreRequest { create_missing_roles: true, ..Default::default() };
    let plan = planned(&source, &target, &request).plan;
    assert!(plan.blocked, "the user may not create roles");
    assert_eq!(finding(&plan, FindingCode::CannotCreateRoles).severity, Severity::Blocker);
    target.createrole = true;
    let Planned { plan, run } = planned(&source, &target, &request);
    assert!(!plan.blocked && !plan.no_owner, "the owners exist once created");
    let plain = ["Odd \"Role", "alice", "app_owner", "app_reader"];
    assert_eq!(plan.plain_roles, plain);
    assert_eq!(plan.create_roles, plain);
    assert_eq!(
        run.role_statements.iter().map(|(_, sql)| sql.as_str()).collect::<Vec<_>>(),
        [
            "CREATE ROLE \"Odd \"\"Role\" NOLOGIN",
            "CREATE ROLE \"alice\" NOLOGIN",
            "CREATE ROLE \"app_owner\" NOLOGIN",
            "CREATE ROLE \"app_reader\" NOLOGIN",
        ]
    );
    assert!(message(&plan, FindingCode::RolesCreated).contains("as plain NOLOGIN roles"));
    assert_eq!(
        run.membership_statements,
        ["GRANT \"alice\" TO \"lifeboat\"", "GRANT \"app_owner\" TO \"lifeboat\""],
        "the user may give objects to the owners it created"
    );
    // pg_read_all_data is not on this (made-up) server, and never created: its grant is left out.
    assert_eq!(plan.left_out_for_roles.len(), 1);
    assert_eq!(plan.left_out_for_roles[0].roles, ["pg_read_all_data"]);
    assert!(run.use_list.is_none() || !run.use_list.as_deref().unwrap().contains(";5; "));
    assert!(plan.findings.iter().all(|f| f.code != FindingCode::RoleEntriesSkipped));
}

#[test]
fn saved_roles_come_first_and_only_the_rest_are_plain() {
    let mut source = source_naming_app_roles();
    let mut saved = BTreeMap::new();
    saved.insert("app_owner".to_owned(), SavedRole { login: Some(true), ..SavedRole::default() });
    source.saved_roles = Some(SavedRoles { roles: saved, memberships: Vec::new() });
    let mut target = target();
    target.createrole = true;
    let request =
        RestoreRequest { create_roles: true, create_missing_roles: true, ..Default::default() };
    let Planned { plan, run } = planned(&source, &target, &request);
    assert_eq!(plan.create_roles, ["app_owner", "app_reader"]);
    assert_eq!(plan.plain_roles, ["app_reader"]);
    assert!(
        run.role_statements[0].1.contains("LOGIN") && !run.role_statements[0].1.contains("NOLOGIN")
    );
    assert_eq!(run.role_statements[1].1, "CREATE ROLE \"app_reader\" NOLOGIN");
    assert!(plan.left_out_for_roles.is_empty() && plan.skipped_entries == 0);
    // Without saved roles, asking for both creates plain ones without a word about globals.
    source.saved_roles = None;
    let plan = planned(&source, &target, &request).plan;
    assert_eq!(plan.plain_roles, ["app_owner", "app_reader"]);
    assert!(plan.findings.iter().all(|f| f.code != FindingCode::CannotCreateRoles));
}

#[test]
fn reserved_names_are_never_created() {
    for name in [
        "postgres",
        "Postgres",
        "PUBLIC",
        "pg_monitor",
        "pg_evil",
        "PG_EVIL",
        "Pg_execute_server_program",
        "Current_User",
        "none",
        "session_user",
        "current_role",
        "user",
        "",
        "a\0b",
    ] {
        assert!(!may_create_plain_role(name), "{name}");
    }
    assert!(!may_create_plain_role(&"x".repeat(64)));
    assert!(may_create_plain_role("app_reader") && may_create_plain_role("lifeboat"));
}

/// A `--table crm.customers` backup: the table, its data and its sequence in `crm`, and no
/// `CREATE SCHEMA` (pg_dump 14 and 18 write none with `--table`).
fn source_of_one_table(schema: &str) -> SourceFacts {
    let in_schema = |mut e: DumpEntry| {
        e.schema = Some(schema.into());
        e
    };
    let mut source = source();
    source.dump.entries = vec![
        in_schema(entry(2, "TABLE", "customers", "alice", &[])),
        in_schema(entry(3, "SEQUENCE", "customers_id_seq", "alice", &[])),
        in_schema(entry(4, "TABLE DATA", "customers", "alice", &[])),
    ];
    source.list = None;
    source
}

#[test]
fn the_schemas_a_table_backup_lives_in_are_created_first() {
    let Planned { plan, run } =
        planned(&source_of_one_table("crm"), &target(), &RestoreRequest::default());
    assert!(!plan.blocked);
    assert_eq!(run.create_schemas, ["crm"]);
    let created = finding(&plan, FindingCode::SchemasCreated);
    assert_eq!(created.severity, Severity::Info);
    assert!(created.message.contains("schema crm,"), "{}", created.message);
    assert!(created.message.contains("shop_restored_20261121"), "{}", created.message);
    assert!(plan.summary.contains("creating schema crm first"), "{}", plan.summary);
    assert!(run.use_list.is_none(), "nothing of the backup is left out");

    // Into an existing empty database too; a non-empty one is refused anyway.
    let mut empty = target();
    empty.databases.insert("crm_copy".into());
    empty.existing = Some(Contents { encoding: "UTF8".into(), ..Default::default() });
    let request = RestoreRequest { target_database: Some("crm_copy".into()), ..Default::default() };
    let run = planned(&source_of_one_table("crm"), &empty, &request).run;
    assert_eq!(run.create_schemas, ["crm"]);
}

#[test]
fn schemas_the_backup_creates_or_every_database_has_are_not_created() {
    // The default source carries its SCHEMA shop entry.
    let Planned { plan, run } = planned(&source(), &target(), &RestoreRequest::default());
    assert!(run.create_schemas.is_empty());
    assert!(!codes(&plan).iter().any(|(c, _)| *c == FindingCode::SchemasCreated));
    assert!(!plan.summary.contains("creating schema"), "{}", plan.summary);
    for schema in ["public", "pg_catalog", "information_schema"] {
        let Planned { plan, run } =
            planned(&source_of_one_table(schema), &target(), &RestoreRequest::default());
        assert!(run.create_schemas.is_empty(), "{schema}");
        assert!(!codes(&plan).iter().any(|(c, _)| *c == FindingCode::SchemasCreated), "{schema}");
    }
}

/// A globals file written to escalate, and a dump naming its roles: app_admin owns the table;
/// evil, reader and pg_evil are granted on it.
fn hostile_source() -> SourceFacts {
    let mut source = source();
    source.dump.entries = vec![
        entry(2, "TABLE", "orders", "app_admin", &[]),
        entry(3, "ACL", "TABLE orders", "", &["app_admin", "evil", "pg_evil", "reader"]),
        entry(4, "TABLE DATA", "orders", "app_admin", &[]),
    ];
    source.saved_roles = Some(globals::parse(
        "CREATE ROLE app_admin; ALTER ROLE app_admin WITH SUPERUSER CREATEROLE LOGIN \
         IN ROLE pg_execute_server_program;\n\
         CREATE ROLE evil WITH REPLICATION BYPASSRLS CREATEDB CONNECTION LIMIT 3;\n\
         GRANT postgres TO evil GRANTED BY postgres;\n\
         GRANT pg_write_server_files TO evil WITH ADMIN OPTION;\n\
         GRANT app_admin TO evil WITH ADMIN OPTION;\n\
         GRANT reader TO bob; CREATE ROLE reader;\n\
         CREATE ROLE pg_evil SUPERUSER; GRANT pg_evil TO evil;\n\
         ALTER ROLE evil SET session_preload_libraries = 'evil';\n\
         GRANT evil TO app_admin;\n",
    ));
    source
}

fn hostile_target(superuser: bool) -> TargetFacts {
    let mut target = target();
    target.superuser = superuser;
    target.createrole = true;
    target.roles = names(&[
        "lifeboat",
        "bob",
        "postgres",
        "pg_execute_server_program",
        "pg_write_server_files",
    ]);
    target
}

#[test]
fn recreated_roles_get_only_allow_listed_attributes_and_memberships_among_themselves() {
    let source = hostile_source();
    let request = RestoreRequest { create_roles: true, ..Default::default() };
    let Planned { plan, run } = planned(&source, &hostile_target(true), &request);
    assert!(!plan.blocked, "{:?}", plan.findings);
    assert_eq!(plan.create_roles, ["app_admin", "evil", "reader"]);
    assert_eq!(plan.recreatable_roles, ["app_admin", "evil", "reader"], "never pg_evil");
    assert_eq!(
        run.role_statements.iter().map(|(_, sql)| sql.as_str()).collect::<Vec<_>>(),
        [
            "CREATE ROLE \"app_admin\" WITH LOGIN INHERIT",
            "CREATE ROLE \"evil\" WITH NOLOGIN INHERIT CONNECTION LIMIT 3",
            "CREATE ROLE \"reader\" WITH NOLOGIN INHERIT",
        ]
    );
    assert_eq!(run.membership_statements, ["GRANT \"app_admin\" TO \"evil\""]);
    let created = message(&plan, FindingCode::RolesCreated);
    for named in [
        "role app_admin: SUPERUSER, CREATEROLE, membership in pg_execute_server_program and \
         membership in evil (circular) were not recreated",
        "role evil: REPLICATION, BYPASSRLS, CREATEDB, the setting session_preload_libraries, \
         membership in postgres, membership in pg_write_server_files, the admin option on \
         app_admin and membership in pg_evil were not recreated",
        "role reader: its grant to bob was not recreated",
        "Not created, whatever the backup saved: pg_evil",
    ] {
        assert!(created.contains(named), "{named:?} not in {created}");
    }
    assert!(message(&plan, FindingCode::RolesMissing).contains("pg_evil"));
    let all = format!("{:?}{:?}", run.role_statements, run.membership_statements);
    for word in [
        "SUPERUSER",
        "CREATEROLE",
        "CREATEDB",
        "REPLICATION",
        "BYPASSRLS",
        "pg_",
        "SET",
        "ADMIN",
        "postgres",
    ] {
        assert!(!all.contains(word), "{word} in {all}");
    }
}

#[test]
fn a_createrole_user_is_granted_only_the_created_owners() {
    let source = hostile_source();
    let request = RestoreRequest { create_roles: true, ..Default::default() };
    let Planned { plan, run } = planned(&source, &hostile_target(false), &request);
    assert!(!plan.blocked && !plan.no_owner, "{:?}", plan.findings);
    assert_eq!(
        run.membership_statements,
        ["GRANT \"app_admin\" TO \"evil\"", "GRANT \"app_admin\" TO \"lifeboat\""],
        "the user may give app_admin what it owns; nothing else reaches an existing role"
    );
}

#[test]
fn reserved_saved_roles_are_never_created_by_either_option() {
    let mut source = hostile_source();
    source.dump.entries[1].roles = ["pg_evil", "PG_Other", "postgres"].map(String::from).into();
    let mut saved = source.saved_roles.take().unwrap();
    saved.roles.insert("PG_Other".into(), SavedRole::default());
    saved.roles.insert("postgres".into(), SavedRole::default());
    source.saved_roles = Some(saved);
    let mut target = hostile_target(true);
    target.roles.remove("postgres");
    target.roles.insert("app_admin".into());
    let request = RestoreRequest { create_roles: true, ..Default::default() };
    let plan = planned(&source, &target, &request).plan;
    assert!(plan.create_roles.is_empty());
    let cannot = finding(&plan, FindingCode::CannotCreateRoles);
    assert_eq!(cannot.severity, Severity::Warning);
    assert!(cannot.message.contains("PG_Other, pg_evil, postgres"), "{}", cannot.message);
    let request =
        RestoreRequest { create_roles: true, create_missing_roles: true, ..Default::default() };
    let Planned { plan, run } = planned(&source, &target, &request);
    assert!(plan.create_roles.is_empty() && plan.plain_roles.is_empty(), "{:?}", plan.create_roles);
    assert!(run.role_statements.is_empty() && run.membership_statements.is_empty());
    let request = RestoreRequest { create_missing_roles: true, ..Default::default() };
    let plan = planned(&source, &target, &request).plan;
    assert!(plan.plain_roles.is_empty(), "{:?}", plan.plain_roles);
}

#[test]
fn a_restore_reads_the_data_once_only_when_checksums_and_its_own_pg_restore_vouch() {
    let (same, older) = (major(18), major(17));
    assert!(reads_once(Reading::ReadOnce, true, Some(&same), 18));
    // A plan (--dry-run, the wizard) is the integrity check: it reads everything.
    assert!(!reads_once(Reading::Whole, true, Some(&same), 18));
    // No manifest, or nothing hashed against it: only a full read finds a damaged file first.
    assert!(!reads_once(Reading::ReadOnce, false, Some(&same), 18));
    // Another major's pg_restore writes SQL for psql: every line is read and filtered first.
    assert!(!reads_once(Reading::ReadOnce, true, Some(&older), 18));
    // A plain SQL file has no definitions apart from its data.
    assert!(!reads_once(Reading::ReadOnce, true, None, 18));
}
