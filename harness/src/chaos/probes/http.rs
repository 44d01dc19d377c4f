//! Probe `http`: the engine's HTTP probe ([`crate::probe::http`]) against the drill's
//! targets, through the fault proxy in front of a target when the runner started one.

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::probe::ProbeError;
use crate::probe::ProbeOutcome;

pub use crate::probe::http::{JsonMatch, Spec};

/// Runs the probe once.
pub async fn check(spec: &Spec, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    crate::probe::http::check(spec, target, &env.endpoints()).await.map_err(|e| match e {
        ProbeError::NoTarget { target, what } => FaultError::NoTarget { target, what },
        e => FaultError::Probe(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::env::Target;

    #[tokio::test]
    async fn a_refused_connection_is_a_failed_check_and_an_unknown_target_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let mut env = DrillEnv::default();
        env.targets.insert("pxl".into(), Target::Remote { url });
        let spec = Spec { path: "/".into(), ..Spec::default() };
        let o = check(&spec, "pxl", &env).await.unwrap();
        assert!(!o.ok, "{}", o.detail);
        assert!(matches!(check(&spec, "grahmos", &env).await, Err(FaultError::NoTarget { .. })));
    }
}
