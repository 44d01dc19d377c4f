//! A failed cross-field check of a parsed scenario, before it becomes a
//! [`crate::scenario::ScenarioError`] (which adds the file, line and column).
//!
//! A leaf: it knows no other module, so every validator (the scenario's, a drill's, a
//! probe's) can return it and the scenario parser turns it into the user's message.

use std::ops::Range;

/// A refused value: where it is in the file, which field it is, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The byte span of the offending value in the scenario's text, when known.
    pub span: Option<Range<usize>>,
    /// The field's path (`drill[0].detect.rule`).
    pub field: String,
    /// Why the value is refused.
    pub message: String,
}

impl Invalid {
    /// The refusal of `field` (at `span`, when known) because of `message`.
    pub fn new(span: Option<Range<usize>>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid { span, field: field.into(), message: message.into() }
    }
}

impl From<Invalid> for (Option<Range<usize>>, String, String) {
    /// The tuple form the scenario's own checks still use.
    fn from(i: Invalid) -> Self {
        (i.span, i.field, i.message)
    }
}
