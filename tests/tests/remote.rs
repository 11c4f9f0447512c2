//! Restores from http:// addresses served by a real local web server (`python3 -m http.server`,
//! whose folder pages are autoindex-style HTML): a folder with a Lifeboat backup, the file's own
//! address, a missing file, a flipped byte, and an interrupted download (restarted by
//! http.server, which ignores `Range`; resumed by a small Range-aware http.server subclass).
//! Plain http is refused unless allowed (then with a warning), and a redirect from http to http
//! is followed when it is allowed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lifeboat_engine::base::progress::{NullSink, ProgressEvent, Recorder};
use lifeboat_engine::format::archive;
use lifeboat_engine::format::manifest::Manifest;
use lifeboat_engine::format::remote;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::restore::{FindingCode, RestoreRequest, preflight, restore};
use lifeboat_engine::{Ctx, ErrorCode};
use lifeboat_system_tests::home::{TestHome, add_server_profile, backup_request, test_home};
use lifeboat_system_tests::pg::wait_until;
use lifeboat_system_tests::{PgServer, quote_ident};
use tokio_util::sync::CancellationToken;

const DATA: &str = r#"
    CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL);
    INSERT INTO items (label) SELECT 'item ' || g FROM generate_series(1, 5000) g;
"#;

/// An http.server subclass that honours `Range: bytes=N-` with 206 (http.server ignores it).
const RANGE_SERVER: &str = r#"
import functools, http.server, os, sys
class H(http.server.SimpleHTTPRequestHandler):
    def send_head(self):
        rng = self.headers.get('Range')
        path = self.translate_path(self.path)
        if not rng or not os.path.isfile(path):
            return super().send_head()
        start = int(rng.split('=')[1].split('-')[0])
        f = open(path, 'rb')
        size = os.fstat(f.fileno()).st_size
        if start >= size:
            f.close()
            self.send_error(416)
            return None
        f.seek(start)
        self.send_response(206)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Range', 'bytes %d-%d/%d' % (start, size - 1, size))
        self.send_header('Content-Length', str(size - start))
        self.end_headers()
        return f
handler = functools.partial(H, directory=sys.argv[2])
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), handler).serve_forever()
"#;

/// An http.server subclass that answers `/moved/<path>` with a 302 to `/<path>`.
const REDIRECT_SERVER: &str = r#"
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith('/moved/'):
            self.send_response(302)
            self.send_header('Location', self.path[len('/moved'):])
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        super().do_GET()
handler = functools.partial(H, directory=sys.argv[2])
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), handler).serve_forever()
"#;

/// A web server child process serving a folder on 127.0.0.1; killed when dropped. Its request
/// log (stderr) goes to a file.
struct WebServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl WebServer {
    fn start(dir: &Path, range_aware: bool) -> WebServer {
        WebServer::run(dir, range_aware.then_some(RANGE_SERVER))
    }

    /// `python3 -m http.server`, or `script` (`python3 -c SCRIPT PORT FOLDER`).
    fn run(dir: &Path, script: Option<&str>) -> WebServer {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("requests.log");
        let mut command = Command::new("python3");
        if let Some(script) = script {
            command.args(["-c", script, &port.to_string()]).arg(dir);
        } else {
            command
                .args([
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                    &port.to_string(),
                    "--directory",
                ])
                .arg(dir);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3 starts");
        let server = WebServer { child, port, log, _log_dir: log_dir };
        assert!(
            wait_until(Duration::from_secs(15), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
            "the web server answers on port {port}"
        );
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Fixture {
    _home: TestHome,
    ctx: Ctx,
    out: tempfile::TempDir,
    db: String,
    file: PathBuf,
    manifest: Manifest,
}

/// A database with a small table on the shared 18 server, backed up (custom format) into a
/// folder, and a profile "pg18" for that server.
async fn fixture(server: &PgServer, prefix: &str) -> Fixture {
    let home = test_home();
    add_server_profile(&home.ctx, "pg18", server).await;
    let ctx = home.ctx.clone();
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(DATA).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let input = backup_request("pg18", &db, out.path(), BackupFormat::Custom);
    let outcome = backup(&ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(&outcome.manifest_path).unwrap()).unwrap();
    let file = out.path().join(&manifest.files[0].name);
    Fixture { _home: home, ctx, out, db, file, manifest }
}

fn request(source: String) -> RestoreRequest {
    RestoreRequest { source, profile: "pg18".into(), allow_http: true, ..RestoreRequest::default() }
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

async fn assert_rows(server: &PgServer, db: &str, manifest: &Manifest) {
    let client = server.client(db).await;
    assert!(!manifest.tables.is_empty());
    for table in &manifest.tables {
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&table.schema),
            quote_ident(&table.table)
        );
        let count: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(Some(count), table.rows, "{}.{} in {db}", table.schema, table.table);
    }
}

async fn restored_from(server: &PgServer, db: &str) -> Vec<String> {
    let client = server.client("postgres").await;
    let rows = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
            &[&format!("{db}_restored%")],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn a_folder_address_and_a_file_address_restore_with_checked_checksums() {
    let server = PgServer::shared(18);
    let fx = fixture(&server, "web").await;
    let web = WebServer::start(fx.out.path(), false);

    // The folder: its index page leads to the newest manifest and the dump it lists.
    let recorder = Recorder::default();
    let outcome =
        restore(&fx.ctx, request(web.url("")), &recorder, &CancellationToken::new()).await.unwrap();
    assert_rows(&server, &outcome.database, &fx.manifest).await;
    let size = std::fs::metadata(&fx.file).unwrap().len();
    let events = recorder.events();
    assert!(
        events.iter().any(|e| matches!(e, ProgressEvent::Step { done, total, current }
            if *done == size && *total == size && *current == name_of(&fx.file))),
        "download progress for the dump: {events:?}"
    );
    let plan = preflight(&fx.ctx, request(web.url(""))).await.unwrap();
    assert!(
        plan.findings.iter().any(|f| f.code == FindingCode::ChecksumsVerified),
        "{:?}",
        plan.findings
    );

    // The file's own address (its manifest is fetched beside it).
    let outcome = restore(
        &fx.ctx,
        request(web.url(&name_of(&fx.file))),
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_rows(&server, &outcome.database, &fx.manifest).await;
    assert_eq!(restored_from(&server, &fx.db).await.len(), 2);
}

#[tokio::test]
async fn a_missing_file_is_not_found_and_other_schemes_are_refused() {
    let server = PgServer::shared(18);
    let fx = fixture(&server, "web404").await;
    let web = WebServer::start(fx.out.path(), false);
    let error = preflight(&fx.ctx, request(web.url("no-such-backup.backup"))).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::NotFound, "{error}");
    assert!(error.to_string().contains("no-such-backup.backup"), "{error}");
    assert!(!error.payload().hint.is_empty());
    let error = preflight(&fx.ctx, request("ftp://127.0.0.1/x.backup".into())).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidInput, "{error}");
    // Nothing answers on a closed port: the download fails, naming the address.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{closed}/x.backup");
    let error = preflight(&fx.ctx, request(url.clone())).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::DownloadFailed, "{error}");
    assert!(error.to_string().contains(&url), "{error}");
}

#[tokio::test]
async fn a_flipped_byte_on_the_server_is_caught_before_any_database_is_created() {
    let server = PgServer::shared(18);
    let fx = fixture(&server, "webflip").await;
    let mut bytes = std::fs::read(&fx.file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&fx.file, bytes).unwrap();
    let web = WebServer::start(fx.out.path(), false);
    for url in [web.url(""), web.url(&name_of(&fx.file))] {
        let error =
            restore(&fx.ctx, request(url), &NullSink, &CancellationToken::new()).await.unwrap_err();
        assert_eq!(error.code(), ErrorCode::ChecksumMismatch, "{error}");
    }
    assert!(restored_from(&server, &fx.db).await.is_empty());
}

/// Leaves the first half of the dump as `<name>.partial` in the download folder, downloads, and
/// checks the result against the manifest. Returns the server's request log.
async fn interrupted_download(range_aware: bool) -> String {
    let server = PgServer::shared(18);
    let fx = fixture(&server, "webresume").await;
    let web = WebServer::start(fx.out.path(), range_aware);
    let url = web.url(&name_of(&fx.file));
    let dir = remote::download_dir(&fx.ctx, &url).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(&fx.file).unwrap();
    let partial = dir.join(format!("{}.partial", name_of(&fx.file)));
    std::fs::write(&partial, &bytes[..bytes.len() / 2]).unwrap();

    let path =
        remote::download(&fx.ctx, &url, true, &NullSink, &CancellationToken::new()).await.unwrap();
    assert_eq!(path, dir.join(name_of(&fx.file)));
    assert!(!partial.exists());
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let found = archive::find_manifest(&path).unwrap().expect("the manifest came along");
    assert_eq!(archive::verify(&found).await.unwrap(), 1, "sha256 matches the manifest");
    web.log()
}

#[tokio::test]
async fn an_interrupted_download_restarts_when_the_server_ignores_ranges() {
    let log = interrupted_download(false).await;
    let dump_requests: Vec<&str> =
        log.lines().filter(|l| l.contains("GET /") && l.contains(".backup")).collect();
    assert!(dump_requests.iter().all(|l| l.contains("\" 200 ")), "{log}");
}

#[tokio::test]
async fn an_interrupted_download_resumes_with_a_range_request() {
    let log = interrupted_download(true).await;
    let dump_requests: Vec<&str> =
        log.lines().filter(|l| l.contains("GET /") && l.contains(".backup")).collect();
    assert_eq!(dump_requests.len(), 1, "{log}");
    assert!(dump_requests[0].contains("\" 206 "), "{log}");
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed_and_then_warned_about() {
    let server = PgServer::shared(18);
    let fx = fixture(&server, "webplain").await;
    let web = WebServer::start(fx.out.path(), false);
    let file_url = web.url(&name_of(&fx.file));

    // Not allowed: refused before any request, nothing downloaded, nothing restored.
    for url in [web.url(""), file_url.clone()] {
        let refused = RestoreRequest { allow_http: false, ..request(url.clone()) };
        let error = preflight(&fx.ctx, refused.clone()).await.unwrap_err();
        assert_eq!(error.code(), ErrorCode::PlainHttpRefused, "{error}");
        assert!(error.to_string().contains(&url), "{error}");
        assert!(error.payload().hint.contains("--allow-http"), "{}", error.payload().hint);
        let error =
            restore(&fx.ctx, refused, &NullSink, &CancellationToken::new()).await.unwrap_err();
        assert_eq!(error.code(), ErrorCode::PlainHttpRefused, "{error}");
        let error = remote::download(&fx.ctx, &url, false, &NullSink, &CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::PlainHttpRefused, "{error}");
    }
    assert!(!web.log().contains("GET /"), "no request was sent: {}", web.log());
    let downloads = remote::download_dir(&fx.ctx, &file_url).unwrap();
    assert!(!downloads.exists(), "nothing was downloaded");
    assert!(restored_from(&server, &fx.db).await.is_empty());

    // Allowed: the download goes on, and a warning says it is not encrypted.
    let recorder = Recorder::default();
    let outcome = restore(&fx.ctx, request(file_url.clone()), &recorder, &CancellationToken::new())
        .await
        .unwrap();
    assert_rows(&server, &outcome.database, &fx.manifest).await;
    let events = recorder.events();
    assert!(
        events.iter().any(|e| matches!(e, ProgressEvent::Warning { message }
            if message.contains("not encrypted") && message.contains(&file_url))),
        "a warning about plain http: {events:?}"
    );
}

#[tokio::test]
async fn an_allowed_http_source_follows_a_redirect_to_http() {
    let server = PgServer::shared(18);
    let fx = fixture(&server, "webmoved").await;
    let web = WebServer::run(fx.out.path(), Some(REDIRECT_SERVER));
    let url = web.url(&format!("moved/{}", name_of(&fx.file)));
    let refused = RestoreRequest { allow_http: false, ..request(url.clone()) };
    let error = preflight(&fx.ctx, refused).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::PlainHttpRefused, "{error}");

    let outcome =
        restore(&fx.ctx, request(url), &NullSink, &CancellationToken::new()).await.unwrap();
    assert_rows(&server, &outcome.database, &fx.manifest).await;
    let log = web.log();
    assert!(log.contains("\" 302 "), "the server redirected: {log}");
    let target = format!("GET /{} ", name_of(&fx.file));
    assert!(log.contains(&target), "the redirect was followed: {log}");
}
