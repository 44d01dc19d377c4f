//! Credentials never reach an output: `http://user:password@host` becomes
//! `http://xxxxx:xxxxx@host` in every file gameday writes and every message it prints.
//!
//! A target URL may carry a user name and password (basic auth), and they travel on into
//! `results.json`, the reports, error messages (a client error names the URL it failed
//! on) and the progress header. Rather than redact each of those places, [`scrub`] runs
//! on the text at the two exits: [`crate::report::write_atomic`] for files and the CLI
//! for messages. Redaction is textual: any `scheme://userinfo@` in the text.

use std::borrow::Cow;

/// What stands in for a user name or password.
pub const MASK: &str = "xxxxx";

/// `text` with the user information of every URL in it masked; borrowed when there is none.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_len = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`' | ')' | ']') || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..authority_len];
        match authority.rfind('@') {
            Some(userinfo_len) => {
                let userinfo = &authority[..userinfo_len];
                out.push_str(if userinfo.contains(':') { "xxxxx:xxxxx" } else { MASK });
                out.push_str(&authority[userinfo_len..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_len..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// [`scrub`] for bytes that may not be text: non-UTF-8 bytes pass unchanged.
pub fn scrub_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(bytes).map(scrub) {
        Ok(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
        _ => Cow::Borrowed(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_user_and_password_and_keeps_the_rest() {
        assert_eq!(scrub("http://alice:s3cret@127.0.0.1:8080/x?y=1"), "http://xxxxx:xxxxx@127.0.0.1:8080/x?y=1");
        assert_eq!(scrub("{\"url\":\"https://tok3n@[::1]:1\"}"), "{\"url\":\"https://xxxxx@[::1]:1\"}");
        assert_eq!(
            scrub("error sending request for url (http://u:p@localhost/a): refused; see https://a:b@h"),
            "error sending request for url (http://xxxxx:xxxxx@localhost/a): refused; see https://xxxxx:xxxxx@h"
        );
    }

    #[test]
    fn text_without_credentials_is_untouched() {
        for t in ["http://127.0.0.1:1/a@b", "mail me@example.com", "plain", "http://h/x?u=a@b"] {
            assert!(matches!(scrub(t), Cow::Borrowed(_)) || scrub(t) == t, "{t}");
            assert_eq!(scrub(t), t);
        }
    }

    #[test]
    fn non_utf8_bytes_pass() {
        let b = [0xff, 0xfe, b'@'];
        assert_eq!(scrub_bytes(&b).as_ref(), &b);
    }
}
