//! docs/troubleshooting.md has one entry per error code: a `### `code`` heading (the code as
//! serialized, which is what the app, `--json` and the log show) followed by "What it means"
//! and "What to do". A code without an entry, or an entry for no code, fails here, naming each.

use std::collections::BTreeSet;
use std::path::Path;

use lifeboat_engine::ErrorCode;

fn page() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/troubleshooting.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code).unwrap().as_str().unwrap().to_owned()
}

/// The level-3 headings and the text under each, up to the next heading.
fn entries(page: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in page.lines() {
        if line.starts_with('#') {
            entries.extend(current.take());
            if let Some(heading) = line.strip_prefix("### ") {
                current = Some((heading.trim().to_owned(), String::new()));
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    entries.extend(current);
    entries
}

#[test]
fn every_error_code_has_exactly_one_entry_and_every_entry_is_a_code() {
    let codes: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| code_name(*c)).collect();
    assert_eq!(codes.len(), ErrorCode::ALL.len(), "a code is listed twice in ErrorCode::ALL");
    let entries = entries(&page());

    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for (heading, body) in &entries {
        let code = heading.strip_prefix('`').and_then(|h| h.strip_suffix('`'));
        match code {
            Some(code) if codes.contains(code) => {
                if !seen.insert(code.to_owned()) {
                    problems.push(format!("`{code}` has two entries"));
                }
                for part in ["**What it means:**", "**What to do:**"] {
                    if !body.contains(part) {
                        problems.push(format!("the entry of `{code}` has no {part}"));
                    }
                }
            }
            _ => problems.push(format!("the heading \"### {heading}\" is not an error code")),
        }
    }
    for code in codes.difference(&seen) {
        problems.push(format!("no entry for `{code}` (add \"### `{code}`\")"));
    }
    assert!(
        problems.is_empty(),
        "docs/troubleshooting.md does not match ErrorCode:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_serialized_code_is_snake_case_and_all_is_in_declaration_order() {
    // ALL comes from the same list as the enum; its order follows the declaration, so the
    // discriminants count up.
    for (index, code) in ErrorCode::ALL.iter().enumerate() {
        assert_eq!(*code as usize, index);
        let name = code_name(*code);
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
    }
}
