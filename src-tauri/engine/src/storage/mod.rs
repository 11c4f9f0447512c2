//! What Lifeboat keeps on this computer: the data folder and the context built on it, the SQLite
//! store, the keychain, connection profiles, the catalog of backups and drills, smoke checks.

pub mod activity;
pub mod catalog;
pub mod context;
pub mod jobs;
pub mod keychain;
pub(crate) mod pgpass;
pub mod profiles;
pub mod smoke;
pub mod store;
