//! A small reader of the Prometheus text format (0.0.4), written from the format's
//! description, plus `promtool check metrics` when it is installed: together they are the
//! independent check that `/metrics` is valid exposition text.
//!
//! The reader rejects a sample whose family has no `# TYPE` before it, a malformed name,
//! label set or value, and a histogram whose buckets are not cumulative, not in rising
//! `le` order, or whose `+Inf` bucket differs from `_count`.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    pub types: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Sum of samples named `name` whose labels include all of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .map(|s| s.value)
            .sum()
    }

    /// Whether any sample is named `name` with all of `labels`.
    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.samples
            .iter()
            .any(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse().map_err(|_| format!("bad value `{v}`")),
    }
}

fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or(format!("label without `=` in `{s}`"))?;
        let name = &rest[..eq];
        if !valid_name(name) || name.contains(':') {
            return Err(format!("bad label name `{name}`"));
        }
        let after = rest[eq + 1..].strip_prefix('"').ok_or(format!("unquoted label value in `{s}`"))?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => return Err(format!("bad escape {other:?} in `{s}`")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value in `{s}`")),
            }
        };
        out.insert(name.to_owned(), value);
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    Ok(out)
}

fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suf| name.strip_suffix(suf))
        .find(|base| types.get(*base).is_some_and(|t| t == "histogram" || t == "summary"))
}

/// Parses and checks `text`.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exp = Exposition::default();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').ok_or(format!("bad TYPE line `{line}`"))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty) || !valid_name(name) {
                return Err(format!("bad TYPE line `{line}`"));
            }
            if exp.types.insert(name.to_owned(), ty.to_owned()).is_some() {
                return Err(format!("family `{name}` declared twice"));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (head, value) = line.rsplit_once(' ').ok_or(format!("bad sample `{line}`"))?;
        let (name, labels) = match head.split_once('{') {
            Some((n, l)) => (n, parse_labels(l.strip_suffix('}').ok_or(format!("bad labels in `{line}`"))?)?),
            None => (head, BTreeMap::new()),
        };
        if !valid_name(name) || family_of(name, &exp.types).is_none() {
            return Err(format!("sample `{name}` is malformed or has no TYPE before it"));
        }
        exp.samples.push(Sample { name: name.to_owned(), labels, value: parse_value(value)? });
    }
    check_histograms(&exp)?;
    Ok(exp)
}

/// A series' labels without `le`.
type LabelSet = Vec<(String, String)>;

fn check_histograms(exp: &Exposition) -> Result<(), String> {
    for (family, _) in exp.types.iter().filter(|(_, t)| *t == "histogram") {
        let mut series: BTreeMap<LabelSet, Vec<(f64, f64)>> = BTreeMap::new();
        for s in exp.samples.iter().filter(|s| s.name == format!("{family}_bucket")) {
            let le = s.labels.get("le").ok_or(format!("{family}_bucket without le"))?;
            let key = s.labels.iter().filter(|(k, _)| *k != "le").map(|(k, v)| (k.clone(), v.clone())).collect();
            series.entry(key).or_default().push((parse_value(le)?, s.value));
        }
        for (key, buckets) in series {
            let sorted = buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
            let last = buckets.last().copied().unwrap_or((0.0, 0.0));
            let count = exp
                .samples
                .iter()
                .find(|s| s.name == format!("{family}_count") && key.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
                .map(|s| s.value);
            if !sorted || last.0 != f64::INFINITY || count != Some(last.1) {
                return Err(format!("histogram {family} {key:?} is inconsistent: {buckets:?}, count {count:?}"));
            }
        }
    }
    Ok(())
}

/// Runs `promtool check metrics` on `text`; skipped (with a note) when promtool is absent.
pub fn promtool_accepts(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED promtool check metrics: `promtool` is not on PATH (Debian package `prometheus`)");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics: {report}\n{text}");
}
