//! Integration tests for the PXL Core mock (runbook 003): the gateway, core and overlays on
//! port 0 over real HTTP, overlay and core outages through the fault hooks, the runbook's
//! limits (413, 429 with `Retry-After`, sessions, queue), and `/metrics`.

mod health;
mod limits;
mod metrics;
pub(crate) use crate::prom;

use std::time::Duration;

use gameday_mocks::kit::MockContext;
use gameday_mocks::services::pxl::{self, Component, Control, Profile};
use gameday_mocks::TimeScale;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

/// A running PXL mock with its fault hooks; shut down on drop.
pub struct Pxl {
    pub control: Control,
    pub endpoints: Vec<(String, String)>,
    pub client: Client,
    ctx: MockContext,
}

impl Pxl {
    pub async fn start(profile: Profile, scale: f64) -> Pxl {
        let ctx = MockContext { scale: TimeScale::new(scale).unwrap(), ..MockContext::default() };
        let launched = pxl::launch(profile, &ctx).await.expect("pxl starts");
        let endpoints = launched.service.endpoints.iter().map(|e| (e.name.clone(), e.url())).collect();
        let client = Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        Pxl { control: launched.control, endpoints, client, ctx }
    }

    /// Base URL of a component.
    pub fn url(&self, c: Component) -> String {
        format!("http://{}", self.control.addr(c))
    }

    pub async fn get(&self, c: Component, path: &str) -> Response {
        self.client.get(format!("{}{path}", self.url(c))).send().await.unwrap()
    }

    pub async fn prove(&self, body: impl Into<reqwest::Body>, key: Option<&str>) -> Response {
        let mut req = self.client.post(format!("{}/v1/proofs", self.url(Component::Gateway))).body(body);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        req.send().await.unwrap()
    }
}

impl Drop for Pxl {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

/// Status and JSON body of a response (the body must be JSON).
pub async fn json(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
    (status, v)
}
