//! The request mix: weighted request kinds with templated bodies and headers.
//!
//! A [`Mix`] is built once from the load's requests: each kind's absolute URL, method, headers
//! and body template, and a weighted index over the kinds. In the open model each slot
//! carries its kind, drawn in schedule order ([`KindDraw`]); in the closed model users
//! pick a kind with their own seeded RNG. Either way the mix is reproducible for a seed.
//! Templates (in the path, body and header values): `{{nonce}}` (32 random bytes as
//! hex, fresh per request), `{{seq}}` (the user's request number), `{{user}}` (the
//! user's number).

use std::collections::BTreeMap;

use gameday_mocks::ServiceId;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::Rng;

use super::arrival::{kinds_seed, KindDraw, WeightsError};
use crate::scenario::{Method, RequestSpec};
use crate::targets::Resolved;

/// One request kind, ready to send.
#[derive(Clone, Debug)]
pub struct Kind {
    /// Name (SLOs and reports refer to it).
    pub name: String,
    /// Absolute URL template (the path may use the templates).
    pub url: String,
    /// Method.
    pub method: Method,
    /// Body template.
    pub body: Option<String>,
    /// Header templates.
    pub headers: Vec<(String, String)>,
}

/// The weighted set of request kinds.
#[derive(Clone, Debug)]
pub struct Mix {
    /// Kinds, in scenario order.
    pub kinds: Vec<Kind>,
    weights: WeightedIndex<u32>,
    /// The open model's kind per slot, in schedule order (seeded from the scenario's seed).
    pub slot_kinds: KindDraw,
    /// CA certificates (PEM) the users' clients trust besides the system roots (embedded
    /// mocks serving TLS with their own CA); empty: goose's default client.
    pub trusted_cas: Vec<String>,
}

/// Why the request mix cannot be built (bad usage or scenario: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum MixError {
    /// A request's service has no resolved target.
    #[error("request `{request}`: no target for {service}")]
    NoTarget {
        /// The request's name.
        request: String,
        /// Its service.
        service: ServiceId,
    },
    /// The request weights cannot be drawn from (none, or all zero).
    #[error("load.request weights: {0}")]
    Weights(rand::distr::weighted::Error),
    /// The arrival kinds cannot be drawn from the weights.
    #[error("load.{0}")]
    Kinds(WeightsError),
}

impl MixError {
    /// The exit code: a mix that cannot be built is a bad scenario.
    pub fn exit(&self) -> crate::Exit {
        crate::Exit::Usage
    }
}

impl Mix {
    /// Builds the mix from the load's `requests`, the scenario's `seed` (the open model's
    /// kind per slot) and the resolved targets.
    pub fn new(requests: &[RequestSpec], seed: u64, targets: &BTreeMap<ServiceId, Resolved>) -> Result<Self, MixError> {
        let mut kinds = Vec::new();
        for r in requests {
            let base = targets
                .get(&r.target)
                .ok_or_else(|| MixError::NoTarget { request: r.name.get_ref().clone(), service: r.target })?;
            kinds.push(Kind {
                name: r.name.get_ref().clone(),
                url: format!("{}{}", base.url, r.path),
                method: r.method,
                body: r.body.clone(),
                headers: r.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            });
        }
        let raw: Vec<u32> = requests.iter().map(|r| r.weight.get()).collect();
        let weights = WeightedIndex::new(&raw).map_err(MixError::Weights)?;
        let slot_kinds = KindDraw::new(&raw, kinds_seed(seed)).map_err(MixError::Kinds)?;
        let mut trusted_cas: Vec<String> = targets.values().filter_map(|t| t.ca_pem.clone()).collect();
        trusted_cas.dedup();
        Ok(Self { kinds, weights, slot_kinds, trusted_cas })
    }

    /// Picks a kind.
    pub fn pick(&self, rng: &mut StdRng) -> usize {
        rng.sample(&self.weights)
    }

    /// The index of a kind by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.kinds.iter().position(|k| k.name == name)
    }
}

/// Expands a template for one request.
pub fn expand(template: &str, rng: &mut StdRng, user: usize, seq: u64) -> String {
    if !template.contains("{{") {
        return template.to_owned();
    }
    let mut out = template.replace("{{seq}}", &seq.to_string()).replace("{{user}}", &user.to_string());
    while out.contains("{{nonce}}") {
        let bytes: [u8; 32] = rng.random();
        out = out.replacen("{{nonce}}", &hex::encode(bytes), 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn nonces_are_fresh_hex_and_counters_substitute() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = expand(r#"{"nonce":"{{nonce}}","n":{{seq}},"u":{{user}}}"#, &mut rng, 3, 7);
        let b = expand(r#"{"nonce":"{{nonce}}"}"#, &mut rng, 3, 8);
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        let nonce = v["nonce"].as_str().unwrap();
        assert_eq!(nonce.len(), 64);
        assert!(hex::decode(nonce).is_ok());
        assert_eq!((v["n"].as_u64(), v["u"].as_u64()), (Some(7), Some(3)));
        assert!(!b.contains(nonce));
    }
}
