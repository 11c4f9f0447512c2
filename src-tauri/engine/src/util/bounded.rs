//! Reading files that came from elsewhere without being held up by them: only a regular file is
//! read (a FIFO would block the open and the read forever, `/dev/zero` or `/dev/urandom` never
//! end), and never more than a cap (a sparse 1 GB "manifest" costs nothing to make).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub enum Refused {
    /// Not a regular file: what it is instead ("a FIFO", "a device", "a folder", …).
    NotRegular(&'static str),
    /// Larger than the cap: its size (at least cap + 1 when it grew while read).
    TooLarge {
        size: u64,
        cap: u64,
    },
    Io(io::Error),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            Refused::TooLarge { size, cap } => write!(
                f,
                "it is {}, more than the {} such a file can be",
                crate::util::size::human_bytes(*size),
                crate::util::size::human_bytes(*cap)
            ),
            Refused::Io(error) => error.fmt(f),
        }
    }
}

/// Opens `path` for reading when it is a regular file (a link to one is followed). The open
/// does not wait for a writer (a FIFO is opened non-blocking, then refused by its type).
pub fn open_regular(path: &Path) -> Result<File, Refused> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(Refused::Io)?;
    let meta = file.metadata().map_err(Refused::Io)?;
    if !meta.is_file() {
        return Err(Refused::NotRegular(kind_of(&meta)));
    }
    Ok(file)
}

/// The whole of the regular file `path`, when it is at most `cap` bytes.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, Refused> {
    let file = open_regular(path)?;
    let size = file.metadata().map_err(Refused::Io)?.len();
    if size > cap {
        return Err(Refused::TooLarge { size, cap });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(Refused::Io)?;
    if bytes.len() as u64 > cap {
        return Err(Refused::TooLarge { size: bytes.len() as u64, cap });
    }
    Ok(bytes)
}

/// What a file that is not a regular one is, in a few words.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"{}").unwrap();
        assert_eq!(read_regular(&small, 2).unwrap(), b"{}");
        assert!(matches!(read_regular(&small, 1), Err(Refused::TooLarge { size: 2, cap: 1 })));
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(read_regular(&zero, 10), Err(Refused::NotRegular("a device"))));
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let error = read_regular(&fifo, 10).unwrap_err();
        assert!(error.to_string().contains("FIFO"), "{error}");
        assert!(matches!(read_regular(dir.path(), 10), Err(Refused::NotRegular("a folder"))));
        let sparse = dir.path().join("sparse");
        std::fs::File::create(&sparse).unwrap().set_len(1 << 30).unwrap();
        assert!(matches!(read_regular(&sparse, 1 << 20), Err(Refused::TooLarge { .. })));
    }
}
