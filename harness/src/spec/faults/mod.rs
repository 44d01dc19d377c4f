//! Fault parameters, one file per fault kind, as `[drill.fault]` writes them (plain data;
//! the engines are `chaos::faults`).

pub mod backhaul_loss;
pub mod cert_expiry;
pub mod command;
pub mod db_pool_exhaustion;
pub mod enclave_crash;
pub mod freeze;
pub mod index_corruption;
pub mod latency;
pub mod node_failure;
pub mod overlay_down;
pub mod quorum_loss;
pub mod rpc_failure;
