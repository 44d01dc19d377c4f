//! Checks of the request mix (`[[load.request]]`) that serde cannot express: unique
//! names, a path and headers that HTTP can carry, weights whose sum fits.
//!
//! A header with CR/LF in its value or a space in its name parses as TOML but fails
//! every request at send time; refusing it here keeps `validate` and `run` in step.

use std::collections::BTreeSet;

use super::{Invalid, RequestSpec};

/// Longest path template accepted (bytes); a URL longer than a few KiB is refused by most servers.
const MAX_PATH_BYTES: usize = 8 * 1024;

/// Checks the mix; returns the request names (unique).
pub(super) fn validate(requests: &[RequestSpec]) -> Result<BTreeSet<&str>, Invalid> {
    let mut names = BTreeSet::new();
    let mut total_weight: u64 = 0;
    for (i, r) in requests.iter().enumerate() {
        let field = format!("load.request[{i}]");
        let at = Some(r.name.span());
        if !names.insert(r.name.get_ref().as_str()) {
            let msg = format!("request name `{}` is used twice; names must be unique", r.name.get_ref());
            return Err((at, format!("{field}.name"), msg));
        }
        if r.name.get_ref().trim().is_empty() || r.name.get_ref().chars().any(char::is_control) {
            return Err((at, format!("{field}.name"), "a request name must be printable text".into()));
        }
        check_path(&r.path).map_err(|e| (None, format!("{field}.path"), e.to_string()))?;
        for (name, value) in &r.headers {
            check_header(name, value).map_err(|e| (None, format!("{field}.headers"), e.to_string()))?;
        }
        total_weight += u64::from(r.weight.get());
    }
    if total_weight > u64::from(u32::MAX) {
        let msg = format!("the weights add up to {total_weight}, more than {}: use smaller numbers", u32::MAX);
        return Err((None, "load.request[0].weight".into(), msg));
    }
    Ok(names)
}

/// Why a request's path or header cannot be sent.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    /// The path is relative.
    #[error("path `{0}` must start with `/`")]
    Relative(String),
    /// The path is too long.
    #[error("path is {0} bytes, more than {MAX_PATH_BYTES}")]
    TooLong(usize),
    /// The path holds a space or control character.
    #[error("path `{}` contains {:?}; percent-encode it (`%20`)", .path.escape_debug(), .found)]
    Unencoded {
        /// The path.
        path: String,
        /// The first offending character.
        found: char,
    },
    /// The path does not make a URL.
    #[error("path `{path}` does not make a URL: {source}")]
    Url {
        /// The path.
        path: String,
        /// What the URL parser refused.
        #[source]
        source: url::ParseError,
    },
    /// A header name HTTP cannot carry.
    #[error(
        "`{}` is not a header name (letters, digits and !#$%&'*+-.^_`|~ only; no spaces or colons)",
        .0.escape_debug()
    )]
    HeaderName(String),
    /// A header value HTTP cannot carry.
    #[error(
        "header `{name}`: the value `{}` has a character HTTP cannot carry (CR, LF, NUL or non-ASCII)",
        .value.escape_debug()
    )]
    HeaderValue {
        /// The header's name.
        name: String,
        /// Its value.
        value: String,
    },
}

fn check_path(path: &str) -> Result<(), RequestError> {
    if !path.starts_with('/') {
        return Err(RequestError::Relative(path.to_owned()));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(RequestError::TooLong(path.len()));
    }
    if let Some(found) = path.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(RequestError::Unencoded { path: path.to_owned(), found });
    }
    let url = format!("http://127.0.0.1{path}");
    url::Url::parse(&url).map(|_| ()).map_err(|source| RequestError::Url { path: path.to_owned(), source })
}

fn check_header(name: &str, value: &str) -> Result<(), RequestError> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(RequestError::HeaderName(name.to_owned()));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(RequestError::HeaderValue { name: name.to_owned(), value: value.to_owned() });
    }
    Ok(())
}
