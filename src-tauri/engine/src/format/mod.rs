//! Backup files: the manifest, what a source is and what its archive holds, choosing entries to
//! restore, the saved roles, and downloading a source from a web server.

pub mod archive;
pub mod compression;
pub mod globals;
pub mod manifest;
pub mod read;
pub mod remote;
pub mod selection;
pub mod source;
pub mod sqltext;
