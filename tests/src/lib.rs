//! The system-test harness: real PostgreSQL servers of every bundled major, started on loopback
//! from the bundled binaries. Test files live in `tests/tests/`.

pub mod pg;

pub use pg::{PgServer, processes_with_cmdline, quote_ident, toolbox};
