//! Engine operations. Each is `async fn op(ctx: &Ctx, input: Input) -> Result<Output>` (plus a
//! progress sink and a cancel token where it runs programs); the desktop commands, the CLI and
//! the tests all call these same functions. Operations may call each other (a drill restores).

pub mod app_info;
pub mod backup;
pub mod browse;
pub mod copy;
pub mod drill;
pub mod notify;
pub mod practice;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod verify;
pub mod watch;
