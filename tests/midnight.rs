//! Integration tests for midnight.
