//! A YAML document as a tree of nodes, each with its position.
//!
//! Built from the events of `saphyr-parser` (a maintained YAML 1.2 parser),
//! so that every node, not only syntax errors, has a line and column. The
//! parser is private to this crate and can be swapped.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::diag::{Diagnostic, Pos};

/// Most nodes a definition may have: a bound against alias bombs.
const MAX_NODES: usize = 200_000;

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it is.
    pub kind: NodeKind,
}

/// The kinds of node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `quoted` scalars are always strings.
    Scalar {
        /// The text.
        text: String,
        /// Whether it was quoted or a block scalar.
        quoted: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether this is a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, quoted: false } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A short name of the node's kind, for messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "nothing",
            NodeKind::Scalar { .. } => "a value",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

enum Frame {
    Seq(Pos, usize, Vec<Node>),
    Map(Pos, usize, Vec<(Node, Node)>, Option<Node>),
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line() as u32,
        column: span.start.col() as u32 + 1,
    }
}

/// Parses one YAML document. A syntax error is returned as the only
/// diagnostic: nothing after it can be trusted.
pub fn parse(file: &str, text: &str) -> Result<Node, Diagnostic> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let mut count = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let m = e.marker();
            Diagnostic::new(
                file,
                Pos { line: m.line() as u32, column: m.col() as u32 + 1 },
                format!("YAML syntax error: {}", e.info()),
            )
            .help("check the indentation and that every `key: value` pair has a space after the colon")
        })?;
        let pos = pos_of(&span);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Diagnostic::new(
                        file,
                        pos,
                        "a definition file holds one YAML document; found a second `---`",
                    )
                    .help("put each workflow in its own file"));
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((n, size)) => {
                    count += size;
                    if count > MAX_NODES {
                        return Err(Diagnostic::new(
                            file,
                            pos,
                            "the document is too large (aliases expand beyond 200000 nodes)",
                        ));
                    }
                    Some((
                        Node {
                            pos,
                            kind: n.kind.clone(),
                        },
                        0,
                    ))
                }
                None => {
                    return Err(Diagnostic::new(
                        file,
                        pos,
                        "alias refers to an unknown anchor",
                    ));
                }
            },
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                Some((
                    Node {
                        pos,
                        kind: NodeKind::Scalar {
                            text: text.into_owned(),
                            quoted,
                        },
                    },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(pos, anchor, Vec::new()));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(pos, anchor, Vec::new(), None));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(p, anchor, items)) => Some((
                    Node {
                        pos: p,
                        kind: NodeKind::Seq(items),
                    },
                    anchor,
                )),
                _ => return Err(Diagnostic::new(file, pos, "unbalanced sequence")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(p, anchor, items, _)) => Some((
                    Node {
                        pos: p,
                        kind: NodeKind::Map(items),
                    },
                    anchor,
                )),
                _ => return Err(Diagnostic::new(file, pos, "unbalanced mapping")),
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        count += 1;
        if count > MAX_NODES {
            return Err(Diagnostic::new(
                file,
                node.pos,
                "the document is too large (more than 200000 nodes)",
            ));
        }
        if anchor != 0 {
            let size = 1 + subtree_size(&node);
            anchors.insert(anchor, (node.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(_, _, items)) => items.push(node),
            Some(Frame::Map(_, _, items, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => items.push((k, node)),
            },
        }
    }
    root.ok_or_else(|| {
        Diagnostic::new(file, Pos { line: 1, column: 1 }, "the file is empty")
            .help("start with `stageflow: 1`, an `id:` and a list of `stages:`")
    })
}

fn subtree_size(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Seq(items) => items.len() + items.iter().map(subtree_size).sum::<usize>(),
        NodeKind::Map(items) => {
            2 * items.len()
                + items
                    .iter()
                    .map(|(k, v)| subtree_size(k) + subtree_size(v))
                    .sum::<usize>()
        }
    }
}

/// The node as JSON (for JSON Schema validation): plain scalars that read
/// as numbers or booleans keep that type, everything else is a string.
pub fn to_json(node: &Node) -> serde_json::Value {
    match &node.kind {
        NodeKind::Scalar { .. } if node.is_null() => serde_json::Value::Null,
        NodeKind::Scalar {
            text,
            quoted: false,
        } => {
            if let Ok(i) = text.parse::<i64>() {
                return i.into();
            }
            if let Ok(f) = text.parse::<f64>()
                && let Some(n) = serde_json::Number::from_f64(f)
            {
                return serde_json::Value::Number(n);
            }
            match text.as_str() {
                "true" => true.into(),
                "false" => false.into(),
                _ => text.clone().into(),
            }
        }
        NodeKind::Scalar { text, .. } => text.clone().into(),
        NodeKind::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        NodeKind::Map(items) => serde_json::Value::Object(
            items
                .iter()
                .map(|(k, v)| (k.scalar().unwrap_or_default().to_string(), to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_has_its_position() {
        let doc = parse("f.yaml", "a: 1\nb:\n  - x\n  - {c: d}\n").unwrap();
        let NodeKind::Map(items) = &doc.kind else {
            panic!("map")
        };
        assert_eq!(items[0].0.pos, Pos { line: 1, column: 1 });
        assert_eq!(items[1].0.pos, Pos { line: 2, column: 1 });
        let NodeKind::Seq(seq) = &items[1].1.kind else {
            panic!("seq")
        };
        assert_eq!(seq[0].pos, Pos { line: 3, column: 5 });
        assert_eq!(seq[1].pos.line, 4);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("f.yaml", "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.to_string().starts_with("f.yaml:"), "{e}");
        assert!(parse("f.yaml", "").is_err());
        assert!(parse("f.yaml", "a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n", p = i - 1));
        }
        assert!(parse("f.yaml", &text).is_err());
    }
}
