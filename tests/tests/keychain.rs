//! Passwords through the real Secret Service (GNOME Keyring in a private D-Bus session: run the
//! tests through tests/with-keyring.sh, as `make test` does): stored and read back, kept on
//! rename, deleted with the profile, and found in no file of the data folder and in no child's
//! command line.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::base::tools::Tool;
use lifeboat_engine::pg::connect::{CheckProfile, check_profile};
use lifeboat_engine::pg::runner::{ConnTarget, ToolCommand, run};
use lifeboat_engine::storage::keychain::OsKeychain;
use lifeboat_engine::storage::profiles::{
    AddProfile, PasswordChange, PasswordSource, ProfileSettings, RemoveProfile, SslMode,
    UpdateProfile, add_profile, find_profile, remove_profile, update_profile,
};
use lifeboat_engine::util::secret::Secret;
use lifeboat_engine::{Ctx, DataDir, ErrorCode};
use lifeboat_system_tests::pg::ServerOptions;
use lifeboat_system_tests::{PgServer, processes_with_cmdline, toolbox};
use tokio_util::sync::CancellationToken;

fn settings(name: &str, port: u16) -> ProfileSettings {
    ProfileSettings {
        name: name.into(),
        host: "127.0.0.1".into(),
        port,
        user: "postgres".into(),
        maintenance_db: "postgres".into(),
        sslmode: SslMode::Prefer,
        root_cert: None,
        password_source: PasswordSource::Keychain,
        allow_cleartext_password: false,
    }
}

/// The secret stored for `account`, as the Secret Service itself answers (secret-tool).
fn keychain_lookup(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "Lifeboat", "username", account])
        .output()
        .unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[tokio::test]
async fn a_password_lives_only_in_the_keychain() {
    let server =
        PgServer::start_with(18, ServerOptions { password_auth: true, ..Default::default() });
    let password = server.superuser_password().unwrap();
    let home = tempfile::tempdir().unwrap();
    let ctx =
        Ctx::open(DataDir::at(home.path().to_owned()).unwrap(), toolbox(), Arc::new(OsKeychain))
            .unwrap();

    let added = add_profile(
        &ctx,
        AddProfile {
            settings: settings("Secret Shop", server.port),
            password: Some(Secret::new(password)),
        },
    )
    .await;
    if let Err(error) = &added {
        assert_ne!(
            error.code(),
            ErrorCode::KeychainUnavailable,
            "no Secret Service: run the tests through tests/with-keyring.sh (make test does): {error}"
        );
    }
    let account = added.unwrap().keychain_account().to_owned();
    assert_eq!(keychain_lookup(&account).as_deref(), Some(password), "stored in the real keychain");
    let report =
        check_profile(&ctx, CheckProfile { name: "Secret Shop".into(), timeout_secs: None })
            .await
            .unwrap();
    assert_eq!(report.user, "postgres");

    // Renaming keeps the password.
    update_profile(
        &ctx,
        UpdateProfile {
            name: "Secret Shop".into(),
            settings: settings("Renamed Shop", server.port),
            password: PasswordChange::Keep,
        },
    )
    .await
    .unwrap();
    check_profile(&ctx, CheckProfile { name: "Renamed Shop".into(), timeout_secs: None })
        .await
        .unwrap();
    assert_eq!(keychain_lookup(&account).as_deref(), Some(password));

    // A child gets the password through its environment while it runs, never its argv.
    let db = server.create_database("argv").await;
    let holder = server.client(&db).await;
    holder.batch_execute("CREATE TABLE held (id int)").await.unwrap();
    holder.batch_execute("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let profile = find_profile(&ctx, "Renamed Shop").unwrap();
    let target = ConnTarget::for_profile(&ctx, &profile, &db).unwrap();
    let dump_file = home.path().join("held.backup");
    let dump = ToolCommand::new(toolbox().newest(), Tool::PgDump)
        .unwrap()
        .args(["--format=custom", "--file"])
        .arg(&dump_file)
        .conn(target);
    let cancel = CancellationToken::new();
    let running = run(dump, &NullSink, &cancel);
    let inspect = async {
        // pg_dump waits for the lock; look at it from the outside meanwhile.
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen = processes_with_cmdline(&dump_file.display().to_string());
            if !seen.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!seen.is_empty(), "pg_dump was seen running");
        for pid in &seen {
            let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            assert!(
                !argv.windows(password.len()).any(|w| w == password.as_bytes()),
                "password in argv of {pid}"
            );
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let expected = format!("PGPASSWORD={password}");
            assert!(
                environ.windows(expected.len()).any(|w| w == expected.as_bytes()),
                "password in the environment"
            );
        }
        holder.batch_execute("COMMIT").await.unwrap();
    };
    let (outcome, ()) = tokio::join!(running, inspect);
    outcome.unwrap();

    assert_eq!(
        files_containing(home.path(), password.as_bytes()),
        Vec::<String>::new(),
        "no file holds the password"
    );

    // Removing the profile removes its keychain entry.
    remove_profile(&ctx, RemoveProfile { name: "Renamed Shop".into() }).await.unwrap();
    assert_eq!(keychain_lookup(&account), None, "the keychain entry is gone");
}

#[tokio::test]
async fn a_profile_without_a_stored_password_says_so() {
    let server =
        PgServer::start_with(14, ServerOptions { password_auth: true, ..Default::default() });
    let home = tempfile::tempdir().unwrap();
    let ctx =
        Ctx::open(DataDir::at(home.path().to_owned()).unwrap(), toolbox(), Arc::new(OsKeychain))
            .unwrap();
    add_profile(
        &ctx,
        AddProfile { settings: settings("No Password", server.port), password: None },
    )
    .await
    .unwrap();
    let error =
        check_profile(&ctx, CheckProfile { name: "No Password".into(), timeout_secs: None })
            .await
            .unwrap_err();
    assert_eq!(error.code(), ErrorCode::PasswordMissing, "{error}");
    // Setting it through an edit makes the check pass.
    let set = PasswordChange::Set { password: Secret::new(server.superuser_password().unwrap()) };
    update_profile(
        &ctx,
        UpdateProfile {
            name: "No Password".into(),
            settings: settings("No Password", server.port),
            password: set,
        },
    )
    .await
    .unwrap();
    check_profile(&ctx, CheckProfile { name: "No Password".into(), timeout_secs: None })
        .await
        .unwrap();
    remove_profile(&ctx, RemoveProfile { name: "No Password".into() }).await.unwrap();
}
