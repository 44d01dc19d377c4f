//! One module per probe, all of the same shape (see [`super::probe`]).

pub mod acl;
pub mod attestation;
pub mod canary;
pub mod http;
pub mod scribe_write;
pub mod tls;
