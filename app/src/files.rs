//! Files: uploaded for a task by its assignee, recorded in the history
//! with their SHA-256 in the transaction that stores their bytes; read by
//! whoever may read the instance (材料归档).

use serde::Serialize;
use sha2::{Digest, Sha256};
use stageflow_engine::machine::Command;
use stageflow_runtime::Extras;
use stageflow_store::FileMeta;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::policy::{Op, Target};
use crate::tasks::task_missing;
use crate::{App, Caller};

/// Largest file accepted (10 MiB).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// A stored file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileView {
    /// Id; put it in the task's `file` form field.
    pub id: Uuid,
    /// Instance.
    pub instance: Uuid,
    /// Task it was uploaded for.
    pub task: Uuid,
    /// File name.
    pub name: String,
    /// Media type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex), also recorded in the history.
    pub sha256: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// Where to download it.
    pub url: String,
}

impl From<FileMeta> for FileView {
    fn from(m: FileMeta) -> FileView {
        FileView {
            url: format!("/api/v1/files/{}", m.id),
            id: m.id,
            instance: m.instance,
            task: m.task,
            name: m.name,
            content_type: m.content_type,
            size: m.size,
            sha256: m.sha256,
            uploaded_by: m.uploaded_by,
        }
    }
}

/// An upload.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The file's name as the client gave it.
    pub name: String,
    /// Its media type as the client gave it.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A file to hand out.
#[derive(Debug, Clone)]
pub struct Download {
    /// What it is.
    pub meta: FileView,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Media types shown in the page (a PDF, an image) and sent inline;
/// anything else (HTML and SVG included) is only ever downloaded, never
/// rendered.
pub const SHOWN_INLINE: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
];

impl App {
    /// Whether a task exists and the caller may see it: the check an
    /// adapter makes before it reads an upload's body.
    pub async fn may_upload(&self, caller: &Caller, task: Uuid) -> AppResult<()> {
        let (instance, row) = self.task_and_instance(task).await?;
        let scope = self.task_scope(&instance, &row).await?;
        self.allow(caller, Op::ActOnTask, Target::Task(&scope), || {
            task_missing(task)
        })
    }

    /// Stores a file for a task (its assignee): size limits, SHA-256, the
    /// upload recorded in the history with the bytes in one transaction.
    pub async fn upload(&self, caller: &Caller, task: Uuid, upload: Upload) -> AppResult<FileView> {
        let (instance, row) = self.task_and_instance(task).await?;
        let scope = self.task_scope(&instance, &row).await?;
        self.allow(caller, Op::ActOnTask, Target::Task(&scope), || {
            task_missing(task)
        })?;
        if upload.bytes.len() > MAX_FILE_BYTES {
            return Err(AppError::too_large(format!(
                "文件不能超过 {MAX_FILE_BYTES} 字节（{} MB）",
                MAX_FILE_BYTES / (1024 * 1024)
            )));
        }
        if upload.bytes.is_empty() {
            return Err(AppError::invalid("invalid-body", "文件是空的"));
        }
        let name = file_name(&upload.name);
        let meta = FileMeta {
            id: Uuid::new_v4(),
            instance: row.instance,
            task,
            name: name.clone(),
            content_type: upload.content_type,
            size: upload.bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&upload.bytes)),
            uploaded_by: caller.person.clone(),
        };
        let command = Command::AttachFile {
            task,
            actor: caller.person.clone(),
            file: meta.id,
            name,
            size: meta.size,
            sha256: meta.sha256.clone(),
        };
        let extras = Extras {
            loaded: Some(instance),
            file: Some((&meta, &upload.bytes)),
            receipt: None,
        };
        self.runtime
            .execute_with(row.instance, &command, self.now(), extras)
            .await?;
        Ok(meta.into())
    }

    /// A file, to whoever may read its instance.
    pub async fn download(&self, caller: &Caller, id: Uuid) -> AppResult<Download> {
        let missing = || AppError::not_found(format!("找不到文件「{id}」"));
        let meta = self.store.file_meta(id).await?.ok_or_else(missing)?;
        let (instance, def) = self
            .readable_instance(caller, meta.instance, Op::ReadInstance)
            .await
            .map_err(|e| match e.kind {
                crate::ErrorKind::NotFound => missing(),
                _ => e,
            })?;
        if self
            .hidden_files(caller, &instance, &def)
            .await?
            .contains(&id)
        {
            return Err(missing());
        }
        let (meta, bytes) = self.store.file(id).await?.ok_or_else(missing)?;
        Ok(Download {
            meta: meta.into(),
            bytes,
        })
    }

    /// Every file of an instance (材料归档).
    pub async fn files(&self, caller: &Caller, instance: Uuid) -> AppResult<Vec<FileView>> {
        let (state, def) = self
            .readable_instance(caller, instance, Op::ReadInstance)
            .await?;
        let hidden = self.hidden_files(caller, &state, &def).await?;
        Ok(self
            .store
            .instance_files(instance)
            .await?
            .into_iter()
            .filter(|f| !hidden.contains(&f.id))
            .map(Into::into)
            .collect())
    }
}

/// A file name as kept: the last path segment, control characters
/// dropped, at most 200 characters (`file` when nothing is left).
fn file_name(given: &str) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() {
        "file".into()
    } else {
        clean
    }
}

impl App {
    /// The files of an instance its `hide:` lists keep from the caller.
    async fn hidden_files(
        &self,
        caller: &Caller,
        instance: &stageflow_engine::InstanceState,
        def: &stageflow_engine::Definition,
    ) -> AppResult<std::collections::BTreeSet<Uuid>> {
        let events = self.store.events(instance.id).await?;
        let hidden = crate::casefile::record::hidden_for(def, instance, &events, &caller.person);
        Ok(crate::casefile::record::hidden_files(def, &events, &hidden))
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_names_keep_their_last_segment_without_control_characters() {
        assert_eq!(file_name("申请书.pdf"), "申请书.pdf");
        assert_eq!(file_name("C:\\scans\\申请书.pdf"), "申请书.pdf");
        assert_eq!(file_name("../../etc/passwd"), "passwd");
        assert_eq!(file_name("a\r\nb.pdf"), "ab.pdf");
        assert_eq!(file_name(""), "file");
    }
}
