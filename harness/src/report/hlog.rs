//! HdrHistogram interval logs (`.hlog`): one file per request kind, one interval histogram
//! per recording interval, readable by HdrHistogram's own tools in any language
//! (`HistogramLogProcessor`, Python's `hdrh.log.HistogramLogReader`, ...).
//!
//! The files are written with hdrhistogram's `IntervalLogWriterBuilder`: a comment saying
//! what the file holds, `#[StartTime: ...]` and `#[BaseTime: ...]` both set to the run's
//! start (`started_at`), the legend line Java's `HistogramLogWriter` writes, then one line
//! per [`IntervalSummary`](super::results::IntervalSummary): `Tag=<kind>,<start>,<length>,<max>,<histogram>`,
//! where `start` is seconds since the run started (simulated), `length` the interval's
//! length and the histogram the interval's, in the V2 deflate encoding ("compressed" in
//! Java's terms). Values are **simulated microseconds**: no max value divisor is applied,
//! so the `max` column is microseconds too.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::error::{LogWriteError, ReportError};
use super::results::{decode_hdr, RequestSummary, Results};
use crate::Error;

/// The legend line of Java's `HistogramLogWriter` (readers skip it).
const LEGEND: &str = "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

/// A request kind's name as a file name: every character outside `[A-Za-z0-9._-]`
/// becomes `_` (and an empty name `_`).
pub fn sanitize(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// Writes `dir/hlog/<kind>.hlog` for every request kind of `results` (kind names
/// sanitised by [`sanitize`]; two kinds that sanitise alike get `-2`, `-3`, ...);
/// returns the paths written, in the order of `results.requests`. Results without
/// request kinds (a plan's) have no `hlog/`.
pub fn write_hlogs(dir: &Path, results: &Results) -> Result<Vec<PathBuf>, Error> {
    if results.requests.is_empty() {
        return Ok(Vec::new()); // a plan's results: no request kinds, no `hlog/`
    }
    let hlog_dir = dir.join("hlog");
    std::fs::create_dir_all(&hlog_dir).map_err(|source| Error::Io { path: hlog_dir.clone(), source })?;
    let start = humantime::parse_rfc3339(&results.started_at).ok();
    let mut used = std::collections::BTreeSet::new();
    let mut paths = Vec::with_capacity(results.requests.len());
    for req in &results.requests {
        let base = sanitize(&req.name);
        let mut stem = base.clone();
        let mut n = 1;
        while !used.insert(stem.clone()) {
            n += 1;
            stem = format!("{base}-{n}");
        }
        let path = hlog_dir.join(format!("{stem}.hlog"));
        let bytes = render(results, req, start, &base)?;
        super::write_atomic(&path, &bytes)?;
        paths.push(path);
    }
    Ok(paths)
}

/// One request kind's interval log, in memory.
fn render(
    results: &Results,
    req: &RequestSummary,
    start: Option<SystemTime>,
    sanitized: &str,
) -> Result<Vec<u8>, ReportError> {
    let failed = |source: LogWriteError| ReportError::LogWrite { kind: req.name.clone(), source };
    let mut buf = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let mut header = IntervalLogWriterBuilder::new();
    header.add_comment(&format!(
        "gameday {} interval log of request kind `{}`, scenario `{}` ({} results; load started {})",
        results.gameday_version,
        req.name,
        results.scenario,
        serde_json::to_value(results.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        results.started_at
    ));
    header.add_comment(
        "Values are SIMULATED MICROSECONDS (no max value divisor: Interval_Max is microseconds too); \
         timestamps are simulated seconds since the load started",
    );
    header.add_comment("[Histogram log format version 1.3]");
    match start {
        Some(t) => {
            header.with_start_time(t).with_base_time(t);
        }
        None => {
            header.add_comment(&format!(
                "started_at `{}` is not RFC 3339 UTC: no StartTime/BaseTime",
                results.started_at
            ));
        }
    }
    header.begin_log_with(&mut buf, &mut serializer).map_err(|e| failed(LogWriteError::Header(e)))?;
    buf.extend_from_slice(LEGEND.as_bytes());
    // Histogram lines: a second writer with no headers appends to the same buffer.
    let mut log = IntervalLogWriterBuilder::new()
        .begin_log_with(&mut buf, &mut serializer)
        .map_err(|e| failed(LogWriteError::Header(e)))?;
    let tag = Tag::new(&req.name).or_else(|| Tag::new(sanitized));
    for iv in &req.intervals {
        let start_s = iv.start_s;
        let at = |at_s: f64| {
            Duration::try_from_secs_f64(at_s).map_err(|source| failed(LogWriteError::Time { at_s, source }))
        };
        let h = decode_hdr(&iv.hdr).map_err(|source| failed(LogWriteError::Decode { start_s, source }))?;
        log.write_histogram(&h, at(start_s)?, at(iv.length_s)?, tag)
            .map_err(|source| failed(LogWriteError::Write { start_s, source }))?;
    }
    Ok(buf)
}

/// One interval of an interval log: start (seconds, as written: since BaseTime when the
/// log has one, as gameday's do), length (seconds) and histogram.
pub type LoggedInterval = (f64, f64, Histogram<u64>);

/// Reads every interval histogram of an interval log, in file order.
pub fn read_hlog(path: &Path) -> Result<Vec<LoggedInterval>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let path = path.to_path_buf();
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|found| ReportError::NotALog { path: path.clone(), found })?;
        let LogEntry::Interval(iv) = entry else { continue };
        let start_s = iv.start_timestamp().as_secs_f64();
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, iv.encoded_histogram())
            .map_err(|source| ReportError::LogBase64 { path: path.clone(), start_s, source })?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut raw.as_slice())
            .map_err(|source| ReportError::LogHistogram { path: path.clone(), start_s, source })?;
        out.push((start_s, iv.duration().as_secs_f64(), h));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{results_of, same_counts};

    #[test]
    fn kind_names_are_sanitised_for_file_names() {
        assert_eq!(sanitize("get /user?id=1"), "get__user_id_1");
        assert_eq!(sanitize("a.b-c_D9"), "a.b-c_D9");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("é"), "_");
    }

    #[test]
    fn every_interval_histogram_reads_back_equal() {
        // Two kinds with known latencies over 5 one-second intervals (one interval empty
        // for `b`), 2 kinds that sanitise alike get distinct files.
        let mut samples = Vec::new();
        for i in 0..5u64 {
            for k in 0..100u64 {
                samples.push(("a/1", i, 1_000 + 37 * k + i * 1_000, k % 10 == 0));
                if i != 2 {
                    samples.push(("a 1", i, 250_000 + k * k * 13, false));
                }
            }
        }
        let results = results_of("hlog-test", 1.0, &samples);
        let dir = tempfile::tempdir().unwrap();
        let paths = write_hlogs(dir.path(), &results).unwrap();
        assert_eq!(paths, vec![dir.path().join("hlog/a_1.hlog"), dir.path().join("hlog/a_1-2.hlog")]);
        for (path, req) in paths.iter().zip(&results.requests) {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.contains("SIMULATED MICROSECONDS"), "{text}");
            assert!(text.contains("#[StartTime: 1700000000.250 (seconds since epoch)]"), "{text}");
            assert!(text.contains("#[BaseTime: 1700000000.250 (seconds since epoch)]"), "{text}");
            let tag = if req.name == "a 1" { "Tag=a_1," } else { "Tag=a/1," };
            assert!(text.contains(tag), "{text}");
            let back = read_hlog(path).unwrap();
            assert_eq!(back.len(), req.intervals.len());
            for ((start, len, h), iv) in back.iter().zip(&req.intervals) {
                assert_eq!(*start, iv.start_s);
                assert_eq!(*len, iv.length_s);
                let orig = decode_hdr(&iv.hdr).unwrap();
                assert!(same_counts(h, &orig), "{}: interval {start}", req.name);
                assert_eq!(h.len(), iv.count);
            }
        }
        assert_eq!(read_hlog(&paths[1]).unwrap().len(), 4);
    }

    #[test]
    fn a_file_that_is_not_a_log_is_a_usage_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hlog");
        std::fs::write(&path, "Tag=a,0.000,1.000,5.000,@@@not-base64\n").unwrap();
        let err = read_hlog(&path).unwrap_err();
        assert!(err.to_string().contains("x.hlog"), "{err}");
        assert_eq!(err.exit(), crate::Exit::Usage);
    }
}
