//! The vocabulary every layer above speaks: errors and what to do about them, findings, progress
//! events, and the bundled PostgreSQL programs.

pub mod error;
pub mod finding;
pub mod logging;
pub mod progress;
pub mod tools;
