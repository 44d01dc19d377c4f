//! `gameday-mocks`: mocks of the five runbook services, faithful where load, SLOs and
//! drills can see them (endpoints, status codes, limits, queues, metrics, failure modes).
//!
//! [`kit`] holds what every mock is built from; [`services`] holds one module per
//! service, all of the same shape. A mock runs in-process (tests, `gameday run`) or as
//! its own process (`gameday mocks --only NAME`, which the enclave-crash drill kills).

pub mod kit;
pub mod services;

pub use kit::{MockContext, PortPolicy, TimeScale};
pub use services::{start, MockError, RunningService, ServiceId, ServiceProfile, UnknownService};
