//! Leaf helpers that know nothing of Lifeboat: SQL quoting, names that fit files and PostgreSQL
//! identifiers, sizes for people, checksums, secrets that never print, owner-only files that are
//! never written through a link.

pub mod checksum;
pub mod naming;
pub mod private_fs;
pub mod quote;
pub mod secret;
pub mod size;
