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
        check_path(&r.path).map_err(|m| (None, format!("{field}.path"), m))?;
        for (name, value) in &r.headers {
            check_header(name, value).map_err(|m| (None, format!("{field}.headers"), m))?;
        }
        total_weight += u64::from(r.weight.get());
    }
    if total_weight > u64::from(u32::MAX) {
        let msg = format!("the weights add up to {total_weight}, more than {}: use smaller numbers", u32::MAX);
        return Err((None, "load.request[0].weight".into(), msg));
    }
    Ok(names)
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path `{path}` must start with `/`"));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(format!("path is {} bytes, more than {MAX_PATH_BYTES}", path.len()));
    }
    if let Some(c) = path.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("path `{}` contains {c:?}; percent-encode it (`%20`)", path.escape_debug()));
    }
    let url = format!("http://127.0.0.1{path}");
    url::Url::parse(&url).map(|_| ()).map_err(|e| format!("path `{path}` does not make a URL: {e}"))
}

fn check_header(name: &str, value: &str) -> Result<(), String> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!(
            "`{}` is not a header name (letters, digits and !#$%&'*+-.^_`|~ only; no spaces or colons)",
            name.escape_debug()
        ));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(format!(
            "header `{name}`: the value `{}` has a character HTTP cannot carry (CR, LF, NUL or non-ASCII)",
            value.escape_debug()
        ));
    }
    Ok(())
}
