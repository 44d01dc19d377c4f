//! A strict reader of the Prometheus classic text format (0.0.4), written from the format's
//! specification rather than from the `prometheus` crate the mocks encode with, so it is
//! an independent check of what `/metrics` serves.
//!
//! It rejects: a sample with no preceding `# TYPE` for its family, a family declared twice
//! or split into two groups, a bad metric or label name, an unterminated or badly escaped
//! label value, a value that is not a float, a negative counter, and histograms whose
//! buckets are not cumulative, not in increasing `le` order, do not end in `+Inf`, or
//! whose `+Inf` bucket differs from `_count`.

use std::collections::{BTreeMap, BTreeSet};

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The sample's name (with any `_bucket`/`_sum`/`_count` suffix).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name -> declared type.
    pub types: BTreeMap<String, String>,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Whether any sample is named `name` with all of `labels`.
    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.find(name, labels).next().is_some()
    }

    /// Samples named `name` whose labels include every pair in `labels`.
    pub fn find<'a>(&'a self, name: &'a str, labels: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The sum of the matching samples (0 when none match).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).map(|s| s.value).sum()
    }

    /// The value of the one matching sample, if exactly one matches.
    pub fn one(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<_> = self.find(name, labels).collect();
        (found.len() == 1).then(|| found[0].value)
    }
}

const TYPES: &[&str] = &["counter", "gauge", "histogram", "summary", "untyped"];

/// Parses and checks `text`; the error names the line.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exp = Exposition::default();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| at("TYPE without a type".into()))?;
            check_name(name).map_err(at)?;
            if !TYPES.contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if exp.types.insert(name.to_owned(), kind.to_owned()).is_some() {
                return Err(at(format!("second TYPE for {name}")));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            check_name(name).map_err(at)?;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let sample = parse_sample(line).map_err(at)?;
        let family =
            family_of(&exp.types, &sample.name).ok_or_else(|| at("sample without a preceding # TYPE".into()))?;
        if current.as_deref() != Some(family.as_str()) {
            if let Some(prev) = current.take() {
                finished.insert(prev);
            }
            if finished.contains(&family) {
                return Err(at(format!("samples of {family} are not in one group")));
            }
            current = Some(family.clone());
        }
        if exp.types[&family] == "counter" && sample.value < 0.0 {
            return Err(at("negative counter".into()));
        }
        exp.samples.push(sample);
    }
    check_histograms(&exp)?;
    Ok(exp)
}

/// The family a sample belongs to: its own name if declared, else its histogram/summary.
fn family_of(types: &BTreeMap<String, String>, name: &str) -> Option<String> {
    if types.contains_key(name) {
        return Some(name.to_owned());
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            match types.get(base).map(String::as_str) {
                Some("histogram") => return Some(base.to_owned()),
                Some("summary") if suffix != "_bucket" => return Some(base.to_owned()),
                _ => {}
            }
        }
    }
    None
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!("bad label name {name:?}"))
    }
}

/// `name{k="v",...} value [timestamp]` or `name value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (BTreeMap::new(), &line[name_end..])
    };
    let rest = rest.strip_prefix(' ').ok_or("expected one space before the value")?;
    let mut fields = rest.split(' ');
    let value = parse_value(fields.next().unwrap_or_default())?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>().map_err(|_| format!("bad timestamp {ts:?}"))?;
    }
    if fields.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample { name: name.to_owned(), labels, value })
}

/// Parses `k="v",...}` and returns the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find('=').ok_or("label without =")?;
        let key = &s[..eq];
        check_label_name(key)?;
        let body = s[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
        let (value, after) = unescape(body)?;
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        s = after.strip_prefix(',').unwrap_or(after);
        if !s.starts_with('}') && after.len() == s.len() {
            return Err("labels not separated by commas".into());
        }
    }
}

/// Reads a label value up to its closing quote; returns it and what follows the quote.
fn unescape(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                other => return Err(format!("bad escape \\{other:?}")),
            },
            '\n' => return Err("raw newline in a label value".into()),
            c => out.push(c),
        }
    }
    Err("unterminated label value".into())
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse::<f64>().map_err(|_| format!("bad value {v:?}")),
    }
}

/// Histogram buckets `(le, cumulative count)` by the series' other labels.
type Series = BTreeMap<Vec<(String, String)>, Vec<(f64, f64)>>;

/// Every histogram series: buckets in increasing `le`, cumulative, ending in `+Inf` equal
/// to `_count`, with a `_sum`.
fn check_histograms(exp: &Exposition) -> Result<(), String> {
    for (family, kind) in &exp.types {
        if kind != "histogram" {
            continue;
        }
        let bucket_name = format!("{family}_bucket");
        let mut series: Series = BTreeMap::new();
        for s in exp.samples.iter().filter(|s| s.name == bucket_name) {
            let le = s.labels.get("le").ok_or_else(|| format!("{bucket_name} without le"))?;
            let key: Vec<_> =
                s.labels.iter().filter(|(k, _)| *k != "le").map(|(k, v)| (k.clone(), v.clone())).collect();
            series.entry(key).or_default().push((parse_value(le)?, s.value));
        }
        for (key, buckets) in &series {
            let what = format!("{family}{key:?}");
            for pair in buckets.windows(2) {
                if pair[1].0 <= pair[0].0 {
                    return Err(format!("{what}: le not increasing"));
                }
                if pair[1].1 < pair[0].1 {
                    return Err(format!("{what}: buckets not cumulative"));
                }
            }
            let last = buckets.last().ok_or_else(|| format!("{what}: no buckets"))?;
            if last.0 != f64::INFINITY {
                return Err(format!("{what}: last bucket is not +Inf"));
            }
            let labels: Vec<(&str, &str)> = key.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let series_of = |name: String| {
                exp.samples.iter().find(|s| {
                    s.name == name
                        && s.labels.len() == labels.len()
                        && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
                })
            };
            let count = series_of(format!("{family}_count")).ok_or_else(|| format!("{what}: no _count"))?;
            if count.value != last.1 {
                return Err(format!("{what}: +Inf bucket {} != _count {}", last.1, count.value));
            }
            series_of(format!("{family}_sum")).ok_or_else(|| format!("{what}: no _sum"))?;
        }
    }
    Ok(())
}

#[test]
fn the_reader_rejects_what_the_format_forbids() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"{y}\",z=\"q\\\"\"} 3\n\
              # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n";
    let exp = parse(ok).unwrap();
    assert_eq!(exp.one("a_total", &[("x", "{y}"), ("z", "q\"")]), Some(3.0));
    let bad = [
        "a 1\n",
        "# TYPE a gauge\na{x=\"1\" 2\n",
        "# TYPE a gauge\na 1 2 3\n",
        "# TYPE a gauge\na one\n",
        "# TYPE a counter\na -1\n",
        "# TYPE a gauge\n# TYPE a gauge\na 1\n",
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 1\nh_sum 0\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0\nh_count 3\n",
    ];
    for text in bad {
        assert!(parse(text).is_err(), "accepted {text:?}");
    }
}

/// Runs `promtool check metrics` on `text` and asserts it reports nothing; a skip (or
/// under CI a failure) when promtool is absent.
#[track_caller]
pub fn promtool_accepts(text: &str) {
    let Some((ok, report)) = promtool_check(text) else { return };
    assert!(ok && report.trim().is_empty(), "promtool check metrics: {report}\n{text}");
}

/// Runs `promtool check metrics` on `text`: its exit code, and what it printed; `None`
/// after a skip (under CI a failure) when promtool is absent.
#[track_caller]
pub fn promtool_check_code(text: &str) -> Option<(Option<i32>, String)> {
    let out = crate::common::promtool(&["check", "metrics"], text)?;
    Some((out.status.code(), crate::common::text(&out)))
}

/// [`promtool_check_code`] reduced to whether it passed.
#[track_caller]
pub fn promtool_check(text: &str) -> Option<(bool, String)> {
    promtool_check_code(text).map(|(code, report)| (code == Some(0), report))
}
