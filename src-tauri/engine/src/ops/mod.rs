//! Engine operations. Each is `async fn op(ctx: &Ctx, input: Input) -> Result<Output>`; the
//! desktop commands, the CLI and the tests all call these same functions.

pub mod app_info;
