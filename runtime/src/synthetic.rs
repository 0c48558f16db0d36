//! A synthetic organization tree for `simulate`: every role is held, so a
//! definition can be previewed before the real directory exists.
//!
//! Tree: `county` (党委, with an `org_department`) → `committee` (党委) →
//! `branch-1`, `branch-2`, `branch-3` (党支部). Each branch has
//! `full_members` 正式党员 and two 预备党员; every other role is held by one
//! person named `ORG.ROLE`.

use stageflow_engine::directory::Directory;

/// The synthetic tree.
#[derive(Debug, Clone)]
pub struct SyntheticDirectory {
    /// 正式党员 per branch (the eligible voters of a branch vote).
    pub full_members: u32,
}

impl Default for SyntheticDirectory {
    fn default() -> Self {
        SyntheticDirectory { full_members: 9 }
    }
}

const ORGS: &[(&str, &str, Option<&str>)] = &[
    ("county", "党委", None),
    ("committee", "党委", Some("county")),
    ("branch-1", "党支部", Some("committee")),
    ("branch-2", "党支部", Some("committee")),
    ("branch-3", "党支部", Some("committee")),
];

impl Directory for SyntheticDirectory {
    fn parent(&self, org: &str) -> Option<String> {
        ORGS.iter()
            .find(|(id, _, _)| *id == org)
            .and_then(|(_, _, p)| p.map(str::to_string))
    }

    fn kind(&self, org: &str) -> Option<String> {
        ORGS.iter()
            .find(|(id, _, _)| *id == org)
            .map(|(_, k, _)| k.to_string())
    }

    fn holders(&self, org: &str, role: &str) -> Vec<String> {
        if !ORGS.iter().any(|(id, _, _)| *id == org) {
            return Vec::new();
        }
        let n = match role {
            "full_member" => self.full_members,
            "probationary_member" => 2,
            _ => 1,
        };
        if n == 1 {
            vec![format!("{org}.{role}")]
        } else {
            (1..=n).map(|i| format!("{org}.{role}-{i}")).collect()
        }
    }

    fn orgs_under(&self, root: &str, kind: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        for (id, k, _) in ORGS {
            let mut cur = Some(id.to_string());
            let mut inside = false;
            while let Some(c) = cur {
                if c == root {
                    inside = true;
                    break;
                }
                cur = self.parent(&c);
            }
            if inside && kind.is_none_or(|want| want == *k) {
                out.push(id.to_string());
            }
        }
        out
    }
}
