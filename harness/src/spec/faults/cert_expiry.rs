//! Fault `cert-expiry`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::cert_expiry`).

use std::time::Duration;

use gameday_mocks::kit::{HumanDuration, PositiveDuration};
use serde::{Deserialize, Serialize};

pub(crate) fn default_expires_in() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The Grahmos target (default: the drill's only Grahmos target).
    #[serde(default)]
    pub target: Option<String>,
    /// The installed certificate's `notAfter`, from injection (`0s`: already expired).
    #[serde(default = "default_expires_in")]
    pub expires_in: HumanDuration,
    /// Validity of the certificate `renew-certificate` (and a fallback rollback) installs.
    #[serde(default)]
    pub renew_lifetime: Option<PositiveDuration>,
}
