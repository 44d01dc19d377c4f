//! [`SimModel`]s of the other services, built from their mock profiles so the simulator
//! runs the pool the mock runs. Each constructor says which request kinds it models (in
//! index order) and what of the live service it leaves out.

use gameday_mocks::kit::{PoolConfig, ServiceTime};
use gameday_mocks::services::{grahmos, morphsave, pxl, scribe};

use super::{KindModel, Route, SimError, SimModel};

fn kind(name: &str, service: &ServiceTime, route: Route) -> Result<KindModel, SimError> {
    let service = service.sampler().map_err(|source| SimError::ServiceTime { kind: name.to_owned(), source })?;
    Ok(KindModel::new(name, service, route))
}

impl SimModel {
    /// PXL's proof core: one kind, `proof` (pool, `proof_service_time`, the core's stream
    /// `pxl/proof`), on the core's pool (`workers`, `job_capacity`, `job_timeout`).
    ///
    /// Leaves out: the extra `proof_time_per_mib` (add it to the service time for large
    /// inputs), the gateway's `max_sessions` and per-client rate limit (they refuse before
    /// the pool; plan them as limits on the arrival rate), `core_timeout`, the overlays
    /// and the gateway hop.
    pub fn pxl(profile: &pxl::Profile) -> Result<Self, SimError> {
        let proof = kind("proof", &profile.proof_service_time, Route::Pool)?.with_stream("pxl/proof");
        Ok(Self::new(profile.pool_config(), vec![proof]))
    }

    /// Grahmos' search engine: one kind, `search` (pool, `service_time.search`), on the
    /// search pool.
    ///
    /// Leaves out: the upstream archive fetched after the pool (its latency, cache TTL
    /// and circuit breaker add to a search's latency but hold no worker), token and DPoP
    /// checks, TLS handshakes and the index I/O.
    pub fn grahmos(profile: &grahmos::Profile) -> Result<Self, SimError> {
        let search = kind("search", &profile.service_time.search, Route::Pool)?;
        Ok(Self::new(profile.pool_config(), vec![search]))
    }

    /// MorphSave's database connection pool as the pool: `db_pool_size` workers, an
    /// unbounded wait, `db_pool_timeout` as the job timeout. Kinds: `read-hit` (direct,
    /// `cache_time`: a cache hit never touches the database), `read-miss` (pool,
    /// `db_read_time`), `deposit` (pool, `db_write_time`). Split read traffic between
    /// the first two by `cache_hit_ratio` (e.g. [`crate::stream::mixed`]).
    ///
    /// Leaves out: the live timeout covers only the wait for a connection (a query that
    /// got one always finishes), where the simulator's counts from admission (the same
    /// unless a job waits almost the whole timeout); the cache call before a miss and
    /// the RPC call after a deposit's write (latency only, no connection held); RPC
    /// failover and cache outages.
    pub fn morphsave(profile: &morphsave::Profile) -> Result<Self, SimError> {
        let pool = PoolConfig {
            workers: profile.db_pool_size,
            job_capacity: 0,
            job_timeout: profile.db_pool_timeout,
            ..PoolConfig::default()
        };
        Ok(Self::new(
            pool,
            vec![
                kind("read-hit", &profile.cache_time, Route::Direct)?,
                kind("read-miss", &profile.db_read_time, Route::Pool)?,
                kind("deposit", &profile.db_write_time, Route::Pool)?,
            ],
        ))
    }

    /// One Scribe node's pool (every node has its own `workers`, `job_capacity`,
    /// `job_timeout`). Kinds: `read`, `write`, `compact` (all pool). Plan `nodes` as
    /// replicas: feed one node's share of the traffic (reads spread over the nodes;
    /// writes all land on the leader's pool, so the leader is the node to plan).
    ///
    /// Leaves out: Raft (elections, quorum loss), the follower-to-leader
    /// `forward_latency`, storage capacity (`max_keys`: plan it from volume, not from
    /// the pool) and authentication.
    pub fn scribe_node(profile: &scribe::Profile) -> Result<Self, SimError> {
        let st = &profile.service_time;
        Ok(Self::new(
            profile.pool_config(),
            vec![
                kind("read", &st.read, Route::Pool)?,
                kind("write", &st.write, Route::Pool)?,
                kind("compact", &st.compact, Route::Pool)?,
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_models_take_their_pools_and_kinds_from_the_profiles() {
        let p = pxl::Profile::default();
        let m = SimModel::pxl(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (m.pool.workers, m.pool.job_capacity, m.pool.job_timeout),
            (p.workers, p.job_capacity, p.job_timeout)
        );
        assert_eq!(m.kind_index("proof"), Some(0));

        let g = grahmos::Profile { workers: 5, ..grahmos::Profile::default() };
        let m = SimModel::grahmos(&g).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.pool.workers, m.kinds.len(), m.kinds[0].route), (5, 1, Route::Pool));

        let ms = morphsave::Profile::default();
        let m = SimModel::morphsave(&ms).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.pool.workers, m.pool.job_capacity, m.pool.job_timeout), (ms.db_pool_size, 0, ms.db_pool_timeout));
        let routes: Vec<(&str, Route)> = m.kinds.iter().map(|k| (k.name.as_str(), k.route)).collect();
        assert_eq!(routes, vec![("read-hit", Route::Direct), ("read-miss", Route::Pool), ("deposit", Route::Pool)]);

        let s = scribe::Profile::default();
        let m = SimModel::scribe_node(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.pool.workers, m.pool.job_capacity), (s.workers, s.job_capacity));
        assert_eq!(m.kind_index("compact"), Some(2));
        assert_eq!(m.with_workers(80).pool.workers, 80);
    }

    #[test]
    fn an_unusable_service_time_is_named() {
        let bad = pxl::Profile {
            proof_service_time: ServiceTime::exponential(std::time::Duration::ZERO),
            ..pxl::Profile::default()
        };
        let e = SimModel::pxl(&bad).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("service_time.proof") && e.contains("mean"), "{e}");
    }
}
