//! The stageflow workflow language: YAML with positions, decoding,
//! semantic checks with `path:line:column` diagnostics, and a JSON Schema.
//!
//! Key design decision: the YAML is read into a tree where every node keeps
//! its position, then decoded by hand, so that *every* problem, structural
//! or semantic, is reported at once with its position and a hint; the
//! decoder and the JSON Schema read the same key lists ([`keys`]).

#![deny(missing_docs)]

pub mod check;
pub mod decode;
pub mod diag;
pub mod keys;
pub mod schema;
pub mod vocab;
pub mod yaml;

use std::path::Path;

pub use diag::Diagnostic;
use stageflow_engine::Definition;

/// A definition that loaded, with any warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The compiled definition.
    pub definition: Definition,
    /// The extra roles it declares, with names.
    pub roles: decode::Roles,
}

/// Loads a definition from text. Every problem is reported, sorted by
/// position; an empty error list never happens.
pub fn load_str(file: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let root = yaml::parse(file, text).map_err(|d| vec![d])?;
    let mut cx = decode::Cx::new(file);
    let decoded = decode::definition(&mut cx, &root);
    if let Some((def, roles)) = &decoded {
        check::check(&mut cx, def, roles);
    }
    let mut diags = cx.diags;
    diags.sort_by(|a, b| a.pos.cmp(&b.pos).then(a.message.cmp(&b.message)));
    diags.dedup();
    match decoded {
        Some((definition, roles)) if diags.is_empty() => Ok(Loaded { definition, roles }),
        _ if diags.is_empty() => Err(vec![Diagnostic::new(
            file,
            diag::Pos { line: 1, column: 1 },
            "无法读取流程定义",
        )]),
        _ => Err(diags),
    }
}

/// Loads a definition file.
pub fn load_file(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&name, &text),
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "文件不存在".to_string(),
                std::io::ErrorKind::PermissionDenied => "没有读取权限".to_string(),
                std::io::ErrorKind::InvalidData => "不是 UTF-8 编码的文本".to_string(),
                std::io::ErrorKind::IsADirectory => "这是一个目录".to_string(),
                _ => e.to_string(),
            };
            Err(vec![Diagnostic::new(
                &name,
                diag::Pos { line: 1, column: 1 },
                format!("无法读取文件：{why}"),
            )])
        }
    }
}
