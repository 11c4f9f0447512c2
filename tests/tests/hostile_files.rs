//! Issue 13, findings 5 and 9 (files): a backup folder and a web server are untrusted input.
//! Real backups of the shared 18 server, edited as someone with write access to the folder
//! would, and a local Python web server that misbehaves on purpose:
//!
//! - a manifest that is a link to `/dev/zero`, a FIFO (the reader would wait for a writer
//!   forever), a 1 GB sparse file or a folder: `manifest_invalid` at once (every call has a
//!   timeout), as the dump's manifest and as the source itself; a FIFO among the other
//!   manifests of the folder is passed over; a dump that is a FIFO is `not_a_backup`;
//! - manifest file names outside their folder (`/etc/passwd`, `../`, an absolute path to a real
//!   copy of the dump, `a/../../x`, a Windows drive, a globals file outside): `manifest_invalid`;
//! - an ENCODING that is not a name: `manifest_invalid`, no database created;
//! - a dump named `-l` or `--version` restores as a file (pg_restore gets `--` and an absolute
//!   path);
//! - a LATIN1 database with non-ASCII names: pg_dump and pg_restore print names that are not
//!   UTF-8 on stderr, and the backup, the restore and the drill read past those lines;
//! - an address with `user:password@`: errors, the drill report, its certificate and the
//!   catalog never hold the password;
//! - an endless index page, an endless download (no Content-Length) of a file its manifest
//!   records as small, one without any manifest on a small disk, and a Content-Length of
//!   10^15 bytes: `download_too_large`, nothing restored, no `.partial` left.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use lifeboat_engine::base::progress::{NullSink, Recorder};
use lifeboat_engine::format::archive;
use lifeboat_engine::format::remote;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::drill::{DrillRequest, DrillTarget, drill};
use lifeboat_engine::ops::restore::{RestoreRequest, preflight, restore};
use lifeboat_engine::ops::verify::verify;
use lifeboat_engine::storage::keychain::OsKeychain;
use lifeboat_engine::{Ctx, DataDir, Error, ErrorCode};
use lifeboat_system_tests::home::{TestHome, add_server_profile, backup_request, test_home};
use lifeboat_system_tests::pg::{toolbox, wait_until};
use lifeboat_system_tests::{PgServer, quote_ident};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Every call that reads a hostile file or address must end within this.
const LIMIT: Duration = Duration::from_secs(90);

async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}: an unbounded read"))
}

struct Fixture {
    home: TestHome,
    server: PgServer,
    db: String,
    out: tempfile::TempDir,
    manifest: PathBuf,
    dump: PathBuf,
}

impl Fixture {
    fn ctx(&self) -> &Ctx {
        &self.home.ctx
    }

    fn request(&self, source: &Path) -> RestoreRequest {
        RestoreRequest {
            source: source.display().to_string(),
            profile: "prod".into(),
            ..RestoreRequest::default()
        }
    }

    fn manifest_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.manifest).unwrap()).unwrap()
    }

    fn write_manifest(&self, manifest: &Value) {
        std::fs::write(&self.manifest, serde_json::to_vec_pretty(manifest).unwrap()).unwrap();
    }

    /// Databases restored from this fixture's database (none may appear after a refusal).
    async fn restored(&self) -> Vec<String> {
        let rows = self
            .server
            .client("postgres")
            .await
            .query(
                "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
                &[&format!("{}\\_%", self.db)],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }
}

/// A database on the shared 18 server filled by `sql`, backed up in custom format into a folder
/// of its own, and a data folder whose profile "prod" is that server.
async fn fixture(prefix: &str, sql: &str) -> Fixture {
    let server = PgServer::shared(18);
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(sql).await.unwrap();
    let home = test_home();
    add_server_profile(&home.ctx, "prod", &server).await;
    let out = tempfile::tempdir().unwrap();
    let input = backup_request("prod", &db, out.path(), BackupFormat::Custom);
    let outcome = backup(&home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let manifest = PathBuf::from(&outcome.manifest_path);
    let dump = out.path().join(&outcome.files[0].name);
    Fixture { home, server, db, out, manifest, dump }
}

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, label text);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g;";

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

fn assert_code<T: std::fmt::Debug>(result: Result<T, Error>, code: ErrorCode, what: &str) -> Error {
    let error = result.expect_err(what);
    assert_eq!(error.code(), code, "{what}: {error}");
    assert!(!error.payload().hint.is_empty());
    error
}

/// Makes a file of one kind at a path.
type Make = fn(&Path);

/// Replaces the manifest by each kind of file that is not one; preflight, verify and a drill
/// from the dump or from the manifest refuse it at once with `manifest_invalid`.
#[tokio::test]
async fn a_manifest_that_is_not_a_regular_small_file_is_refused_at_once() {
    let fx = fixture("hostile_mf", ITEMS).await;
    let kinds: [(&str, Make); 4] = [
        ("a link to /dev/zero", |p| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
        ("a FIFO", |p| mkfifo(p)),
        ("a 1 GB sparse file", |p| {
            std::fs::File::create(p).unwrap().set_len(1 << 30).unwrap();
        }),
        ("a folder", |p| std::fs::create_dir(p).unwrap()),
    ];
    let mut cases = 0;
    for (kind, make) in kinds {
        std::fs::remove_file(&fx.manifest).or_else(|_| std::fs::remove_dir(&fx.manifest)).unwrap();
        make(&fx.manifest);
        for source in [&fx.dump, &fx.manifest] {
            // A folder named like a manifest and chosen itself is a folder to restore from (and
            // not a backup), which the folder case of `not_a_backup` covers.
            if kind == "a folder" && source == &fx.manifest {
                continue;
            }
            let what = format!("{kind} as the manifest, restoring {}", source.display());
            let result = bounded(&what, preflight(fx.ctx(), fx.request(source))).await;
            let error = assert_code(result, ErrorCode::ManifestInvalid, &what);
            assert!(error.to_string().contains(".lifeboat.json"), "{error}");
            let text = source.display().to_string();
            let verified = bounded(
                &what,
                verify(fx.ctx(), &text, None, false, &NullSink, &CancellationToken::new()),
            )
            .await;
            assert_code(verified, ErrorCode::ManifestInvalid, &what);
            let request = DrillRequest {
                source: text,
                target: DrillTarget::Profile { name: "prod".into() },
                ..DrillRequest::default()
            };
            let drilled =
                bounded(&what, drill(fx.ctx(), request, &NullSink, &CancellationToken::new()))
                    .await;
            // A drill of a backup whose manifest is no manifest fails (or is refused) without
            // reading it; either way nothing restored.
            if let Ok(report) = &drilled {
                assert!(!report.passed, "{what}: {report:?}");
            }
            cases += 3;
        }
    }
    assert_eq!(cases, 21);
    assert!(fx.restored().await.is_empty(), "{:?}", fx.restored().await);
}

/// Other manifests of the folder may be anything: a FIFO among them is passed over without
/// waiting, and a dump that is a FIFO is not a backup.
#[tokio::test]
async fn fifos_beside_or_instead_of_the_dump_never_block() {
    let fx = fixture("hostile_fifo", ITEMS).await;
    let other = fx.out.path().join("zzz-other.lifeboat.json");
    mkfifo(&other);
    std::fs::remove_file(&fx.manifest).unwrap();
    let found = bounded("find_manifest", async { archive::find_manifest(&fx.dump) }).await;
    assert!(found.unwrap().is_none());
    std::fs::remove_file(&other).unwrap();

    let fifo_dump = fx.out.path().join("pipe.backup");
    mkfifo(&fifo_dump);
    let result = bounded("a FIFO dump", preflight(fx.ctx(), fx.request(&fifo_dump))).await;
    let error = assert_code(result, ErrorCode::NotABackup, "a FIFO dump");
    assert!(error.to_string().contains("FIFO"), "{error}");
    assert!(fx.restored().await.is_empty());
}

/// Rewrites the dump's entry (or the globals entry) of the manifest and expects a refusal.
#[tokio::test]
async fn manifest_file_names_stay_in_the_manifest_folder() {
    let fx = fixture("hostile_names", ITEMS).await;
    let original = fx.manifest_json();
    // A real copy of the dump outside the folder, so that only the confinement can stop it.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("copy.backup");
    std::fs::copy(&fx.dump, &copy).unwrap();
    let sibling = fx.out.path().parent().unwrap().join(format!("{}-outside.backup", fx.db));
    std::fs::copy(&fx.dump, &sibling).unwrap();
    let sibling_name = format!("../{}", sibling.file_name().unwrap().to_string_lossy());
    let names = [
        "/etc/passwd".to_owned(),
        sibling_name.clone(),
        copy.display().to_string(),
        format!("sub/../../{}", sibling.file_name().unwrap().to_string_lossy()),
        "C:\\Windows\\win.ini".to_owned(),
        "./".to_owned(),
    ];
    for name in &names {
        let mut manifest = original.clone();
        manifest["files"][0]["name"] = name.clone().into();
        fx.write_manifest(&manifest);
        let result = bounded(name, preflight(fx.ctx(), fx.request(&fx.manifest))).await;
        let error = assert_code(result, ErrorCode::ManifestInvalid, name);
        assert!(error.to_string().contains("leaves the backup's folder"), "{error}");
    }
    // A globals file outside the folder.
    let mut manifest = original.clone();
    let files = manifest["files"].as_array_mut().unwrap();
    files.push(serde_json::json!({
        "name": sibling_name, "role": "globals", "bytes": 1, "sha256": "00"
    }));
    fx.write_manifest(&manifest);
    let result = bounded("globals", preflight(fx.ctx(), fx.request(&fx.dump))).await;
    assert_code(result, ErrorCode::ManifestInvalid, "a globals file outside the folder");
    std::fs::remove_file(&sibling).unwrap();
    assert!(fx.restored().await.is_empty());
    assert_eq!(names.len() + 1, 7);
}

/// The manifest's ENCODING reaches CREATE DATABASE only as a plain name.
#[tokio::test]
async fn an_encoding_that_is_not_a_name_creates_no_database() {
    let fx = fixture("hostile_enc", ITEMS).await;
    let original = fx.manifest_json();
    let payloads = [
        "UTF8; DROP DATABASE x",
        "UTF8' OWNER postgres --",
        "LATIN1 LC_COLLATE 'C'",
        "UTF8\n\\! touch /tmp/x",
        "UTF-8",
    ];
    for payload in payloads {
        let mut manifest = original.clone();
        manifest["encoding"] = payload.into();
        fx.write_manifest(&manifest);
        for source in [&fx.dump, &fx.manifest] {
            let result = bounded(
                payload,
                restore(fx.ctx(), fx.request(source), &NullSink, &CancellationToken::new()),
            )
            .await;
            let error = assert_code(result, ErrorCode::ManifestInvalid, payload);
            assert!(error.to_string().contains("not an encoding name"), "{error}");
        }
    }
    assert!(fx.restored().await.is_empty());
    // The real manifest restores.
    fx.write_manifest(&original);
    let outcome = restore(fx.ctx(), fx.request(&fx.dump), &NullSink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(fx.server.query_int(&outcome.database, "SELECT count(*) FROM items").await, 100);
}

/// A dump named like an option, listed by its manifest, restores as a file.
#[tokio::test]
async fn a_dump_named_like_an_option_is_read_as_a_file() {
    let fx = fixture("hostile_dash", ITEMS).await;
    let original = fx.manifest_json();
    for name in ["-l", "--version", "-f-"] {
        let renamed = fx.out.path().join(name);
        std::fs::copy(&fx.dump, &renamed).unwrap();
        let mut manifest = original.clone();
        manifest["files"][0]["name"] = name.into();
        fx.write_manifest(&manifest);
        let outcome = bounded(
            name,
            restore(fx.ctx(), fx.request(&fx.manifest), &NullSink, &CancellationToken::new()),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(fx.server.query_int(&outcome.database, "SELECT count(*) FROM items").await, 100);
        let verified = verify(
            fx.ctx(),
            &renamed.display().to_string(),
            None,
            false,
            &NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("verify {name}: {e}"));
        assert_eq!(verified.verified_files, 1);
        std::fs::remove_file(&renamed).unwrap();
    }
}

fn latin1(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(u32::from(c)).expect("a LATIN1 character")).collect()
}

/// A LATIN1 database with non-ASCII names: the tools print those names in LATIN1 on stderr.
#[tokio::test]
async fn a_latin1_database_with_non_ascii_names_backs_up_restores_and_drills() {
    let server = PgServer::shared(18);
    let db = format!("l1_{}", std::process::id());
    let admin = server.client("postgres").await;
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {} ENCODING LATIN1 LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
            quote_ident(&db)
        ))
        .await
        .unwrap();
    let client = server.client(&db).await;
    let table = "bäume_größe";
    client
        .batch_execute(&format!(
            "CREATE TABLE {t} ({c} int PRIMARY KEY, {n} text); \
             INSERT INTO {t} SELECT g, 'Grüße ' || g FROM generate_series(1, 300) g; \
             CREATE INDEX {i} ON {t} ({n}); \
             CREATE TABLE zz_after (x int); INSERT INTO zz_after VALUES (1);",
            t = quote_ident(table),
            c = quote_ident("höhe"),
            n = quote_ident("naïve_ñame"),
            i = quote_ident("idx_äöü"),
        ))
        .await
        .unwrap();
    let home = test_home();
    add_server_profile(&home.ctx, "prod", &server).await;
    let out = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let input = backup_request("prod", &db, out.path(), BackupFormat::Custom);
    let outcome = bounded("backup", backup(&home.ctx, input, &recorder, &CancellationToken::new()))
        .await
        .unwrap();
    // pg_dump's stderr held the name in LATIN1 (not UTF-8), and reading went on past it.
    let lines = recorder.tool_lines();
    let at = lines
        .iter()
        .position(|l| l.contains("b\u{fffd}ume_gr\u{fffd}\u{fffd}e"))
        .unwrap_or_else(|| panic!("a LATIN1 line among {lines:#?}"));
    assert!(
        lines[at + 1..].iter().any(|l| l.contains("zz_after")),
        "the lines after the LATIN1 one: {lines:#?}"
    );
    assert!(String::from_utf8(latin1(table)).is_err(), "the name is not UTF-8 in LATIN1");

    let dump = out.path().join(&outcome.files[0].name);
    let request = RestoreRequest {
        source: dump.display().to_string(),
        profile: "prod".into(),
        ..RestoreRequest::default()
    };
    let recorder = Recorder::default();
    let restored =
        bounded("restore", restore(&home.ctx, request, &recorder, &CancellationToken::new()))
            .await
            .unwrap();
    assert!(restored.errors.is_empty(), "{:?}", restored.errors);
    let rows = server
        .query_int(&restored.database, &format!("SELECT count(*) FROM {}", quote_ident(table)))
        .await;
    assert_eq!(rows, 300);

    let request = DrillRequest {
        source: dump.display().to_string(),
        target: DrillTarget::Profile { name: "prod".into() },
        ..DrillRequest::default()
    };
    let report = bounded("drill", drill(&home.ctx, request, &NullSink, &CancellationToken::new()))
        .await
        .unwrap();
    assert!(report.passed, "{:?}", report.failure);
    for name in [&db, &restored.database] {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name)))
            .await
            .unwrap();
    }
}

/// A misbehaving web server: endless pages and bodies, a huge Content-Length, and the files of a
/// folder otherwise (`python3 -c SCRIPT PORT FOLDER`).
const HOSTILE_SERVER: &str = r#"
import functools, http.server, os, sys
CHUNK = b'\0' * 65536
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'
    def log_message(self, *args):
        pass
    def do_GET(self):
        name = self.path.rsplit('/', 1)[-1]
        try:
            if self.path.endswith('/endless/'):
                self.send_response(200)
                self.send_header('Content-Type', 'text/html')
                self.end_headers()
                self.wfile.write(b'<html><body>')
                while True:
                    self.wfile.write(b'<a href="x.backup">x</a>\n' * 2000)
            elif name.startswith('endless') and name.endswith('.backup'):
                self.send_response(200)
                self.send_header('Content-Type', 'application/octet-stream')
                self.end_headers()
                while True:
                    self.wfile.write(CHUNK)
            elif name.startswith('huge') and name.endswith('.backup'):
                self.send_response(200)
                self.send_header('Content-Type', 'application/octet-stream')
                self.send_header('Content-Length', str(10 ** 15))
                self.end_headers()
                while True:
                    self.wfile.write(CHUNK)
            else:
                super().do_GET()
        except (BrokenPipeError, ConnectionResetError):
            pass
handler = functools.partial(H, directory=sys.argv[2])
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), handler).serve_forever()
"#;

struct WebServer {
    child: Child,
    port: u16,
}

impl WebServer {
    fn start(dir: &Path) -> WebServer {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-c", HOSTILE_SERVER, &port.to_string()])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let server = WebServer { child, port };
        assert!(
            wait_until(Duration::from_secs(15), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
            "the web server answers on port {port}"
        );
        server
    }

    fn url(&self, userinfo: &str, path: &str) -> String {
        format!("http://{userinfo}127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir` whose name ends with `.partial`.
fn partials(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(partials(&path));
        } else if path.to_string_lossy().ends_with(".partial") {
            found.push(path);
        }
    }
    found
}

fn restore_request(url: String) -> RestoreRequest {
    RestoreRequest {
        source: url,
        profile: "prod".into(),
        allow_http: true,
        ..RestoreRequest::default()
    }
}

/// An endless index page, an endless body its manifest records as small, and a Content-Length
/// larger than any disk: each stopped with `download_too_large`, no partial left.
#[tokio::test]
async fn endless_pages_and_downloads_are_stopped() {
    let fx = fixture("hostile_web", ITEMS).await;
    // The real manifest served beside an endless body of the same name.
    let served = tempfile::tempdir().unwrap();
    std::fs::create_dir(served.path().join("endless")).unwrap();
    let mut manifest = fx.manifest_json();
    manifest["files"][0]["name"] = "endless-2026-01-02-030405.backup".into();
    std::fs::write(
        served.path().join("endless-2026-01-02-030405.lifeboat.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let web = WebServer::start(served.path());
    let downloads = fx.home.dir.path().join("downloads");
    let cases = [
        (web.url("", "endless/"), "index page"),
        (web.url("", "endless-2026-01-02-030405.backup"), "bytes its manifest records"),
        (web.url("", "huge-2026-01-02-030405.backup"), "announces 1000000000000000 bytes"),
    ];
    for (url, says) in &cases {
        let started = std::time::Instant::now();
        let result = bounded(url, preflight(fx.ctx(), restore_request(url.clone()))).await;
        let error = assert_code(result, ErrorCode::DownloadTooLarge, url);
        assert!(error.to_string().contains(says), "{url}: {error}");
        assert!(partials(&downloads).is_empty(), "{url}: {:?}", partials(&downloads));
        if url.contains("huge") {
            assert!(started.elapsed() < Duration::from_secs(10), "refused before downloading");
        }
    }
    assert!(fx.restored().await.is_empty());
}

/// A data folder on a small disk: an endless body that no manifest bounds is stopped at the
/// disk's free space (root only: the test mounts a tmpfs).
#[tokio::test]
async fn an_endless_download_stops_at_the_free_space() {
    if !lifeboat_system_tests::pg::running_as_root() {
        eprintln!("this test mounts a 16 MiB tmpfs and needs root; CI runs it as root");
        return;
    }
    let disk = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(disk.path())
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a 16 MiB tmpfs");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _unmount = Unmount(disk.path());
    let ctx =
        Ctx::open(DataDir::at(disk.path().join("home")).unwrap(), toolbox(), Arc::new(OsKeychain))
            .unwrap();
    let served = tempfile::tempdir().unwrap();
    let web = WebServer::start(served.path());
    let url = web.url("", "endless-nomanifest.backup");
    let result =
        bounded(&url, remote::download(&ctx, &url, true, &NullSink, &CancellationToken::new()))
            .await;
    let error = assert_code(result, ErrorCode::DownloadTooLarge, &url);
    assert!(error.to_string().contains("free on the disk"), "{error}");
    assert!(partials(disk.path()).is_empty(), "{:?}", partials(disk.path()));
    let statvfs = Command::new("df").arg("--output=avail").arg(disk.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&statvfs.stdout).lines().nth(1).is_some());
}

/// Everything readable in `dir`, for "the password is in no file".
/// The files under `dir` that contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(mut file) = std::fs::File::open(&path) {
            let mut bytes = Vec::new();
            let _ = file.read_to_end(&mut bytes);
            if String::from_utf8_lossy(&bytes).contains(needle) {
                found.push(path);
            }
        }
    }
    found
}

/// `user:password@` in an address: used for the download, never shown or kept.
#[tokio::test]
async fn a_password_in_an_address_is_in_no_error_report_or_certificate() {
    const PASSWORD: &str = "pw-7c1e-secret";
    let fx = fixture("hostile_pw", ITEMS).await;
    let web = WebServer::start(fx.out.path());
    let userinfo = format!("alice:{PASSWORD}@");
    let name = fx.dump.file_name().unwrap().to_string_lossy().into_owned();

    // Errors: a missing file, a closed port, a refused scheme.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let errors = [
        preflight(fx.ctx(), restore_request(web.url(&userinfo, "missing.backup"))).await,
        preflight(
            fx.ctx(),
            restore_request(format!("http://{userinfo}127.0.0.1:{closed}/x.backup")),
        )
        .await,
        preflight(fx.ctx(), restore_request(format!("http://{userinfo}127.0.0.1:{closed}/%zz")))
            .await,
    ];
    for result in errors {
        let error = result.unwrap_err();
        let payload = serde_json::to_string(&error.payload()).unwrap();
        assert!(!payload.contains(PASSWORD), "{payload}");
        assert!(!format!("{error:?}").contains(PASSWORD), "{error:?}");
    }

    // A drill that passes, and one that fails (a flipped byte): report, certificate, catalog.
    let request = |url: String| DrillRequest {
        source: url,
        target: DrillTarget::Profile { name: "prod".into() },
        allow_http: true,
        ..DrillRequest::default()
    };
    let report =
        drill(fx.ctx(), request(web.url(&userinfo, &name)), &NullSink, &CancellationToken::new())
            .await
            .unwrap();
    assert!(report.passed, "{:?}", report.failure);
    let mut bytes = std::fs::read(&fx.dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&fx.dump, &bytes).unwrap();
    let failed =
        drill(fx.ctx(), request(web.url(&userinfo, "")), &NullSink, &CancellationToken::new())
            .await;
    if let Ok(report) = &failed {
        assert!(!report.passed);
        assert!(!serde_json::to_string(report).unwrap().contains(PASSWORD));
    }
    for report in [Some(&report), failed.as_ref().ok()].into_iter().flatten() {
        let json = serde_json::to_string(report).unwrap();
        assert!(!json.contains(PASSWORD), "{json}");
        for path in [&report.certificate_html, &report.certificate_json].into_iter().flatten() {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(!text.contains(PASSWORD), "{path}");
        }
    }
    let mut holding = files_containing(fx.home.dir.path(), PASSWORD);
    holding.extend(files_containing(fx.out.path(), PASSWORD));
    assert!(holding.is_empty(), "the password is in these files: {holding:?}");
}
