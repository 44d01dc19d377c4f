//! Mock profiles as data: the JSON form `--profile` reads and the drill supervisor writes
//! for a restarted mock, and the TOML table a scenario's `[targets.<id>.profile]` holds.
//! Below `chaos` and `fleet`, which both move profiles across a process boundary.

use std::path::Path;

use gameday_mocks::{ServiceId, ServiceProfile};
use serde_json::Value;

/// What is wrong with a profile given as JSON or TOML.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Not JSON (or, writing, not serialisable as JSON).
    #[error("{service} profile: {reason}")]
    Json {
        /// The profile's service.
        service: ServiceId,
        /// serde's refusal.
        reason: serde_json::Error,
    },
    /// Not TOML.
    #[error("{service} profile: {reason}")]
    Toml {
        /// The profile's service.
        service: ServiceId,
        /// toml's refusal (boxed: it is large).
        reason: Box<toml::de::Error>,
    },
    /// A field the profile does not have, or of the wrong type.
    #[error("{service} profile: {}: {}", reason.path(), reason.inner())]
    Field {
        /// The profile's service.
        service: ServiceId,
        /// Where and why serde refused it.
        reason: serde_path_to_error::Error<serde_json::Error>,
    },
    /// The profile parses but is unusable (the mocks' own check).
    #[error("{0}")]
    Invalid(gameday_mocks::MockError),
}

/// A profile as JSON (the form `--profile` reads and the drill supervisor writes).
pub fn profile_to_json(profile: &ServiceProfile) -> Result<Value, ProfileError> {
    let v = match profile {
        ServiceProfile::Midnight(p) => serde_json::to_value(p),
        ServiceProfile::Scribe(p) => serde_json::to_value(p),
        ServiceProfile::Grahmos(p) => serde_json::to_value(p),
        ServiceProfile::Pxl(p) => serde_json::to_value(p),
        ServiceProfile::Morphsave(p) => serde_json::to_value(p),
    };
    v.map_err(|reason| ProfileError::Json { service: profile.id(), reason })
}

/// `id`'s profile from JSON: its defaults with the fields `value` sets (unknown fields refused).
pub fn profile_from_json(id: ServiceId, value: Value) -> Result<ServiceProfile, ProfileError> {
    fn de<P: serde::de::DeserializeOwned>(id: ServiceId, v: Value) -> Result<P, ProfileError> {
        serde_path_to_error::deserialize(v).map_err(|reason| ProfileError::Field { service: id, reason })
    }
    Ok(match id {
        ServiceId::Midnight => ServiceProfile::Midnight(de(id, value)?),
        ServiceId::Scribe => ServiceProfile::Scribe(de(id, value)?),
        ServiceId::Grahmos => ServiceProfile::Grahmos(de(id, value)?),
        ServiceId::Pxl => ServiceProfile::Pxl(de(id, value)?),
        ServiceId::Morphsave => ServiceProfile::Morphsave(de(id, value)?),
    })
}

/// A profile file's text for service `id`: JSON when `path` ends in `.json`, else TOML;
/// its defaults with the fields it sets, checked by the mock's own validation.
pub fn parse_profile(id: ServiceId, path: &Path, text: &str) -> Result<ServiceProfile, ProfileError> {
    let value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text).map_err(|reason| ProfileError::Json { service: id, reason })?
    } else {
        let table = toml::from_str::<toml::Table>(text)
            .map_err(|reason| ProfileError::Toml { service: id, reason: Box::new(reason) })?;
        serde_json::to_value(table).map_err(|reason| ProfileError::Json { service: id, reason })?
    };
    let profile = profile_from_json(id, value)?;
    profile.validate().map_err(ProfileError::Invalid)?;
    Ok(profile)
}
