//! Errors of the engine. Every variant maps to a stable [`ErrorCode`] the UI and the CLI decide
//! by, a message that says what happened, and a hint that says what to do next.

use std::io;
use std::path::PathBuf;

use serde::Serialize;

use crate::base::finding::Finding;
use crate::base::tools::Tool;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Lifeboat's bundled PostgreSQL tools were not found (looked in: {searched}).")]
    ToolsNotFound {
        searched: String,
        /// Whether the place looked in came from `LIFEBOAT_PG_BUNDLE`.
        from_env: bool,
    },

    #[error(
        "The server runs PostgreSQL {server}, which is newer than the newest PostgreSQL tools \
         bundled with Lifeboat ({newest_bundled})."
    )]
    ServerTooNew { server: String, newest_bundled: u32 },

    #[error(
        "The server runs PostgreSQL {server}, which is older than the oldest version the \
         bundled tools can back up ({oldest_supported})."
    )]
    ServerTooOld { server: String, oldest_supported: &'static str },

    #[error("The bundled {tool} for PostgreSQL {major} is missing (expected at {path}).")]
    ToolMissing { tool: Tool, major: u32, path: PathBuf },

    #[error("{tool} could not be started: {source}")]
    ToolSpawn {
        tool: Tool,
        #[source]
        source: io::Error,
    },

    #[error("{tool} failed{}: {detail}", exit_text(*.exit_code))]
    ToolFailed { tool: Tool, exit_code: Option<i32>, detail: String },

    #[error("The operation was cancelled.")]
    Cancelled,

    #[error("Lifeboat cannot use its data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Lifeboat's catalog at {path} cannot be used: {detail}")]
    Store { path: PathBuf, detail: String },

    #[error("The system keychain is not available: {detail}")]
    KeychainUnavailable { detail: String },

    #[error(
        "The password of profile \"{profile}\" is in the system keychain, which cannot be \
         reached here (no desktop session, as under a scheduler or over SSH): {detail}"
    )]
    StoredPasswordUnreachable { profile: String, detail: String },

    #[error("The system keychain is locked: {detail}")]
    KeychainLocked { detail: String },

    #[error("The system keychain refused the request: {detail}")]
    Keychain { detail: String },

    #[error("There is no server profile named \"{name}\".")]
    ProfileNotFound { name: String },

    #[error("A server profile named \"{name}\" already exists.")]
    ProfileExists { name: String },

    #[error("{field}: {problem}")]
    InvalidInput { field: &'static str, problem: String },

    #[error("Compression level {level} is not valid for {method}.")]
    CompressionLevelInvalid {
        method: &'static str,
        level: i64,
        /// The method's (lowest, highest, default) level; absent when it takes none.
        levels: Option<(u32, u32, u32)>,
    },

    #[error("A {format} backup cannot be compressed with {method}: {why}.")]
    CompressionUnavailable {
        method: &'static str,
        format: &'static str,
        pg_dump_major: u32,
        why: String,
        /// The methods that work here, the default first.
        allowed: Vec<&'static str>,
    },

    #[error("The server name \"{host}\" could not be found.")]
    HostNotFound { host: String },

    #[error("Nothing answered at {host} port {port}: the connection was refused.")]
    ConnectionRefused { host: String, port: u16 },

    #[error("The server at {host} port {port} did not answer within {seconds} seconds.")]
    ConnectTimeout { host: String, port: u16, seconds: u64 },

    #[error("The server rejected the password for user \"{user}\".")]
    PasswordFailed { user: String },

    #[error("The server asks for a password for user \"{user}\", and none is stored.")]
    PasswordMissing { user: String },

    #[error("The server at {host} asked for the password in clear text; Lifeboat did not send it.")]
    CleartextPasswordRefused { host: String },

    #[error("The server does not allow this connection (pg_hba.conf): {detail}")]
    HbaRejected { detail: String },

    #[error("The server only accepts encrypted (SSL) connections.")]
    SslRequired,

    #[error("The server does not offer encrypted (SSL) connections.")]
    SslNotOffered,

    #[error("The server's SSL certificate is not trusted: {detail}")]
    SslCertUntrusted { detail: String },

    #[error("The database \"{database}\" does not exist on this server.")]
    DatabaseMissing { database: String },

    #[error("Lifeboat could not connect: {detail}")]
    ConnectFailed { detail: String },

    #[error("The server reported an error: {detail}")]
    Query { detail: String },

    #[error("{} is not a PostgreSQL backup: {detail}.", path.display())]
    NotABackup { path: PathBuf, detail: String },

    #[error("The Lifeboat manifest {} cannot be read: {detail}", path.display())]
    ManifestInvalid { path: PathBuf, detail: String },

    #[error(
        "{} does not match the checksum in its manifest (expected sha256 {expected}, found \
         {actual}).",
        file.display()
    )]
    ChecksumMismatch { file: PathBuf, expected: String, actual: String },

    #[error("{} is missing; the manifest {} lists it.", file.display(), manifest.display())]
    BackupFileMissing { file: PathBuf, manifest: PathBuf },

    #[error(
        "The backup {} is damaged or incomplete: pg_restore could not read it to the end \
         ({detail}).",
        path.display()
    )]
    ArchiveDamaged { path: PathBuf, detail: String },

    #[error(
        "The backup {} holds {count} psql command{} (a line with a backslash command such as \\!          or \\o, which would run programs or write files on this computer): {found}. pg_dump          never writes these, so the file was changed or made by something else. Nothing was          run.",
        path.display(),
        if *count == 1 { "" } else { "s" }
    )]
    BackupHasMetaCommands { path: PathBuf, count: u64, found: String },

    #[error(
        "The backup {} is in archive format {version}, newer than any bundled pg_restore reads \
         (the newest bundled is PostgreSQL {newest_bundled}).",
        path.display()
    )]
    ArchiveTooNew { path: PathBuf, version: String, newest_bundled: u32 },

    #[error("The restore cannot start: {}", blockers.iter().map(|b| b.message.as_str()).collect::<Vec<_>>().join(" "))]
    RestoreBlocked { blockers: Vec<Finding> },

    #[error(
        "This backup could not restore on its own, so it was not started: {} kept object(s) \
         need objects its scope leaves out: {}.",
        dependents.len(),
        listed(dependents)
    )]
    BackupHasBrokenDependencies { dependents: Vec<String>, can_keep: bool },

    #[error("The restored copy could not take the place of the database {database}: {detail}.")]
    ReplaceFailed { database: String, detail: String },

    #[error("The download of {url} failed: {detail}")]
    DownloadFailed { url: String, detail: String },

    #[error("{url} uses plain http, which is not encrypted, so Lifeboat did not download from it.")]
    PlainHttpRefused { url: String },

    #[error("Nothing was found at {url} (the server answered 404 Not Found).")]
    NotFound { url: String },

    #[error("The download of {url} was stopped: {reason}. Nothing of it was kept.")]
    DownloadTooLarge { url: String, reason: String },

    #[error(
        "The practice server cannot run while Lifeboat runs as root: PostgreSQL refuses to run \
         with administrator rights."
    )]
    PracticeServerAsRoot,

    #[error("This installation of Lifeboat carries no PostgreSQL server for a practice server.")]
    PracticeServerUnavailable,

    #[error("The practice server did not start: {detail}")]
    PracticeServerFailed { detail: String },

    #[error(
        "The backup {backup} holds only data, no table definitions (a data-only backup): it \
         restores only into a database that already has its tables, so a drill cannot restore \
         it into a new scratch database. Nothing was tested or recorded."
    )]
    DrillNeedsDefinitions { backup: String },

    #[error(
        "The backup asked for rights the practice server does not give: it restores as \
         {role}, a role that is not a superuser and may not run programs or read and write \
         files on this computer. Nothing was tested or recorded. What PostgreSQL said: {detail}"
    )]
    DrillPermissionDenied { role: String, detail: String },

    #[error("There is no backup number {id} in Lifeboat's catalog.")]
    BackupNotInCatalog { id: i64 },

    #[error(
        "The second copy is damaged: {file} has sha256 {actual}, but the backup's manifest \
         records {expected}."
    )]
    CopyDamaged { file: PathBuf, expected: String, actual: String },

    #[error("There is no schedule named \"{name}\".")]
    ScheduleNotFound { name: String },

    #[error("A schedule named \"{name}\" already exists.")]
    ScheduleExists { name: String },

    #[error("The {scheduler} could not be changed: {detail}")]
    SchedulerFailed { scheduler: &'static str, detail: String },

    #[error("No scheduler can run Lifeboat on this computer: {detail}")]
    SchedulerUnavailable { detail: String },

    #[error("The scheduled backup {backup} was made, but its test failed: {failure}")]
    ScheduleDrillFailed { backup: String, failure: String },

    #[error("No notification service is reachable: {detail}")]
    NotificationsUnavailable { detail: String },

    #[error(
        "No backup of {database} has passed a test, so Lifeboat cannot tell which one would \
         bring it back{detail}."
    )]
    NoTestedBackup { database: String, detail: String },

    #[error("Backup {id} is being used by a test or a restore right now; it was not deleted.")]
    BackupInUse { id: i64 },

    #[error("Backup {id} cannot be deleted: {reason}.")]
    BackupNotDeletable { id: i64, reason: String },

    #[error("{restored} could not take the place of {live}: {detail}")]
    SwapFailed { live: String, restored: String, detail: String },

    #[error(
        "{action} stopped: {path} was already there or is a link ({source}). Lifeboat writes only \
         files and folders it creates itself, never through a link."
    )]
    UnsafePath {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{action} failed for {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The first twenty items of a long list, and how many more there are.
fn listed(items: &[String]) -> String {
    const SHOWN: usize = 20;
    match items.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{}; and {more} more", items[..SHOWN].join("; ")),
        _ => items.join("; "),
    }
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!(" with exit code {code}"),
        None => " (it was stopped by a signal)".to_owned(),
    }
}

/// Declares [`ErrorCode`] and [`ErrorCode::ALL`] from one list, so that a new code is always in
/// `ALL` (docs/troubleshooting.md must have an entry for each: `tests/docs.rs`).
macro_rules! error_codes {
    ($(#[$meta:meta])* pub enum ErrorCode { $($(#[$vmeta:meta])* $code:ident,)* }) => {
        $(#[$meta])*
        pub enum ErrorCode { $($(#[$vmeta])* $code,)* }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code,)*];
        }
    };
}

error_codes! {
/// The stable identity of an error. The UI branches on this, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ToolsNotFound,
    ServerTooNew,
    ServerTooOld,
    ToolMissing,
    ToolSpawn,
    ToolFailed,
    Cancelled,
    DataDir,
    Store,
    KeychainUnavailable,
    KeychainLocked,
    Keychain,
    ProfileNotFound,
    ProfileExists,
    InvalidInput,
    CompressionUnavailable,
    HostNotFound,
    ConnectionRefused,
    ConnectTimeout,
    PasswordFailed,
    PasswordMissing,
    CleartextPasswordRefused,
    HbaRejected,
    SslRequired,
    SslNotOffered,
    SslCertUntrusted,
    DatabaseMissing,
    ConnectFailed,
    Query,
    NotABackup,
    ManifestInvalid,
    ChecksumMismatch,
    BackupFileMissing,
    ArchiveDamaged,
    BackupHasMetaCommands,
    ArchiveTooNew,
    RestoreBlocked,
    BackupHasBrokenDependencies,
    ReplaceFailed,
    DownloadFailed,
    PlainHttpRefused,
    NotFound,
    DownloadTooLarge,
    PracticeServerAsRoot,
    PracticeServerUnavailable,
    PracticeServerFailed,
    DrillNeedsDefinitions,
    DrillPermissionDenied,
    BackupNotInCatalog,
    CopyDamaged,
    ScheduleNotFound,
    ScheduleExists,
    SchedulerFailed,
    SchedulerUnavailable,
    ScheduleDrillFailed,
    NotificationsUnavailable,
    NoTestedBackup,
    BackupInUse,
    BackupNotDeletable,
    SwapFailed,
    UnsafePath,
    Io,
}
}

/// What crosses the IPC boundary or is printed by `lifeboat --json` when something fails.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ErrorPayload {
    pub code: ErrorCode,
    pub message: String,
    pub hint: String,
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::ToolsNotFound { .. } => ErrorCode::ToolsNotFound,
            Error::ServerTooNew { .. } => ErrorCode::ServerTooNew,
            Error::ServerTooOld { .. } => ErrorCode::ServerTooOld,
            Error::ToolMissing { .. } => ErrorCode::ToolMissing,
            Error::ToolSpawn { .. } => ErrorCode::ToolSpawn,
            Error::ToolFailed { .. } => ErrorCode::ToolFailed,
            Error::Cancelled => ErrorCode::Cancelled,
            Error::DataDir { .. } => ErrorCode::DataDir,
            Error::Store { .. } => ErrorCode::Store,
            Error::KeychainUnavailable { .. } => ErrorCode::KeychainUnavailable,
            Error::StoredPasswordUnreachable { .. } => ErrorCode::KeychainUnavailable,
            Error::KeychainLocked { .. } => ErrorCode::KeychainLocked,
            Error::Keychain { .. } => ErrorCode::Keychain,
            Error::ProfileNotFound { .. } => ErrorCode::ProfileNotFound,
            Error::ProfileExists { .. } => ErrorCode::ProfileExists,
            Error::InvalidInput { .. } => ErrorCode::InvalidInput,
            Error::CompressionLevelInvalid { .. } => ErrorCode::InvalidInput,
            Error::CompressionUnavailable { .. } => ErrorCode::CompressionUnavailable,
            Error::HostNotFound { .. } => ErrorCode::HostNotFound,
            Error::ConnectionRefused { .. } => ErrorCode::ConnectionRefused,
            Error::ConnectTimeout { .. } => ErrorCode::ConnectTimeout,
            Error::PasswordFailed { .. } => ErrorCode::PasswordFailed,
            Error::PasswordMissing { .. } => ErrorCode::PasswordMissing,
            Error::CleartextPasswordRefused { .. } => ErrorCode::CleartextPasswordRefused,
            Error::HbaRejected { .. } => ErrorCode::HbaRejected,
            Error::SslRequired => ErrorCode::SslRequired,
            Error::SslNotOffered => ErrorCode::SslNotOffered,
            Error::SslCertUntrusted { .. } => ErrorCode::SslCertUntrusted,
            Error::DatabaseMissing { .. } => ErrorCode::DatabaseMissing,
            Error::ConnectFailed { .. } => ErrorCode::ConnectFailed,
            Error::Query { .. } => ErrorCode::Query,
            Error::NotABackup { .. } => ErrorCode::NotABackup,
            Error::ManifestInvalid { .. } => ErrorCode::ManifestInvalid,
            Error::ChecksumMismatch { .. } => ErrorCode::ChecksumMismatch,
            Error::BackupFileMissing { .. } => ErrorCode::BackupFileMissing,
            Error::ArchiveDamaged { .. } => ErrorCode::ArchiveDamaged,
            Error::BackupHasMetaCommands { .. } => ErrorCode::BackupHasMetaCommands,
            Error::ArchiveTooNew { .. } => ErrorCode::ArchiveTooNew,
            Error::RestoreBlocked { .. } => ErrorCode::RestoreBlocked,
            Error::BackupHasBrokenDependencies { .. } => ErrorCode::BackupHasBrokenDependencies,
            Error::ReplaceFailed { .. } => ErrorCode::ReplaceFailed,
            Error::DownloadFailed { .. } => ErrorCode::DownloadFailed,
            Error::PlainHttpRefused { .. } => ErrorCode::PlainHttpRefused,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::DownloadTooLarge { .. } => ErrorCode::DownloadTooLarge,
            Error::PracticeServerAsRoot => ErrorCode::PracticeServerAsRoot,
            Error::PracticeServerUnavailable => ErrorCode::PracticeServerUnavailable,
            Error::PracticeServerFailed { .. } => ErrorCode::PracticeServerFailed,
            Error::DrillNeedsDefinitions { .. } => ErrorCode::DrillNeedsDefinitions,
            Error::DrillPermissionDenied { .. } => ErrorCode::DrillPermissionDenied,
            Error::BackupNotInCatalog { .. } => ErrorCode::BackupNotInCatalog,
            Error::CopyDamaged { .. } => ErrorCode::CopyDamaged,
            Error::ScheduleNotFound { .. } => ErrorCode::ScheduleNotFound,
            Error::ScheduleExists { .. } => ErrorCode::ScheduleExists,
            Error::SchedulerFailed { .. } => ErrorCode::SchedulerFailed,
            Error::SchedulerUnavailable { .. } => ErrorCode::SchedulerUnavailable,
            Error::ScheduleDrillFailed { .. } => ErrorCode::ScheduleDrillFailed,
            Error::NotificationsUnavailable { .. } => ErrorCode::NotificationsUnavailable,
            Error::NoTestedBackup { .. } => ErrorCode::NoTestedBackup,
            Error::BackupInUse { .. } => ErrorCode::BackupInUse,
            Error::BackupNotDeletable { .. } => ErrorCode::BackupNotDeletable,
            Error::SwapFailed { .. } => ErrorCode::SwapFailed,
            Error::UnsafePath { .. } => ErrorCode::UnsafePath,
            Error::Io { .. } => ErrorCode::Io,
        }
    }

    /// The next step for the user, in plain words.
    pub fn hint(&self) -> String {
        match self {
            Error::ToolsNotFound { from_env: true, .. } => {
                "LIFEBOAT_PG_BUNDLE points to a folder without PostgreSQL tools: correct it or \
                 unset it to use the tools installed with Lifeboat."
                    .to_owned()
            }
            Error::ToolsNotFound { from_env: false, .. } | Error::ToolMissing { .. } => {
                "Reinstall Lifeboat. When running from source, run `make run` once so the \
                 PostgreSQL binaries are downloaded and unpacked."
                    .to_owned()
            }
            Error::ServerTooNew { newest_bundled, .. } => format!(
                "Update Lifeboat to a version that bundles this PostgreSQL release; the tools in \
                 this version only go up to PostgreSQL {newest_bundled}."
            ),
            Error::ServerTooOld { .. } => {
                "Back this server up with the pg_dump that came with it, or upgrade the server."
                    .to_owned()
            }
            Error::ToolSpawn { .. } => {
                "Check that the Lifeboat installation is complete and that the disk is not full, \
                 then try again."
                    .to_owned()
            }
            Error::ToolFailed { .. } => {
                "Read the message above from PostgreSQL; it names the problem. Fix it and run \
                 the step again."
                    .to_owned()
            }
            Error::PracticeServerAsRoot => {
                "Start Lifeboat as your normal user, or test the backup on one of your own \
                 servers (choose a profile instead of the practice server)."
                    .to_owned()
            }
            Error::PracticeServerUnavailable => {
                "Test the backup on one of your own servers (choose a profile), or reinstall \
                 Lifeboat from a package that includes the practice server."
                    .to_owned()
            }
            Error::PracticeServerFailed { .. } => {
                "Check that the disk holding Lifeboat's data folder is not full; the server's own \
                 message is above. Testing on one of your own servers works too."
                    .to_owned()
            }
            Error::DrillNeedsDefinitions { .. } => {
                "Test a whole or schema-including backup of the same database; a data-only \
                 backup restores into a database that already has its tables."
                    .to_owned()
            }
            Error::DrillPermissionDenied { .. } => {
                "SQL in a backup never runs with full rights on this computer. If the backup is \
                 yours and needs a superuser (event triggers, untrusted extensions, C functions), \
                 test it on one of your own servers (choose a profile); if you do not know where \
                 it came from, do not restore it as a superuser anywhere."
                    .to_owned()
            }
            Error::Cancelled => {
                "Nothing was left behind. Start again when you are ready.".to_owned()
            }
            Error::DataDir { .. } => {
                "Make sure the folder exists and is writable, or point LIFEBOAT_HOME to a folder \
                 that is."
                    .to_owned()
            }
            Error::Store { .. } => {
                "Check that the data folder is writable and the disk is not full. If another \
                 Lifeboat is running a long task, wait for it and try again."
                    .to_owned()
            }
            Error::KeychainUnavailable { .. } => {
                "Lifeboat keeps passwords in the system keychain. Log in to a desktop session \
                 (on Linux: a running Secret Service such as GNOME Keyring or KWallet), or set \
                 the profile to use .pgpass / PGPASSWORD instead."
                    .to_owned()
            }
            Error::StoredPasswordUnreachable { profile, .. } => format!(
                "Either have the keychain unlocked at login (GNOME Keyring or KWallet started by \
                 your login session, so that scheduled runs find it), or keep this password in \
                 ~/.pgpass (a line host:port:*:user:password, mode 0600) and add the profile \
                 again with `lifeboat profile remove \"{profile}\"` and `lifeboat profile add \
                 \"{profile}\" ... --use-pgpass`."
            ),
            Error::KeychainLocked { .. } => {
                "Unlock your keychain (for example by logging in again), then try again.".to_owned()
            }
            Error::Keychain { .. } => {
                "Try again; if it keeps failing, remove the profile's password and enter it again."
                    .to_owned()
            }
            Error::ProfileNotFound { .. } => {
                "Check the spelling, or list the profiles with `lifeboat profile list`.".to_owned()
            }
            Error::ProfileExists { .. } => {
                "Choose another name, or edit the existing profile.".to_owned()
            }
            Error::InvalidInput { .. } => "Correct the value and try again.".to_owned(),
            Error::CompressionLevelInvalid { method, levels: Some((min, max, default)), .. } => {
                format!(
                    "Choose a level from {min} to {max} (higher is smaller and slower), or leave \
                     the level out for {method}'s default, {default}."
                )
            }
            Error::CompressionLevelInvalid { method, levels: None, .. } => {
                format!("\"{method}\" takes no level: write just {method}.")
            }
            Error::CompressionUnavailable { allowed, .. } => format!(
                "Choose {}, or leave the compression out to get the default ({}).",
                allowed.join(" or "),
                allowed.first().copied().unwrap_or("none")
            ),
            Error::HostNotFound { .. } => {
                "Check the spelling of the host name, or use the server's IP address.".to_owned()
            }
            Error::ConnectionRefused { port, .. } => format!(
                "Is PostgreSQL running on that machine, and does it listen on port {port}? Check \
                 the port number and the server's listen_addresses setting."
            ),
            Error::ConnectTimeout { .. } => {
                "Check the host and port. A firewall may be dropping the connection, or the \
                 server may be overloaded."
                    .to_owned()
            }
            Error::PasswordFailed { .. } => {
                "Check the user name and enter the password again (Edit profile).".to_owned()
            }
            Error::PasswordMissing { .. } => {
                "Enter the password in the profile, or add it to your .pgpass file.".to_owned()
            }
            Error::CleartextPasswordRefused { .. } => {
                "Ask the server's administrator to use scram-sha-256 in pg_hba.conf, or connect \
                 with SSL mode \"verify-full\" (the server's certificate checked), or allow a \
                 cleartext password in the profile (--allow-cleartext-password; unsafe without \
                 TLS: anyone on the way can read it)."
                    .to_owned()
            }
            Error::HbaRejected { .. } => {
                "Ask the server's administrator to allow this user, database and address in \
                 pg_hba.conf, then reload the server."
                    .to_owned()
            }
            Error::SslRequired => {
                "Set the profile's SSL mode to \"require\" (or stricter) and test again.".to_owned()
            }
            Error::SslNotOffered => {
                "Set the profile's SSL mode to \"prefer\" or \"disable\", or turn on SSL on the \
                 server."
                    .to_owned()
            }
            Error::SslCertUntrusted { .. } => {
                "Choose the server's root certificate (CA) file in the profile, or use SSL mode \
                 \"require\" to encrypt without checking the certificate."
                    .to_owned()
            }
            Error::DatabaseMissing { .. } => {
                "Check the database name. The maintenance database is usually \"postgres\"."
                    .to_owned()
            }
            Error::ConnectFailed { .. } => {
                "Check the host, port and SSL settings of the profile, then test again.".to_owned()
            }
            Error::Query { .. } => {
                "Check that the user may read this database, then refresh.".to_owned()
            }
            Error::NotABackup { .. } => {
                "Choose a backup made by Lifeboat or pg_dump: a .backup (custom) or .tar file, a \
                 plain .sql dump, or the folder of a directory backup (the one holding toc.dat)."
                    .to_owned()
            }
            Error::ManifestInvalid { .. } => {
                "Copy the manifest again from where the backup came from, or move it away to \
                 restore the dump without checking its checksums."
                    .to_owned()
            }
            Error::ChecksumMismatch { .. } => {
                "The file changed after the backup was written: a damaged disk, an incomplete \
                 copy or an edit. Nothing was restored; use another copy of this backup."
                    .to_owned()
            }
            Error::BackupFileMissing { .. } => {
                "Copy the complete backup (every file its manifest lists) and try again. \
                 Nothing was restored."
                    .to_owned()
            }
            Error::ArchiveDamaged { .. } => {
                "Nothing was restored. Use another copy of the backup: a file cut short by an \
                 interrupted copy or a full disk cannot be repaired."
                    .to_owned()
            }
            Error::BackupHasMetaCommands { .. } => {
                "Do not restore this file. Use a copy of the backup you know came from pg_dump \
                 (Lifeboat's own backups carry a manifest whose checksums show they were not \
                 changed), or look at the lines named to see what they would have done."
                    .to_owned()
            }
            Error::ArchiveTooNew { .. } => {
                "Update Lifeboat to a version that bundles the PostgreSQL release that made this \
                 backup."
                    .to_owned()
            }
            Error::RestoreBlocked { blockers } => {
                let fixes: Vec<&str> = blockers.iter().filter_map(|b| b.fix.as_deref()).collect();
                if fixes.is_empty() {
                    "Nothing was changed. Resolve the problems above and try again.".to_owned()
                } else {
                    format!("Nothing was changed. {}", fixes.join(" "))
                }
            }
            Error::BackupHasBrokenDependencies { can_keep: true, .. } => {
                "Keep what they need (`lifeboat backup --keep-needed`, or \"Keep what they \
                 need\" in the wizard): their schemas, tables or extensions are added to the \
                 backup. Or \
                 leave those objects out (`--leave-out-dependents`, or \"Leave them out\")."
                    .to_owned()
            }
            Error::BackupHasBrokenDependencies { can_keep: false, .. } => {
                "What they need cannot be added to a backup of this scope (a backup of single \
                 tables carries no functions or types; a backup of chosen schemas carries no casts, \
                 transforms or foreign data wrappers). Leave those objects out \
                 (`lifeboat backup --leave-out-dependents`, or \"Leave them out\" in the \
                 wizard), or back up more of the database."
                    .to_owned()
            }
            Error::ReplaceFailed { database, .. } => format!(
                "The restored copy was removed; {database} keeps its data. Close the sessions \
                 connected to {database} (or let Lifeboat end them) and restore again."
            ),
            Error::DownloadFailed { .. } => {
                "Check the address, that the web server is reachable from this computer and \
                 that its certificate is valid, then try again: an interrupted download goes on \
                 where it stopped. Nothing was restored."
                    .to_owned()
            }
            Error::DownloadTooLarge { .. } => {
                "Make room on the disk that holds Lifeboat's data folder (downloads are kept in \
                 its downloads folder), or check that the address names a backup: an index page \
                 or a manifest is small, and a backup is no larger than its manifest records. \
                 Nothing was restored."
                    .to_owned()
            }
            Error::PlainHttpRefused { .. } => {
                "The address uses plain http, which is not encrypted: anyone on the network can \
                 read or change the backup on its way. Use an https:// address, or, on a network \
                 you trust, allow plain http for this source (--allow-http, or \"Allow plain \
                 http\" in the wizard)."
                    .to_owned()
            }
            Error::NotFound { .. } => {
                "Check the address: the backup may have been moved or deleted, or a letter may \
                 be wrong. Open the folder's address in a browser to see what it holds."
                    .to_owned()
            }
            Error::BackupNotInCatalog { .. } => {
                "List the backups with `lifeboat backups --all` and use one of their numbers."
                    .to_owned()
            }
            Error::CopyDamaged { .. } => {
                "The original backup is unaffected. Copy it again (the damaged copy is replaced); \
                 if the copy is damaged again, check the disk it is on."
                    .to_owned()
            }
            Error::ScheduleNotFound { .. } => {
                "List the schedules with `lifeboat schedule list`.".to_owned()
            }
            Error::ScheduleExists { name } => format!(
                "Remove it first with `lifeboat schedule remove {name}`, then add it again with \
                 the new settings."
            ),
            Error::SchedulerFailed { .. } => {
                "The scheduler's own message is above: fix what it names and try again. Nothing \
                 was left half-installed."
                    .to_owned()
            }
            Error::SchedulerUnavailable { .. } => {
                "Install cron (on Debian or Ubuntu: `sudo apt install cron`), or add the schedule \
                 where systemd runs your user session, then add it again."
                    .to_owned()
            }
            Error::ScheduleDrillFailed { .. } => {
                "The backup is kept. Open the test's certificate to see what did not match, fix \
                 it, and test the backup again with `lifeboat test BACKUP`."
                    .to_owned()
            }
            Error::NoTestedBackup { .. } => {
                "Test the newest backup first (\"Test backup…\", or `lifeboat test BACKUP`): \
                 once a test passes, Recover restores that backup. Nothing was changed."
                    .to_owned()
            }
            Error::BackupInUse { .. } => {
                "Wait until the test or restore using it has ended, then delete it again."
                    .to_owned()
            }
            Error::BackupNotDeletable { .. } => {
                "Nothing was deleted. `lifeboat backups --all` shows every backup and its state."
                    .to_owned()
            }
            Error::SwapFailed { live, restored, .. } => format!(
                "Both databases are kept; the message says under which names. Close the \
                 programs connected to {live} (or let Lifeboat end their sessions) and swap \
                 again, or rename {restored} by hand."
            ),
            Error::NotificationsUnavailable { .. } => {
                "Nothing was lost: the items will show in the app on its next start. On a \
                 desktop, check that a notification service runs (it comes with the desktop \
                 session); a scheduled run without a session bus cannot show notifications."
                    .to_owned()
            }
            Error::UnsafePath { .. } => {
                "Another program or user of this computer may have put it there: look at it and \
                 remove it if it is not yours, then try again. Keep backups in a folder only you \
                 can write to."
                    .to_owned()
            }
            Error::Io { .. } => {
                "Check that the path exists, that you may write there, and that the disk has \
                 space, then try again."
                    .to_owned()
            }
        }
    }

    /// An error creating or opening `path` for writing: [`Error::UnsafePath`] when the name was
    /// taken already or is a link, otherwise [`Error::Io`].
    pub fn writing(action: &'static str, path: &std::path::Path, source: io::Error) -> Error {
        let path = path.to_owned();
        if crate::util::private_fs::is_refusal(&source) {
            Error::UnsafePath { action, path, source }
        } else {
            Error::Io { action, path, source }
        }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload { code: self.code(), message: self.to_string(), hint: self.hint() }
    }
}

impl From<&Error> for ErrorPayload {
    fn from(error: &Error) -> Self {
        error.payload()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_carries_code_message_and_hint() {
        let error = Error::ServerTooNew { server: "19.1".into(), newest_bundled: 18 };
        let payload = error.payload();
        assert_eq!(payload.code, ErrorCode::ServerTooNew);
        assert!(payload.message.contains("19.1") && payload.message.contains("18"));
        assert!(payload.hint.contains("18"));
        let json = serde_json::to_value(&payload).unwrap();
        assert_eq!(json["code"], "server_too_new");
    }

    #[test]
    fn tool_failed_message_names_exit_code_or_signal() {
        let failed = Error::ToolFailed {
            tool: Tool::PgDump,
            exit_code: Some(1),
            detail: "connection refused".into(),
        };
        assert_eq!(failed.to_string(), "pg_dump failed with exit code 1: connection refused");
        let killed =
            Error::ToolFailed { tool: Tool::PgRestore, exit_code: None, detail: "".into() };
        assert!(killed.to_string().contains("stopped by a signal"));
    }
}
