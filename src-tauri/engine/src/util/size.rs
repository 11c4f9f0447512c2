//! Sizes for people.

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
