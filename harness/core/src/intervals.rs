//! The per-interval series of a run, kept compact so memory stays flat in run length.
//!
//! An HDR histogram is a dense array of counts: one auto-resizing histogram at 3
//! significant figures holds 2 048 `u64` counts (16 KiB) when empty, 5 120 (40 KiB) once
//! it has seen 10 ms, and about 17 000 (136 KiB) once it has seen a 60 s proof. Kept per
//! request kind for every 1 s recording interval, that was most of a long run's memory
//! (a 10-minute run at 5 000/s grew from 41 to 61 MB between minute 2 and the end,
//! `ci/bench-compare.sh` (d)). [`Intervals`] stores each finished interval as
//! [`PackedStats`]: the outcome counts and each histogram in HdrHistogram's V2 encoding
//! (run-length zeros, LEB128 counts; the format the `.hlog` files use, here without
//! deflate), typically a few hundred bytes, exact. Readers get [`KindStats`] back
//! ([`Intervals::iter`], [`Intervals::range`], [`Intervals::get`]), one interval at a time.

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;

use crate::outcome::{new_histogram, KindStats, Outcome};

/// One histogram, encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedHistogram(Box<[u8]>);

impl PackedHistogram {
    /// Encodes `h` exactly.
    pub fn pack(h: &Histogram<u64>) -> Self {
        Self(encode(h))
    }

    /// Decodes it (auto-resizing, like every histogram gameday records into).
    pub fn unpack(&self) -> Histogram<u64> {
        decode(&self.0)
    }
}

/// One request kind's stats for one interval, encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedStats {
    outcomes: [u64; Outcome::COUNT],
    latency: PackedHistogram,
    failed_latency: [Option<PackedHistogram>; Outcome::COUNT],
    first_error: Option<String>,
}

impl PackedStats {
    /// Encodes `s` (exact: every count at every value is kept).
    pub fn pack(s: &KindStats) -> Self {
        Self {
            outcomes: s.outcomes,
            latency: PackedHistogram::pack(&s.latency),
            // A user's recorder keeps an emptied histogram per failure kind it has seen.
            failed_latency: std::array::from_fn(|i| {
                s.failed_latency[i].as_deref().filter(|h| !h.is_empty()).map(PackedHistogram::pack)
            }),
            first_error: s.first_error.clone(),
        }
    }

    /// Decodes back into the stats it was packed from.
    pub fn unpack(&self) -> KindStats {
        KindStats {
            latency: self.latency.unpack(),
            outcomes: self.outcomes,
            failed_latency: std::array::from_fn(|i| self.failed_latency[i].as_ref().map(|h| Box::new(h.unpack()))),
            first_error: self.first_error.clone(),
        }
    }

    /// Bytes held (for the memory figures in tests and benches).
    pub fn heap_bytes(&self) -> usize {
        let failed: usize = self.failed_latency.iter().flatten().map(|h| h.0.len()).sum();
        self.latency.0.len() + failed + self.first_error.as_ref().map_or(0, String::len)
    }
}

fn encode(h: &Histogram<u64>) -> Box<[u8]> {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail on I/O; V2 fails only on a histogram whose counts
    // do not fit its own format, which HDR's own histograms always do.
    match V2Serializer::new().serialize(h, &mut buf) {
        Ok(_) => buf.into_boxed_slice(),
        Err(e) => unreachable_encoding(&e),
    }
}

fn decode(bytes: &[u8]) -> Histogram<u64> {
    match Deserializer::new().deserialize::<u64, _>(&mut &bytes[..]) {
        Ok(mut h) => {
            h.auto(true);
            h
        }
        // Bytes `encode` wrote always decode; an empty histogram is the safe answer if the
        // impossible happens (never a panic on the reporting path).
        Err(_) => new_histogram(),
    }
}

#[cold]
fn unreachable_encoding(e: &dyn std::fmt::Debug) -> Box<[u8]> {
    tracing::error!("cannot encode an interval histogram: {e:?}; the interval is kept empty");
    Box::default()
}

/// A run's per-interval stats, per request kind, keyed by interval number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intervals {
    map: BTreeMap<u64, Vec<PackedStats>>,
}

impl Intervals {
    /// An empty series.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores interval `i` (replacing what was there).
    pub fn insert(&mut self, i: u64, kinds: Vec<KindStats>) {
        self.store(i, &kinds);
    }

    fn store(&mut self, i: u64, kinds: &[KindStats]) {
        self.map.insert(i, kinds.iter().map(PackedStats::pack).collect());
    }

    /// Adds `kinds` into interval `i` (a late batch for a stored interval: decode, merge,
    /// encode; a new interval is simply stored).
    pub fn merge(&mut self, i: u64, kinds: &[KindStats]) {
        match self.map.get_mut(&i) {
            None => self.store(i, kinds),
            Some(slot) => {
                for (j, k) in kinds.iter().enumerate() {
                    let mut merged = slot.get(j).map(PackedStats::unpack).unwrap_or_default();
                    merged.merge(k);
                    let packed = PackedStats::pack(&merged);
                    match slot.get_mut(j) {
                        Some(s) => *s = packed,
                        None => slot.push(packed),
                    }
                }
            }
        }
    }

    /// Interval `i`, decoded.
    pub fn get(&self, i: u64) -> Option<Vec<KindStats>> {
        self.map.get(&i).map(|v| unpack_all(v))
    }

    /// Every interval in order, decoded one at a time.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, Vec<KindStats>)> + '_ {
        self.map.iter().map(|(i, v)| (*i, unpack_all(v)))
    }

    /// The intervals in `range`, decoded one at a time.
    pub fn range<R: RangeBounds<u64>>(&self, range: R) -> impl DoubleEndedIterator<Item = (u64, Vec<KindStats>)> + '_ {
        self.map.range(range).map(|(i, v)| (*i, unpack_all(v)))
    }

    /// The interval numbers, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = u64> + '_ {
        self.map.keys().copied()
    }

    /// The number of stored intervals.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no interval is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes the encoded histograms hold.
    pub fn heap_bytes(&self) -> usize {
        self.map.values().flatten().map(PackedStats::heap_bytes).sum()
    }
}

impl FromIterator<(u64, Vec<KindStats>)> for Intervals {
    fn from_iter<T: IntoIterator<Item = (u64, Vec<KindStats>)>>(iter: T) -> Self {
        let mut out = Self::new();
        for (i, kinds) in iter {
            out.insert(i, kinds);
        }
        out
    }
}

fn unpack_all(v: &[PackedStats]) -> Vec<KindStats> {
    v.iter().map(PackedStats::unpack).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seed: u64) -> KindStats {
        let mut k = KindStats::default();
        for i in 1..=1000u64 {
            k.record(i * 37 + seed, Outcome::Ok, None);
        }
        k.record(60_000_000, Outcome::Timeout, Some(&"timed out"));
        k.record(2_500, Outcome::Status5xx, Some(&"HTTP 500"));
        k
    }

    fn same(a: &KindStats, b: &KindStats) {
        assert_eq!(a.outcomes, b.outcomes);
        assert_eq!(a.latency, b.latency, "every bucket's count");
        for (x, y) in a.failed_latency.iter().zip(&b.failed_latency) {
            assert_eq!(x, y);
        }
        assert_eq!(a.first_error, b.first_error);
    }

    #[test]
    fn packing_is_exact_and_small() {
        let k = sample(0);
        let p = PackedStats::pack(&k);
        same(&p.unpack(), &k);
        // The dense histogram reaching 60 s holds about 17 000 u64 counts (136 KiB); its
        // encoding keeps only the 1 002 recorded buckets' counts and the zero runs.
        let dense = k.latency.distinct_values() * std::mem::size_of::<u64>();
        assert!(dense > 100_000, "dense {dense}");
        assert!(p.heap_bytes() < 5_000, "packed {} bytes", p.heap_bytes());
    }

    #[test]
    fn a_late_batch_merges_into_a_stored_interval_exactly() {
        let (a, b) = (sample(0), sample(5));
        let mut s = Intervals::new();
        s.merge(3, std::slice::from_ref(&a));
        s.merge(3, std::slice::from_ref(&b));
        let mut want = a.clone();
        want.merge(&b);
        let got = s.get(3).unwrap();
        same(&got[0], &want);
        assert_eq!(s.keys().collect::<Vec<_>>(), [3]);
        // A merged interval still grows when later values exceed its range.
        let mut wide = KindStats::default();
        wide.record(900_000_000, Outcome::Ok, None);
        s.merge(3, &[wide]);
        assert_eq!(s.get(3).unwrap()[0].total(), want.total() + 1);
    }
}
