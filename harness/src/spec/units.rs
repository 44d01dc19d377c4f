//! Units and small value types several sections share: [`Ratio`] (`0.01` or `"1%"`)
//! and [`Method`] (an HTTP method).

use serde::{Deserialize, Serialize};

/// A ratio in `[0, 1]`, written as a number (`0.01`) or a percentage (`"1%"`).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize)]
pub struct Ratio(pub f64);

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let v = match Raw::deserialize(d)? {
            Raw::Number(v) => v,
            Raw::Text(t) => match t.trim().strip_suffix('%').map(|p| p.trim().parse::<f64>()) {
                Some(Ok(p)) => p / 100.0,
                _ => return Err(serde::de::Error::custom(format!("`{t}` is not a ratio like 0.01 or \"1%\""))),
            },
        };
        if (0.0..=1.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(serde::de::Error::custom(format!("ratio {v} is outside 0..=1 (0%..=100%)")))
        }
    }
}

/// An HTTP method a request may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET.
    #[default]
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

impl Method {
    /// The HTTP method.
    pub fn as_http(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}
