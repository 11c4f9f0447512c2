//! The SQL text a dump turns into, line by line: a quote-aware lexer that keeps function bodies,
//! strings and COPY data apart from statements; the scanner that learns each entry's owner,
//! grants, extensions, settings and dependencies from it; and the filter that drops settings and
//! owners on the text's way into psql.

use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Where a line stands in the SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Blank,
    /// A `--` comment between statements (pg_dump's entry headers are these).
    Comment,
    /// A psql meta-command between statements (`\connect`, `\restrict`).
    Meta,
    /// The first line of a statement; `complete` when the statement also ends on it.
    StatementStart {
        complete: bool,
    },
    /// A later line of a statement spanning several lines (e.g. a function body).
    Continuation,
    /// A row of `COPY … FROM stdin` data, or the `\.` that ends it.
    CopyData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Quote {
    None,
    /// `'…'`; `escapes` for `E'…'` (or any string while `standard_conforming_strings` is off),
    /// where a backslash escapes the next character.
    Single {
        escapes: bool,
    },
    Double,
    /// `$tag$…$tag$`, holding the whole delimiter.
    Dollar(Vec<u8>),
    /// `/* … */`, nested to this depth.
    Block(u32),
}

/// What psql needs to know of the statement under way to split statements the way it does: its
/// first words (`CREATE [OR REPLACE] FUNCTION|PROCEDURE` bodies in `BEGIN ATOMIC … END` keep
/// their semicolons; `COPY … FROM STDIN` is followed by data), parentheses and its text when it
/// is a short `SET`.
#[derive(Debug, Clone, Default)]
struct Statement {
    head: Vec<String>,
    parens: u32,
    begins: u32,
    after_from: bool,
    copy_from_stdin: bool,
    /// `COPY … FROM STDIN` statements before a `\;` of this statement (psql sends them all as
    /// one query).
    copies: u32,
    /// The statement's first bytes, for `SET standard_conforming_strings …`.
    text: Vec<u8>,
}

impl Statement {
    fn routine(&self) -> bool {
        let head: Vec<&str> = self.head.iter().map(String::as_str).collect();
        matches!(
            head.as_slice(),
            ["CREATE", "FUNCTION" | "PROCEDURE", ..]
                | ["CREATE", "OR", "REPLACE", "FUNCTION" | "PROCEDURE", ..]
        )
    }

    fn word(&mut self, word: &[u8]) {
        let upper = String::from_utf8_lossy(word).to_ascii_uppercase();
        if self.head.len() < 4 {
            self.head.push(upper.clone());
        }
        if self.routine() && self.parens == 0 {
            match upper.as_str() {
                "BEGIN" => self.begins += 1,
                "CASE" if self.begins > 0 => self.begins += 1,
                "END" if self.begins > 0 => self.begins -= 1,
                _ => {}
            }
        }
        if self.head.first().is_some_and(|w| w == "COPY") {
            if self.after_from && upper == "STDIN" {
                self.copy_from_stdin = true;
            }
            self.after_from = upper == "FROM";
        }
    }

    /// `Some(on)` when the statement sets `standard_conforming_strings` (or resets it).
    fn standard_strings(&self) -> Option<bool> {
        let text = String::from_utf8_lossy(&self.text).to_ascii_lowercase();
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || matches!(c, '=' | ';' | '\'' | '"'))
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            ["reset", "all", ..] | ["reset", "standard_conforming_strings", ..] => Some(true),
            ["set", rest @ ..] => {
                let rest = match rest {
                    ["session" | "local", rest @ ..] => rest,
                    rest => rest,
                };
                let ["standard_conforming_strings", value @ ..] = rest else { return None };
                let value = match value {
                    ["to", value, ..] | [value, ..] => *value,
                    [] => return None,
                };
                let off = |word: &str| value.len() >= 2 && word.starts_with(value);
                Some(!(off("off") || "false".starts_with(value) || off("no") || value == "0"))
            }
            _ => None,
        }
    }
}

/// Follows SQL quoting across lines the way psql does, so that only lines between statements
/// are taken for headers, `SET` statements and grants (text inside strings, function bodies and
/// COPY data never is), and so that every backslash psql would take for a meta-command — at
/// the start of a line, after a statement on the same line, in the middle of a statement — is
/// seen ([`SqlLexer::command_at`]).
#[derive(Debug, Clone)]
pub struct SqlLexer {
    quote: Quote,
    in_statement: bool,
    statement: Statement,
    /// `COPY … FROM stdin` statements ended whose data has not been read yet (psql reads the
    /// data of each, in order, after the line that ends them).
    copies_pending: u32,
    copy_data: bool,
    /// `standard_conforming_strings` as the text last set it (on, as pg_dump writes it).
    standard_strings: bool,
    /// Where in the last line a backslash command psql would run starts (one of pg_dump's own
    /// lines, `\restrict`, `\unrestrict` and `\connect`, is not one).
    command_at: Option<usize>,
}

impl Default for SqlLexer {
    fn default() -> Self {
        SqlLexer {
            quote: Quote::None,
            in_statement: false,
            statement: Statement::default(),
            copies_pending: 0,
            copy_data: false,
            standard_strings: true,
            command_at: None,
        }
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The meta-commands pg_dump itself writes between statements, which are not run from a
/// source: `\restrict KEY` / `\unrestrict KEY` (letters and digits, as pg_dump makes them) and
/// `\connect` (a dump made with --create; the restore plan refuses it). Arguments with a
/// backquote (psql runs its text in a shell) or another backslash are none of them.
fn pg_dump_meta(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    match words.next() {
        Some("\\restrict" | "\\unrestrict") => {
            let key = words.next();
            words.next().is_none()
                && key.is_some_and(|k| k.bytes().all(|b| b.is_ascii_alphanumeric()))
        }
        Some("\\connect" | "\\c") => {
            let rest = &text.trim_start()[1..];
            !rest.contains(['\\', '`']) && rest.bytes().all(|b| !b.is_ascii_control() || b == b'\t')
        }
        _ => false,
    }
}

impl SqlLexer {
    pub fn line(&mut self, line: &[u8]) -> LineKind {
        let text = trim_newline(line);
        self.command_at = None;
        if self.copy_data {
            if text == b"\\." {
                self.copies_pending = self.copies_pending.saturating_sub(1);
                self.copy_data = self.copies_pending > 0;
            } else if text.starts_with(b"\\.") {
                // Not the end of the data for psql, and never written by pg_dump (a backslash in
                // data is doubled): an attempt to end the data and go on with a command.
                self.command_at = Some(0);
            }
            return LineKind::CopyData;
        }
        let starts = !self.in_statement && self.quote == Quote::None;
        if starts {
            let trimmed = text.trim_ascii_start();
            if trimmed.is_empty() {
                return LineKind::Blank;
            }
            if trimmed.starts_with(b"--") {
                return LineKind::Comment;
            }
            if trimmed.starts_with(b"\\") {
                if !pg_dump_meta(trimmed) {
                    self.command_at = Some(text.len() - trimmed.len());
                }
                return LineKind::Meta;
            }
        }
        self.scan(text);
        self.copy_data = self.copies_pending > 0;
        if !starts {
            return LineKind::Continuation;
        }
        LineKind::StatementStart { complete: !self.in_statement && self.quote == Quote::None }
    }

    /// Where in the last line a backslash command starts that psql would run: anything but
    /// pg_dump's own `\restrict`, `\unrestrict` and `\connect` lines and the `\.` ending COPY
    /// data.
    pub fn command_at(&self) -> Option<usize> {
        self.command_at
    }

    /// Whether the text is between statements: no statement, string or COPY data under way.
    pub fn at_rest(&self) -> bool {
        !self.in_statement && self.quote == Quote::None && !self.copy_data
    }

    fn end_statement(&mut self) {
        let statement = std::mem::take(&mut self.statement);
        self.copies_pending += statement.copies + u32::from(statement.copy_from_stdin);
        if let Some(on) = statement.standard_strings() {
            self.standard_strings = on;
        }
        self.in_statement = false;
    }

    fn scan(&mut self, s: &[u8]) {
        let mut i = 0;
        while i < s.len() {
            if self.statement.text.len() < 200 {
                self.statement.text.push(s[i]);
            }
            i = if self.quote == Quote::None {
                match self.code(s, i) {
                    Some(next) => next,
                    None => return,
                }
            } else {
                self.quoted(s, i)
            };
        }
    }

    /// One step through text outside quotes at `s[i]`: the index to go on at, or None when the
    /// rest of the line is a comment or a backslash command.
    fn code(&mut self, s: &[u8], i: usize) -> Option<usize> {
        let b = s[i];
        let next = s.get(i + 1).copied();
        match b {
            b'-' if next == Some(b'-') => return None,
            b'/' if next == Some(b'*') => {
                self.quote = Quote::Block(1);
                return Some(i + 2);
            }
            // `\;` and `\:` put a semicolon or colon into the statement; `\;` ends no
            // statement for psql, which sends what it joins as one query.
            b'\\' if next == Some(b';') => {
                let statement = &mut self.statement;
                statement.copies += u32::from(statement.copy_from_stdin);
                statement.head.clear();
                (statement.after_from, statement.copy_from_stdin) = (false, false);
                return Some(i + 2);
            }
            b'\\' if next == Some(b':') => {
                self.in_statement = true;
                return Some(i + 2);
            }
            b'\\' => {
                // psql takes the rest of the line as a meta-command and its arguments.
                self.command_at = Some(i);
                return None;
            }
            b'\'' => {
                let escapes = !self.standard_strings
                    || (i >= 1
                        && matches!(s[i - 1], b'E' | b'e')
                        && (i < 2 || !is_ident_byte(s[i - 2])));
                self.quote = Quote::Single { escapes };
                self.in_statement = true;
            }
            b'"' => {
                self.quote = Quote::Double;
                self.in_statement = true;
            }
            b'$' => {
                self.in_statement = true;
                if i == 0 || !(is_ident_byte(s[i - 1]) || s[i - 1] == b'$') {
                    let mut j = i + 1;
                    while j < s.len() && (is_ident_byte(s[j])) {
                        j += 1;
                    }
                    let tag_ok = j == i + 1 || !s[i + 1].is_ascii_digit();
                    if tag_ok && j < s.len() && s[j] == b'$' {
                        self.quote = Quote::Dollar(s[i..=j].to_vec());
                        return Some(j + 1);
                    }
                }
            }
            b'(' => {
                self.statement.parens += 1;
                self.in_statement = true;
            }
            b')' => self.statement.parens = self.statement.parens.saturating_sub(1),
            b';' if self.statement.parens == 0 && self.statement.begins == 0 => {
                self.end_statement();
            }
            b if b.is_ascii_whitespace() => {}
            b if is_ident_byte(b) && !b.is_ascii_digit() => {
                let mut j = i + 1;
                while j < s.len() && (is_ident_byte(s[j]) || s[j] == b'$') {
                    j += 1;
                }
                self.in_statement = true;
                self.statement.word(&s[i..j]);
                let room = 200usize.saturating_sub(self.statement.text.len());
                let end = j.min(i + 1 + room);
                self.statement.text.extend_from_slice(&s[i + 1..end]);
                return Some(j);
            }
            _ => self.in_statement = true,
        }
        Some(i + 1)
    }

    /// One step through quoted text at `s[i]`: the index to go on at.
    fn quoted(&mut self, s: &[u8], i: usize) -> usize {
        let b = s[i];
        let next = s.get(i + 1).copied();
        match &mut self.quote {
            Quote::None => {}
            Quote::Single { escapes } => {
                if *escapes && b == b'\\' {
                    return i + 2;
                }
                if b == b'\'' {
                    if next == Some(b'\'') {
                        return i + 2;
                    }
                    self.quote = Quote::None;
                }
            }
            Quote::Double => {
                if b == b'"' {
                    self.quote = Quote::None;
                }
            }
            Quote::Dollar(tag) => {
                if s[i..].starts_with(tag) {
                    let end = i + tag.len();
                    self.quote = Quote::None;
                    return end;
                }
            }
            Quote::Block(depth) => {
                if b == b'/' && next == Some(b'*') {
                    *depth += 1;
                    return i + 2;
                }
                if b == b'*' && next == Some(b'/') {
                    *depth -= 1;
                    if *depth == 0 {
                        self.quote = Quote::None;
                    }
                    return i + 2;
                }
            }
        }
        i + 1
    }
}

/// One entry of the dump as its header comment names it:
/// `-- [Data for ]Name: <name>; Type: <kind>; Schema: <schema>; Owner: <owner>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpEntry {
    /// 1 for the first header in the text, 2 for the next …
    pub ordinal: usize,
    /// The archive's TOC id (from `-- TOC entry N` lines of `pg_restore --verbose`).
    pub toc_id: Option<u32>,
    pub name: String,
    pub kind: String,
    pub schema: Option<String>,
    pub owner: Option<String>,
    /// Roles the entry's statements name (grantees, grantors, default-privilege roles).
    pub roles: BTreeSet<String>,
    /// TOC ids of the entries this one needs (`-- Dependencies: …` of `pg_restore --verbose`).
    pub deps: Vec<u32>,
}

fn parse_header(comment: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    let rest =
        comment.strip_prefix("-- Name: ").or_else(|| comment.strip_prefix("-- Data for Name: "))?;
    let rest = match rest.rfind("; Tablespace: ") {
        Some(at) => &rest[..at],
        None => rest,
    };
    // An entry without owner (a comment on an extension) ends in "Owner: ", trimmed to "Owner:".
    let (rest, owner) =
        rest.rsplit_once("; Owner: ").or_else(|| Some((rest.strip_suffix("; Owner:")?, "")))?;
    let (rest, schema) = rest.rsplit_once("; Schema: ")?;
    let (name, kind) = rest.rsplit_once("; Type: ")?;
    let some = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s != "-").then(|| s.to_owned())
    };
    Some((name.to_owned(), kind.to_owned(), some(schema), some(owner)))
}

/// A backslash command found in a source: its line and (the start of) its text, printable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCommand {
    /// 1 for the first line of the SQL text.
    pub line: u64,
    pub text: String,
}

impl FoundCommand {
    /// How many found commands a read keeps to name.
    pub const KEPT: usize = 5;

    fn new(line: u64, text: &[u8]) -> FoundCommand {
        let text: String = String::from_utf8_lossy(text)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(60)
            .collect();
        FoundCommand { line, text: text.trim_end().to_owned() }
    }
}

impl std::fmt::Display for FoundCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.text)
    }
}

/// Everything a pre-flight learns from the SQL text of a dump.
#[derive(Debug, Clone, Default)]
pub struct DumpFacts {
    pub entries: Vec<DumpEntry>,
    /// Parameters of the `SET name = …` statements between entries.
    pub set_names: BTreeSet<String>,
    /// The dump's encoding (its `SET client_encoding`).
    pub encoding: Option<String>,
    /// "18.6" from `-- Dumped by pg_dump version 18.6`.
    pub dumped_by: Option<String>,
    pub dumped_from: Option<String>,
    /// Whether pg_dump's closing "dump complete" comment is there.
    pub complete: bool,
    /// `\connect` lines: the dump switches databases (pg_dump --create).
    pub connects: bool,
    /// Backslash commands psql would run (`\!`, `\o |…`, `\copy`, `\i` …): the first few, and
    /// how many there are. pg_dump's own `\restrict`, `\unrestrict`, `\connect` and the `\.`
    /// ending COPY data are not counted.
    pub commands: Vec<FoundCommand>,
    pub command_count: u64,
    /// Bytes of SQL text read: about the size of the data once restored, before indexes.
    pub sql_bytes: u64,
}

impl DumpFacts {
    /// Entries per kind, e.g. {"TABLE": 4, "TABLE DATA": 4, "INDEX": 2}.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for entry in &self.entries {
            *counts.entry(entry.kind.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Every role the dump names: owners and the roles in grants.
    pub fn roles(&self) -> BTreeSet<String> {
        let mut roles = BTreeSet::new();
        for entry in &self.entries {
            roles.extend(entry.owner.iter().cloned());
            roles.extend(entry.roles.iter().cloned());
        }
        roles
    }

    pub fn extensions(&self) -> Vec<String> {
        self.entries.iter().filter(|e| e.kind == "EXTENSION").map(|e| e.name.clone()).collect()
    }
}

/// Kinds of entries whose statements name roles beyond the entry's owner: grants, default
/// privileges, policies (`TO role`) and user mappings (`FOR role`).
fn names_roles(kind: &str) -> bool {
    matches!(kind, "ACL" | "DEFAULT ACL" | "POLICY" | "USER MAPPING")
}

/// Reads the SQL text of a dump line by line and collects [`DumpFacts`].
#[derive(Debug, Default)]
pub struct DumpScanner {
    lexer: SqlLexer,
    facts: DumpFacts,
    pending_toc_id: Option<u32>,
    pending_deps: Vec<u32>,
    statement: Option<String>,
    lines: u64,
}

impl DumpScanner {
    pub fn line(&mut self, line: &[u8]) {
        self.facts.sql_bytes += line.len() as u64;
        self.lines += 1;
        let kind = self.lexer.line(line);
        if let Some(at) = self.lexer.command_at() {
            self.facts.command_count += 1;
            if self.facts.commands.len() < FoundCommand::KEPT {
                self.facts.commands.push(FoundCommand::new(self.lines, &trim_newline(line)[at..]));
            }
        }
        if matches!(kind, LineKind::Blank | LineKind::CopyData) {
            // Most of a dump is table data: nothing to learn there.
            return;
        }
        let text = String::from_utf8_lossy(trim_newline(line));
        match kind {
            LineKind::Comment => self.comment(text.trim_end()),
            LineKind::Meta => {
                let command = text.split_ascii_whitespace().next();
                if self.lexer.command_at().is_none() && matches!(command, Some("\\connect" | "\\c"))
                {
                    self.facts.connects = true;
                }
            }
            LineKind::StatementStart { complete } => {
                if let Some(name) = set_parameter(&text) {
                    if name == "client_encoding" && self.facts.encoding.is_none() {
                        self.facts.encoding = set_value(&text);
                    }
                    self.facts.set_names.insert(name);
                }
                if self.facts.entries.last().is_some_and(|e| names_roles(&e.kind)) {
                    self.statement = Some(text.into_owned());
                    if complete {
                        self.finish_statement();
                    }
                }
            }
            LineKind::Continuation => {
                if let Some(statement) = self.statement.as_mut() {
                    statement.push('\n');
                    statement.push_str(&text);
                    if !self.lexer.in_statement && self.lexer.quote == Quote::None {
                        self.finish_statement();
                    }
                }
            }
            LineKind::Blank | LineKind::CopyData => {}
        }
    }

    fn finish_statement(&mut self) {
        if let (Some(statement), Some(entry)) =
            (self.statement.take(), self.facts.entries.last_mut())
        {
            entry.roles.extend(roles_in_statement(&statement));
        }
    }

    fn comment(&mut self, text: &str) {
        if let Some(rest) = text.strip_prefix("-- TOC entry ") {
            self.pending_toc_id = rest.split_whitespace().next().and_then(|id| id.parse().ok());
            self.pending_deps.clear();
        } else if let Some(rest) = text.strip_prefix("-- Dependencies: ") {
            self.pending_deps = rest.split_whitespace().filter_map(|id| id.parse().ok()).collect();
        } else if let Some((name, kind, schema, owner)) = parse_header(text) {
            self.facts.entries.push(DumpEntry {
                ordinal: self.facts.entries.len() + 1,
                toc_id: self.pending_toc_id.take(),
                name,
                kind,
                schema,
                owner,
                roles: BTreeSet::new(),
                deps: std::mem::take(&mut self.pending_deps),
            });
        } else if let Some(version) = text.strip_prefix("-- Dumped by pg_dump version ") {
            self.facts.dumped_by = Some(version.trim().to_owned());
        } else if let Some(version) = text.strip_prefix("-- Dumped from database version ") {
            self.facts.dumped_from = Some(version.trim().to_owned());
        } else if text == "-- PostgreSQL database dump complete" {
            self.facts.complete = true;
        }
    }

    pub fn finish(self) -> DumpFacts {
        self.facts
    }
}

/// `SET name = value;` / `SET name TO value;` → the parameter name, lowercased.
fn set_parameter(statement: &str) -> Option<String> {
    let rest = statement.strip_prefix("SET ")?;
    let name: String =
        rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').collect();
    let after = rest[name.len()..].trim_start();
    if name.is_empty() || !(after.starts_with('=') || after.starts_with("TO ")) {
        return None;
    }
    let name = name.to_ascii_lowercase();
    // SET SESSION …, SET LOCAL …, SET ROLE … are not parameters.
    (!matches!(name.as_str(), "session" | "local" | "role" | "constraints" | "transaction"))
        .then_some(name)
}

fn set_value(statement: &str) -> Option<String> {
    let (_, value) = statement.split_once('=')?;
    Some(value.trim().trim_end_matches(';').trim().trim_matches('\'').to_owned())
}

/// The session setting a one-line statement between entries makes, named so that a later one
/// of the same name replaces it: `SET name = …` / `SET name TO …` (`role` and `session
/// authorization` too) and pg_dump's `SELECT pg_catalog.set_config('name', …)`. A psql started
/// part-way through a dump runs them first to be in the session the dump expects.
pub fn session_setting(line: &str) -> Option<String> {
    let text = line.trim();
    if !text.ends_with(';') || text.contains('\n') {
        return None;
    }
    if let Some(rest) = text.strip_prefix("SELECT pg_catalog.set_config('") {
        let (name, _) = rest.split_once('\'')?;
        return Some(format!("set_config {name}"));
    }
    let rest = text.strip_prefix("SET ")?;
    let name = ["SESSION AUTHORIZATION", "ROLE"]
        .into_iter()
        .find(|w| rest.starts_with(w))
        .map(str::to_owned)
        .or_else(|| set_parameter(text))?;
    Some(name.to_ascii_lowercase())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An unquoted word, uppercased for keyword checks, with its original text.
    Word(String, String),
    Quoted(String),
    Punct(char),
}

pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '"' {
            let mut ident = String::new();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        ident.push('"');
                    } else {
                        break;
                    }
                } else {
                    ident.push(c);
                }
            }
            tokens.push(Token::Quoted(ident));
        } else if c == '\'' {
            while let Some(c) = chars.next() {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            tokens.push(Token::Punct('\''));
        } else if c.is_alphanumeric() || c == '_' {
            let mut word = c.to_string();
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() || c == '_' || c == '$' {
                    word.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(word.to_ascii_uppercase(), word));
        } else {
            tokens.push(Token::Punct(c));
        }
    }
    tokens
}

/// The roles a GRANT, REVOKE, ALTER DEFAULT PRIVILEGES, SET SESSION AUTHORIZATION, CREATE POLICY
/// or CREATE USER MAPPING statement names (as pg_dump writes them). PUBLIC and CURRENT_USER-like
/// words are not roles.
pub fn roles_in_statement(sql: &str) -> BTreeSet<String> {
    let mut tokens = tokenize(sql);
    if let [Token::Word(create, _), Token::Word(policy, _), ..] = tokens.as_slice()
        && create == "CREATE"
        && policy == "POLICY"
    {
        // A policy's roles come before its expressions, whose `FROM`s (a subquery, EXTRACT, IS
        // DISTINCT FROM) name tables and columns, not roles.
        let roles_end = tokens
            .iter()
            .position(|t| matches!(t, Token::Word(w, _) if w == "USING" || w == "WITH"))
            .unwrap_or(tokens.len());
        tokens.truncate(roles_end);
    }
    let mut roles = BTreeSet::new();
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(upper, _)) => Some(upper.as_str()),
        _ => None,
    };
    let role_at = |i: usize| -> Option<String> {
        match tokens.get(i)? {
            Token::Quoted(name) => Some(name.clone()),
            Token::Word(upper, original) => (!matches!(
                upper.as_str(),
                "PUBLIC" | "CURRENT_USER" | "SESSION_USER" | "CURRENT_ROLE" | "GROUP"
            ))
            .then(|| original.to_lowercase()),
            Token::Punct(_) => None,
        }
    };
    // Role lists: `name [, name …]`, e.g. after TO, FROM, FOR ROLE, GRANTED BY.
    let list_from = |mut i: usize, roles: &mut BTreeSet<String>| {
        loop {
            if word(i) == Some("GROUP") {
                i += 1;
            }
            match role_at(i) {
                Some(role) => {
                    roles.insert(role);
                }
                None if word(i) == Some("PUBLIC")
                    || word(i)
                        .is_some_and(|w| w.starts_with("CURRENT_") || w == "SESSION_USER") => {}
                None => return,
            }
            if tokens.get(i + 1) == Some(&Token::Punct(',')) {
                i += 2;
            } else {
                return;
            }
        }
    };
    let mut i = 0;
    while i < tokens.len() {
        match (word(i), word(i + 1), word(i + 2)) {
            (Some("SET"), Some("SESSION"), Some("AUTHORIZATION")) => list_from(i + 3, &mut roles),
            (Some("FOR"), Some("ROLE" | "USER"), _) => list_from(i + 2, &mut roles),
            (Some("USER"), Some("MAPPING"), Some("FOR")) => list_from(i + 3, &mut roles),
            (Some("TO" | "FROM"), _, _) => list_from(i + 1, &mut roles),
            (Some("GRANTED"), Some("BY"), _) => list_from(i + 2, &mut roles),
            _ => {}
        }
        i += 1;
    }
    roles
}

/// Decides, line by line, what of a dump's SQL text reaches psql.
#[derive(Debug)]
pub struct DumpFilter {
    lexer: SqlLexer,
    /// When set, `SET` statements whose parameter is not in it are left out (settings a newer
    /// pg_dump / pg_restore writes that the target server does not know).
    known_settings: Option<HashSet<String>>,
    /// Leave out `ALTER … OWNER TO …` statements (psql has no --no-owner).
    drop_owner: bool,
    /// Ordinals of entries whose statements are left out entirely.
    skip_entries: HashSet<usize>,
    entry: usize,
    /// Whether the last line began a `COPY` statement (data may follow it).
    starts_copy: bool,
    kind_started: bool,
    pub dropped_settings: BTreeSet<String>,
}

impl DumpFilter {
    pub fn new(
        known_settings: Option<HashSet<String>>,
        drop_owner: bool,
        skip_entries: HashSet<usize>,
    ) -> Self {
        DumpFilter {
            lexer: SqlLexer::default(),
            known_settings,
            drop_owner,
            skip_entries,
            entry: 0,
            starts_copy: false,
            kind_started: false,
            dropped_settings: BTreeSet::new(),
        }
    }

    /// The ordinal of the entry the last line belongs to (0 before the first header).
    pub fn entry(&self) -> usize {
        self.entry
    }

    /// Where in the last line a backslash command starts that psql would run (see
    /// [`SqlLexer::command_at`]); such a line must never reach psql.
    pub fn command_at(&self) -> Option<usize> {
        self.lexer.command_at()
    }

    /// Whether the last line began a statement whose first word is `COPY`: with `FROM stdin`,
    /// its data follows.
    pub fn starts_copy(&self) -> bool {
        self.starts_copy
    }

    /// Whether the text is between statements after the last line (see [`SqlLexer::at_rest`]).
    pub fn at_rest(&self) -> bool {
        self.lexer.at_rest()
    }

    /// Whether the last line began a statement (not a comment, a blank line or the inside of
    /// one).
    pub fn starts_statement(&self) -> bool {
        self.kind_started
    }

    /// Whether `line` goes on to psql. pg_dump's own `\restrict` and `\unrestrict` lines do not:
    /// Lifeboat restricts psql with a key of its own.
    pub fn keep(&mut self, line: &[u8]) -> bool {
        let kind = self.lexer.line(line);
        self.kind_started = matches!(kind, LineKind::StatementStart { .. });
        let trimmed = line.trim_ascii_start();
        let first =
            &trimmed[..trimmed.iter().position(|b| !is_ident_byte(*b)).unwrap_or(trimmed.len())];
        self.starts_copy = self.kind_started && first.eq_ignore_ascii_case(b"COPY");
        if kind == LineKind::Meta && self.lexer.command_at().is_none() {
            let text = String::from_utf8_lossy(line);
            if matches!(text.split_ascii_whitespace().next(), Some("\\restrict" | "\\unrestrict")) {
                return false;
            }
        }
        if kind == LineKind::Comment {
            let text = String::from_utf8_lossy(trim_newline(line));
            if parse_header(text.trim_end()).is_some() {
                self.entry += 1;
            }
            return true;
        }
        if matches!(kind, LineKind::Blank) {
            return true;
        }
        if self.skip_entries.contains(&self.entry) && kind != LineKind::Meta {
            return false;
        }
        if let LineKind::StatementStart { complete: true } = kind {
            let text = String::from_utf8_lossy(trim_newline(line));
            if let (Some(known), Some(name)) = (&self.known_settings, set_parameter(&text))
                && !name.contains('.')
                && !known.contains(&name)
            {
                self.dropped_settings.insert(name);
                return false;
            }
            if self.drop_owner && text.starts_with("ALTER ") && text.contains(" OWNER TO ") {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<LineKind> {
        let mut lexer = SqlLexer::default();
        text.split_inclusive('\n').map(|l| lexer.line(l.as_bytes())).collect()
    }

    #[test]
    fn the_lexer_keeps_function_bodies_strings_and_copy_data_apart() {
        use LineKind::*;
        let sql = "--\n\
                   SET transaction_timeout = 0;\n\
                   CREATE FUNCTION f() RETURNS int AS $_$\n\
                   SET transaction_timeout = 0;\n\
                   $_$;\n\
                   COMMENT ON TABLE t IS 'it''s\n\
                   SET x = 1;';\n\
                   COPY t (a) FROM stdin;\n\
                   SET transaction_timeout = 0;\n\
                   \\.\n\
                   \n\
                   \\restrict abc\n\
                   SELECT E'a\\'b;\n\
                   c';\n";
        assert_eq!(
            kinds(sql),
            [
                Comment,
                StatementStart { complete: true },
                StatementStart { complete: false },
                Continuation,
                Continuation,
                StatementStart { complete: false },
                Continuation,
                StatementStart { complete: true },
                CopyData,
                CopyData,
                Blank,
                Meta,
                StatementStart { complete: false },
                Continuation,
            ]
        );
    }

    /// The lines (1-based) of `sql` where the lexer finds a backslash command psql would run.
    fn commands(sql: &str) -> Vec<usize> {
        let mut lexer = SqlLexer::default();
        let mut found = Vec::new();
        for (n, line) in sql.split_inclusive('\n').enumerate() {
            lexer.line(line.as_bytes());
            if lexer.command_at().is_some() {
                found.push(n + 1);
            }
        }
        found
    }

    #[test]
    fn backslash_commands_are_found_wherever_psql_would_run_them() {
        // Where psql runs them: start of a line, after a statement, inside one, after COPY data.
        assert_eq!(commands("\\! id\n"), [1]);
        assert_eq!(commands("  \\o |sh\n"), [1]);
        assert_eq!(commands("SELECT 1; \\! id\n"), [1]);
        assert_eq!(commands("SELECT 1,\n\\setenv X y\n2;\n"), [2]);
        assert_eq!(commands("SELECT 1 \\gexec\n"), [1]);
        assert_eq!(commands("COPY t (a) FROM stdin;\n\\N\n\\.\n\\i /etc/passwd\n"), [4]);
        assert_eq!(commands("COPY t (a) FROM stdin;\n1\n\\. \\! id\n\\.\n"), [3]);
        assert_eq!(
            commands("copy t from STDIN;\n\\\\x\n\\.\nSELECT 'a' \\copy x to program 'id'\n"),
            [4]
        );
        // pg_dump's own lines are not commands; a backquote or a second command is.
        assert!(
            commands("\\restrict abcXYZ09\n\\unrestrict abcXYZ09\n\\connect shop\n").is_empty()
        );
        assert_eq!(commands("\\restrict a b\n\\connect `id`\n\\c x \\\\ \\! id\n"), [1, 2, 3]);
        // Data: strings, identifiers, comments, function bodies and COPY rows.
        let data = "SELECT 'a\\! b', E'\\\\', \"x\\y\" -- \\! no\n\
                    /* \\! no\n \\! still no */ SELECT 1;\n\
                    CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $fn$\n\
                    \\! id\n\
                    SELECT 'x' \\gexec\n\
                    $fn$;\n\
                    COPY t (a, b) FROM stdin;\n\
                    \\N\t\\\\! id\n\
                    \\! id\n\
                    \\.\n\
                    SELECT 1\\; SELECT 2 \\:\n;\n";
        assert!(commands(data).is_empty(), "{:?}", commands(data));
        // psql keeps the semicolons of BEGIN ATOMIC bodies: no COPY ends there.
        let atomic = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC\n\
                      SELECT 1; COPY t FROM stdin;\n\\! id\nEND;\n";
        assert_eq!(commands(atomic), [3]);
        // `\;` joins statements into one query, whose COPY reads data.
        assert!(commands("SELECT 1\\; COPY t FROM stdin;\n\\! data\n\\.\n").is_empty());
        // Two COPYs on one line read two blocks of data, in order.
        assert_eq!(
            commands("COPY a FROM stdin; COPY b FROM stdin;\n\\x\n\\.\n\\y\n\\.\n\\! id\n"),
            [6]
        );
        // With standard_conforming_strings off a backslash escapes a quote in any string.
        let off = "SET standard_conforming_strings = off;\nSELECT 'a\\' , ' \\! id ; ';\n";
        assert_eq!(commands(off), [2]);
        assert!(commands("SELECT 'a\\' , ' \\! id ; ';\n").is_empty());
    }

    #[test]
    fn the_scanner_counts_commands_and_the_filter_leaves_out_restrict_lines() {
        let sql = "\\restrict k1\nSELECT 1; \\! touch /tmp/x\n\\connect other\n\\unrestrict k1\n";
        let mut scanner = DumpScanner::default();
        for line in sql.split_inclusive('\n') {
            scanner.line(line.as_bytes());
        }
        let facts = scanner.finish();
        assert_eq!(facts.command_count, 1);
        assert_eq!(facts.commands[0].to_string(), "line 2: \\! touch /tmp/x");
        assert!(facts.connects);
        let mut filter = DumpFilter::new(None, false, HashSet::new());
        let kept: Vec<bool> =
            sql.split_inclusive('\n').map(|l| filter.keep(l.as_bytes())).collect();
        assert_eq!(kept, [false, true, true, false]);
        assert_eq!(session_setting("SET search_path = a;\n").as_deref(), Some("search_path"));
        assert_eq!(
            session_setting("SELECT pg_catalog.set_config('search_path', '', false);").as_deref(),
            Some("set_config search_path")
        );
        assert_eq!(session_setting("SET ROLE \"x\";").as_deref(), Some("role"));
        assert_eq!(session_setting("SELECT 1;"), None);
    }

    #[test]
    fn the_filter_drops_only_unknown_settings_between_statements() {
        let known: HashSet<String> =
            ["statement_timeout", "client_encoding"].iter().map(|s| s.to_string()).collect();
        let mut filter = DumpFilter::new(Some(known), false, HashSet::new());
        let sql = "SET statement_timeout = 0;\n\
                   SET transaction_timeout = 0;\n\
                   SET myapp.flag = on;\n\
                   COPY t (a) FROM stdin;\n\
                   SET transaction_timeout = 0;\n\
                   \\.\n\
                   CREATE FUNCTION f() RETURNS int AS $$\n\
                   SET transaction_timeout = 0;\n\
                   $$;\n";
        let kept: Vec<&str> =
            sql.split_inclusive('\n').filter(|l| filter.keep(l.as_bytes())).collect();
        assert_eq!(kept.len(), 8, "{kept:?}");
        // The two left are COPY data and a function body, not statements.
        assert_eq!(kept.iter().filter(|l| l.starts_with("SET transaction")).count(), 2);
        assert_eq!(filter.dropped_settings.iter().collect::<Vec<_>>(), ["transaction_timeout"]);
    }

    #[test]
    fn the_filter_drops_owners_and_skipped_entries() {
        let sql = "--\n-- Name: t; Type: TABLE; Schema: public; Owner: app\n--\n\n\
                   CREATE TABLE public.t (a int);\n\
                   ALTER TABLE public.t OWNER TO app;\n\
                   --\n-- Name: TABLE t; Type: ACL; Schema: public; Owner: app\n--\n\n\
                   GRANT SELECT ON TABLE public.t TO reporting;\n";
        let mut filter = DumpFilter::new(None, true, HashSet::from([2]));
        let kept: String =
            sql.split_inclusive('\n').filter(|l| filter.keep(l.as_bytes())).collect();
        assert!(kept.contains("CREATE TABLE public.t"));
        assert!(!kept.contains("OWNER TO"));
        assert!(!kept.contains("GRANT"));
    }

    #[test]
    fn the_scanner_reads_entries_owners_grants_and_settings() {
        let sql = "--\n-- PostgreSQL database dump\n--\n\n\
                   -- Dumped from database version 14.23\n\
                   -- Dumped by pg_dump version 18.6\n\n\
                   SET transaction_timeout = 0;\n\
                   SET client_encoding = 'LATIN1';\n\n\
                   --\n-- TOC entry 2 (class 3079 OID 16494)\n\
                   -- Name: hstore; Type: EXTENSION; Schema: -; Owner: -\n--\n\n\
                   CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;\n\n\
                   --\n-- TOC entry 2717 (class 0 OID 0)\n-- Dependencies: 2\n\
                   -- Name: EXTENSION hstore; Type: COMMENT; Schema: -; Owner: \n--\n\n\
                   COMMENT ON EXTENSION hstore IS 'data type for storing sets of (key, value) pairs';\n\n\
                   --\n-- Name: Odd; Name; Type: TABLE; Schema: public; Owner: Odd Role\n--\n\n\
                   CREATE TABLE public.\"Odd; Name\" (a int);\n\
                   COMMENT ON TABLE public.x IS '\n-- Name: fake; Type: ACL; Schema: -; Owner: x\n';\n\
                   --\n-- TOC entry 2709 (class 0 OID 0)\n\
                   -- Name: TABLE orders; Type: ACL; Schema: sales; Owner: postgres\n--\n\n\
                   GRANT SELECT ON TABLE sales.orders TO \"Odd Role\";\n\
                   GRANT SELECT ON TABLE sales.orders TO rep, PUBLIC WITH GRANT OPTION;\n\
                   REVOKE ALL ON TABLE sales.orders FROM Old_Team;\n\
                   --\n-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: sales; Owner: postgres\n--\n\n\
                   ALTER DEFAULT PRIVILEGES FOR ROLE owner1 IN SCHEMA sales GRANT SELECT ON TABLES TO rep2;\n\
                   --\n-- Data for Name: orders; Type: TABLE DATA; Schema: sales; Owner: postgres\n--\n\n\
                   COPY sales.orders (id) FROM stdin;\n\
                   -- Name: in data; Type: ACL; Schema: -; Owner: nobody\n\
                   \\.\n\n\
                   --\n-- PostgreSQL database dump complete\n--\n\n";
        let mut scanner = DumpScanner::default();
        for line in sql.split_inclusive('\n') {
            scanner.line(line.as_bytes());
        }
        let facts = scanner.finish();
        let names: Vec<(&str, &str)> =
            facts.entries.iter().map(|e| (e.name.as_str(), e.kind.as_str())).collect();
        assert_eq!(
            names,
            [
                ("hstore", "EXTENSION"),
                ("EXTENSION hstore", "COMMENT"),
                ("Odd; Name", "TABLE"),
                ("TABLE orders", "ACL"),
                ("DEFAULT PRIVILEGES FOR TABLES", "DEFAULT ACL"),
                ("orders", "TABLE DATA"),
            ]
        );
        assert_eq!(facts.entries[0].toc_id, Some(2));
        assert_eq!(facts.entries[0].owner, None);
        assert_eq!(
            (facts.entries[1].toc_id, facts.entries[1].owner.as_deref()),
            (Some(2717), None)
        );
        assert_eq!(facts.entries[1].deps, [2]);
        assert_eq!(facts.entries[2].owner.as_deref(), Some("Odd Role"));
        assert_eq!(facts.entries[3].toc_id, Some(2709));
        let acl: Vec<&str> = facts.entries[3].roles.iter().map(String::as_str).collect();
        assert_eq!(acl, ["Odd Role", "old_team", "rep"]);
        let default_acl: Vec<&str> = facts.entries[4].roles.iter().map(String::as_str).collect();
        assert_eq!(default_acl, ["owner1", "rep2"]);
        assert_eq!(facts.extensions(), ["hstore"]);
        assert_eq!(facts.encoding.as_deref(), Some("LATIN1"));
        assert_eq!(facts.dumped_by.as_deref(), Some("18.6"));
        assert_eq!(facts.dumped_from.as_deref(), Some("14.23"));
        assert!(facts.set_names.contains("transaction_timeout"));
        assert!(facts.complete && !facts.connects);
        assert_eq!(facts.counts()["TABLE DATA"], 1);
        assert!(facts.roles().contains("postgres") && facts.roles().contains("Odd Role"));
    }
    #[test]
    fn the_scanner_reads_the_roles_of_policies_user_mappings_and_default_privileges() {
        let sql = "--\n-- Name: orders own_rows; Type: POLICY; Schema: public; Owner: app_owner\n--\n\n\
                   CREATE POLICY own_rows ON public.orders AS RESTRICTIVE FOR SELECT TO app_reader, \"Odd Role\" \
                   USING ((EXISTS ( SELECT 1 FROM public.members m WHERE (m.id IS DISTINCT FROM orders.id))));\n\n\
                   --\n-- Name: orders all_rows; Type: POLICY; Schema: public; Owner: app_owner\n--\n\n\
                   CREATE POLICY all_rows ON public.orders\n  \
                   USING ((EXTRACT(year FROM placed) > (2000)::numeric));\n\n\
                   --\n-- Name: USER MAPPING app_reader SERVER remote; Type: USER MAPPING; Schema: -; Owner: app_owner\n--\n\n\
                   CREATE USER MAPPING FOR app_reader SERVER remote OPTIONS (\n    \"user\" 'x'\n);\n\n\
                   --\n-- Name: USER MAPPING public SERVER remote; Type: USER MAPPING; Schema: -; Owner: app_owner\n--\n\n\
                   CREATE USER MAPPING FOR PUBLIC SERVER remote;\n\n\
                   --\n-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: -; Owner: app_owner\n--\n\n\
                   ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT USAGE ON SEQUENCES TO app_writer;\n";
        let mut scanner = DumpScanner::default();
        for line in sql.split_inclusive('\n') {
            scanner.line(line.as_bytes());
        }
        let facts = scanner.finish();
        let roles =
            |i: usize| -> Vec<&str> { facts.entries[i].roles.iter().map(String::as_str).collect() };
        assert_eq!(roles(0), ["Odd Role", "app_reader"]);
        assert!(roles(1).is_empty(), "{:?}", roles(1));
        assert_eq!(roles(2), ["app_reader"]);
        assert!(roles(3).is_empty());
        assert_eq!(roles(4), ["app_owner", "app_writer"]);
        let all: Vec<String> = facts.roles().into_iter().collect();
        assert_eq!(all, ["Odd Role", "app_owner", "app_reader", "app_writer"]);
    }
}
