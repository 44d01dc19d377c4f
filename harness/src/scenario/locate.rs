//! Where a field path points in a scenario's text.
//!
//! Most refusals know their field (`load.request[2].weight`, `targets.midnight.profile`)
//! but not their line: a cross-field check or a mock's profile validation runs on parsed
//! values that carry no span. [`span_of`] walks the path through the document as written
//! (with `toml_edit`, which keeps spans for tables, keys and values) and returns the
//! deepest part of it that exists, so every refusal can name a line.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// The span of the deepest existing part of `field` in `text` (a TOML document): the
/// value, the key or the table header. `None` only when the text does not parse or not
/// even the first segment exists.
pub fn span_of(text: &str, field: &str) -> Option<Range<usize>> {
    let doc = ImDocument::parse(text).ok()?;
    let mut node = Node::Table(doc.as_table());
    let mut best = None;
    for (key, index) in segments(field) {
        let Some((next, key_span)) = node.child(key) else { break };
        best = key_span.or_else(|| next.span()).or(best);
        node = next;
        let Some(i) = index else { continue };
        let Some(elem) = node.element(i) else { break };
        best = elem.span().or(best);
        node = elem;
    }
    best
}

/// The field path without serde's internal segments (`$__serde_spanned_private_value`),
/// as a user would write it.
pub fn clean_field(field: &str) -> String {
    field.split('.').filter(|s| !s.starts_with("$__")).collect::<Vec<_>>().join(".")
}

/// `load.request[2].weight` as `[("load", None), ("request", Some(2)), ("weight", None)]`.
fn segments(field: &str) -> Vec<(&str, Option<usize>)> {
    field
        .split('.')
        .filter(|s| !s.is_empty() && !s.starts_with("$__"))
        .map(|s| match s.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse().ok()),
            None => (s, None),
        })
        .collect()
}

/// A place in the document: `toml_edit` keeps tables, items and inline values apart.
#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a Table),
    Item(&'a Item),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn child(self, key: &str) -> Option<(Node<'a>, Option<Range<usize>>)> {
        match self {
            Node::Table(t) => Some((Node::Item(t.get(key)?), t.key(key).and_then(toml_edit::Key::span))),
            Node::Item(Item::Table(t)) => Node::Table(t).child(key),
            Node::Item(Item::Value(v)) => Node::Value(v).child(key),
            Node::Value(Value::InlineTable(t)) => {
                Some((Node::Value(t.get(key)?), t.key(key).and_then(toml_edit::Key::span)))
            }
            _ => None,
        }
    }

    fn element(self, i: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(Item::ArrayOfTables(a)) => a.get(i).map(Node::Table),
            Node::Item(Item::Value(v)) => Node::Value(v).element(i),
            Node::Value(Value::Array(a)) => a.get(i).map(Node::Value),
            _ => None,
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Table(t) => t.span(),
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"t\"\n[load]\nrate = \"1/s\"\n[[load.request]]\nname = \"a\"\n[[load.request]]\nname = \"b\"\nheaders = { X = \"1\" }\n[targets.midnight.profile]\nworkers = 0\n";

    fn line(field: &str) -> Option<usize> {
        span_of(TEXT, field).map(|s| super::super::line_col(TEXT, s.start).0)
    }

    #[test]
    fn finds_keys_tables_and_array_elements() {
        assert_eq!(line("load.rate"), Some(3));
        assert_eq!(line("load"), Some(2));
        assert_eq!(line("load.request[1].name"), Some(7));
        assert_eq!(line("load.request[1].headers.X"), Some(8));
        assert_eq!(line("targets.midnight.profile.workers"), Some(10));
        assert_eq!(line("targets.midnight.profile"), Some(9));
    }

    #[test]
    fn a_missing_tail_points_at_the_deepest_part_that_exists() {
        assert_eq!(line("load.users"), Some(2));
        assert_eq!(line("load.request[7].name"), Some(4));
        assert_eq!(line("nothing.here"), None);
    }

    #[test]
    fn serde_internals_are_not_part_of_a_field() {
        assert_eq!(clean_field("alert[0].expr.$__serde_spanned_private_value"), "alert[0].expr");
        assert_eq!(line("load.rate.$__serde_spanned_private_value"), Some(3));
    }
}
