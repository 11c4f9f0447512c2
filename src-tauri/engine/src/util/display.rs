//! Text from outside (database, table and role names, file names, the lines a tool printed)
//! made safe to print on a terminal: control characters — escape sequences that move the cursor,
//! clear the screen, change the title or hide text, newlines that fake another line, and the
//! Unicode controls that reverse the direction of what follows — are shown as visible escapes
//! (`\x1b`, `\n`, `\u{202e}`) instead of acting on the terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character replaced by a visible escape; borrowed unchanged when
/// there is none.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// `text` safe for one line of a terminal, as an owned string (for `format!` arguments).
pub fn safe(text: &str) -> String {
    terminal_safe(text).into_owned()
}

/// A message of several lines (an error with the lines a tool printed) safe for a terminal:
/// its line breaks are kept, every other control character is escaped.
pub fn safe_text(text: &str) -> String {
    text.split('\n').map(terminal_safe).collect::<Vec<_>>().join("\n")
}

/// C0 and C1 controls, DEL, and the bidirectional overrides and isolates.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert!(matches!(terminal_safe("shop_ünïcode; -- x"), Cow::Borrowed(_)));
        assert_eq!(terminal_safe("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(terminal_safe("one\ntwo\r\tx\x07\x7f"), "one\\ntwo\\r\\tx\\x07\\x7f");
        assert_eq!(terminal_safe("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(terminal_safe("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(terminal_safe("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert!(!safe("x\x1by\u{9b}").chars().any(|c| c.is_control()));
        assert_eq!(safe_text("error: a\x1b[31m\ndetail: b\r"), "error: a\\x1b[31m\ndetail: b\\r");
    }
}
