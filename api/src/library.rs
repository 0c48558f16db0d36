//! Publishing the shipped definitions at start.

use std::path::Path;

use chrono::{DateTime, Utc};
use stageflow_runtime::Runtime;

/// Publishes every `*.yaml` of a directory. A definition that does not
/// validate stops the start with its diagnostics; one already published
/// with the same content is left as it is.
pub async fn publish_dir(
    runtime: &Runtime,
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<Vec<String>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut published = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let loaded =
            stageflow_workflows::load_str(&path.display().to_string(), &text).map_err(|diags| {
                diags
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        let id = format!("{} v{}", loaded.definition.id, loaded.definition.version);
        runtime
            .publish(loaded.definition, text, now)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        published.push(id);
    }
    Ok(published)
}
