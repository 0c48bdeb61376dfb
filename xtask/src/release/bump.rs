//! The version bump as line edits on the manifests, planned before anything is written.
//!
//! Manifests are edited as text, line by line, so comments and layout survive (no TOML crate
//! rewrites them). The lines that carry a workspace version are:
//! - `version = "…"` under `[workspace.package]` (root) or `[package]` (a crate that does not
//!   inherit it);
//! - a requirement on a workspace crate, in `[workspace.dependencies]` or any crate's dependency
//!   table: `name = { path = "…", version = "…" }`, `name = "…"`, or `version = "…"` inside a
//!   `[dependencies.name]` table. The requirement's operator (`=`, `^`, `~`, `>=`) is kept.

use std::path::{Path, PathBuf};

/// One changed line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineEdit {
    /// 1-based line number.
    pub line: usize,
    pub before: String,
    pub after: String,
}

/// A file's planned new contents and the lines that change.
#[derive(Debug, Clone)]
pub struct FileEdit {
    /// Path relative to the repository root, for printing and `git add`.
    pub rel: PathBuf,
    pub new: String,
    pub lines: Vec<LineEdit>,
}

impl FileEdit {
    /// Compares `old` and `new` line by line (the edits never add or remove lines).
    pub fn from_texts(rel: PathBuf, old: String, new: String) -> FileEdit {
        let lines = old
            .lines()
            .zip(new.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| LineEdit {
                line: i + 1,
                before: a.to_string(),
                after: b.to_string(),
            })
            .collect();
        FileEdit { rel, new, lines }
    }
}

/// Where in the `version = "REQ"` text the requirement's version starts and ends (after any
/// operator), if the line has such a key-value pair.
fn version_value_span(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(found) = text[from..].find("version") {
        let key_start = from + found;
        let before_ok = text[..key_start]
            .chars()
            .next_back()
            .is_none_or(|c| c == '{' || c == ',' || c.is_whitespace());
        let after = &text[key_start + "version".len()..];
        let trimmed = after.trim_start();
        if before_ok {
            if let Some(value) = trimmed.strip_prefix('=') {
                let value = value.trim_start();
                if let Some(quoted) = value.strip_prefix('"') {
                    let open = text.len() - quoted.len();
                    let close = open + quoted.find('"')?;
                    let op_len = text[open..close]
                        .find(|c: char| c.is_ascii_digit())
                        .unwrap_or(0);
                    return Some((open + op_len, close));
                }
            }
        }
        from = key_start + "version".len();
    }
    None
}

/// The dependency name a `name = …` line declares, without quotes; `None` for dotted keys such
/// as `name.workspace = true`, which carry no version.
fn line_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.contains('.') && !key.starts_with('#')).then_some(key)
}

/// Replaces the version in one requirement line, keeping everything else byte for byte.
fn set_version(line: &str, to: &str) -> Option<String> {
    let (start, end) = version_value_span(line)?;
    Some(format!("{}{to}{}", &line[..start], &line[end..]))
}

/// A plain string requirement `name = "0.1.0"`.
fn set_plain_requirement(line: &str, to: &str) -> Option<String> {
    let (key, value) = line.split_once('=')?;
    let value = value.trim_start();
    let quoted = value.strip_prefix('"')?;
    let close = quoted.find('"')?;
    let op_len = quoted[..close]
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(0);
    Some(format!(
        "{key}= \"{}{to}{}",
        &quoted[..op_len],
        &quoted[close..]
    ))
}

/// Whether a section header names a dependency table (`[dependencies]`,
/// `[target.'cfg(…)'.dev-dependencies]`, `[workspace.dependencies]`, …).
fn is_dependency_table(section: &str) -> bool {
    section.ends_with("dependencies")
}

/// The new text of one manifest with every workspace version set to `to`.
///
/// `members` are the workspace packages' names; `is_root` selects `[workspace.package]` instead
/// of `[package]` for the package version.
pub fn bump_manifest(text: &str, members: &[String], to: &str, is_root: bool) -> String {
    let mut section = String::new();
    let mut out = String::with_capacity(text.len() + 64);
    for raw in text.split_inclusive('\n') {
        let (line, eol) = match raw.strip_suffix('\n') {
            Some(l) => (l, "\n"),
            None => (raw, ""),
        };
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            // Up to the first `]`, so a trailing comment does not stick to the name.
            let inner = trimmed.trim_start_matches('[');
            section = inner.split(']').next().unwrap_or(inner).trim().to_string();
            out.push_str(raw);
            continue;
        }
        let package_table = if is_root {
            "workspace.package"
        } else {
            "package"
        };
        let new_line = if trimmed.starts_with('#') {
            None
        } else if section == package_table {
            (line_key(trimmed) == Some("version"))
                .then(|| set_version(line, to))
                .flatten()
        } else if is_dependency_table(&section) {
            match line_key(trimmed) {
                Some(key) if members.iter().any(|m| m == key) => {
                    if trimmed.contains('{') {
                        set_version(line, to)
                    } else {
                        set_plain_requirement(line, to)
                    }
                }
                _ => None,
            }
        } else if let Some(dep) = section
            .rsplit_once('.')
            .filter(|(table, _)| is_dependency_table(table))
            .map(|(_, dep)| dep.trim_matches('"'))
        {
            // `[dependencies.name]` table: its own `version = "…"` line.
            (members.iter().any(|m| m == dep) && line_key(trimmed) == Some("version"))
                .then(|| set_version(line, to))
                .flatten()
        } else {
            None
        };
        match new_line {
            Some(l) => {
                out.push_str(&l);
                out.push_str(eol);
            }
            None => out.push_str(raw),
        }
    }
    out
}

/// Plans the bump of the root manifest and every member manifest (only those that change).
pub fn plan(
    root: &Path,
    manifests: &[PathBuf],
    members: &[String],
    to: &str,
) -> Result<Vec<FileEdit>, String> {
    let mut edits = Vec::new();
    let root_manifest = root.join("Cargo.toml");
    let mut all = vec![root_manifest.clone()];
    all.extend(manifests.iter().filter(|m| **m != root_manifest).cloned());
    for path in all {
        let old = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let new = bump_manifest(&old, members, to, path == root_manifest);
        if new != old {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            edits.push(FileEdit::from_texts(rel, old, new));
        }
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<String> {
        ["core", "cpu"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn root_manifest_bumps_package_version_and_member_requirements_only() {
        let text = "[workspace.package]\nversion = \"0.1.0\" # the one version\nedition = \"2021\"\n\n\
                    [workspace.dependencies]\ncore = { path = \"crates/core\", version = \"0.1.0\" }\n\
                    cpu = { version = \"=0.1.0\", path = \"crates/cpu\" }\nrand = { version = \"0.1.0\" }\n\
                    # core = { version = \"0.1.0\" }\n";
        let new = bump_manifest(text, &members(), "0.2.0", true);
        let expected = "[workspace.package]\nversion = \"0.2.0\" # the one version\nedition = \"2021\"\n\n\
                        [workspace.dependencies]\ncore = { path = \"crates/core\", version = \"0.2.0\" }\n\
                        cpu = { version = \"=0.2.0\", path = \"crates/cpu\" }\nrand = { version = \"0.1.0\" }\n\
                        # core = { version = \"0.1.0\" }\n";
        assert_eq!(new, expected);
    }

    #[test]
    fn crate_manifest_bumps_literal_version_and_pinned_workspace_crates() {
        let text = "[package]\nname = \"cpu\"\nversion = \"0.1.0\"\n\n[dependencies]\n\
                    core = \"^0.1.0\"\nserde = \"1\"\ncore2.workspace = true\n\n\
                    [target.'cfg(unix)'.dev-dependencies]\ncore = { path = \"../core\", version = \"0.1.0\" }\n\n\
                    [build-dependencies.core]\npath = \"../core\"\nversion = \"~0.1.0\"\n\n\
                    [features]\nversion = []\n";
        let new = bump_manifest(text, &members(), "1.0.0-rc.1", false);
        let expected = "[package]\nname = \"cpu\"\nversion = \"1.0.0-rc.1\"\n\n[dependencies]\n\
                        core = \"^1.0.0-rc.1\"\nserde = \"1\"\ncore2.workspace = true\n\n\
                        [target.'cfg(unix)'.dev-dependencies]\ncore = { path = \"../core\", version = \"1.0.0-rc.1\" }\n\n\
                        [build-dependencies.core]\npath = \"../core\"\nversion = \"~1.0.0-rc.1\"\n\n\
                        [features]\nversion = []\n";
        assert_eq!(new, expected);
    }

    #[test]
    fn inherited_versions_and_path_only_dependencies_are_left_alone() {
        let text = "[package]\nversion.workspace = true\n[dev-dependencies]\ncore = { path = \"../core\" }\n";
        assert_eq!(bump_manifest(text, &members(), "0.2.0", false), text);
    }

    #[test]
    fn file_edit_lists_the_changed_lines() {
        let e = FileEdit::from_texts(
            "Cargo.toml".into(),
            "a\nversion = \"1.0.0\"\nb\n".into(),
            "a\nversion = \"1.1.0\"\nb\n".into(),
        );
        assert_eq!(
            e.lines,
            vec![LineEdit {
                line: 2,
                before: "version = \"1.0.0\"".into(),
                after: "version = \"1.1.0\"".into()
            }]
        );
    }
}
