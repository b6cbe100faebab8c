//! YAML as a small tree of nodes that remember their line, built from saphyr-parser's
//! YAML 1.2 events. Used for the YAML validity check (syntax errors and duplicate keys) and by
//! the policies, which must say on which line a rule failed.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// 1-based.
    pub line: usize,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar's text; `quoted` when written in quotes (so it is always a string).
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys in order. Merge keys (`<<`) are kept as written; `get` follows them.
    Map(Vec<(Node, Node)>),
}

/// Why a file is not valid YAML, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

/// Alias expansion is capped so that a "billion laughs" file is an error, not a hang.
const MAX_NODES: usize = 200_000;

/// The documents of a YAML stream. Errors: a syntax error, or a mapping with the same key
/// twice (tools disagree on which value wins, so it is never what was meant).
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut b = Builder { anchors: HashMap::new(), stack: Vec::new(), docs: Vec::new(), nodes: 0 };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError { line: e.marker().line(), message: e.info().to_owned() })?;
        b.event(event, span)?;
    }
    Ok(b.docs)
}

enum Open {
    Seq { line: usize, anchor: usize, items: Vec<Node> },
    Map { line: usize, anchor: usize, entries: Vec<(Node, Node)>, key: Option<Node> },
}

struct Builder {
    anchors: HashMap<usize, Node>,
    stack: Vec<Open>,
    docs: Vec<Node>,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let line = span.start.line();
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted);
                let node = Node { line, value: Value::Scalar { text: Cow::into_owned(text), quoted } };
                self.remember(anchor, &node);
                self.push(node)?;
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(YamlError { line, message: "alias to an unknown anchor".into() });
                };
                self.nodes += count(target);
                if self.nodes > MAX_NODES {
                    return Err(YamlError { line, message: "aliases expand to too many nodes".into() });
                }
                let mut node = target.clone();
                node.line = line;
                self.push(node)?;
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq { line, anchor, items: Vec::new() }),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open::Map { line, anchor, entries: Vec::new(), key: None })
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq { line, anchor, items }) => (Node { line, value: Value::Seq(items) }, anchor),
                    Some(Open::Map { line, anchor, entries, .. }) => {
                        (Node { line, value: Value::Map(entries) }, anchor)
                    }
                    None => return Err(YamlError { line, message: "unbalanced collection end".into() }),
                };
                self.remember(anchor, &node);
                self.push(node)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn push(&mut self, node: Node) -> Result<(), YamlError> {
        self.nodes += 1;
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Value::Scalar { text, .. } = &k.value
                        && text != "<<"
                        && let Some((first, _)) = entries.iter().find(|(e, _)| e.scalar() == Some(text))
                    {
                        return Err(YamlError {
                            line: k.line,
                            message: format!("duplicate key `{text}` (first at line {})", first.line),
                        });
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

fn count(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
    }
}

impl Node {
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn is_quoted(&self) -> bool {
        matches!(self.value, Value::Scalar { quoted: true, .. })
    }

    /// The value of `key` in a mapping, following merge keys (`<<: *defaults`).
    pub fn get(&self, key: &str) -> Option<&Node> {
        let Value::Map(entries) = &self.value else { return None };
        if let Some((_, v)) = entries.iter().find(|(k, _)| k.scalar() == Some(key)) {
            return Some(v);
        }
        let merged = entries.iter().filter(|(k, _)| k.scalar() == Some("<<")).map(|(_, v)| v);
        for m in merged {
            let found = match &m.value {
                Value::Map(_) => m.get(key),
                Value::Seq(items) => items.iter().find_map(|i| i.get(key)),
                Value::Scalar { .. } => None,
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// The line of the key `key` in this mapping (for findings about a missing or bad value).
    pub fn key_line(&self, key: &str) -> Option<usize> {
        let Value::Map(entries) = &self.value else { return None };
        entries.iter().find(|(k, _)| k.scalar() == Some(key)).map(|(k, _)| k.line)
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// Every `(key, value)` pair with this key, anywhere below this node (for `uses:`).
    pub fn find_all<'a>(&'a self, key: &str, out: &mut Vec<(&'a Node, &'a Node)>) {
        match &self.value {
            Value::Scalar { .. } => {}
            Value::Seq(items) => items.iter().for_each(|i| i.find_all(key, out)),
            Value::Map(entries) => {
                for (k, v) in entries {
                    if k.scalar() == Some(key) {
                        out.push((k, v));
                    }
                    v.find_all(key, out);
                }
            }
        }
    }

    /// The node at a JSON-path-like location as check-jsonschema prints it (`$.jobs.a.steps[0]`,
    /// `$["odd key"]`); `None` when it cannot be followed.
    pub fn at_path(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        let mut rest = path.strip_prefix('$')?;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                node = node.get(&r[..end])?;
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']')?;
                let inner = &r[..end];
                node = match inner.parse::<usize>() {
                    Ok(i) => node.items().get(i)?,
                    Err(_) => node.get(inner.trim_matches(|c| c == '"' || c == '\''))?,
                };
                rest = &r[end + 1..];
            } else {
                return None;
            }
        }
        Some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_remember_their_lines() {
        let docs = parse("a: 1\nb:\n  - x\n  - 'y'\nc: {d: e}\n").unwrap();
        let root = &docs[0];
        assert_eq!(root.get("a").unwrap().line, 1);
        let b = root.get("b").unwrap();
        assert_eq!(b.items()[1].line, 4);
        assert!(b.items()[1].is_quoted());
        assert!(!b.items()[0].is_quoted());
        assert_eq!(root.key_line("c"), Some(5));
        assert_eq!(root.at_path("$.b[1]").unwrap().scalar(), Some("y"));
        assert_eq!(root.at_path("$.c.d").unwrap().line, 5);
        assert_eq!(root.at_path("$[\"c\"]").unwrap().get("d").unwrap().scalar(), Some("e"));
        assert!(root.at_path("$.nope").is_none());
    }

    #[test]
    fn syntax_errors_and_duplicate_keys_are_reported_with_their_line() {
        let e = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e, YamlError { line: 3, message: "duplicate key `a` (first at line 1)".into() });
        let e = parse("x:\n\ty: 1\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
    }

    #[test]
    fn merge_keys_and_aliases_are_followed() {
        let text = "x-common: &c\n  restart: 'no'\nservices:\n  migrate:\n    <<: *c\n    image: app\n";
        let docs = parse(text).unwrap();
        let migrate = docs[0].get("services").unwrap().get("migrate").unwrap();
        assert_eq!(migrate.get("restart").unwrap().scalar(), Some("no"));
        assert!(migrate.get("restart").unwrap().is_quoted());
    }

    #[test]
    fn several_documents_and_empty_files_parse() {
        assert_eq!(parse("a: 1\n---\nb: 2\n").unwrap().len(), 2);
        assert!(parse("").unwrap().is_empty());
        assert!(parse("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn billion_laughs_is_an_error_not_a_hang() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("too many nodes"), "{e:?}");
    }
}
