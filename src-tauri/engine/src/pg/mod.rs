//! Talking to PostgreSQL: running the bundled programs, connecting with TLS, creating, dropping
//! and renaming databases, and the inventory query that backups record and drills compare.

pub mod admin;
pub mod connect;
pub mod inventory;
pub mod pipeline;
pub mod runner;
pub mod sample_server;
pub mod smoke;
pub(crate) mod tls;
