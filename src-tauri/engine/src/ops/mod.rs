//! Engine operations. Each is `async fn op(ctx: &Ctx, input: Input) -> Result<Output>` (plus a
//! progress sink and a cancel token where it runs programs); the desktop commands, the CLI and
//! the tests all call these same functions. Operations may call each other (a drill restores).

pub mod activity;
pub mod app_info;
pub mod backup;
pub(crate) mod backup_counts;
pub mod backup_server;
pub mod browse;
pub mod copy;
pub mod delete;
pub mod diagnostics;
pub mod drill;
pub mod notify;
pub mod overview;
pub mod practice;
pub mod practice_db;
pub mod recover;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod verify;
pub mod watch;
