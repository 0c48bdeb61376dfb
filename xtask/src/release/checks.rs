//! What `cargo metadata` says about the workspace, and the checks on it that crates.io needs.

use crate::util::{self, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `cargo` command run in `root`.
pub fn cargo_in(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

/// One dependency of a workspace package.
#[derive(Debug, Clone)]
pub struct Dep {
    pub name: String,
    /// `normal`, `dev` or `build`.
    pub kind: String,
    /// The version requirement; `*` when the manifest gives none (a path-only dependency).
    pub req: String,
    pub has_path: bool,
}

/// One workspace package.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub manifest: PathBuf,
    pub publishable: bool,
    pub description: Option<String>,
    pub repository: Option<String>,
    pub has_license: bool,
    pub readme: Option<String>,
    pub deps: Vec<Dep>,
}

/// The workspace's packages.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub packages: Vec<Package>,
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

impl Workspace {
    /// Runs `cargo metadata --no-deps` in `root`.
    pub fn load(root: &Path) -> Result<Workspace> {
        let out =
            util::output(cargo_in(root).args(["metadata", "--format-version", "1", "--no-deps"]))?;
        let meta: Value = serde_json::from_str(&out)
            .map_err(|e| format!("cannot parse `cargo metadata`: {e}"))?;
        Ok(Workspace::from_metadata(&meta)?)
    }

    /// Reads the parts of `cargo metadata`'s JSON that the release needs.
    pub fn from_metadata(meta: &Value) -> std::result::Result<Workspace, String> {
        let list = meta["packages"]
            .as_array()
            .ok_or("`cargo metadata` printed no `packages` array")?;
        let packages = list
            .iter()
            .map(|p| Package {
                name: p["name"].as_str().unwrap_or("?").to_string(),
                version: p["version"].as_str().unwrap_or("?").to_string(),
                manifest: PathBuf::from(p["manifest_path"].as_str().unwrap_or(".")),
                // `publish = false` is an empty registry list; absent means crates.io.
                publishable: !matches!(&p["publish"], Value::Array(l) if l.is_empty()),
                description: text(&p["description"]),
                repository: text(&p["repository"]),
                has_license: !p["license"].is_null() || !p["license_file"].is_null(),
                readme: text(&p["readme"]),
                deps: p["dependencies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| Dep {
                        name: d["name"].as_str().unwrap_or("?").to_string(),
                        kind: d["kind"].as_str().unwrap_or("normal").to_string(),
                        req: d["req"].as_str().unwrap_or("*").to_string(),
                        has_path: !d["path"].is_null(),
                    })
                    .collect(),
            })
            .collect();
        Ok(Workspace { packages })
    }

    fn get(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// The names of the packages with `publish = false`.
    pub fn unpublishable(&self) -> Vec<String> {
        let list = self.packages.iter().filter(|p| !p.publishable);
        list.map(|p| p.name.clone()).collect()
    }

    /// The one version every package has, or the disagreement.
    pub fn version(&self) -> std::result::Result<String, String> {
        let first = self
            .packages
            .first()
            .ok_or("the workspace has no packages")?;
        match self.packages.iter().find(|p| p.version != first.version) {
            None => Ok(first.version.clone()),
            Some(p) => Err(format!(
                "{} has version {}, {} has {}",
                p.name, p.version, first.name, first.version
            )),
        }
    }

    /// Versions, requirements and crates.io metadata: everything wrong, as sentences.
    pub fn metadata_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = self.version() {
            problems.push(e);
        }
        for pkg in &self.packages {
            for dep in &pkg.deps {
                let Some(target) = self.get(&dep.name) else {
                    continue;
                };
                if !dep.has_path || dep.kind == "dev" {
                    continue;
                }
                let v = &target.version;
                if dep.req != format!("^{v}") && dep.req != format!("={v}") {
                    problems.push(format!(
                        "{} depends on {} with version requirement `{}`; it must be `{v}` (set \
                         `version` next to `path` in [workspace.dependencies])",
                        pkg.name, dep.name, dep.req
                    ));
                }
            }
        }
        let unpublishable = self.unpublishable();
        for pkg in self.packages.iter().filter(|p| p.publishable) {
            let n = &pkg.name;
            if pkg.description.is_none() {
                problems.push(format!("{n} has no `description`"));
            }
            if pkg.repository.is_none() {
                problems.push(format!("{n} has no `repository`"));
            }
            if !pkg.has_license {
                problems.push(format!("{n} has no `license` or `license-file`"));
            }
            let dir = pkg.manifest.parent().unwrap_or(Path::new("."));
            match &pkg.readme {
                None => problems.push(format!("{n} has no README.md and no `readme` field")),
                Some(r) if !dir.join(r).is_file() => problems.push(format!(
                    "{n}: readme `{r}` does not exist in {}",
                    dir.display()
                )),
                Some(_) => {}
            }
            for dep in &pkg.deps {
                if dep.kind != "dev" && unpublishable.contains(&dep.name) {
                    problems.push(format!(
                        "{n} depends on the unpublishable package {}",
                        dep.name
                    ));
                }
            }
        }
        problems
    }

    /// The workspace packages `name` needs to build (normal and build dependencies, transitively),
    /// itself included.
    fn build_closure(&self, name: &str) -> Vec<String> {
        let mut seen = vec![name.to_string()];
        let mut i = 0;
        while i < seen.len() {
            if let Some(p) = self.get(&seen[i]) {
                for d in p.deps.iter().filter(|d| d.kind != "dev") {
                    if self.get(&d.name).is_some() && !seen.contains(&d.name) {
                        seen.push(d.name.clone());
                    }
                }
            }
            i += 1;
        }
        seen
    }

    /// Dev-dependency cycles that `cargo package` cannot order: A dev-depends, with a version, on
    /// B, which needs A to build. Cargo keeps a versioned dev-dependency in the published
    /// manifest, so packaging A needs B packaged first, and B needs A. A path-only
    /// dev-dependency is left out of the published manifest, which breaks the cycle.
    pub fn cycle_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for pkg in self.packages.iter().filter(|p| p.publishable) {
            for dep in pkg.deps.iter().filter(|d| d.kind == "dev" && d.req != "*") {
                let Some(target) = self.get(&dep.name) else {
                    continue;
                };
                if !self.build_closure(&target.name).contains(&pkg.name) {
                    continue;
                }
                let from = pkg.manifest.parent().unwrap_or(Path::new("."));
                let to = target.manifest.parent().unwrap_or(Path::new("."));
                problems.push(format!(
                    "{} dev-depends on {} with a version, and {} needs {} to build: cargo cannot \
                     package the cycle. Make the dev-dependency path-only in {}: \
                     `{} = {{ path = \"{}\" }}`",
                    pkg.name,
                    dep.name,
                    dep.name,
                    pkg.name,
                    pkg.manifest.display(),
                    dep.name,
                    relative(from, to).display()
                ));
            }
        }
        problems
    }

    /// The publishable packages with every one after the workspace packages it needs to build:
    /// the order `cargo package --workspace` and `cargo publish --workspace` work in.
    pub fn publish_order(&self) -> Vec<String> {
        let mut order: Vec<String> = Vec::new();
        let publishable: Vec<&Package> = self.packages.iter().filter(|p| p.publishable).collect();
        while order.len() < publishable.len() {
            let before = order.len();
            for p in &publishable {
                let ready = p.deps.iter().filter(|d| d.kind != "dev").all(|d| {
                    d.name == p.name || self.get(&d.name).is_none() || order.contains(&d.name)
                });
                if ready && !order.contains(&p.name) {
                    order.push(p.name.clone());
                }
            }
            if order.len() == before {
                // A build cycle, which cargo itself refuses; list the rest as they come.
                order.extend(
                    publishable
                        .iter()
                        .filter(|p| !order.contains(&p.name))
                        .map(|p| p.name.clone())
                        .collect::<Vec<_>>(),
                );
            }
        }
        order
    }
}

/// `to` as a path relative to `from` (both absolute).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pkg(name: &str, deps: Value) -> Value {
        json!({
            "name": name, "version": "0.1.0", "manifest_path": format!("/r/crates/{name}/Cargo.toml"),
            "publish": null, "description": "d", "repository": "r", "license": "MIT",
            "readme": null, "dependencies": deps,
        })
    }

    fn dep(name: &str, kind: Option<&str>, req: &str) -> Value {
        json!({ "name": name, "kind": kind, "req": req, "path": format!("/r/crates/{name}") })
    }

    fn workspace() -> Workspace {
        let meta = json!({ "packages": [
            pkg("app", json!([dep("nn", None, "^0.1.0"), dep("core", None, "^0.1.0")])),
            pkg("core", json!([dep("cpu", Some("dev"), "^0.1.0")])),
            pkg("cpu", json!([dep("core", None, "^0.1.0")])),
            pkg("nn", json!([dep("cpu", None, "^0.1.0"), dep("core", Some("dev"), "*")])),
        ]});
        Workspace::from_metadata(&meta).unwrap()
    }

    #[test]
    fn publish_order_puts_dependencies_first_and_ignores_dev_edges() {
        assert_eq!(workspace().publish_order(), ["core", "cpu", "nn", "app"]);
    }

    #[test]
    fn a_versioned_dev_dependency_cycle_is_named_with_its_fix() {
        let problems = workspace().cycle_problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert!(p.starts_with("core dev-depends on cpu"), "{p}");
        assert!(p.contains("`cpu = { path = \"../cpu\" }`"), "{p}");
    }

    #[test]
    fn missing_metadata_and_loose_requirements_are_reported() {
        let mut meta = json!({ "packages": [
            pkg("core", json!([])),
            pkg("cpu", json!([dep("core", None, "^0.0.9")])),
        ]});
        meta["packages"][0]["description"] = Value::Null;
        let problems = Workspace::from_metadata(&meta).unwrap().metadata_problems();
        let all = problems.join("\n");
        assert!(all.contains("core has no `description`"), "{all}");
        assert!(
            all.contains("cpu depends on core with version requirement `^0.0.9`"),
            "{all}"
        );
        assert!(all.contains("no README.md"), "{all}");
    }
}
