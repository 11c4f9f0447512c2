//! Connection profiles: where a server is and how to log in. Stored in the SQLite store; the
//! password only in the OS keychain (or, when the user prefers, `.pgpass` / `PGPASSWORD`).

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::storage::context::Ctx;
use crate::storage::pgpass;
use crate::util::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    pub fn parse(text: &str) -> Option<SslMode> {
        SslMode::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// Where a profile's password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum PasswordSource {
    /// The OS keychain (the default).
    #[default]
    Keychain,
    /// `PGPASSWORD` in Lifeboat's environment, else the `.pgpass` file. Only a profile with this
    /// source ever reads `PGPASSWORD`; children of every profile get the profile's own password
    /// or none (`pg::runner` removes the inherited variable).
    Environment,
    /// Lifeboat's own practice database server (`lifeboat practice setup`): the password is in
    /// an owner-only file next to its cluster ([`practice_sample_home`]), never in the keychain,
    /// so the profile works headless; connecting starts the server when it is down
    /// (`pg::sample_server::ensure_running`).
    Practice,
}

impl PasswordSource {
    fn as_str(self) -> &'static str {
        match self {
            PasswordSource::Keychain => "keychain",
            PasswordSource::Environment => "environment",
            PasswordSource::Practice => "practice",
        }
    }

    fn parse(text: &str) -> PasswordSource {
        match text {
            "environment" => PasswordSource::Environment,
            "practice" => PasswordSource::Practice,
            _ => PasswordSource::Keychain,
        }
    }
}

/// The folder of the practice database's own server (its cluster in `data/`, its superuser's
/// password in `password`): apart from the drill's practice server (`practice/<major>/`),
/// which is started and emptied per drill.
pub fn practice_sample_home(ctx: &Ctx) -> std::path::PathBuf {
    ctx.data_dir.path().join("practice").join("sample")
}

/// The password of the practice database's superuser, from its owner-only file.
fn practice_password(ctx: &Ctx) -> Result<Secret> {
    let path = practice_sample_home(ctx).join("password");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Secret::new(text.trim())),
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::PracticeServerFailed {
                detail: format!(
                    "its password file {} is missing; set the practice database up again \
                     (`lifeboat practice setup`, or \"Try the practice database\" in the app)",
                    path.display()
                ),
            })
        }
        Err(source) => {
            Err(Error::Io { action: "Reading the practice server's password", path, source })
        }
    }
}

/// Everything about a profile the user edits, except the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSettings {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The database Lifeboat connects to for checks and listings (usually "postgres").
    pub maintenance_db: String,
    pub sslmode: SslMode,
    /// CA certificate file for verify-ca / verify-full.
    pub root_cert: Option<String>,
    pub password_source: PasswordSource,
    /// Send the password when the server asks for it in clear text (pg_hba.conf `password`,
    /// LDAP, PAM, RADIUS) over a connection that does not verify the server's certificate.
    /// Off by default: such a request is refused before the password leaves this computer.
    #[serde(default)]
    pub allow_cleartext_password: bool,
}

impl ProfileSettings {
    /// Whether a server may ask for this profile's password in clear text: the user allowed it,
    /// or the connection is TLS with the server's certificate checked against a root
    /// (verify-ca, verify-full, or require with a root certificate, as libpq treats it), so no
    /// one on the way can read it or pose as the server.
    pub fn cleartext_password_allowed(&self) -> bool {
        cleartext_allowed(self.allow_cleartext_password, self.sslmode, self.root_cert.is_some())
    }
}

/// [`ProfileSettings::cleartext_password_allowed`] from its parts.
pub fn cleartext_allowed(allowed: bool, sslmode: SslMode, has_root_cert: bool) -> bool {
    allowed
        || matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull)
        || (sslmode == SslMode::Require && has_root_cert)
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub settings: ProfileSettings,
    #[serde(skip)]
    #[specta(skip)]
    pub(crate) keychain_account: String,
    /// A password known without any lookup (the practice server's own); never stored.
    #[serde(skip)]
    #[specta(skip)]
    pub(crate) fixed_password: Option<Secret>,
}

impl Profile {
    /// The keychain entry's account name (not a secret; it only locates the password).
    pub fn keychain_account(&self) -> &str {
        &self.keychain_account
    }
}

impl ProfileSettings {
    fn validate(&mut self) -> Result<()> {
        self.name = self.name.trim().to_owned();
        self.host = self.host.trim().to_owned();
        self.user = self.user.trim().to_owned();
        self.maintenance_db = self.maintenance_db.trim().to_owned();
        if self.maintenance_db.is_empty() {
            self.maintenance_db = "postgres".to_owned();
        }
        let required = |field: &'static str, value: &str| {
            if value.is_empty() {
                Err(Error::InvalidInput { field, problem: "must not be empty".into() })
            } else if value.chars().any(char::is_control) {
                Err(Error::InvalidInput {
                    field,
                    problem: "must not contain control characters".into(),
                })
            } else {
                Ok(())
            }
        };
        required("name", &self.name)?;
        required("host", &self.host)?;
        required("user", &self.user)?;
        if self.name.chars().count() > 100 {
            return Err(Error::InvalidInput {
                field: "name",
                problem: "is longer than 100 characters".into(),
            });
        }
        if self.port == 0 {
            return Err(Error::InvalidInput {
                field: "port",
                problem: "must be between 1 and 65535".into(),
            });
        }
        if let Some(cert) = self.root_cert.as_mut() {
            *cert = cert.trim().to_owned();
        }
        if self.root_cert.as_deref().is_some_and(str::is_empty) {
            self.root_cert = None;
        }
        if let Some(cert) = &self.root_cert
            && !std::path::Path::new(cert).is_file()
        {
            return Err(Error::InvalidInput {
                field: "root certificate",
                problem: format!("the file {cert} does not exist"),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AddProfile {
    pub settings: ProfileSettings,
    #[specta(type = Option<String>)]
    pub password: Option<Secret>,
}

/// What to do with the stored password when a profile is edited.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PasswordChange {
    Keep,
    Set {
        #[specta(type = String)]
        password: Secret,
    },
    Clear,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProfile {
    /// The profile's current name.
    pub name: String,
    pub settings: ProfileSettings,
    pub password: PasswordChange,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct RemoveProfile {
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct ListProfiles;

const COLUMNS: &str = "name, host, port, username, maintenance_db, sslmode, root_cert, password_source, keychain_account, allow_cleartext_password";

/// The values of a row in the order of `COLUMNS`, for INSERT and UPDATE alike.
fn row_params(s: &ProfileSettings, account: &str) -> rusqlite::ParamsFromIter<[Value; 10]> {
    let text = |t: &str| Value::Text(t.to_owned());
    rusqlite::params_from_iter([
        text(&s.name),
        text(&s.host),
        Value::Integer(i64::from(s.port)),
        text(&s.user),
        text(&s.maintenance_db),
        text(s.sslmode.as_str()),
        s.root_cert.as_deref().map_or(Value::Null, text),
        text(s.password_source.as_str()),
        text(account),
        Value::Integer(i64::from(s.allow_cleartext_password)),
    ])
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Profile> {
    let sslmode: String = row.get(5)?;
    let source: String = row.get(7)?;
    Ok(Profile {
        settings: ProfileSettings {
            name: row.get(0)?,
            host: row.get(1)?,
            port: row.get(2)?,
            user: row.get(3)?,
            maintenance_db: row.get(4)?,
            sslmode: SslMode::parse(&sslmode).unwrap_or_default(),
            root_cert: row.get(6)?,
            password_source: PasswordSource::parse(&source),
            allow_cleartext_password: row.get(9)?,
        },
        keychain_account: row.get(8)?,
        fixed_password: None,
    })
}

pub async fn list_profiles(ctx: &Ctx, _input: ListProfiles) -> Result<Vec<Profile>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(&format!("SELECT {COLUMNS} FROM profiles ORDER BY name COLLATE NOCASE"))
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement.query_map([], from_row).map_err(|e| ctx.store.error(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))
}

/// The profile named `name` (case-insensitive).
pub fn find_profile(ctx: &Ctx, name: &str) -> Result<Profile> {
    let conn = ctx.store.conn();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM profiles WHERE name = ?1"),
        [name.trim()],
        from_row,
    )
    .optional()
    .map_err(|e| ctx.store.error(e))?
    .ok_or_else(|| Error::ProfileNotFound { name: name.trim().to_owned() })
}

fn name_taken(ctx: &Ctx, name: &str, except: Option<&str>) -> Result<bool> {
    let conn = ctx.store.conn();
    let found: Option<String> = conn
        .query_row("SELECT keychain_account FROM profiles WHERE name = ?1", [name], |r| r.get(0))
        .optional()
        .map_err(|e| ctx.store.error(e))?;
    Ok(found.is_some_and(|account| Some(account.as_str()) != except))
}

pub async fn add_profile(ctx: &Ctx, input: AddProfile) -> Result<Profile> {
    let subject = input.settings.name.clone();
    let work = add_profile_inner(ctx, input);
    crate::base::logging::logged("add_profile", &subject, work).await
}

/// [`add_profile`] without its lines in the log.
async fn add_profile_inner(ctx: &Ctx, input: AddProfile) -> Result<Profile> {
    let mut settings = input.settings;
    settings.validate()?;
    if name_taken(ctx, &settings.name, None)? {
        return Err(Error::ProfileExists { name: settings.name });
    }
    let account = format!("profile-{}", uuid::Uuid::new_v4());
    // The keychain first: if it refuses, no profile without its password is left behind.
    if let Some(password) = &input.password {
        ctx.keychain.set(&account, password)?;
    }
    // The statement's lock on the store ends before the next one takes it.
    let inserted = {
        let conn = ctx.store.conn();
        conn.execute(
            &format!(
                "INSERT INTO profiles ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            row_params(&settings, &account),
        )
        .map_err(|e| ctx.store.error(e))
    };
    let inserted =
        inserted.and_then(|_| set_password_stored(ctx, &account, input.password.is_some()));
    if let Err(error) = inserted {
        if input.password.is_some() {
            let _ = ctx.keychain.delete(&account);
        }
        return Err(error);
    }
    Ok(Profile { settings, keychain_account: account, fixed_password: None })
}

pub async fn update_profile(ctx: &Ctx, input: UpdateProfile) -> Result<Profile> {
    let current = find_profile(ctx, &input.name)?;
    let mut settings = input.settings;
    settings.validate()?;
    // The practice database's profile keeps reading its server's password file: the profile
    // dialog knows only the keychain and the environment.
    if current.settings.password_source == PasswordSource::Practice {
        settings.password_source = PasswordSource::Practice;
    }
    if name_taken(ctx, &settings.name, Some(&current.keychain_account))? {
        return Err(Error::ProfileExists { name: settings.name });
    }
    match &input.password {
        PasswordChange::Keep => {}
        PasswordChange::Set { password } => {
            ctx.keychain.set(&current.keychain_account, password)?;
            set_password_stored(ctx, &current.keychain_account, true)?;
        }
        PasswordChange::Clear => {
            if password_stored(ctx, &current.keychain_account)? != Some(false) {
                ctx.keychain.delete(&current.keychain_account)?;
            }
            set_password_stored(ctx, &current.keychain_account, false)?;
        }
    }
    // A rename keeps the keychain account, so the stored password follows the profile.
    ctx.store
        .conn()
        .execute(
            "UPDATE profiles SET name = ?1, host = ?2, port = ?3, username = ?4, maintenance_db = ?5, \
             sslmode = ?6, root_cert = ?7, password_source = ?8, allow_cleartext_password = ?10 \
             WHERE keychain_account = ?9",
            row_params(&settings, &current.keychain_account),
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(Profile { settings, keychain_account: current.keychain_account, fixed_password: None })
}

pub async fn remove_profile(ctx: &Ctx, input: RemoveProfile) -> Result<()> {
    let profile = find_profile(ctx, &input.name)?;
    // A profile that never stored a password has nothing in the keychain to delete.
    let stored = password_stored(ctx, &profile.keychain_account)?;
    let deleted =
        if stored == Some(false) { Ok(()) } else { ctx.keychain.delete(&profile.keychain_account) };
    match deleted {
        Ok(()) => {}
        // A profile that never used the keychain may be removed without one.
        Err(Error::KeychainUnavailable { .. })
            if profile.settings.password_source != PasswordSource::Keychain => {}
        Err(error) => return Err(error),
    }
    ctx.store
        .conn()
        .execute("DELETE FROM profiles WHERE keychain_account = ?1", [&profile.keychain_account])
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

/// The password to log in with, from wherever the profile says it lives.
pub fn password_for(ctx: &Ctx, profile: &Profile, dbname: &str) -> Result<Option<Secret>> {
    let s = &profile.settings;
    if let Some(password) = &profile.fixed_password {
        return Ok(Some(password.clone()));
    }
    match s.password_source {
        PasswordSource::Keychain => keychain_password(ctx, profile),
        PasswordSource::Environment => {
            Ok(pgpass::from_environment(&s.host, s.port, dbname, &s.user))
        }
        PasswordSource::Practice => practice_password(ctx).map(Some),
    }
}

/// Records the port the practice database's server listens on now (it moves when another
/// program took the old one while it was down).
pub fn set_practice_port(ctx: &Ctx, profile: &Profile, port: u16) -> Result<()> {
    ctx.store
        .conn()
        .execute(
            "UPDATE profiles SET port = ?2 WHERE keychain_account = ?1 AND password_source = ?3",
            rusqlite::params![profile.keychain_account, port, PasswordSource::Practice.as_str()],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

/// The password stored in the keychain for a saved profile. A profile that stored none never
/// asks the keychain (which a scheduler's environment cannot reach); one that did says, when
/// the keychain is out of reach, that its password is there and what to do instead.
pub fn keychain_password(ctx: &Ctx, profile: &Profile) -> Result<Option<Secret>> {
    let stored = password_stored(ctx, &profile.keychain_account)?;
    if stored == Some(false) {
        return Ok(None);
    }
    match ctx.keychain.get(&profile.keychain_account) {
        Err(Error::KeychainUnavailable { detail }) if stored == Some(true) => {
            Err(Error::StoredPasswordUnreachable { profile: profile.settings.name.clone(), detail })
        }
        other => other,
    }
}

/// Whether a password was stored in the keychain for the profile with this account: `None`
/// for profiles saved before Lifeboat kept track (and for an account no profile has).
fn password_stored(ctx: &Ctx, account: &str) -> Result<Option<bool>> {
    let conn = ctx.store.conn();
    conn.query_row(
        "SELECT password_stored FROM profiles WHERE keychain_account = ?1",
        [account],
        |r| r.get::<_, Option<bool>>(0),
    )
    .optional()
    .map(Option::flatten)
    .map_err(|e| ctx.store.error(e))
}

fn set_password_stored(ctx: &Ctx, account: &str, stored: bool) -> Result<()> {
    ctx.store
        .conn()
        .execute(
            "UPDATE profiles SET password_stored = ?2 WHERE keychain_account = ?1",
            rusqlite::params![account, stored],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::ErrorCode;
    use crate::storage::keychain::{Keychain, MemoryKeychain};
    use std::sync::Arc;

    fn settings(name: &str) -> ProfileSettings {
        ProfileSettings {
            name: name.into(),
            host: "db.example.test".into(),
            port: 5432,
            user: "admin".into(),
            maintenance_db: String::new(),
            sslmode: SslMode::Prefer,
            root_cert: None,
            password_source: PasswordSource::Keychain,
            allow_cleartext_password: false,
        }
    }

    fn ctx() -> (tempfile::TempDir, Ctx, Arc<MemoryKeychain>) {
        let dir = tempfile::tempdir().unwrap();
        let keychain = Arc::new(MemoryKeychain::default());
        let ctx = Ctx::for_tests(dir.path(), keychain.clone());
        (dir, ctx, keychain)
    }

    #[tokio::test]
    async fn add_list_rename_and_remove_keep_the_password_with_the_profile() {
        let (_dir, ctx, keychain) = ctx();
        let added = add_profile(
            &ctx,
            AddProfile { settings: settings("Shop"), password: Some(Secret::new("pw1")) },
        )
        .await
        .unwrap();
        assert_eq!(added.settings.maintenance_db, "postgres");
        assert_eq!(keychain.get(&added.keychain_account).unwrap().unwrap().expose(), "pw1");

        let renamed = update_profile(
            &ctx,
            UpdateProfile {
                name: "shop".into(),
                settings: settings("Shop (prod)"),
                password: PasswordChange::Keep,
            },
        )
        .await
        .unwrap();
        assert_eq!(renamed.keychain_account, added.keychain_account);
        let profile = find_profile(&ctx, "shop (PROD)").unwrap();
        assert_eq!(password_for(&ctx, &profile, "postgres").unwrap().unwrap().expose(), "pw1");
        assert_eq!(find_profile(&ctx, "Shop").unwrap_err().code(), ErrorCode::ProfileNotFound);

        let names: Vec<String> = list_profiles(&ctx, ListProfiles)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.settings.name)
            .collect();
        assert_eq!(names, ["Shop (prod)"]);

        remove_profile(&ctx, RemoveProfile { name: "Shop (prod)".into() }).await.unwrap();
        assert!(keychain.get(&added.keychain_account).unwrap().is_none(), "keychain entry deleted");
        assert!(list_profiles(&ctx, ListProfiles).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn names_are_unique_regardless_of_case() {
        let (_dir, ctx, _) = ctx();
        add_profile(&ctx, AddProfile { settings: settings("Lab"), password: None }).await.unwrap();
        let error = add_profile(&ctx, AddProfile { settings: settings("LAB"), password: None })
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::ProfileExists);
        add_profile(&ctx, AddProfile { settings: settings("Other"), password: None })
            .await
            .unwrap();
        let clash = update_profile(
            &ctx,
            UpdateProfile {
                name: "Other".into(),
                settings: settings("lab"),
                password: PasswordChange::Keep,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(clash.code(), ErrorCode::ProfileExists);
    }

    #[tokio::test]
    async fn password_changes_set_and_clear_the_keychain_entry() {
        let (_dir, ctx, keychain) = ctx();
        let p = add_profile(&ctx, AddProfile { settings: settings("A"), password: None })
            .await
            .unwrap();
        assert!(keychain.get(&p.keychain_account).unwrap().is_none());
        let set = PasswordChange::Set { password: Secret::new("new") };
        update_profile(
            &ctx,
            UpdateProfile { name: "A".into(), settings: settings("A"), password: set },
        )
        .await
        .unwrap();
        assert_eq!(keychain.get(&p.keychain_account).unwrap().unwrap().expose(), "new");
        update_profile(
            &ctx,
            UpdateProfile {
                name: "A".into(),
                settings: settings("A"),
                password: PasswordChange::Clear,
            },
        )
        .await
        .unwrap();
        assert!(keychain.get(&p.keychain_account).unwrap().is_none());
    }

    #[tokio::test]
    async fn invalid_settings_name_the_field() {
        let (_dir, ctx, _) = ctx();
        let mut bad = settings("  ");
        let error = add_profile(&ctx, AddProfile { settings: bad.clone(), password: None })
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidInput);
        assert!(error.to_string().starts_with("name:"));
        bad.name = "x".into();
        bad.port = 0;
        assert!(
            add_profile(&ctx, AddProfile { settings: bad.clone(), password: None })
                .await
                .unwrap_err()
                .to_string()
                .starts_with("port:")
        );
        bad.port = 5432;
        bad.root_cert = Some("/no/such/ca.pem".into());
        assert!(
            add_profile(&ctx, AddProfile { settings: bad, password: None })
                .await
                .unwrap_err()
                .to_string()
                .contains("/no/such/ca.pem")
        );
    }

    /// The keychain of a session without a bus: every call fails.
    #[derive(Debug)]
    struct NoBus;
    impl Keychain for NoBus {
        fn get(&self, _: &str) -> Result<Option<Secret>> {
            Err(Error::KeychainUnavailable { detail: "no session bus".into() })
        }
        fn set(&self, _: &str, _: &Secret) -> Result<()> {
            self.get("").map(|_| ())
        }
        fn delete(&self, _: &str) -> Result<()> {
            self.get("").map(|_| ())
        }
    }

    #[tokio::test]
    async fn a_profile_without_a_stored_password_never_asks_the_keychain() {
        let dir = tempfile::tempdir().unwrap();
        let headless = Ctx::for_tests(dir.path(), Arc::new(NoBus));
        add_profile(&headless, AddProfile { settings: settings("Trust"), password: None })
            .await
            .unwrap();
        let profile = find_profile(&headless, "Trust").unwrap();
        assert!(password_for(&headless, &profile, "postgres").unwrap().is_none());
        update_profile(
            &headless,
            UpdateProfile {
                name: "Trust".into(),
                settings: settings("Trust"),
                password: PasswordChange::Clear,
            },
        )
        .await
        .unwrap();
        remove_profile(&headless, RemoveProfile { name: "Trust".into() }).await.unwrap();
    }

    #[tokio::test]
    async fn a_practice_profile_reads_its_password_file_and_never_the_keychain() {
        let dir = tempfile::tempdir().unwrap();
        let headless = Ctx::for_tests(dir.path(), Arc::new(NoBus));
        let practice =
            ProfileSettings { password_source: PasswordSource::Practice, ..settings("Practice") };
        add_profile(&headless, AddProfile { settings: practice, password: None }).await.unwrap();
        let profile = find_profile(&headless, "practice").unwrap();
        assert_eq!(profile.settings.password_source, PasswordSource::Practice);
        let missing = password_for(&headless, &profile, "postgres").unwrap_err();
        assert_eq!(missing.code(), ErrorCode::PracticeServerFailed);
        assert!(missing.to_string().contains("practice setup"), "{missing}");
        let home = practice_sample_home(&headless);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("password"), "s3cret\n").unwrap();
        assert_eq!(password_for(&headless, &profile, "shop").unwrap().unwrap().expose(), "s3cret");
        set_practice_port(&headless, &profile, 40123).unwrap();
        assert_eq!(find_profile(&headless, "Practice").unwrap().settings.port, 40123);
        let renamed = UpdateProfile {
            name: "Practice".into(),
            settings: settings("Practice"),
            password: PasswordChange::Keep,
        };
        let kept = update_profile(&headless, renamed).await.unwrap();
        assert_eq!(kept.settings.password_source, PasswordSource::Practice, "kept on edit");
        remove_profile(&headless, RemoveProfile { name: "Practice".into() }).await.unwrap();
    }

    #[tokio::test]
    async fn a_stored_password_out_of_reach_names_the_profile_and_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let desktop = Ctx::for_tests(dir.path(), Arc::new(MemoryKeychain::default()));
        add_profile(
            &desktop,
            AddProfile { settings: settings("Shop"), password: Some(Secret::new("pw")) },
        )
        .await
        .unwrap();
        drop(desktop);
        let headless = Ctx::for_tests(dir.path(), Arc::new(NoBus));
        let profile = find_profile(&headless, "Shop").unwrap();
        let error = password_for(&headless, &profile, "postgres").unwrap_err();
        assert_eq!(error.code(), ErrorCode::KeychainUnavailable);
        assert!(error.to_string().contains("\"Shop\""), "{error}");
        assert!(error.hint().contains("--use-pgpass") && error.hint().contains("login"));
    }

    #[tokio::test]
    async fn a_cleartext_password_needs_the_profiles_leave_or_a_verified_server() {
        let (_dir, ctx, _) = ctx();
        let lax = ProfileSettings { allow_cleartext_password: true, ..settings("Lax") };
        add_profile(&ctx, AddProfile { settings: lax, password: None }).await.unwrap();
        add_profile(&ctx, AddProfile { settings: settings("Strict"), password: None })
            .await
            .unwrap();
        assert!(find_profile(&ctx, "Lax").unwrap().settings.cleartext_password_allowed());
        let strict = find_profile(&ctx, "Strict").unwrap().settings;
        assert!(!strict.cleartext_password_allowed(), "prefer, not allowed");
        for (sslmode, root, allowed) in [
            (SslMode::Disable, false, false),
            (SslMode::Require, false, false),
            (SslMode::Require, true, true),
            (SslMode::VerifyCa, false, true),
            (SslMode::VerifyFull, false, true),
        ] {
            assert_eq!(cleartext_allowed(false, sslmode, root), allowed, "{sslmode:?} {root}");
        }
        let updated = UpdateProfile {
            name: "Strict".into(),
            settings: ProfileSettings { allow_cleartext_password: true, ..settings("Strict") },
            password: PasswordChange::Keep,
        };
        update_profile(&ctx, updated).await.unwrap();
        assert!(find_profile(&ctx, "Strict").unwrap().settings.allow_cleartext_password);
    }

    #[test]
    fn the_password_never_serializes_with_the_profile() {
        let profile = Profile {
            settings: settings("S"),
            keychain_account: "profile-x".into(),
            fixed_password: None,
        };
        let json = serde_json::to_string(&profile).unwrap();
        assert!(!json.contains("profile-x") && !json.to_lowercase().contains("password\":\""));
        let input: AddProfile = serde_json::from_value(serde_json::json!({
            "settings": serde_json::to_value(settings("S")).unwrap(),
            "password": "from-the-ui"
        }))
        .unwrap();
        assert_eq!(input.password.unwrap().expose(), "from-the-ui");
    }
}
