//! A parser of the Prometheus text exposition format, classic version 0.0.4.
//!
//! Written from the format's specification (the `expfmt` text parser is the reference
//! for the corner cases): `# HELP name text` (escapes `\\` and `\n`), `# TYPE name type`,
//! other `#` lines are comments, samples are `name{label="value",...} value [timestamp]`
//! with label values escaping `\\`, `\"` and `\n`, values are Go floats (`+Inf`, `-Inf`,
//! `NaN`, exponents), timestamps integer milliseconds. Blanks (spaces, tabs) may stand
//! around tokens; a trailing comma may close a label set.
//!
//! Samples are grouped into families the way Prometheus groups them: a sample belongs to
//! the family of its own name, or, when that family is not declared, to the declared
//! histogram whose `_bucket`, `_sum` or `_count` (or summary whose `_sum` or `_count`) it
//! is. An undeclared sample is its own `untyped` family. A family declared by `# HELP` or
//! `# TYPE` but without samples is kept, empty: it still names a metric.
//!
//! Errors (a bad name, value, escape or timestamp, an unknown type, a second `# TYPE` or
//! `# HELP`, a `# TYPE` after the family's samples, a label given twice) name the line.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// A family's declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricType {
    /// Only goes up (resets on restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// `_bucket{le}`, `_sum`, `_count` samples.
    Histogram,
    /// `{quantile}`, `_sum`, `_count` samples.
    Summary,
    /// No `# TYPE`, or `# TYPE name untyped`.
    Untyped,
}

impl MetricType {
    /// The name used in `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
            Self::Untyped => "untyped",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "summary" => Self::Summary,
            "untyped" => Self::Untyped,
            _ => return None,
        })
    }

    /// The suffixes of this type's sample names besides the family name itself.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Self::Histogram => &["_bucket", "_sum", "_count"],
            Self::Summary => &["_sum", "_count"],
            _ => &[],
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The sample's name, with any `_bucket`/`_sum`/`_count` suffix.
    pub name: String,
    /// Its labels (unescaped values).
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
    /// The exposed timestamp, milliseconds since the Unix epoch, if any.
    pub timestamp_ms: Option<i64>,
}

/// A metric family: a name, a type, and its samples in exposition order.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// The family name (a histogram's base name, without `_bucket`).
    pub name: String,
    /// Declared type (`Untyped` when undeclared).
    pub kind: MetricType,
    /// The `# HELP` text, unescaped.
    pub help: Option<String>,
    /// Its samples.
    pub samples: Vec<Sample>,
}

/// Text that is not valid exposition format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: LineError,
}

/// What is wrong with one line of an exposition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// `# HELP` or `# TYPE` alone.
    #[error("# {0} without a metric name")]
    NoName(String),
    /// A family with two `# HELP` lines.
    #[error("second # HELP for {0}")]
    SecondHelp(String),
    /// A `# TYPE` this parser does not know.
    #[error("unknown metric type {kind:?} for {name}")]
    UnknownType {
        /// The type as written.
        kind: String,
        /// The family.
        name: String,
    },
    /// A family with two `# TYPE` lines.
    #[error("second # TYPE for {0}")]
    SecondType(String),
    /// A `# TYPE` after the family's samples.
    #[error("# TYPE for {0} after its samples")]
    TypeAfterSamples(String),
    /// A sample without a value.
    #[error("sample {0} has no value")]
    NoValue(String),
    /// A timestamp that is not integer milliseconds.
    #[error("bad timestamp {0:?} (integer milliseconds)")]
    BadTimestamp(String),
    /// Text after the timestamp.
    #[error("unexpected {0:?} after the sample's timestamp")]
    AfterTimestamp(String),
    /// A label without `=`.
    #[error("label {0} has no `=`")]
    NoEquals(String),
    /// A label value without quotes.
    #[error("value of label {0} is not quoted")]
    Unquoted(String),
    /// A label given twice in one sample.
    #[error("label {0} given twice")]
    LabelTwice(String),
    /// Neither `,` nor `}` after a label value.
    #[error("expected `,` or `}}` after the value of label {0}")]
    NoSeparator(String),
    /// An escape other than `\\`, `\"` or `\n` in a label value.
    #[error("invalid escape `\\{0}` in a label value")]
    LabelEscape(char),
    /// A label value without its closing quote.
    #[error("unterminated label value")]
    Unterminated,
    /// An escape other than `\\` or `\n` in HELP text.
    #[error("invalid escape `\\{0}` in HELP text")]
    HelpEscape(char),
    /// HELP text ending in `\`.
    #[error("HELP text ends in a lone backslash")]
    LoneBackslash,
    /// A value that is not a Go float.
    #[error("bad sample value {0:?}")]
    BadValue(String),
    /// A metric name outside `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("bad metric name {0:?}")]
    MetricName(String),
    /// A label name outside `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("bad label name {0:?}")]
    LabelName(String),
}

/// Parses an exposition into its families, in order of first appearance.
pub fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let mut p = Parser::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        p.line(line).map_err(|message| ParseError { line: i + 1, message })?;
    }
    Ok(p.families)
}

#[derive(Default)]
struct Parser {
    families: Vec<Family>,
    /// Family name -> index in `families`.
    index: HashMap<String, usize>,
    /// Families declared by `# TYPE`.
    typed: HashSet<String>,
}

impl Parser {
    fn line(&mut self, line: &str) -> Result<(), LineError> {
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() {
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix('#') {
            return self.comment(rest);
        }
        let sample = parse_sample(line)?;
        let at = self.family_for(&sample.name);
        self.families[at].samples.push(sample);
        Ok(())
    }

    /// `# HELP` and `# TYPE`; any other comment is ignored.
    fn comment(&mut self, rest: &str) -> Result<(), LineError> {
        let rest = rest.trim_start_matches([' ', '\t']);
        let (keyword, rest) = split_token(rest);
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        let (name, rest) = split_token(rest.trim_start_matches([' ', '\t']));
        if name.is_empty() {
            return Err(LineError::NoName(keyword.to_owned()));
        }
        check_metric_name(name)?;
        let value = rest.strip_prefix([' ', '\t']).unwrap_or(rest);
        if keyword == "HELP" {
            let at = self.declare(name);
            if self.families[at].help.is_some() {
                return Err(LineError::SecondHelp(name.to_owned()));
            }
            self.families[at].help = Some(unescape_help(value)?);
            return Ok(());
        }
        let kind = value.trim_matches([' ', '\t']);
        let kind = MetricType::parse(kind)
            .ok_or_else(|| LineError::UnknownType { kind: kind.to_owned(), name: name.to_owned() })?;
        if !self.typed.insert(name.to_owned()) {
            return Err(LineError::SecondType(name.to_owned()));
        }
        let at = self.declare(name);
        if !self.families[at].samples.is_empty() {
            return Err(LineError::TypeAfterSamples(name.to_owned()));
        }
        self.families[at].kind = kind;
        Ok(())
    }

    /// The index of family `name`, created untyped if new.
    fn declare(&mut self, name: &str) -> usize {
        if let Some(&at) = self.index.get(name) {
            return at;
        }
        let at = self.families.len();
        self.families.push(Family {
            name: name.to_owned(),
            kind: MetricType::Untyped,
            help: None,
            samples: Vec::new(),
        });
        self.index.insert(name.to_owned(), at);
        at
    }

    /// The family a sample named `name` belongs to (see the module docs).
    fn family_for(&mut self, name: &str) -> usize {
        if let Some(&at) = self.index.get(name) {
            if self.families[at].kind != MetricType::Untyped || self.typed.contains(name) {
                return at;
            }
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(&at) = name.strip_suffix(suffix).and_then(|base| self.index.get(base)) {
                if self.families[at].kind.suffixes().contains(&suffix) {
                    return at;
                }
            }
        }
        self.declare(name)
    }
}

/// Splits at the first blank: (token, rest starting at the blank).
fn split_token(s: &str) -> (&str, &str) {
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    s.split_at(end)
}

/// `name{labels} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, LineError> {
    let name_end = line.find(|c: char| !is_metric_name_char(c)).unwrap_or(line.len());
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = line[name_end..].trim_start_matches([' ', '\t']);
    let mut labels = BTreeMap::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(after_brace)?;
        labels = parsed;
        rest = after;
    }
    let mut fields = rest.split([' ', '\t']).filter(|f| !f.is_empty());
    let value = fields.next().ok_or_else(|| LineError::NoValue(name.to_owned()))?;
    let value = parse_float(value)?;
    let timestamp_ms = match fields.next() {
        Some(ts) => Some(ts.parse::<i64>().map_err(|_| LineError::BadTimestamp(ts.to_owned()))?),
        None => None,
    };
    if let Some(extra) = fields.next() {
        return Err(LineError::AfterTimestamp(extra.to_owned()));
    }
    Ok(Sample { name: name.to_owned(), labels, value, timestamp_ms })
}

/// Parses `k="v", ...}` (the `{` already consumed); returns the labels and what follows `}`.
fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), LineError> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let key_end = s.find(|c: char| !is_label_name_char(c)).unwrap_or(s.len());
        let key = &s[..key_end];
        check_label_name(key)?;
        let after_key = s[key_end..].trim_start_matches([' ', '\t']);
        let after_eq = after_key.strip_prefix('=').ok_or_else(|| LineError::NoEquals(key.to_owned()))?;
        let quoted = after_eq.trim_start_matches([' ', '\t']);
        let body = quoted.strip_prefix('"').ok_or_else(|| LineError::Unquoted(key.to_owned()))?;
        let (value, after_value) = unescape_label_value(body)?;
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(LineError::LabelTwice(key.to_owned()));
        }
        let after_value = after_value.trim_start_matches([' ', '\t']);
        s = match after_value.strip_prefix(',') {
            Some(next) => next,
            None if after_value.starts_with('}') => after_value,
            None => return Err(LineError::NoSeparator(key.to_owned())),
        };
    }
}

/// Reads a label value up to its closing quote; returns it and what follows the quote.
fn unescape_label_value(s: &str) -> Result<(String, &str), LineError> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                Some(other) => return Err(LineError::LabelEscape(other)),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(LineError::Unterminated)
}

/// Unescapes `\\` and `\n` in HELP text (any other backslash is kept as written).
fn unescape_help(s: &str) -> Result<String, LineError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some(other) => return Err(LineError::HelpEscape(other)),
            None => return Err(LineError::LoneBackslash),
        }
    }
    Ok(out)
}

/// A Go `strconv.ParseFloat` value: decimals, exponents, `+Inf`, `-Inf`, `NaN`.
fn parse_float(v: &str) -> Result<f64, LineError> {
    let bad = || LineError::BadValue(v.to_owned());
    let lower = v.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    match unsigned {
        "inf" | "infinity" | "nan" => {}
        _ if unsigned.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-')) => {}
        _ => return Err(bad()),
    }
    if lower.len() - unsigned.len() > 1 {
        return Err(bad());
    }
    v.parse::<f64>().map_err(|_| bad())
}

fn is_metric_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn is_label_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn check_metric_name(name: &str) -> Result<(), LineError> {
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => Ok(()),
        _ => Err(LineError::MetricName(name.to_owned())),
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
fn check_label_name(name: &str) -> Result<(), LineError> {
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => Ok(()),
        _ => Err(LineError::LabelName(name.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn family<'a>(fams: &'a [Family], name: &str) -> &'a Family {
        fams.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no family {name} in {fams:#?}"))
    }

    #[test]
    fn escapes_in_label_values_and_help() {
        // In the text: a\"b, c\\d, e\nf; and HELP with \\ and \n.
        let text = "# HELP m_total Says \\\\ and\\nmore.\n# TYPE m_total counter\n\
                    m_total{a=\"x\\\"y\",b=\"c\\\\d\",c=\"e\\nf\",d=\"{}=,\"} 7\n";
        let fams = parse(text).unwrap();
        let m = family(&fams, "m_total");
        assert_eq!(m.kind, MetricType::Counter);
        assert_eq!(m.help.as_deref(), Some("Says \\ and\nmore."));
        assert_eq!(m.samples[0].labels, labels(&[("a", "x\"y"), ("b", "c\\d"), ("c", "e\nf"), ("d", "{}=,")]));
        assert_eq!(m.samples[0].value, 7.0);
    }

    #[test]
    fn special_values_timestamps_and_blanks() {
        let text = "# TYPE g gauge\ng{x=\"1\"} +Inf\ng{x=\"2\"} -Inf\ng{x=\"3\"} NaN 1712345678901\n\
                    g{x=\"4\"} 1.5e3 -5\ng { x = \"5\" , } \t 2\ng{x=\"6\"} .5\n";
        let fams = parse(text).unwrap();
        let g = &family(&fams, "g").samples;
        assert_eq!(g[0].value, f64::INFINITY);
        assert_eq!(g[1].value, f64::NEG_INFINITY);
        assert!(g[2].value.is_nan());
        assert_eq!(g[2].timestamp_ms, Some(1_712_345_678_901));
        assert_eq!((g[3].value, g[3].timestamp_ms), (1500.0, Some(-5)));
        assert_eq!((g[4].labels.clone(), g[4].value), (labels(&[("x", "5")]), 2.0));
        assert_eq!(g[5].value, 0.5);
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_ignored() {
        let text = "# a comment\n\n#   \n   \n# TYPE a gauge\r\na 1\r\n# EOF\n";
        let fams = parse(text).unwrap();
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].samples[0].value, 1.0);
    }

    #[test]
    fn histograms_and_summaries_group_their_suffixes() {
        let text = "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 2.5\nh_count 3\n\
                    # TYPE s summary\ns{quantile=\"0.9\"} 4\ns_sum 10\ns_count 5\ns_bucket 1\n";
        let fams = parse(text).unwrap();
        assert_eq!(family(&fams, "h").samples.len(), 4);
        assert_eq!(family(&fams, "h").samples[1].labels, labels(&[("le", "+Inf")]));
        assert_eq!(family(&fams, "s").samples.len(), 3);
        // A summary has no buckets: s_bucket is its own untyped family.
        assert_eq!(family(&fams, "s_bucket").kind, MetricType::Untyped);
    }

    #[test]
    fn undeclared_samples_are_untyped_and_declared_empty_families_are_kept() {
        let text = "# HELP e_total Never incremented.\n# TYPE e_total counter\nx_count 3\nx_count{a=\"b\"} 4\n";
        let fams = parse(text).unwrap();
        let e = family(&fams, "e_total");
        assert_eq!((e.kind, e.samples.len()), (MetricType::Counter, 0));
        let x = family(&fams, "x_count");
        assert_eq!((x.kind, x.samples.len()), (MetricType::Untyped, 2));
    }

    #[test]
    fn malformed_text_names_its_line() {
        let bad: &[(&str, usize, &str)] = &[
            ("# TYPE a gauge\na{x=\"1\" 2\n", 2, "`,` or `}`"),
            ("a{x=\"1} 2\n", 1, "unterminated"),
            ("a{x=\"\\t\"} 2\n", 1, "invalid escape"),
            ("a{x=1} 2\n", 1, "not quoted"),
            ("a{1x=\"1\"} 2\n", 1, "bad label name"),
            ("a{x=\"1\",x=\"2\"} 2\n", 1, "twice"),
            ("a\n", 1, "no value"),
            ("a one\n", 1, "bad sample value"),
            ("a 0x10\n", 1, "bad sample value"),
            ("a 1 2.5\n", 1, "bad timestamp"),
            ("a 1 2 3\n", 1, "unexpected"),
            ("9a 1\n", 1, "bad metric name"),
            ("# TYPE a gauge\n# TYPE a gauge\n", 2, "second # TYPE"),
            ("# HELP a x\n# HELP a y\n", 2, "second # HELP"),
            ("# TYPE a meter\n", 1, "unknown metric type"),
            ("a 1\n# TYPE a gauge\n", 2, "after its samples"),
            ("# TYPE\n", 1, "without a metric name"),
            ("<html><body>no</body></html>\n", 1, "bad metric name"),
            ("{\"status\":\"ok\"}\n", 1, "bad metric name"),
        ];
        for (text, line, needle) in bad {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.to_string().contains(needle), "{text:?}: {e}");
        }
    }
}
