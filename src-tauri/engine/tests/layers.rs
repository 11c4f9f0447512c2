//! The engine's folders are layers (see `src/lib.rs` and docs/ARCHITECTURE.md): a module may use
//! its own folder and the folders below it, never one above. These tests read the sources, so
//! an upward `use` fails here before it becomes a loop nobody can untangle. Test modules are
//! left out: a test may set up whatever it needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Lowest first.
const LAYERS: [&str; 6] = ["util", "base", "storage", "pg", "format", "ops"];

/// What `lib.rs` re-exports at the crate root, by the folder it comes from.
const ROOT_REEXPORTS: [(&str, &str); 6] = [
    ("Error", "base"),
    ("ErrorCode", "base"),
    ("ErrorPayload", "base"),
    ("Result", "base"),
    ("Ctx", "storage"),
    ("DataDir", "storage"),
];

/// Functions that are tables (one arm per error kind), allowed to be long.
const TABLES: [&str; 2] = ["base/error.rs::hint", "base/error.rs::code"];

/// The longest function body the engine allows, in lines.
const MAX_FUNCTION_LINES: usize = 120;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `src/`, relative to it, with its text up to its test module.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]\nmod tests") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            let name = path.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
            (name, code)
        })
        .collect()
}

fn layer_of(file: &str) -> Option<usize> {
    let folder = file.split('/').next()?;
    LAYERS.iter().position(|l| *l == folder)
}

/// The folders (or root re-exports, as their folder) that `code` names through `crate::`.
fn crate_references(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if after.starts_with('{') {
                // `use crate::{a::X, b}`: every first segment inside the braces.
                let inner = &after[1..after.find('}').unwrap_or(after.len())];
                found.extend(inner.split(',').map(|p| first_segment(p.trim())));
            } else {
                found.push(first_segment(after));
            }
            rest = after;
        }
    }
    found
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            ROOT_REEXPORTS
                .iter()
                .find(|(name, _)| *name == s)
                .map(|(_, f)| f.to_string())
                .unwrap_or(s)
        })
        .collect()
}

fn first_segment(path: &str) -> String {
    path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

#[test]
fn every_source_file_is_in_a_layer() {
    let stray: Vec<String> = sources()
        .into_iter()
        .map(|(file, _)| file)
        .filter(|f| f != "lib.rs" && layer_of(f).is_none())
        .collect();
    assert!(stray.is_empty(), "files outside the layer folders {LAYERS:?}: {stray:?}");
}

#[test]
fn no_module_uses_a_higher_layer() {
    let mut upward = BTreeMap::new();
    for (file, code) in sources() {
        let Some(own) = layer_of(&file) else { continue };
        for folder in crate_references(&code) {
            if let Some(used) = LAYERS.iter().position(|l| *l == folder)
                && used > own
            {
                upward.insert(file.clone(), folder);
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules that use a higher layer (order, lowest first: {LAYERS:?}): {upward:?}"
    );
}

#[test]
fn the_layer_check_sees_an_upward_use() {
    let code = "use crate::ops::restore::Finding;\nuse crate::{Error, util::quote};\n";
    assert_eq!(crate_references(code), ["ops", "base", "util"]);
    assert_eq!(layer_of("base/error.rs"), Some(1));
}

/// rustfmt puts a function's closing brace at the indentation of its `fn` line, which is what
/// this counts by.
fn long_functions(file: &str, code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut long = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let Some(name) = function_name(trimmed) else { continue };
        if trimmed.ends_with(';') {
            continue;
        }
        let closing = " ".repeat(indent) + "}";
        let Some(length) = lines[start..].iter().position(|l| *l == closing) else { continue };
        let label = format!("{file}::{name}");
        if length + 1 > MAX_FUNCTION_LINES && !TABLES.contains(&label.as_str()) {
            long.push((label, length + 1));
        }
    }
    long
}

fn function_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "fn" => return words.next().map(first_segment),
            w if w.starts_with("pub") || matches!(w, "async" | "const" | "unsafe") => {}
            _ => return None,
        }
    }
    None
}

#[test]
fn no_engine_function_is_longer_than_the_limit() {
    let long: Vec<(String, usize)> =
        sources().iter().flat_map(|(file, code)| long_functions(file, code)).collect();
    assert!(long.is_empty(), "functions over {MAX_FUNCTION_LINES} lines: {long:?}");
}

#[test]
fn the_length_check_counts_a_long_function() {
    let body = "    let x = 1;\n".repeat(MAX_FUNCTION_LINES);
    let code = format!("pub(crate) async fn big() {{\n{body}}}\nfn small() {{\n}}\n");
    assert_eq!(long_functions("x.rs", &code), [("x.rs::big".to_owned(), MAX_FUNCTION_LINES + 2)]);
}
