//! The default output directory, `out/<name>`, from a scenario name a user wrote.
//!
//! A scenario's `name` is free text for reports (`"Midnight smoke, 2x"`); it never chooses
//! where files go. [`default_dir`] keeps `[A-Za-z0-9._-]`, turns every other run of
//! characters into one `-`, and never yields `..`, an absolute path or an empty name, so
//! the directory is always one level under `out/`.

use std::path::{Path, PathBuf};

/// `out/<sanitised name><suffix>` (`suffix` such as `-plan`, `-merged`, or empty).
pub fn default_dir(name: &str, suffix: &str) -> PathBuf {
    Path::new("out").join(format!("{}{suffix}", sanitise(name)))
}

/// `name` reduced to a safe single path component (see the module doc).
pub fn sanitise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches(|c| c == '.' || c == '-');
    let capped: String = trimmed.chars().take(100).collect();
    if capped.is_empty() {
        "scenario".to_owned()
    } else {
        capped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_safe_name_is_kept() {
        assert_eq!(default_dir("smoke", ""), Path::new("out/smoke"));
        assert_eq!(default_dir("midnight-growth_2.1", "-plan"), Path::new("out/midnight-growth_2.1-plan"));
    }

    #[test]
    fn a_hostile_name_stays_one_level_under_out() {
        for name in ["../../x", "/etc", "..", ".", "a/../../b", "", "\u{0}", "x/y", "~root", "C:\\x"] {
            let dir = default_dir(name, "");
            let parts: Vec<_> = dir.components().collect();
            assert_eq!(parts.len(), 2, "{name:?} -> {}", dir.display());
            assert_eq!(parts[0].as_os_str(), "out");
            let last = parts[1].as_os_str().to_string_lossy();
            assert!(!last.starts_with('.') && !last.contains('/') && !last.is_empty(), "{name:?} -> {last}");
        }
        assert_eq!(sanitise("../../x"), "x");
        assert_eq!(sanitise("Midnight smoke, 2x"), "Midnight-smoke-2x");
    }
}
