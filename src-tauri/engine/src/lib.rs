//! Lifeboat's engine: everything the desktop app and the `lifeboat` CLI do, without any GUI.

pub mod archive;
pub mod backup;
pub mod browse;
pub mod catalog;
pub mod connect;
pub mod context;
pub mod drill;
pub mod error;
pub mod globals;
pub mod keychain;
pub mod naming;
pub mod ops;
pub(crate) mod pgpass;
pub mod practice;
pub mod profiles;
pub mod progress;
pub mod remote;
pub mod restore;
pub mod runner;
pub mod secret;
pub mod selection;
pub mod smoke;
pub mod sql;
pub mod store;
pub mod tools;

pub use context::{Ctx, DataDir};
pub use error::{Error, ErrorCode, ErrorPayload, Result};

/// A byte count for people: "512 B", "7 kB", "1.5 GB" (powers of 1024).
pub fn human_bytes(bytes: u64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "kB", "MB", "GB"] {
        if value < 1024.0 {
            return format!("{value:.0} {unit}");
        }
        value /= 1024.0;
    }
    format!("{value:.1} TB")
}

/// The version of Lifeboat (all crates of the workspace share it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
