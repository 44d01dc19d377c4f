//! Client-side windows over the per-interval HDR recording, exact and incremental.
//!
//! Each interval's histograms (of the selected request kinds) are read once into sparse
//! `(bucket, count)` lists; a [`Slide`] then holds the merged window as outcome counts and
//! a Fenwick tree of bucket counts, adding an interval on entry and subtracting it on exit.
//! A percentile is the same walk `Histogram::value_at_quantile` does on the merged
//! histogram (first bucket whose cumulative count reaches `ceil(q * n)`, its highest
//! equivalent value), found in O(log buckets): exact, and a day of 1 s intervals under a
//! 1 h window costs one add and one subtract per step.

use gameday_core::outcome::{KindStats, Outcome};
use gameday_core::series::RunData;

/// The selected request kinds' data, one slot per recording interval.
#[derive(Debug, Default)]
pub struct ClientData {
    slots: Vec<Slot>,
    /// Bucket rank -> highest equivalent value (simulated microseconds), ascending.
    values: Vec<u64>,
    /// Bucket rank -> lowest equivalent value.
    lowest: Vec<u64>,
    /// Bucket rank -> median equivalent value (what HDR's mean uses).
    median: Vec<u64>,
}

#[derive(Clone, Debug, Default)]
struct Slot {
    outcomes: [u64; Outcome::COUNT],
    latency: Vec<(u32, u64)>,
}

impl ClientData {
    /// Reads the intervals of the request kinds `pick` selects, over `slots` intervals.
    pub fn build(data: &RunData, pick: &[bool], slots: usize) -> Self {
        let mut raw: Vec<(usize, RawSlot)> = Vec::new();
        let mut equivalents = std::collections::BTreeMap::new();
        for (i, kinds) in data.intervals.iter() {
            let Ok(i) = usize::try_from(i) else { continue };
            if i >= slots {
                continue;
            }
            let mut outcomes = [0u64; Outcome::COUNT];
            let mut lat = Vec::new();
            for (k, st) in kinds.iter().enumerate() {
                if pick.get(k).copied().unwrap_or(false) {
                    read_kind(st, &mut outcomes, &mut lat, &mut equivalents);
                }
            }
            raw.push((i, (outcomes, lat)));
        }
        let values: Vec<u64> = equivalents.keys().copied().collect();
        let lowest = equivalents.values().map(|(l, _)| *l).collect();
        let median = equivalents.values().map(|(_, m)| *m).collect();
        let mut out = Self { slots: vec![Slot::default(); slots], values, lowest, median };
        for (i, (outcomes, lat)) in raw {
            let latency =
                lat.into_iter().filter_map(|(v, c)| out.values.binary_search(&v).ok().map(|r| (r as u32, c))).collect();
            out.slots[i] = Slot { outcomes, latency };
        }
        out
    }

    /// Number of interval slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// An interval's outcome counts and `(bucket value, count)` pairs, before ranking.
type RawSlot = ([u64; Outcome::COUNT], Vec<(u64, u64)>);

type Equivalents = std::collections::BTreeMap<u64, (u64, u64)>;

fn read_kind(st: &KindStats, outcomes: &mut [u64; Outcome::COUNT], lat: &mut Vec<(u64, u64)>, eq: &mut Equivalents) {
    for (o, c) in outcomes.iter_mut().zip(st.outcomes) {
        *o += c;
    }
    for v in st.latency.iter_recorded() {
        let value = v.value_iterated_to();
        eq.entry(value).or_insert_with(|| (st.latency.lowest_equivalent(value), st.latency.median_equivalent(value)));
        lat.push((value, v.count_at_value()));
    }
}

/// A Fenwick (binary indexed) tree of counts.
#[derive(Clone, Debug)]
struct Fenwick {
    tree: Vec<u64>,
    total: u64,
}

impl Fenwick {
    fn new(n: usize) -> Self {
        Self { tree: vec![0; n], total: 0 }
    }

    fn add(&mut self, i: usize, c: u64, sub: bool) {
        let mut j = i + 1;
        while j <= self.tree.len() {
            let t = &mut self.tree[j - 1];
            *t = if sub { t.wrapping_sub(c) } else { t.wrapping_add(c) };
            j += j & j.wrapping_neg();
        }
        self.total = if sub { self.total.wrapping_sub(c) } else { self.total.wrapping_add(c) };
    }

    /// Sum of counts at ranks `< i`.
    fn prefix(&self, i: usize) -> u64 {
        let mut j = i.min(self.tree.len());
        let mut s = 0u64;
        while j > 0 {
            s = s.wrapping_add(self.tree[j - 1]);
            j -= j & j.wrapping_neg();
        }
        s
    }

    /// The smallest rank whose cumulative count reaches `k` (1 <= k <= total).
    fn find(&self, k: u64) -> usize {
        let mut pos = 0usize;
        let mut left = k;
        let mut step = self.tree.len().checked_ilog2().map_or(0, |b| 1usize << b);
        while step > 0 {
            let next = pos + step;
            if next <= self.tree.len() && self.tree[next - 1] < left {
                pos = next;
                left -= self.tree[next - 1];
            }
            step >>= 1;
        }
        pos
    }
}

/// A window of intervals `[lo, hi)` merged incrementally.
#[derive(Debug)]
pub struct Slide<'a> {
    data: &'a ClientData,
    lo: usize,
    hi: usize,
    outcomes: [u64; Outcome::COUNT],
    tree: Fenwick,
    sum_median: u128,
}

impl<'a> Slide<'a> {
    /// An empty window at the start.
    pub fn new(data: &'a ClientData) -> Self {
        Self { data, lo: 0, hi: 0, outcomes: [0; Outcome::COUNT], tree: Fenwick::new(data.values.len()), sum_median: 0 }
    }

    fn apply(&mut self, i: usize, sub: bool) {
        let Some(slot) = self.data.slots.get(i) else { return };
        for (o, c) in self.outcomes.iter_mut().zip(slot.outcomes) {
            *o = if sub { o.wrapping_sub(c) } else { o.wrapping_add(c) };
        }
        for &(r, c) in &slot.latency {
            let r = r as usize;
            self.tree.add(r, c, sub);
            let m = u128::from(self.data.median[r]) * u128::from(c);
            self.sum_median = if sub { self.sum_median.wrapping_sub(m) } else { self.sum_median.wrapping_add(m) };
        }
    }

    /// Moves the window to `[lo, hi)`; cheap when both ends only move forward.
    pub fn set(&mut self, lo: usize, hi: usize) {
        let hi = hi.min(self.data.slots.len());
        let lo = lo.min(hi);
        if lo < self.lo || hi < self.hi {
            *self = Self::new(self.data);
        }
        if lo >= self.hi {
            while self.lo < self.hi {
                self.apply(self.lo, true);
                self.lo += 1;
            }
            self.lo = lo;
            self.hi = lo;
        }
        while self.hi < hi {
            self.apply(self.hi, false);
            self.hi += 1;
        }
        while self.lo < lo {
            self.apply(self.lo, true);
            self.lo += 1;
        }
    }

    /// Requests in the window.
    pub fn total(&self) -> u64 {
        self.outcomes.iter().sum()
    }

    /// Requests in the window whose outcome `pick` selects (indexed like [`gameday_core::outcome::Outcome`]).
    pub fn count(&self, pick: &[bool; Outcome::COUNT]) -> u64 {
        self.outcomes.iter().zip(pick).filter(|(_, p)| **p).map(|(c, _)| c).sum()
    }

    /// The latency at quantile `q` (0 < q <= 1), simulated microseconds, as HDR computes
    /// it on the merged histogram.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let n = self.tree.total;
        if n == 0 {
            return None;
        }
        let k = ((q.min(1.0) * n as f64).ceil() as u64).max(1);
        self.data.values.get(self.tree.find(k)).copied()
    }

    /// The smallest latency (lowest equivalent of the lowest bucket), microseconds.
    pub fn min_us(&self) -> Option<u64> {
        (self.tree.total > 0).then(|| self.data.lowest.get(self.tree.find(1)).copied()).flatten()
    }

    /// The mean latency as HDR computes it (median equivalents), microseconds.
    pub fn mean_us(&self) -> Option<f64> {
        (self.tree.total > 0).then(|| self.sum_median as f64 / self.tree.total as f64)
    }

    /// Latency samples in the window, and how many of them have a bucket value `bad`
    /// says violates (`bad` must be monotone: false then true as values grow).
    pub fn over(&self, bad: impl Fn(u64) -> bool) -> (u64, u64) {
        let first_bad = self.data.values.partition_point(|v| !bad(*v));
        (self.tree.total - self.tree.prefix(first_bad), self.tree.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gameday_core::outcome::new_histogram;
    use rand::{Rng, SeedableRng};

    /// 200 intervals of random latencies over three kinds; the oracle is hdrhistogram's
    /// own merge (`Histogram::add`) and its `value_at_quantile` / `mean` / `min` / `max`.
    #[test]
    fn sliding_windows_equal_hdr_merges() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut data = RunData { step_s: 1.0, duration_s: 200.0, ..RunData::default() };
        for i in 0..200u64 {
            if i % 17 == 5 {
                continue; // empty intervals happen
            }
            let mut kinds = vec![KindStats::default(); 3];
            for k in &mut kinds {
                for _ in 0..rng.random_range(0..40) {
                    let us = (rng.random::<f64>().powi(3) * 3e6) as u64 + 1;
                    let o = if rng.random_bool(0.05) { Outcome::Timeout } else { Outcome::Ok };
                    k.record(us, o, None);
                }
            }
            data.intervals.insert(i, kinds);
        }
        let pick = [true, false, true];
        let cd = ClientData::build(&data, &pick, 200);
        let mut slide = Slide::new(&cd);
        for (lo, hi) in [(0, 10), (3, 40), (30, 40), (35, 200), (150, 200), (0, 5), (100, 100), (0, 200)] {
            slide.set(lo, hi);
            let mut merged = new_histogram();
            let mut timeouts = 0;
            for i in lo..hi {
                for k in [0, 2] {
                    if let Some(st) = data.intervals.get(i as u64).map(|v| v[k].clone()) {
                        merged.add(&st.latency).unwrap();
                        timeouts += st.count(Outcome::Timeout);
                    }
                }
            }
            assert_eq!(slide.total(), merged.len(), "[{lo},{hi})");
            if merged.is_empty() {
                assert_eq!(slide.quantile_us(0.5), None);
                continue;
            }
            for q in [0.01, 0.5, 0.95, 0.99, 0.999, 1.0] {
                assert_eq!(slide.quantile_us(q), Some(merged.value_at_quantile(q)), "q {q} [{lo},{hi})");
            }
            assert_eq!(slide.quantile_us(1.0), Some(merged.max()));
            assert_eq!(slide.min_us(), Some(merged.min()));
            let mean = slide.mean_us().unwrap();
            assert!((mean - merged.mean()).abs() <= merged.mean() * 1e-9, "{mean} vs {}", merged.mean());
            let mut pick_timeouts = [false; Outcome::COUNT];
            pick_timeouts[Outcome::ALL.iter().position(|o| *o == Outcome::Timeout).unwrap()] = true;
            assert_eq!(slide.count(&pick_timeouts), timeouts);
            // Samples at or above 1 s, counted by iterating the merged histogram.
            let over: u64 =
                merged.iter_recorded().filter(|v| v.value_iterated_to() >= 1_000_000).map(|v| v.count_at_value()).sum();
            assert_eq!(slide.over(|v| v >= 1_000_000), (over, merged.len()));
        }
    }
}
