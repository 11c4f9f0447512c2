//! Lifeboat's engine: everything the desktop app and the `lifeboat` CLI do, without any GUI.
//!
//! The folders are layers; a module uses its own folder and the folders listed above it here,
//! never one below (`tests/layers.rs` fails otherwise):
//! `util` → `base` → `storage` → `pg` → `format` → `ops`.

pub mod util;

pub mod base;

pub mod storage;

pub mod pg;

pub mod format;

pub mod ops;

pub use base::error::{Error, ErrorCode, ErrorPayload, Result};
pub use storage::context::{Ctx, DataDir};

/// The version of Lifeboat (all crates of the workspace share it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
