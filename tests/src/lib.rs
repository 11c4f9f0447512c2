//! The system-test harness: real PostgreSQL servers of every bundled major, started on loopback
//! from the bundled binaries. Test files live in `tests/tests/`.

pub mod home;
pub mod pg;
pub mod regress;

pub use pg::{
    PgServer, SUPERUSER, SUPERUSER_PASSWORD, ServerOptions, as_test_user, give_to_test_user,
    processes_with_cmdline, quote_ident, quote_literal, reachable_bundle, toolbox,
};
pub use regress::{RegressionDb, regression_database};
