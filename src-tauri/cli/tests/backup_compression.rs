//! `lifeboat backup --compress` against real servers of an old major (14, pg_dump without lz4
//! and zstd) and a new one (18): every method the server's pg_dump allows is written, recorded
//! in the manifest with its level, and read back by pg_restore --list; a method it lacks is
//! refused before any pg_dump runs.

mod common;

use std::path::Path;
use std::process::Command;

use common::{add_local_profile, bundle, json, lifeboat, text};
use lifeboat_system_tests::PgServer;
use serde_json::Value;

async fn database_with_rows(server: &PgServer) -> String {
    let db = server.create_database("compress").await;
    server
        .client(&db)
        .await
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, note text); \
             INSERT INTO items SELECT g, repeat('lifeboat ', 20) || g FROM generate_series(1, 2000) g",
        )
        .await
        .unwrap();
    db
}

fn backup(home: &Path, out: &Path, db: &str, format: &str, compress: Option<&str>) -> Value {
    let out = out.display().to_string();
    let mut args =
        vec!["backup", "--profile", "local", "--database", db, "--format", format, "--out", &out];
    if let Some(compress) = compress {
        args.extend(["--compress", compress]);
    }
    args.push("--json");
    let made = lifeboat(home, &args);
    assert!(made.status.success(), "{format} {compress:?}: {}", text(&made));
    json(&made)
}

fn manifest(outcome: &Value) -> Value {
    let path = outcome["manifestPath"].as_str().unwrap();
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// pg_restore --list of the bundled major that wrote the archive.
fn list(major: u32, archive: &Path) -> String {
    let listed = Command::new(bundle().join(major.to_string()).join("bin/pg_restore"))
        .arg("--list")
        .arg(archive)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    String::from_utf8(listed.stdout).unwrap()
}

/// What pg_dump 16+ names each method's files in a directory archive.
fn data_suffix(method: &str) -> &'static str {
    match method {
        "gzip" => ".dat.gz",
        "lz4" => ".dat.lz4",
        "zstd" => ".dat.zst",
        _ => ".dat",
    }
}

/// Every allowed method and an explicit level, in the custom and directory formats, then tar.
async fn every_allowed_method(major: u32, methods: &[(&str, &str)]) {
    let server = PgServer::shared(major);
    let db = database_with_rows(&server).await;
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);

    // Without --compress: the default, its level spelled out in the manifest.
    let default = backup(home.path(), out.path(), &db, "custom", None);
    let expected_default = if major >= 16 { "zstd:4" } else { "gzip:6" };
    assert_eq!(manifest(&default)["compression"], expected_default);
    assert_eq!(
        default["compression"],
        serde_json::json!({"method": expected_default.split(':').next().unwrap(), "level": if major >= 16 { 4 } else { 6 }})
    );

    let mut sizes = Vec::new();
    for (asked, recorded) in methods {
        for format in ["custom", "directory"] {
            let outcome = backup(home.path(), out.path(), &db, format, Some(asked));
            let manifest = manifest(&outcome);
            assert_eq!(manifest["compression"], *recorded, "{format} {asked}");
            let main = out
                .path()
                .join(outcome["files"][0]["name"].as_str().unwrap().split('/').next().unwrap());
            let listed = list(major, &main);
            assert!(listed.contains("TABLE DATA public items"), "{asked}: {listed}");
            if format == "directory" {
                let method = recorded.split(':').next().unwrap();
                let suffix =
                    if major < 16 && method == "gzip" { ".dat.gz" } else { data_suffix(method) };
                let names: Vec<String> = std::fs::read_dir(&main)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                assert!(
                    names.iter().any(|n| n.ends_with(suffix) && n != "toc.dat"),
                    "{asked}: {names:?}"
                );
            } else {
                sizes.push((recorded.to_string(), outcome["sizeBytes"].as_u64().unwrap()));
            }
        }
    }
    // The methods really compress: "none" is the largest custom archive.
    let none = sizes.iter().find(|(m, _)| m == "none").unwrap().1;
    assert!(sizes.iter().all(|(m, size)| m == "none" || *size < none), "{sizes:?}");

    // Tar is never compressed; "none" is accepted and recorded.
    let tar = backup(home.path(), out.path(), &db, "tar", Some("none"));
    assert_eq!(manifest(&tar)["compression"], "none");
}

/// A method the server's pg_dump (or the format) cannot use is refused with its code before
/// any pg_dump runs: nothing is written, not even the backup's private folder.
fn refused(home: &Path, out: &Path, db: &str, format: &str, compress: &str) -> Value {
    let out_dir = out.display().to_string();
    let before = std::fs::read_dir(out).unwrap().count();
    let made = lifeboat(
        home,
        &[
            "backup",
            "--profile",
            "local",
            "--database",
            db,
            "--format",
            format,
            "--compress",
            compress,
            "--out",
            &out_dir,
            "--json",
        ],
    );
    assert_eq!(made.status.code(), Some(1), "{}", text(&made));
    assert_eq!(std::fs::read_dir(out).unwrap().count(), before, "nothing was written");
    json(&made)["error"].clone()
}

#[tokio::test]
async fn postgres_14_backs_up_with_gzip_and_none_and_refuses_zstd_and_lz4() {
    every_allowed_method(14, &[("gzip", "gzip:6"), ("gzip:1", "gzip:1"), ("none", "none")]).await;

    let server = PgServer::shared(14);
    let db = database_with_rows(&server).await;
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    for method in ["zstd", "lz4:4"] {
        let error = refused(home.path(), out.path(), &db, "custom", method);
        assert_eq!(error["code"], "compression_unavailable", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("pg_dump 14") && message.contains("PostgreSQL 16"), "{message}");
        assert!(error["hint"].as_str().unwrap().contains("gzip or none"), "{error}");
    }
    // The catalog says why, and that nothing was written.
    let listed = lifeboat(home.path(), &["backups", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let rows = json(&listed);
    let rows: Vec<&Value> =
        rows.as_array().unwrap().iter().filter(|r| r["database"] == db.as_str()).collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in rows {
        assert_eq!(row["status"], "failed");
        assert_eq!(row["errorCode"], "compression_unavailable");
        assert!(row["manifestPath"].is_null() && row["sizeBytes"].is_null(), "{row}");
    }
}

#[tokio::test]
async fn postgres_18_backs_up_with_every_method_and_refuses_what_the_format_cannot_hold() {
    every_allowed_method(
        18,
        &[
            ("zstd", "zstd:4"),
            ("zstd:19", "zstd:19"),
            ("gzip:9", "gzip:9"),
            ("lz4", "lz4:1"),
            ("lz4:12", "lz4:12"),
            ("none", "none"),
        ],
    )
    .await;

    let server = PgServer::shared(18);
    let db = database_with_rows(&server).await;
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    let tar = refused(home.path(), out.path(), &db, "tar", "gzip");
    assert_eq!(tar["code"], "compression_unavailable");
    assert!(tar["message"].as_str().unwrap().contains("tar"), "{tar}");
    let plain = refused(home.path(), out.path(), &db, "plain", "zstd");
    assert_eq!(plain["code"], "compression_unavailable");

    // A level out of range is a usage error, refused by the command line itself.
    let out_dir = out.path().display().to_string();
    let bad = lifeboat(
        home.path(),
        &[
            "backup",
            "--profile",
            "local",
            "--database",
            &db,
            "--compress",
            "zstd:23",
            "--out",
            &out_dir,
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("Compression level 23 is not valid for zstd") && said.contains("1 to 22"),
        "{said}"
    );
}
