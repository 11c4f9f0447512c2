//! Backups are private and never written through a link (issue 13, findings 4 and 6).
//!
//! Every test sets the umask to 022 first, so that what it sees is Lifeboat's doing, not the
//! umask's: real backups in every format (custom, directory with two jobs, tar, plain; with
//! the globals; one file per schema) on a real 18 server, a drill's certificates, a download
//! from a real web server; then every file under the backup folder and the data folder must be
//! 0600 and every folder 0700. Then the names a backup, a drill and a download write to are
//! planted beforehand as links to a canary outside the folder (a file, a folder, a path that does
//! not exist): the job must avoid them or fail with `unsafe_path`, and the canary is never
//! created or changed. The same for a second copy on another (shared) disk.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::format::remote;
use lifeboat_engine::ops::backup::{BackupFormat, BackupOutcome, backup, default_folder};
use lifeboat_engine::ops::copy::{CopyRequest, copy_backup};
use lifeboat_engine::ops::drill::{DrillReport, DrillRequest, DrillTarget, drill};
use lifeboat_engine::storage::catalog::CopyStatus;
use lifeboat_engine::util::naming::backup_stem;
use lifeboat_engine::{Ctx, ErrorCode};
use lifeboat_system_tests::home::{ProdFixture, backup_request, prod_fixture};
use lifeboat_system_tests::pg::wait_until;
use tokio_util::sync::CancellationToken;

const DATA: &str = r#"
    CREATE SCHEMA sales;
    CREATE TABLE public.items (id serial PRIMARY KEY, label text NOT NULL);
    INSERT INTO public.items (label) SELECT 'item ' || g FROM generate_series(1, 500) g;
    CREATE TABLE sales.orders (id int PRIMARY KEY, total numeric NOT NULL);
    INSERT INTO sales.orders SELECT g, g * 1.5 FROM generate_series(1, 300) g;
"#;

const CANARY_TEXT: &[u8] = b"canary: must never change\n";

/// The umask most systems give a user: files 0644, folders 0755 unless the program says
/// otherwise.
fn permissive_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Every entry under `root` (and `root` itself when `with_root`) whose mode is not 0600 for a
/// file or 0700 for a folder, or that is anything else (a link, a socket).
fn not_private(root: &Path, with_root: bool) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let (kind, want) = if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            ("folder", 0o700)
        } else if meta.is_file() {
            ("file", 0o600)
        } else {
            ("other", 0)
        };
        if (with_root || path != root) && meta.permissions().mode() & 0o7777 != want {
            wrong.push(format!("{kind} {} is {:o}", path.display(), mode(&path)));
        }
    }
    wrong
}

fn assert_private(root: &Path, with_root: bool) {
    let wrong = not_private(root, with_root);
    assert!(wrong.is_empty(), "not owner-only under {}:\n{}", root.display(), wrong.join("\n"));
}

/// Partial names left in `folder` (nothing half-done may stay behind).
fn partials_in(folder: &Path) -> Vec<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

/// A folder the user made with the usual 0755, as a chosen backup folder would be.
fn user_folder(parent: &Path, name: &str) -> PathBuf {
    let folder = parent.join(name);
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    folder
}

async fn run_backup(
    fx: &ProdFixture,
    out: &Path,
    format: BackupFormat,
    change: impl FnOnce(&mut lifeboat_engine::ops::backup::StartBackup),
) -> lifeboat_engine::Result<BackupOutcome> {
    let mut request = backup_request("prod", &fx.db, out, format);
    change(&mut request);
    backup(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_in_every_format_and_the_data_folder_are_owner_only() {
    permissive_umask();
    let fx = prod_fixture(18, "private", DATA).await;
    let chosen = user_folder(fx.out.path(), "chosen");
    let cases: [(BackupFormat, bool, bool); 7] = [
        (BackupFormat::Custom, true, false),
        (BackupFormat::Directory, true, false),
        (BackupFormat::Tar, true, false),
        (BackupFormat::Plain, true, false),
        (BackupFormat::Custom, false, true),
        (BackupFormat::Directory, false, true),
        (BackupFormat::Plain, false, true),
    ];
    let mut outcomes = Vec::new();
    for (format, globals, per_schema) in cases {
        let outcome = run_backup(&fx, &chosen, format, |r| {
            r.globals = globals;
            r.per_schema = per_schema;
            r.jobs = (format == BackupFormat::Directory).then_some(2);
        })
        .await
        .unwrap_or_else(|e| panic!("{format:?} globals={globals} per_schema={per_schema}: {e}"));
        let roles: Vec<&str> = outcome.files.iter().map(|f| f.role.as_str()).collect();
        assert_eq!(roles.contains(&"globals"), globals, "{roles:?}");
        outcomes.push(outcome);
    }
    // pg_dump -Fd's own folder and files, the dumps, globals and manifests: all owner-only,
    // and the folder the user chose keeps its own mode.
    assert_private(&chosen, false);
    assert_eq!(mode(&chosen), 0o755);
    assert!(partials_in(&chosen).is_empty());
    let dump_dirs = std::fs::read_dir(&chosen)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_dir());
    assert_eq!(dump_dirs.count(), 1 + 2, "one directory backup, and one per schema");

    // A folder Lifeboat creates, and the default folder in the data folder.
    let created = fx.out.path().join("new/deeper");
    run_backup(&fx, &created, BackupFormat::Tar, |_| {}).await.unwrap();
    assert_private(&fx.out.path().join("new"), true);
    let default = default_folder(&fx.home.ctx).unwrap();
    run_backup(&fx, &default, BackupFormat::Custom, |r| r.globals = true).await.unwrap();

    // A drill's certificates beside the backup.
    let report = drill_on_prod(&fx, Path::new(&outcomes[0].manifest_path)).await;
    assert!(report.passed, "{:?}", report.failure);
    for certificate in [&report.certificate_json, &report.certificate_html] {
        let certificate = PathBuf::from(certificate.as_deref().unwrap());
        assert_eq!(certificate.parent().unwrap(), chosen);
        assert_eq!(mode(&certificate), 0o600, "{}", certificate.display());
    }
    assert_private(&chosen, false);
    // The data folder itself, the store and its journal, the backups folder, marks and all.
    assert_private(fx.home.dir.path(), true);
}

async fn drill_on_prod(fx: &ProdFixture, source: &Path) -> DrillReport {
    let request = DrillRequest {
        source: source.display().to_string(),
        target: DrillTarget::Profile { name: "prod".into() },
        ..DrillRequest::default()
    };
    drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap()
}

/// A canary file and an empty canary folder outside every folder Lifeboat writes to, and a
/// path that does not exist (a dangling link's target must not be created).
struct Canaries {
    dir: tempfile::TempDir,
}

impl Canaries {
    fn new() -> Canaries {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), CANARY_TEXT).unwrap();
        std::fs::set_permissions(dir.path().join("file"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        std::fs::set_permissions(dir.path().join("folder"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        Canaries { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("file")
    }

    fn folder(&self) -> PathBuf {
        self.dir.path().join("folder")
    }

    fn missing(&self) -> PathBuf {
        self.dir.path().join("must-not-appear")
    }

    fn assert_untouched(&self) {
        assert_eq!(std::fs::read(self.file()).unwrap(), CANARY_TEXT);
        assert_eq!(mode(&self.file()), 0o644);
        assert_eq!(mode(&self.folder()), 0o755);
        assert_eq!(std::fs::read_dir(self.folder()).unwrap().count(), 0, "canary folder");
        assert!(std::fs::symlink_metadata(self.missing()).is_err(), "the dangling target");
    }
}

/// The seconds from now on (a job names its files after the second it starts).
fn next_seconds(n: i64) -> Vec<chrono::NaiveDateTime> {
    let now = chrono::Local::now().naive_local();
    (0..n).map(|s| now + chrono::Duration::seconds(s)).collect()
}

/// Either the job avoided the planted names (it worked) or it refused them as `unsafe_path`.
fn avoided_or_refused<T>(result: &lifeboat_engine::Result<T>) -> bool {
    match result {
        Ok(_) => true,
        Err(error) => {
            assert_eq!(error.code(), ErrorCode::UnsafePath, "{error}");
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn links_planted_at_a_backups_partial_names_are_never_followed() {
    permissive_umask();
    let fx = prod_fixture(18, "planted", DATA).await;
    let canaries = Canaries::new();
    let shared = user_folder(fx.out.path(), "shared");
    // Everything a backup of the next 20 seconds could write under a partial name: its
    // private folder (a link to a folder, to a file, to nothing) and the names partial files
    // had before it (dump, manifest, globals, directory dump).
    let mut planted = Vec::new();
    for (i, at) in next_seconds(20).into_iter().enumerate() {
        let stem = backup_stem(&fx.db, at);
        let targets = [canaries.folder(), canaries.file(), canaries.missing()];
        let staging = shared.join(format!(".{stem}.partial"));
        symlink(&targets[i % 3], &staging).unwrap();
        for name in [
            format!(".{stem}.dump.partial"),
            format!(".{stem}.lifeboat.json.partial"),
            format!(".{stem}.globals.sql.partial"),
            format!(".{stem}.tar.partial"),
            format!(".{stem}.partial.partial"),
        ] {
            symlink(canaries.file(), shared.join(&name)).unwrap();
        }
        planted.push(staging);
    }
    let mut made = 0;
    for format in [BackupFormat::Custom, BackupFormat::Directory, BackupFormat::Tar] {
        let result = run_backup(&fx, &shared, format, |r| r.globals = true).await;
        if avoided_or_refused(&result) {
            made += 1;
            let manifest = PathBuf::from(result.unwrap().manifest_path);
            assert!(!manifest.to_string_lossy().contains(".partial"));
        }
        canaries.assert_untouched();
    }
    assert_eq!(made, 3, "the backups chose names nothing was planted at");
    // The planted links are still links (not replaced, not written through), nothing of ours
    // is half-done, and what was made is owner-only.
    for link in &planted {
        assert!(std::fs::symlink_metadata(link).unwrap().file_type().is_symlink());
    }
    for entry in std::fs::read_dir(&shared).unwrap() {
        let path = entry.unwrap().path();
        if !std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink() {
            assert!(not_private(&path, true).is_empty(), "{}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn links_planted_at_a_certificates_names_are_never_followed() {
    permissive_umask();
    let fx = prod_fixture(18, "plantcert", DATA).await;
    let canaries = Canaries::new();
    let shared = user_folder(fx.out.path(), "shared");
    let outcome = run_backup(&fx, &shared, BackupFormat::Custom, |_| {}).await.unwrap();
    let manifest = PathBuf::from(&outcome.manifest_path);
    let stem = manifest.file_name().unwrap().to_string_lossy().replace(".lifeboat.json", "");
    for (i, at) in next_seconds(60).into_iter().enumerate() {
        let name = format!("{stem}.drill-{}", at.format("%Y%m%d-%H%M%S"));
        let targets = [canaries.file(), canaries.missing()];
        symlink(&targets[i % 2], shared.join(format!("{name}.json"))).unwrap();
        symlink(&targets[(i + 1) % 2], shared.join(format!("{name}.html"))).unwrap();
    }
    let report = drill_on_prod(&fx, &manifest).await;
    assert!(report.passed, "{:?}", report.failure);
    canaries.assert_untouched();
    // Written under the next free name beside the backup, owner-only, the links left alone.
    for certificate in [&report.certificate_json, &report.certificate_html] {
        let certificate = PathBuf::from(certificate.as_deref().unwrap());
        assert_eq!(certificate.parent().unwrap(), shared);
        let name = certificate.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.contains("-2."), "{name}");
        let meta = std::fs::symlink_metadata(&certificate).unwrap();
        assert!(meta.is_file(), "{name} is a file of its own, not a link");
        assert!(not_private(&certificate, true).is_empty(), "{name}");
    }
}

/// `python3 -m http.server` on a folder, killed when dropped.
struct WebServer {
    child: Child,
    port: u16,
}

impl WebServer {
    fn start(dir: &Path) -> WebServer {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string(), "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        assert!(
            wait_until(Duration::from_secs(15), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
            "the web server answers on port {port}"
        );
        WebServer { child, port }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn download(ctx: &Ctx, url: &str) -> lifeboat_engine::Result<PathBuf> {
    remote::download(ctx, url, true, &NullSink, &CancellationToken::new()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_is_owner_only_and_never_written_through_a_link() {
    permissive_umask();
    let fx = prod_fixture(18, "privweb", DATA).await;
    let served = user_folder(fx.out.path(), "served");
    let outcome = run_backup(&fx, &served, BackupFormat::Directory, |_| {}).await.unwrap();
    let outcome_tar = run_backup(&fx, &served, BackupFormat::Tar, |_| {}).await.unwrap();
    // The web server's files are world-readable, as on any web server.
    for entry in walk(&served) {
        let m = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let web = WebServer::start(&served);
    let ctx = &fx.home.ctx;

    // A directory backup through its folder's index page: manifest, toc.dat and data files.
    let folder = format!("http://127.0.0.1:{}/", web.port);
    let local = download(ctx, &folder).await.unwrap();
    assert!(local.starts_with(fx.home.dir.path().join("downloads")), "{}", local.display());
    assert!(outcome.files.len() > 2);
    assert_private(&fx.home.dir.path().join("downloads"), true);

    // One file, whose `.partial` name in the download folder is a link to the canary: the
    // link is removed and a new file made, the canary never written.
    let canaries = Canaries::new();
    let manifest = PathBuf::from(&outcome_tar.manifest_path);
    let tar_name = outcome_tar.files[0].name.clone();
    let url = format!("{folder}{tar_name}");
    let dir = remote::download_dir(ctx, &url).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    symlink(canaries.file(), dir.join(format!("{tar_name}.partial"))).unwrap();
    let manifest_name = manifest.file_name().unwrap().to_string_lossy().into_owned();
    symlink(canaries.missing(), dir.join(format!("{manifest_name}.partial"))).unwrap();
    let result = download(ctx, &url).await;
    canaries.assert_untouched();
    if avoided_or_refused(&result) {
        let local = result.unwrap();
        assert_eq!(std::fs::read(&local).unwrap(), std::fs::read(served.join(&tar_name)).unwrap());
    }
    assert_private(&fx.home.dir.path().join("downloads"), true);
    assert_private(fx.home.dir.path(), true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_copy_never_writes_through_a_link_at_its_partial_names() {
    permissive_umask();
    let fx = prod_fixture(18, "privcopy", DATA).await;
    let canaries = Canaries::new();
    let made =
        run_backup(&fx, fx.out.path(), BackupFormat::Custom, |r| r.globals = true).await.unwrap();
    let disk = user_folder(fx.out.path(), "other-disk");
    let manifest = PathBuf::from(&made.manifest_path);
    let names = made.files.iter().map(|f| f.name.clone()).chain([manifest
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()]);
    for (i, name) in names.enumerate() {
        let target = if i % 2 == 0 { canaries.file() } else { canaries.missing() };
        symlink(target, disk.join(format!(".{name}.partial"))).unwrap();
    }
    let request =
        CopyRequest { backup_id: made.backup_id, destination: disk.display().to_string() };
    let result = copy_backup(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await;
    canaries.assert_untouched();
    if avoided_or_refused(&result) {
        let outcome = result.unwrap();
        assert_eq!(outcome.status, CopyStatus::Copied, "{}", outcome.message);
        assert_private(&disk, false);
        assert!(partials_in(&disk).is_empty());
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
        all.push(path);
    }
    all
}
