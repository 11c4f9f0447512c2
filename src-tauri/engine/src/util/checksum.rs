//! SHA-256 as Lifeboat records it: lowercase hex, computed while bytes pass by.

use std::io::Read;

use sha2::{Digest, Sha256};

/// Hashes bytes as they are written or read, so a file is never read a second time.
#[derive(Default)]
pub struct Sha256Hex {
    hasher: Sha256,
    bytes: u64,
}

impl Sha256Hex {
    pub fn new() -> Sha256Hex {
        Sha256Hex::default()
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
    }

    /// How many bytes went through so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The digest as 64 lowercase hex digits.
    pub fn finish(self) -> String {
        hex(&self.hasher.finalize())
    }
}

/// The SHA-256 of everything `reader` yields, and how many bytes that was.
pub fn sha256_reader(reader: &mut impl Read) -> std::io::Result<(u64, String)> {
    let mut hash = Sha256Hex::new();
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
    }
    Ok((hash.bytes(), hash.finish()))
}

/// The first `bytes` bytes of the SHA-256 of `text`, as lowercase hex: a short, stable key
/// derived from a name (2 hex digits per byte).
pub fn short_sha256(text: &str, bytes: usize) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex(&digest[..bytes.min(digest.len())])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let (bytes, digest) = sha256_reader(&mut &b"abc"[..]).unwrap();
        assert_eq!(bytes, 3);
        assert_eq!(digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(short_sha256("abc", 4), "ba7816bf");
        let mut chunked = Sha256Hex::new();
        chunked.update(b"a");
        chunked.update(b"bc");
        assert_eq!(chunked.finish(), digest);
    }
}
