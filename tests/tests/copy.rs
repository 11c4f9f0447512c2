//! The second copy on real folders: a directory backup (with globals and a real drill's
//! certificate) and a custom one copied into another folder, every file checked, owner-only
//! permissions; one byte changed in the copy is found by the re-check and recorded; a copy
//! whose folder is not there is a reminder, not an error.

use std::path::Path;

use lifeboat_engine::ErrorCode;
use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::format::manifest::Manifest;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::copy::{CopyRequest, VerifyCopy, copy_backup, verify_copy};
use lifeboat_engine::ops::drill::{DrillRequest, DrillTarget, drill};
use lifeboat_engine::ops::verify::verify;
use lifeboat_engine::storage::catalog::{BackupStatus, CopyStatus, backup_by_id};
use lifeboat_system_tests::home::{backup_request, prod_fixture};
use tokio_util::sync::CancellationToken;

const DATA: &str = "CREATE TABLE items (id serial PRIMARY KEY, name text);
    INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 500) g;";

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_copy_is_checked_and_a_changed_byte_in_it_is_found() {
    let fx = prod_fixture(18, "copy", DATA).await;
    let ctx = &fx.home.ctx;
    let cancel = CancellationToken::new();
    let mut request = backup_request("prod", &fx.db, fx.out.path(), BackupFormat::Directory);
    request.globals = true;
    let made = backup(ctx, request, &NullSink, &cancel).await.unwrap();
    // A real drill writes its certificate next to the backup; the copy carries it.
    let report = drill(
        ctx,
        DrillRequest {
            source: made.manifest_path.clone(),
            target: DrillTarget::Profile { name: "prod".into() },
            ..Default::default()
        },
        &NullSink,
        &cancel,
    )
    .await
    .unwrap();
    assert!(report.passed, "{:?}", report.failure);
    let certificate = Path::new(report.certificate_json.as_deref().unwrap()).to_owned();

    let disk = tempfile::tempdir().unwrap();
    let outcome = copy_backup(
        ctx,
        CopyRequest { backup_id: made.backup_id, destination: disk.path().display().to_string() },
        &NullSink,
        &cancel,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, CopyStatus::Copied, "{}", outcome.message);
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(&made.manifest_path).unwrap()).unwrap();
    assert!(manifest.files.iter().any(|f| f.role == "globals"));
    assert!(
        manifest.files.iter().filter(|f| f.name.contains('/')).count() >= 2,
        "a directory backup's folder holds several files"
    );
    for file in &manifest.files {
        let copied = disk.path().join(&file.name);
        assert_eq!(
            std::fs::read(&copied).unwrap(),
            std::fs::read(fx.out.path().join(&file.name)).unwrap()
        );
        assert_eq!(mode(&copied), 0o600, "{}", file.name);
    }
    let folder = disk.path().join(manifest.files[0].name.split('/').next().unwrap());
    assert!(folder.is_dir());
    assert_eq!(mode(&folder), 0o700);
    let copied_certificate = disk.path().join(certificate.file_name().unwrap());
    assert_eq!(std::fs::read(&copied_certificate).unwrap(), std::fs::read(&certificate).unwrap());
    let copied_manifest = Path::new(&outcome.copy_path);
    assert_eq!(copied_manifest.parent().unwrap(), disk.path());
    assert!(copied_manifest.is_file());
    let record = backup_by_id(ctx, made.backup_id).unwrap();
    assert_eq!(record.copy_status, Some(CopyStatus::Copied));
    assert_eq!(record.copy_path.as_deref(), Some(outcome.copy_path.as_str()));

    // The copy is a backup of its own: Lifeboat's verify reads it completely.
    let dump = folder.display().to_string();
    verify(ctx, &dump, None, false, &NullSink, &cancel).await.unwrap();
    assert_eq!(
        verify_copy(ctx, VerifyCopy { backup_id: made.backup_id }).await.unwrap().status,
        CopyStatus::Copied
    );

    // One byte changed in one file of the copy (a failing disk, a bad cable).
    let victim = manifest
        .files
        .iter()
        .find(|f| f.name.ends_with(".dat.gz") || f.name.ends_with(".dat"))
        .unwrap();
    let damaged = disk.path().join(&victim.name);
    let mut bytes = std::fs::read(&damaged).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&damaged, bytes).unwrap();
    let error = verify_copy(ctx, VerifyCopy { backup_id: made.backup_id }).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::CopyDamaged, "{error}");
    assert!(
        error.to_string().contains(&victim.name.split('/').next_back().unwrap().to_string()),
        "{error}"
    );
    let record = backup_by_id(ctx, made.backup_id).unwrap();
    assert_eq!(record.copy_status, Some(CopyStatus::Failed));
    assert!(record.copy_error.as_deref().unwrap().contains("damaged"));
    assert_eq!(record.status, BackupStatus::Finished, "the backup itself is fine");

    // Copying again replaces the damaged copy.
    copy_backup(
        ctx,
        CopyRequest { backup_id: made.backup_id, destination: disk.path().display().to_string() },
        &NullSink,
        &cancel,
    )
    .await
    .unwrap();
    assert_eq!(
        verify_copy(ctx, VerifyCopy { backup_id: made.backup_id }).await.unwrap().status,
        CopyStatus::Copied
    );
    let leftovers: Vec<_> = walk(disk.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn an_unplugged_disk_is_a_reminder_not_an_error() {
    let fx = prod_fixture(18, "copy_missing", DATA).await;
    let ctx = &fx.home.ctx;
    let cancel = CancellationToken::new();
    let request = backup_request("prod", &fx.db, fx.out.path(), BackupFormat::Custom);
    let made = backup(ctx, request, &NullSink, &cancel).await.unwrap();
    let gone = fx.out.path().join("usb-disk-not-mounted");
    let outcome = copy_backup(
        ctx,
        CopyRequest { backup_id: made.backup_id, destination: gone.display().to_string() },
        &NullSink,
        &cancel,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, CopyStatus::Missing);
    assert!(outcome.message.contains("plugged in"), "{}", outcome.message);
    assert!(!gone.exists(), "a missing destination is never created");
    let record = backup_by_id(ctx, made.backup_id).unwrap();
    assert_eq!(record.copy_status, Some(CopyStatus::Missing));
    assert_eq!(record.status, BackupStatus::Finished);

    // Its own folder is no second copy.
    let error = copy_backup(
        ctx,
        CopyRequest { backup_id: made.backup_id, destination: fx.out.path().display().to_string() },
        &NullSink,
        &cancel,
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidInput);

    // A missing catalog entry is named.
    let error = verify_copy(ctx, VerifyCopy { backup_id: 999_999 }).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackupNotInCatalog);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}
