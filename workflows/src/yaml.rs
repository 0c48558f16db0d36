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
            NodeKind::Scalar { .. } if self.is_null() => "空值",
            NodeKind::Scalar { .. } => "单个值",
            NodeKind::Seq(_) => "列表",
            NodeKind::Map(_) => "映射",
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
                Pos {
                    line: m.line() as u32,
                    column: m.col() as u32 + 1,
                },
                format!("YAML 语法错误：{}", syntax_error(e.info())),
            )
            .help("检查缩进是否对齐，以及每个 `key: value` 的冒号后是否有空格")
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
                        "一个定义文件只能有一个 YAML 文档，这里出现了第二个 `---`",
                    )
                    .help("每个流程单独放在一个文件中"));
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
                            "文档过大（别名展开后超过 200000 个节点）",
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
                    return Err(Diagnostic::new(file, pos, "别名引用了不存在的锚点"));
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
                _ => return Err(Diagnostic::new(file, pos, "列表没有正确结束")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(p, anchor, items, _)) => Some((
                    Node {
                        pos: p,
                        kind: NodeKind::Map(items),
                    },
                    anchor,
                )),
                _ => return Err(Diagnostic::new(file, pos, "映射没有正确结束")),
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
                "文档过大（超过 200000 个节点）",
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
        Diagnostic::new(file, Pos { line: 1, column: 1 }, "文件是空的")
            .help("以 `stageflow: 1` 开头，再写 `id:`、`name:` 和 `stages:` 列表")
    })
}

/// The parser's reason for a syntax error, in words for the mistakes an
/// author makes by hand (indentation, tabs, colons, quotes, brackets);
/// rarer ones (directives, tags, escapes) keep the parser's own text.
fn syntax_error(info: &str) -> String {
    let zh = match info {
        "while parsing a block collection, did not find expected '-' indicator" => {
            "列表项应以 `- ` 开头（缩进是否对齐？）"
        }
        "while parsing a block mapping, did not find expected key" => {
            "此处应是 `key: value`（缩进是否对齐？）"
        }
        "mapping values are not allowed in this context" => {
            "此处不能出现 `key: value`（缩进是否有误？值里的冒号需要加引号）"
        }
        "block sequence entries are not allowed in this context" => {
            "此处不能开始 `- ` 列表（缩进是否有误？）"
        }
        "mapping keys are not allowed in this context" => "此处不能出现键",
        "while parsing a node, did not find expected node content" => "此处缺少内容",
        "did not find expected node content" => "此处缺少内容",
        "while parsing a flow sequence, expected ',' or ']'" => "方括号列表中此处应为 `,` 或 `]`",
        "while parsing a flow mapping, did not find expected ',' or '}'" => {
            "花括号映射中此处应为 `,` 或 `}`"
        }
        "while scanning a quoted scalar, found unexpected end of stream" => "引号没有闭合",
        "while scanning a quoted scalar, found unexpected document indicator" => "引号没有闭合",
        "while parsing a quoted scalar, found unknown escape character" => {
            "双引号中有未知的转义字符（`\\` 后面的字符）"
        }
        "invalid trailing content after double-quoted scalar" => "双引号字符串结束后还有多余的内容",
        "while scanning a plain scalar, found a tab"
        | "tabs disallowed within this context (block indentation)"
        | "tabs disallowed in this context"
        | "tab cannot be used as indentation"
        | "a block scalar content cannot start with a tab" => "不能用 Tab 缩进，请用空格",
        "invalid indentation" | "invalid indentation in flow construct" => "缩进有误",
        "invalid indentation in quoted scalar" => "引号中的续行缩进有误（引号是否没有闭合？）",
        "wrongly indented line in block scalar" => "多行文本中有一行缩进有误",
        "':' must be followed by a valid YAML whitespace" => "冒号 `:` 后面应有空格",
        "'-' must be followed by a valid YAML whitespace" => "`-` 后面应有空格",
        "while parsing node, found unknown anchor" => "引用了不存在的锚点",
        "while parsing anchor, found duplicated anchor" => "锚点重复定义",
        "found unprintable character" => "有无法显示的字符",
        "a byte order mark must not appear inside a document" => {
            "文档中间不能出现字节顺序标记（BOM）"
        }
        "recursion limit exceeded" => "嵌套层级太深",
        "unexpected end of plain scalar" => "文本意外结束",
        "simple key expected" | "simple key expect ':'" => "此处应是 `key: value`",
        "did not find expected <document start>" | "did not find expected <document-start>" => {
            "此处应是文档的开头"
        }
        "invalid content after document end marker" => "文档结束标记 `...` 之后还有内容",
        _ => return info.to_string(),
    };
    zh.to_string()
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
        assert!(e.message.starts_with("YAML 语法错误："), "{e}");
        let e = parse("f.yaml", "").unwrap_err();
        assert_eq!(e.message, "文件是空的");
        let e = parse("f.yaml", "a: 1\n---\nb: 2\n").unwrap_err();
        assert!(e.message.contains("第二个 `---`"), "{e}");
    }

    #[test]
    fn common_syntax_errors_are_in_words() {
        let e = parse("f.yaml", "a:\n\tb: 1\n").unwrap_err();
        assert!(e.message.contains("Tab"), "{e}");
        let e = parse("f.yaml", "a: \"open\n").unwrap_err();
        assert_eq!(e.message, "YAML 语法错误：引号没有闭合", "{e}");
        let e = parse("f.yaml", "a: \"open\nb: 1\n").unwrap_err();
        assert!(e.message.contains("引号是否没有闭合"), "{e}");
        let e = parse("f.yaml", "a: b: c\n").unwrap_err();
        assert!(e.message.contains("`key: value`"), "{e}");
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
