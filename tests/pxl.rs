//! Integration tests for pxl.
