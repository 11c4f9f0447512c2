//! Passwords in the OS keychain: Secret Service on Linux, Keychain on macOS, Credential Manager
//! on Windows. Nothing else in Lifeboat stores a password.

use std::fmt::Debug;

use crate::base::error::{Error, Result};
use crate::util::secret::Secret;

/// The keychain "service" every Lifeboat entry is filed under.
pub const SERVICE: &str = "Lifeboat";

pub trait Keychain: Send + Sync + Debug {
    fn get(&self, account: &str) -> Result<Option<Secret>>;
    fn set(&self, account: &str, secret: &Secret) -> Result<()>;
    /// Removes the entry; a missing entry is not an error.
    fn delete(&self, account: &str) -> Result<()>;
}

/// The real keychain of the operating system, through the `keyring` crate.
#[derive(Debug, Default)]
pub struct OsKeychain;

impl OsKeychain {
    fn entry(account: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(SERVICE, account).map_err(map_error)
    }
}

impl Keychain for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<Secret>> {
        match OsKeychain::entry(account)?.get_password() {
            Ok(password) => Ok(Some(Secret::new(password))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(map_error(error)),
        }
    }

    fn set(&self, account: &str, secret: &Secret) -> Result<()> {
        OsKeychain::entry(account)?.set_password(secret.expose()).map_err(map_error)
    }

    fn delete(&self, account: &str) -> Result<()> {
        match OsKeychain::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(error) => Err(map_error(error)),
        }
    }
}

fn map_error(error: keyring::Error) -> Error {
    match error {
        keyring::Error::PlatformFailure(detail) => {
            Error::KeychainUnavailable { detail: detail.to_string() }
        }
        keyring::Error::NoStorageAccess(detail) => {
            Error::KeychainLocked { detail: detail.to_string() }
        }
        other => Error::Keychain { detail: other.to_string() },
    }
}

/// An in-memory keychain for unit tests. System tests use the real one.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct MemoryKeychain(std::sync::Mutex<std::collections::HashMap<String, Secret>>);

#[cfg(test)]
impl Keychain for MemoryKeychain {
    fn get(&self, account: &str) -> Result<Option<Secret>> {
        Ok(self.0.lock().unwrap().get(account).cloned())
    }
    fn set(&self, account: &str, secret: &Secret) -> Result<()> {
        self.0.lock().unwrap().insert(account.to_owned(), secret.clone());
        Ok(())
    }
    fn delete(&self, account: &str) -> Result<()> {
        self.0.lock().unwrap().remove(account);
        Ok(())
    }
}
