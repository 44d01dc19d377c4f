//! Integration tests for morphsave.
