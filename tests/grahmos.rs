//! Integration tests for grahmos.
