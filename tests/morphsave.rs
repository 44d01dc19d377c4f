//! Integration tests for the MorphSave mock (runbook 004): the app and its two JSON-RPC
//! nodes on port 0 over real HTTP; failover to the backup RPC, pool exhaustion, cache
//! outage through the fault hooks; `/metrics`.

mod api;
mod faults;
mod health;

use std::time::Duration;

use gameday_mocks::kit::{HumanDuration, MockContext, PositiveDuration, ServiceTime};
use gameday_mocks::services::morphsave::{self, Control, Listener, Profile};
use gameday_mocks::TimeScale;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

pub(crate) use crate::prom;
pub use crate::pxl::json;

/// A running MorphSave mock with its hooks; shut down on drop.
pub struct Morph {
    pub control: Control,
    pub endpoints: Vec<String>,
    pub client: Client,
    ctx: MockContext,
}

impl Morph {
    pub async fn start(profile: Profile) -> Morph {
        let ctx = MockContext { scale: TimeScale::REAL_TIME, ..MockContext::default() };
        let launched = morphsave::launch(profile, &ctx).await.expect("morphsave starts");
        let endpoints = launched.service.endpoints.iter().map(|e| e.name.clone()).collect();
        let client = Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        Morph { control: launched.control, endpoints, client, ctx }
    }

    pub fn url(&self, l: Listener) -> String {
        format!("http://{}", self.control.addr(l))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(format!("{}{path}", self.url(Listener::App))).send().await.unwrap()
    }

    pub async fn deposit(&self, body: Value) -> Response {
        let url = format!("{}/api/deposits", self.url(Listener::App));
        self.client.post(url).body(body.to_string()).send().await.unwrap()
    }

    /// A JSON-RPC call straight to a node, as the runbook's curl sends it.
    pub async fn rpc(&self, node: Listener, body: &str) -> (StatusCode, Value) {
        let req = self.client.post(self.url(node)).header("content-type", "application/json").body(body.to_owned());
        json(req.send().await.unwrap()).await
    }

    pub async fn metrics(&self) -> prom::Exposition {
        let text = self.get("/metrics").await.text().await.unwrap();
        prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }
}

impl Drop for Morph {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

pub fn fixed(ms: u64) -> ServiceTime {
    ServiceTime::fixed(Duration::from_millis(ms))
}

pub fn millis(ms: u64) -> PositiveDuration {
    PositiveDuration(HumanDuration(Duration::from_millis(ms)))
}

/// `0x`-prefixed hex to a number.
pub fn hex_u64(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

pub const GENESIS: u64 = 5_000_000;
