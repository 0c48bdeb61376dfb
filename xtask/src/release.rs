//! `cargo xtask release [--no-verify]`: the checks to pass before publishing to crates.io.
//!
//! 1. **Versions agree**: every workspace package has the same version, and every dependency on
//!    another workspace package names a version requirement (crates.io needs one besides `path`)
//!    that this version satisfies exactly (`^V` or `=V`).
//! 2. **Metadata**: every publishable package (no `publish = false`) has a `description`, a
//!    `license` (or `license-file`), a `readme` that exists, and a `repository`; and it depends on
//!    no workspace package that is itself unpublishable.
//! 3. **Packaging**: `cargo package --workspace` builds the `.crate` files of all publishable
//!    packages together (cargo resolves their dependencies on each other locally, without the
//!    registry) and, unless `--no-verify`, compiles each one from its packaged sources alone, which
//!    catches files that an `include_str!` reaches outside the package. Nothing is uploaded.

use crate::util::{self, cargo, no_more_args, take_flag, Result};
use serde_json::Value;
use std::path::Path;

/// Whether `cargo metadata` marks the package publishable (`publish` absent or a registry list).
fn publishable(pkg: &Value) -> bool {
    match &pkg["publish"] {
        Value::Null => true,
        Value::Array(list) => !list.is_empty(),
        _ => true,
    }
}

/// `cargo xtask release`.
pub fn release(args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let no_verify = take_flag(&mut args, "--no-verify");
    no_more_args("release", &args)?;

    let meta = util::metadata()?;
    let pkgs = util::packages(&meta)?;
    let name = |p: &Value| p["name"].as_str().unwrap_or("?").to_string();
    let mut problems: Vec<String> = Vec::new();

    // 1. versions
    let versions: Vec<(String, String)> = pkgs
        .iter()
        .map(|p| (name(p), p["version"].as_str().unwrap_or("?").to_string()))
        .collect();
    let first = versions.first().map(|(_, v)| v.clone()).unwrap_or_default();
    for (n, v) in &versions {
        if *v != first {
            problems.push(format!("{n} has version {v}, others have {first}"));
        }
    }
    for pkg in pkgs {
        for dep in pkg["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or("?");
            let Some((_, dep_version)) = versions.iter().find(|(n, _)| n == dep_name) else {
                continue;
            };
            if dep["path"].is_null() || dep["kind"] == "dev" {
                continue;
            }
            let req = dep["req"].as_str().unwrap_or("*");
            if req != format!("^{dep_version}") && req != format!("={dep_version}") {
                problems.push(format!(
                    "{} depends on {dep_name} with version requirement `{req}`; it must be \
                     `{dep_version}` (set `version` next to `path` in [workspace.dependencies])",
                    name(pkg)
                ));
            }
        }
    }

    // 2. metadata of publishable packages
    let unpublishable: Vec<String> = pkgs.iter().filter(|p| !publishable(p)).map(name).collect();
    let publishable_pkgs: Vec<&Value> = pkgs.iter().filter(|p| publishable(p)).collect();
    for pkg in &publishable_pkgs {
        let n = name(pkg);
        for field in ["description", "repository"] {
            if pkg[field].as_str().is_none_or(|s| s.trim().is_empty()) {
                problems.push(format!("{n} has no `{field}`"));
            }
        }
        if pkg["license"].is_null() && pkg["license_file"].is_null() {
            problems.push(format!("{n} has no `license` or `license-file`"));
        }
        let dir = Path::new(pkg["manifest_path"].as_str().unwrap_or("."))
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        match pkg["readme"].as_str() {
            None => problems.push(format!("{n} has no README.md and no `readme` field")),
            Some(r) if !dir.join(r).is_file() => problems.push(format!(
                "{n}: readme `{r}` does not exist in {}",
                dir.display()
            )),
            Some(_) => {}
        }
        for dep in pkg["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or("?");
            if dep["kind"] != "dev" && unpublishable.iter().any(|u| u == dep_name) {
                problems.push(format!(
                    "{n} depends on the unpublishable package {dep_name}"
                ));
            }
        }
    }

    if !problems.is_empty() {
        return Err(format!(
            "release: {} problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        )
        .into());
    }
    let names: Vec<String> = publishable_pkgs.iter().map(|p| name(p)).collect();
    println!(
        "release: versions agree ({first}); metadata complete for {}",
        names.join(", ")
    );

    // 3. package
    let mut cmd = cargo();
    cmd.args(["package", "--workspace", "--allow-dirty"]);
    for u in &unpublishable {
        cmd.args(["--exclude", u]);
    }
    if no_verify {
        cmd.arg("--no-verify");
    }
    util::run(&mut cmd)?;
    println!(
        "release: every publishable crate packages; `cargo publish --workspace` would upload them"
    );
    Ok(())
}
