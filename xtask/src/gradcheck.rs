//! `cargo xtask gradcheck`: runs every `tests/gradcheck.rs` test target of the workspace.
//!
//! Discovery is by `cargo metadata`: any workspace package with an integration-test target named
//! `gradcheck` takes part, so a crate joins by adding the file, with no change here. Each runs as
//! `cargo test -p <package> --test gradcheck`, in the dev profile the other tests use (no extra
//! build).
//!
//! When no package has such a target the command says so and succeeds: there is nothing to check,
//! and an empty check list is the state of a workspace without differentiable ops. Guarding
//! coverage (every differentiable op has a gradcheck case) is the job of the gradcheck target
//! itself, which keeps the list of ops. Packages in [`REQUIRED`] must have the target, so that
//! deleting or renaming the file fails here instead of silently checking less: add a package there
//! when it gains its `tests/gradcheck.rs`.
//!
//! The same targets also run inside `cargo test --workspace`; they are cheap, and running them
//! again here gives `cargo xtask gradcheck` its own, focused answer.

use crate::util::{self, cargo, Result};

/// Packages that must have a `tests/gradcheck.rs` target; losing one is an error.
pub const REQUIRED: &[&str] = &["nanotorch-autograd"];

/// The `(package, manifest path)` of every package with a `gradcheck` integration test.
pub fn targets() -> Result<Vec<(String, String)>> {
    let meta = util::metadata()?;
    let mut found = Vec::new();
    for pkg in util::packages(&meta)? {
        let has = pkg["targets"].as_array().into_iter().flatten().any(|t| {
            t["name"] == "gradcheck"
                && t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "test"))
        });
        if has {
            let name = pkg["name"].as_str().unwrap_or_default().to_string();
            let manifest = pkg["manifest_path"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            found.push((name, manifest));
        }
    }
    Ok(found)
}

/// Runs every gradcheck target; extra `args` go to the test binaries (e.g. a test-name filter).
pub fn gradcheck(args: &[String]) -> Result<()> {
    let found = targets()?;
    for required in REQUIRED {
        if !found.iter().any(|(name, _)| name == required) {
            return Err(format!(
                "package `{required}` is listed in xtask's gradcheck::REQUIRED but has no \
                 `tests/gradcheck.rs` test target"
            )
            .into());
        }
    }
    if found.is_empty() {
        println!(
            "gradcheck: no package in the workspace has a `tests/gradcheck.rs` test target yet; \
             nothing to check"
        );
        return Ok(());
    }
    for (name, _) in &found {
        let mut cmd = cargo();
        cmd.args(["test", "-p", name, "--test", "gradcheck"]);
        if !args.is_empty() {
            cmd.arg("--").args(args);
        }
        util::run(&mut cmd)?;
    }
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    println!("gradcheck: passed in {}", names.join(", "));
    Ok(())
}

/// The `test-all` step: every gradcheck target, no extra arguments.
pub fn check_all() -> Result<()> {
    gradcheck(&[])
}
