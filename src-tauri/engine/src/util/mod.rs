//! Leaf helpers that know nothing of Lifeboat: SQL quoting, names that fit files and PostgreSQL
//! identifiers, sizes for people, checksums, secrets that never print, owner-only files that are
//! never written through a link, text made safe for a terminal,
//! addresses without their passwords.

pub mod bounded;
pub mod checksum;
pub mod display;
pub mod naming;
pub mod private_fs;
pub mod quote;
pub mod redact;
pub mod secret;
pub mod size;
