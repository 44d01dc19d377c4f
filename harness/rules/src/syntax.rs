//! The rule language's syntax: a recursive-descent parser from text to an untyped tree
//! ([`Node`]); typing (what the tree means) is [`super::expr`]'s job.

use gameday_mocks::kit::HumanDuration;

use super::expr::{Matcher, ParseError, Window};
use crate::objective::Op;

/// Syntax tree before typing.
#[derive(Clone, Debug)]
pub(super) enum Node {
    Call { func: String, arg: Box<Node>, range: Option<Window>, at: usize },
    Metric { name: String, matchers: Vec<Matcher>, range: Option<Window>, at: usize },
}

pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError { at, message: message.into() })
    }

    pub(super) fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    pub(super) fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    pub(super) fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), ParseError> {
        if self.eat(c) {
            return Ok(());
        }
        let found = self.peek().map_or("the end".to_owned(), |f| format!("`{f}`"));
        self.err(self.pos, format!("expected `{c}` {what}, found {found}"))
    }

    fn ident(&mut self) -> Result<(usize, String), ParseError> {
        self.skip_ws();
        let start = self.pos;
        let len = self
            .rest()
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && (c.is_ascii_digit() || c == '.')))
            })
            .map_or(self.rest().len(), |(i, _)| i);
        if len == 0 {
            let found = self.peek().map_or("the end".to_owned(), |f| format!("`{f}`"));
            return self.err(start, format!("expected a metric or function name, found {found}"));
        }
        self.pos += len;
        Ok((start, self.text[start..start + len].to_owned()))
    }

    pub(super) fn node(&mut self) -> Result<Node, ParseError> {
        let (at, name) = self.ident()?;
        let node = if self.eat('(') {
            let arg = self.node()?;
            self.expect(')', &format!("to close `{name}(`"))?;
            Node::Call { func: name, arg: Box::new(arg), range: None, at }
        } else {
            let matchers = if self.peek() == Some('{') { self.selector()? } else { Vec::new() };
            Node::Metric { name, matchers, range: None, at }
        };
        let range = if self.peek() == Some('[') { Some(self.range()?) } else { None };
        Ok(match node {
            Node::Call { func, arg, at, .. } => Node::Call { func, arg, range, at },
            Node::Metric { name, matchers, at, .. } => Node::Metric { name, matchers, range, at },
        })
    }

    fn selector(&mut self) -> Result<Vec<Matcher>, ParseError> {
        self.expect('{', "")?;
        let mut out = Vec::new();
        while !self.eat('}') {
            let (at, label) = self.ident()?;
            if !is_label_name(&label) {
                return self.err(at, format!("`{label}` is not a label name"));
            }
            let negate = if self.eat('!') {
                self.expect('=', "after `!`")?;
                true
            } else {
                self.expect('=', &format!("after label `{label}`"))?;
                false
            };
            let value = self.string()?;
            out.push(Matcher { label, negate, value });
            if !self.eat(',') {
                self.expect('}', "to close the label selector")?;
                break;
            }
        }
        Ok(out)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let quote = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => return self.err(self.pos, "expected a quoted label value"),
        };
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('\\' | '"' | '\''))) => out.push(e),
                    Some((_, 'n')) => out.push('\n'),
                    _ => return self.err(self.pos + i, "bad escape in a label value (use \\\\, \\\", \\' or \\n)"),
                },
                c => out.push(c),
            }
        }
        self.err(start, "unterminated label value")
    }

    fn range(&mut self) -> Result<Window, ParseError> {
        self.expect('[', "")?;
        let start = self.pos;
        let Some(len) = self.rest().find(']') else {
            return self.err(start, "unterminated range: expected `]`");
        };
        let inner = self.rest()[..len].trim();
        self.pos += len + 1;
        if inner == ".." {
            return Ok(Window::All);
        }
        match inner.parse::<HumanDuration>() {
            Ok(d) if !d.get().is_zero() => Ok(Window::Last(d.get().as_secs_f64())),
            Ok(_) => self.err(start, "a range must be longer than zero"),
            Err(e) => self.err(start, format!("bad range `[{inner}]`: {e}; write e.g. [5m] or [..]")),
        }
    }
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub(super) fn parse_op(s: &str) -> Option<(Op, usize)> {
    [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
        .into_iter()
        .find(|(t, _)| s.starts_with(t))
        .map(|(t, op)| (op, t.len()))
}
