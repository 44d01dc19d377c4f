//! The service a plan sizes: its simulator model built from the scenario's own mock
//! profile, one model kind per request kind of the mix, and the arrival stream.
//!
//! A request kind the mock serves through its pool gets the pool's service-time model; a
//! kind the model does not know (health checks, status polls) is modelled as free: it
//! bypasses the pool and takes no time, as it does not compete for workers.

use std::time::Duration;

use gameday_mocks::kit::Sampler;
use gameday_mocks::{ServiceId, ServiceProfile};

use crate::capacity::growth::Growth;
use crate::capacity::sim::{KindModel, Route, SimModel};
use crate::capacity::stream;
use crate::load::arrival::{kinds_seed, Process, Schedule};
use crate::scenario::Scenario;

use super::PlanError;

/// The sized service: its id, the model at the scenario's own size, and the CPU the
/// server uses with no work.
#[derive(Clone, Debug)]
pub struct Service {
    /// Which service.
    pub id: ServiceId,
    /// The model, one kind per mix kind (mix order).
    pub model: SimModel,
    /// CPU the server uses with no work (0..1), from the profile.
    pub base_cpu: f64,
}

impl Service {
    /// The model at `size` (the size being searched: the pool of [`size_unit`]).
    pub fn at_size(&self, size: usize) -> SimModel {
        let mut m = self.model.clone();
        m.pool.workers = size.max(1);
        m
    }

    /// What the size counts (`"workers"`, `"DB connections"`, ...).
    pub fn unit(&self) -> &'static str {
        size_unit(self.id)
    }

    /// The scenario's own size.
    pub fn size(&self) -> usize {
        self.model.pool.workers
    }
}

/// The one service the mix sends to, modelled from its embedded profile.
pub fn service(s: &Scenario) -> Result<Service, PlanError> {
    let mut ids: Vec<ServiceId> = s.load.requests.iter().map(|r| r.target).collect();
    ids.dedup();
    let [id] = ids[..] else {
        return Err(PlanError::SeveralServices(ids));
    };
    let (url, profile) = s.targets.get(id);
    if url.is_some() {
        return Err(PlanError::NotEmbedded(id));
    }
    let base = base_model(&profile)?;
    Ok(service_from(s, id, base))
}

/// The sized service from a given base model (the profile's, or a calibration candidate).
pub fn service_from(s: &Scenario, id: ServiceId, base: SimModel) -> Service {
    let kinds = s
        .load
        .requests
        .iter()
        .map(|r| {
            let name = r.name.get_ref();
            // A request named after a model kind is that kind (MorphSave's `read-hit` and
            // `read-miss` are the same GET, split by the cache hit ratio); else the path says.
            let known = |k: &&KindModel| k.name == *name || Some(k.name.as_str()) == model_kind(id, r);
            base.kinds.iter().find(known).map_or_else(
                || KindModel::new(name, Sampler::Fixed(0.0), Route::Direct),
                |k| KindModel { name: name.clone(), ..k.clone() },
            )
        })
        .collect();
    let base_cpu = base.pool.base_cpu;
    Service { id, model: SimModel { kinds, ..base }, base_cpu }
}

/// The model kind a request of the mix is, by the service's routes (`None`: a kind the
/// model does not know, such as a health check: free).
fn model_kind(id: ServiceId, r: &crate::scenario::RequestSpec) -> Option<&str> {
    use crate::scenario::Method;
    let path = r.path.split('?').next().unwrap_or_default();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    match id {
        ServiceId::Midnight => Some(first),
        ServiceId::Pxl => matches!(path, "/v1/proofs" | "/v1/prove").then_some("proof"),
        ServiceId::Grahmos => matches!(path, "/search" | "/api/search").then_some("search"),
        ServiceId::Morphsave => match first {
            "api" if path.starts_with("/api/savings/") => Some("read-miss"),
            "api" if path == "/api/deposits" => Some("deposit"),
            _ => None,
        },
        ServiceId::Scribe => match (first, r.method) {
            (_, _) if path == "/admin/compact" => Some("compact"),
            ("health" | "metrics" | "cluster" | "admin" | "verify" | "", _) => None,
            (_, Method::Get) => Some("read"),
            (_, Method::Put | Method::Delete) => Some("write"),
            _ => None,
        },
    }
}

/// The kinds worth simulating: those that reach the pool (they alone shape the queue
/// and CPU) and those an SLO or the growth's unit names. Free kinds (health and status
/// polls the model does not know) take no time and no worker, so leaving them out
/// changes nothing but the request count, and makes a plan three times faster on
/// Midnight's mix. With `pool_only`, only the pool kinds (a size search: the other
/// kinds' latency does not depend on the size).
pub fn simulated_kinds(s: &Scenario, svc: &Service, unit: &[String], pool_only: bool) -> Vec<usize> {
    (0..s.load.requests.len())
        .filter(|&i| {
            let name = s.load.requests[i].name.get_ref();
            let pool = svc.model.kinds[i].route == Route::Pool;
            let named =
                unit.contains(name) || s.slos.iter().any(|o| o.request.as_ref().is_none_or(|r| r.get_ref() == name));
            pool || (!pool_only && named)
        })
        .collect()
}

/// The simulator model of a service's profile: the pool the plan sizes (see [`size_unit`]).
fn base_model(profile: &ServiceProfile) -> Result<SimModel, PlanError> {
    let model = match profile {
        ServiceProfile::Midnight(p) => SimModel::midnight(p),
        ServiceProfile::Pxl(p) => SimModel::pxl(p),
        ServiceProfile::Grahmos(p) => SimModel::grahmos(p),
        ServiceProfile::Morphsave(p) => SimModel::morphsave(p),
        ServiceProfile::Scribe(p) => SimModel::scribe_node(p),
    };
    model.map_err(|source| PlanError::Profile { service: profile.id(), source })
}

/// What a plan's size counts, per service: the pool [`set_size`] sets.
///
/// - Midnight: proof workers (`workers`, `--num-workers`);
/// - PXL: the proof core's workers (`workers`);
/// - Grahmos: the search engine's workers (`workers`);
/// - MorphSave: the database connection pool (`db_pool_size`);
/// - Scribe: one node's workers (`workers`; the leader's pool, where every write lands).
///   Nodes are planned by the runbook's rule (+1 per 100k ops/s) as a trigger on the
///   peak rate: the simulator models one node, not the Raft cluster.
pub fn size_unit(id: ServiceId) -> &'static str {
    match id {
        ServiceId::Midnight => "workers",
        ServiceId::Pxl => "core workers",
        ServiceId::Grahmos => "search workers",
        ServiceId::Morphsave => "DB connections",
        ServiceId::Scribe => "workers per node",
    }
}

/// A lazily generated arrival stream (weeks of arrivals are never held in memory).
pub type Arrivals = Box<dyn Iterator<Item = (Duration, usize)> + Send>;

/// Arrivals `(simulated time, mix kind)` of `growth` over `span`, times relative to its
/// start, with every load multiplied by `headroom` and the spikes added, of the mix
/// kinds `keep` only (the others are left out, as if never sent: see [`simulated_kinds`]).
pub fn arrivals(
    s: &Scenario,
    growth: &Growth,
    span: (Duration, Duration),
    headroom: f64,
    keep: &[usize],
) -> Result<Arrivals, PlanError> {
    let (from, until) = span;
    let all: f64 = s.load.requests.iter().map(|r| f64::from(r.weight.get())).sum();
    let weights: Vec<u32> = keep.iter().map(|&i| s.load.requests[i].weight.get()).collect();
    let kept = f64::from(weights.iter().sum::<u32>()) / all;
    // Poisson thinning: the kept kinds alone are a Poisson stream at their share of the rate.
    let headroom = headroom * kept;
    let curve = scaled_curve(growth, headroom)?;
    let keep = keep.to_vec();
    let base = Schedule::window(curve.clone(), s.load.arrivals, s.seed, from, until);
    let mut streams: Vec<Arrivals> =
        vec![Box::new(stream::mixed(base, &weights, kinds_seed(s.seed)).map_err(sim_err)?)];
    for (i, spike) in growth.spikes.iter().enumerate() {
        let start = crate::capacity::growth::WEEK * (spike.week - 1) + spike.at.0;
        let end = start + spike.duration.get();
        let (a, b) = (start.max(from), end.min(until));
        if a >= b {
            continue;
        }
        // The burst adds (multiplier - 1) x the curve over its span.
        let extra = scaled_curve(growth, headroom * (spike.multiplier - 1.0))?;
        let times = Schedule::window(extra, Process::Poisson, s.seed.wrapping_add(i as u64 + 1), a, b)
            .map(move |t| t + (a - from));
        streams.push(Box::new(stream::mixed(times, &weights, s.seed ^ (i as u64 + 7)).map_err(sim_err)?));
    }
    Ok(Box::new(stream::merge(streams).map(move |(t, k)| (t, keep[k]))))
}

fn scaled_curve(growth: &Growth, factor: f64) -> Result<crate::load::arrival::RateCurve, PlanError> {
    let mut g = growth.clone();
    for w in &mut g.weeks {
        w.mean_rate_per_s *= factor;
        w.peak_rate_per_s *= factor;
    }
    Ok(g.curve()?)
}

fn sim_err(e: crate::capacity::SimError) -> PlanError {
    PlanError::Sim(e)
}

/// Sets the sized service's pool (see [`size_unit`]) in the targets' embedded profile.
pub fn set_size(t: &mut crate::scenario::Targets, id: ServiceId, size: usize) {
    match id {
        ServiceId::Midnight => profile_mut(&mut t.midnight).workers = size,
        ServiceId::Pxl => profile_mut(&mut t.pxl).workers = size,
        ServiceId::Grahmos => profile_mut(&mut t.grahmos).workers = size,
        ServiceId::Morphsave => profile_mut(&mut t.morphsave).db_pool_size = size,
        ServiceId::Scribe => profile_mut(&mut t.scribe).workers = size,
    }
}

/// The embedded profile of a target, added with the defaults when the scenario has none.
fn profile_mut<P: Default>(t: &mut Option<crate::scenario::Target<P>>) -> &mut P {
    &mut t.get_or_insert_with(Default::default).profile
}
