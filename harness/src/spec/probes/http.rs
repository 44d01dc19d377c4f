//! Probe `http` (also `[[probe]] kind = "http"`): its parameters as the scenario writes
//! them (plain data; the engine is `probe::http`).

use gameday_mocks::kit::HumanDuration;
use serde::{Deserialize, Serialize};

use crate::spec::units::Method;

/// The probe's parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The target to probe (default: the drill's target).
    #[serde(default)]
    pub target: Option<String>,
    /// Give up (and count a failure) after this long (real time, default 5s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// Path (and query) on the target's base URL, starting with `/`.
    #[serde(default)]
    pub path: String,
    /// An absolute http(s) URL to probe instead of a target's base URL plus `path`.
    #[serde(default)]
    pub url: Option<String>,
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Method,
    /// Request body, sent as JSON.
    #[serde(default)]
    pub body: Option<String>,
    /// The status that passes (default: any 2xx).
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// A substring the body must contain.
    #[serde(default)]
    pub expect_body: Option<String>,
    /// A field of the JSON body that must have a given value.
    #[serde(default)]
    pub expect_json: Option<JsonMatch>,
}

/// `expect_json = { field = "status", equals = "ok" }`: the body is JSON and the field
/// (a dot-separated path into nested objects, `checks.db`) equals the value (a string,
/// number or boolean; numbers compare as numbers).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMatch {
    /// Dot-separated path to the field.
    pub field: String,
    /// The value it must have.
    pub equals: serde_json::Value,
}
