//! Addresses shown or stored without their password: `https://user:secret@host/x` becomes
//! `https://user:***@host/x`, in an address and anywhere in a text that holds one (the error
//! chains of the HTTP client repeat the address).

/// `text` with the password of every `scheme://user:password@host` in it replaced by `***`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first '/', '?', '#' or character that cannot be in one.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
            .unwrap_or(after.len());
        let (authority, tail) = after.split_at(end);
        out.push_str(&redact_authority(authority));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `user:password@host` → `user:***@host`; an authority without a password is unchanged.
fn redact_authority(authority: &str) -> String {
    let Some(at) = authority.rfind('@') else { return authority.to_owned() };
    let (userinfo, host) = authority.split_at(at);
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***{host}"),
        None => authority.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_addresses_are_replaced() {
        assert_eq!(redact_urls("http://u:p@h:8080/a/b"), "http://u:***@h:8080/a/b");
        assert_eq!(redact_urls("https://h/x@y:z"), "https://h/x@y:z");
        assert_eq!(redact_urls("https://user@h/"), "https://user@h/");
        assert_eq!(redact_urls("/tmp/a:b@c.backup"), "/tmp/a:b@c.backup");
        assert_eq!(
            redact_urls("error sending request for url (http://me:s3:cr@t@127.0.0.1:1/x.backup)"),
            "error sending request for url (http://me:***@127.0.0.1:1/x.backup)"
        );
        assert_eq!(
            redact_urls("a http://a:b@c and https://d:e@f?x"),
            "a http://a:***@c and https://d:***@f?x"
        );
        assert_eq!(redact_urls("http://a:b@c"), "http://a:***@c");
    }
}
