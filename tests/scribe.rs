//! Integration tests for scribe.
