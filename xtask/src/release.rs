//! `cargo xtask release [X.Y.Z] [--dry-run] [--no-verify]`.
//!
//! **Without a version: the checks to pass before publishing to crates.io.**
//! 1. *Versions agree*: every workspace package has the same version, and every dependency on
//!    another workspace package names a version requirement (crates.io needs one besides `path`)
//!    that this version satisfies exactly (`^V` or `=V`).
//! 2. *Metadata*: every publishable package (no `publish = false`) has a `description`, a
//!    `license` (or `license-file`), a `readme` that exists, and a `repository`; and it depends on
//!    no workspace package that is itself unpublishable.
//! 3. *Packaging*: no dev-dependency cycle that cargo cannot order (see
//!    [`checks::Workspace::cycle_problems`]); then `cargo package --workspace` builds the `.crate`
//!    files of all publishable packages in dependency order (cargo resolves their dependencies
//!    on each other locally, without the registry) and, unless `--no-verify`, compiles each one
//!    from its packaged sources alone, which catches files that an `include_str!` reaches outside
//!    the package. Nothing is uploaded.
//!
//! **With a version: the whole release** (`flow`): refuse a dirty tree, a malformed or
//! non-increasing version, or an existing tag; bump `[workspace.package] version` and every
//! requirement on a workspace crate (root `[workspace.dependencies]` and any crate manifest), then
//! `cargo update --workspace` for Cargo.lock; move CHANGELOG.md's Unreleased section under the
//! version; `cargo xtask test-all`; `cargo package --workspace`; `cargo publish --workspace
//! --dry-run`; commit "release X.Y.Z"; annotated tag `vX.Y.Z` whose message is the release notes.
//! Uploading stays a separate, deliberate step: the flow prints the commands.
//!
//! `--dry-run` prints every step with its exact command or line edit and changes nothing; it
//! still runs the read-only checks (git status, `cargo metadata`) and fails at the end if the real
//! run would stop. [`Options::skip_checks`] skips test-all, packaging and the publish dry run; it
//! exists for this module's tests (which must not build the workspace) and has no flag.

mod bump;
mod changelog;
mod checks;
mod flow;
mod semver;
#[cfg(test)]
mod tests;

use crate::util::{self, no_more_args, take_flag, Result};
use checks::{cargo_in, Workspace};
use std::path::Path;

/// What `cargo xtask release` was asked to do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// The version to release; `None` runs the checks only.
    pub version: Option<String>,
    /// Print every step, change nothing.
    pub dry_run: bool,
    /// Package without compiling the packaged sources.
    pub no_verify: bool,
    /// Skip test-all, packaging and the publish dry run (tests only: no command-line flag).
    pub skip_checks: bool,
    /// The changelog date instead of today (tests only).
    pub date: Option<String>,
}

/// Reads the command line: an optional version and the flags.
pub fn parse_args(args: &[String]) -> Result<Options> {
    let mut args = args.to_vec();
    let dry_run = take_flag(&mut args, "--dry-run");
    let no_verify = take_flag(&mut args, "--no-verify");
    let version = match args.first() {
        Some(a) if !a.starts_with('-') => Some(args.remove(0)),
        _ => None,
    };
    no_more_args("release", &args)?;
    Ok(Options {
        version,
        dry_run,
        no_verify,
        ..Options::default()
    })
}

/// `cargo xtask release`.
pub fn release(args: &[String]) -> Result<()> {
    release_at(&util::root(), &parse_args(args)?, &mut Vec::new())
}

/// The release (or its checks) of the workspace at `root`; the flow also pushes every line it
/// reports onto `log`.
pub fn release_at(root: &Path, opts: &Options, log: &mut Vec<String>) -> Result<()> {
    match &opts.version {
        Some(v) => flow::run(root, v, opts, log),
        None => checks_only(root, opts),
    }
}

/// Versions, metadata and packaging, without changing any file in the tree.
fn checks_only(root: &Path, opts: &Options) -> Result<()> {
    let ws = Workspace::load(root)?;
    let mut problems = ws.metadata_problems();
    problems.extend(ws.cycle_problems());
    if !problems.is_empty() {
        return Err(format!(
            "release: {} problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        )
        .into());
    }
    let order = ws.publish_order();
    println!(
        "release: versions agree ({}); metadata complete for {}",
        ws.version()?,
        order.join(", ")
    );
    let mut cmd = cargo_in(root);
    cmd.args(["package", "--workspace", "--allow-dirty"]);
    for u in ws.unpublishable() {
        cmd.args(["--exclude", &u]);
    }
    if opts.no_verify {
        cmd.arg("--no-verify");
    }
    if opts.dry_run {
        println!("would run: $ {}", util::describe(&cmd));
        return Ok(());
    }
    util::run(&mut cmd)?;
    println!(
        "release: every publishable crate packages; `cargo xtask release X.Y.Z` makes the release"
    );
    Ok(())
}
