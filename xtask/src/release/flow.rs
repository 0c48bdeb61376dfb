//! `cargo xtask release X.Y.Z`: the maintainer's whole flow, step by step.
//!
//! Everything that can be refused is refused before the first write: a dirty tree, a version
//! that is malformed or does not increase, an existing tag, metadata problems, a changelog with
//! nothing to release. Then the bump, the lock file and the changelog are written, the checks
//! run against the bumped tree, and only then the commit and the tag. A failure after the first
//! write puts every written file back, so the tree is as it was.

use super::bump::{self, FileEdit};
use super::changelog;
use super::checks::{cargo_in, Workspace};
use super::semver::Version;
use super::Options;
use crate::util::{self, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const STEPS: [&str; 11] = [
    "clean tree",
    "version",
    "metadata checks",
    "bump versions",
    "update Cargo.lock",
    "changelog",
    "test-all",
    "package",
    "publish --dry-run",
    "commit",
    "tag",
];

/// The run's state: where, whether it is a dry run, what it reported, and what would stop it.
struct Ctx<'a> {
    root: &'a Path,
    opts: &'a Options,
    log: &'a mut Vec<String>,
    /// Dry run only: what would stop the real run (a dry run reports it and goes on).
    stoppers: Vec<String>,
}

impl Ctx<'_> {
    /// Prints a line and keeps it, so the caller (and the tests) can read what was reported.
    fn say(&mut self, line: String) {
        println!("{line}");
        self.log.push(line);
    }

    /// `[n/11] name`, numbered from the list so the printed plan and the errors agree.
    fn announce(&mut self, name: &str) {
        println!();
        self.say(format!("[{}/{}] {name}", number(name), STEPS.len()));
    }

    /// Runs a command, or in a dry run only prints it.
    fn exec(&mut self, name: &str, cmd: &mut Command) -> Result<()> {
        if self.opts.dry_run {
            self.say(format!("would run: $ {}", shell_line(cmd)));
            Ok(())
        } else {
            util::run(cmd).map_err(|e| failed(name, e))
        }
    }

    /// A refusal: the real run fails here; a dry run notes it and continues.
    fn stop(&mut self, name: &str, msg: String) -> Result<()> {
        if self.opts.dry_run {
            self.say(format!("the real run stops here: {msg}"));
            self.stoppers
                .push(format!("step {} ({name}): {msg}", number(name)));
            Ok(())
        } else {
            Err(failed(name, msg))
        }
    }

    fn git(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(self.root);
        cmd
    }
}

/// The command as a line a shell would run as is: arguments with spaces, quotes or newlines
/// (the tag message) are single-quoted.
fn shell_line(cmd: &Command) -> String {
    let quote = |a: &str| {
        let plain = !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-./=:,+@%".contains(&b));
        if plain {
            a.to_string()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    let program = cmd.get_program().to_string_lossy();
    let args = cmd.get_args().map(|a| quote(&a.to_string_lossy()));
    std::iter::once(quote(&program))
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

fn number(name: &str) -> usize {
    STEPS.iter().position(|s| *s == name).map_or(0, |i| i + 1)
}

/// An error that names the step it happened in.
fn failed(name: &str, msg: impl std::fmt::Display) -> Box<dyn std::error::Error> {
    format!(
        "step {}/{} ({name}) failed: {msg}",
        number(name),
        STEPS.len()
    )
    .into()
}

/// The files the release writes, with their original bytes to put back on failure.
struct Written {
    root: PathBuf,
    originals: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Written {
    fn remember(&mut self, rel: &Path) {
        if self.originals.iter().all(|(p, _)| p != rel) {
            let old = std::fs::read(self.root.join(rel)).ok();
            self.originals.push((rel.to_path_buf(), old));
        }
    }

    fn write(&mut self, rel: &Path, text: &str) -> std::io::Result<()> {
        self.remember(rel);
        std::fs::write(self.root.join(rel), text)
    }

    fn undo(&self) -> String {
        let mut failures = Vec::new();
        for (rel, old) in &self.originals {
            let path = self.root.join(rel);
            let r = match old {
                Some(bytes) => std::fs::write(&path, bytes),
                None => std::fs::remove_file(&path),
            };
            if let Err(e) = r {
                failures.push(format!("{}: {e}", rel.display()));
            }
        }
        let names: Vec<String> = self
            .originals
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        if failures.is_empty() {
            format!("undone: {} restored", names.join(", "))
        } else {
            format!("could not restore {}", failures.join("; "))
        }
    }
}

/// `cargo xtask release VERSION` in `root`, which must be the top of a git work tree. Every
/// line it reports is also pushed onto `log`.
pub fn run(root: &Path, version: &str, opts: &Options, log: &mut Vec<String>) -> Result<()> {
    let mut cx = Ctx {
        root,
        opts,
        log,
        stoppers: Vec::new(),
    };
    let dry = opts.dry_run;
    let mode = if dry {
        " (dry run: every step is printed, nothing is changed)"
    } else {
        ""
    };
    cx.say(format!("release {version} in {}{mode}", root.display()));

    cx.announce("clean tree");
    let top = util::output(cx.git().args(["rev-parse", "--show-toplevel"]))
        .map_err(|e| failed("clean tree", e))?;
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same(Path::new(top.trim()), root) {
        let msg = format!("{} is not the top of its git work tree", root.display());
        return Err(failed("clean tree", msg));
    }
    let status = util::output(cx.git().args(["status", "--porcelain"]))
        .map_err(|e| failed("clean tree", e))?;
    if !status.trim().is_empty() {
        // The first few paths are enough to see why; a busy tree would bury the plan.
        let lines: Vec<&str> = status.lines().map(str::trim).collect();
        let mut msg = format!(
            "uncommitted changes; commit or stash them first: {}",
            lines[..lines.len().min(8)].join(", ")
        );
        if lines.len() > 8 {
            msg.push_str(&format!(" and {} more", lines.len() - 8));
        }
        cx.stop("clean tree", msg)?;
    }

    cx.announce("version");
    let ws = Workspace::load(root).map_err(|e| failed("version", e))?;
    let current = ws.version().map_err(|e| failed("version", e))?;
    let new = Version::parse(version).map_err(|e| failed("version", e))?;
    let old = Version::parse(&current)
        .map_err(|e| failed("version", format!("workspace version: {e}")))?;
    if new <= old {
        let msg = format!("{new} does not increase the workspace version {old}");
        return Err(failed("version", msg));
    }
    let tag = format!("v{new}");
    let existing =
        util::output(cx.git().args(["tag", "--list", &tag])).map_err(|e| failed("version", e))?;
    if !existing.trim().is_empty() {
        return Err(failed("version", format!("the tag {tag} already exists")));
    }
    cx.say(format!("{old} -> {new}, tag {tag}"));

    cx.announce("metadata checks");
    let problems = ws.metadata_problems();
    if problems.is_empty() {
        cx.say("versions agree; every publishable crate has its crates.io metadata".into());
    } else {
        cx.stop(
            "metadata checks",
            format!("\n  - {}", problems.join("\n  - ")),
        )?;
    }

    // Planned in full before anything is written, so a refusal leaves the tree untouched.
    let members: Vec<String> = ws.packages.iter().map(|p| p.name.clone()).collect();
    let manifests: Vec<PathBuf> = ws.packages.iter().map(|p| p.manifest.clone()).collect();
    let bumps = bump::plan(root, &manifests, &members, &new.to_string())
        .map_err(|e| failed("bump versions", e))?;
    let changelog_old = std::fs::read_to_string(root.join(CHANGELOG)).map_err(|e| {
        let msg = format!("cannot read {CHANGELOG} (keep one, in the Keep a Changelog style): {e}");
        failed("changelog", msg)
    })?;
    let date = opts.date.clone().unwrap_or_else(changelog::today);
    let released = changelog::release(&changelog_old, &new.to_string(), &date)
        .map_err(|e| failed("changelog", e))?;
    let plan = Plan {
        ws: &ws,
        new: &new,
        date: &date,
        bumps: &bumps,
        changelog_old: &changelog_old,
        released: &released,
    };

    let mut written = Written {
        root: root.to_path_buf(),
        originals: Vec::new(),
    };
    if let Err(e) = write_and_check(&mut cx, &plan, &mut written) {
        if written.originals.is_empty() {
            return Err(e);
        }
        return Err(format!("{e}\n{}", written.undo()).into());
    }

    cx.announce("tag");
    let message = format!("release {new}\n\n{}", released.notes);
    let mut cmd = cx.git();
    cmd.args([
        "tag",
        "--annotate",
        "--cleanup=whitespace",
        &tag,
        "--message",
        &message,
    ]);
    cx.exec("tag", &mut cmd).map_err(|e| {
        format!("{e}; the commit `release {new}` is made: tag it by hand, or drop it with `git reset --hard HEAD~1`")
    })?;

    if dry {
        if !cx.stoppers.is_empty() {
            let list = cx.stoppers.join("\n  - ");
            return Err(format!(
                "dry run: nothing changed, but the real run would stop at:\n  - {list}"
            )
            .into());
        }
        cx.say("dry run: nothing changed".into());
    } else {
        let excludes: String = ws
            .unpublishable()
            .iter()
            .map(|u| format!(" --exclude {u}"))
            .collect();
        cx.say(format!(
            "release {new}: committed and tagged {tag}. To publish:\n  git push origin HEAD {tag}\n  \
             cargo publish --workspace{excludes}"
        ));
    }
    Ok(())
}

const CHANGELOG: &str = "CHANGELOG.md";

/// The edits, computed before the first write.
struct Plan<'a> {
    /// The workspace before the bump: names and dependencies do not change with it.
    ws: &'a Workspace,
    new: &'a Version,
    date: &'a str,
    bumps: &'a [FileEdit],
    changelog_old: &'a str,
    released: &'a changelog::Released,
}

/// Steps 4 to 10: every write, then the checks on the written tree, then the commit.
fn write_and_check(cx: &mut Ctx, plan: &Plan, written: &mut Written) -> Result<()> {
    let dry = cx.opts.dry_run;
    let new = plan.new;
    cx.announce("bump versions");
    for file in plan.bumps {
        for l in &file.lines {
            let (at, before, after) = (file.rel.display(), l.before.trim(), l.after.trim());
            cx.say(format!("edit {at}:{}: `{before}` -> `{after}`", l.line));
        }
        if !dry {
            written
                .write(&file.rel, &file.new)
                .map_err(|e| failed("bump versions", e))?;
        }
    }

    cx.announce("update Cargo.lock");
    if !dry {
        written.remember(Path::new("Cargo.lock"));
    }
    let mut cmd = cargo_in(cx.root);
    cx.exec("update Cargo.lock", cmd.args(["update", "--workspace"]))?;
    if !dry {
        let ws = Workspace::load(cx.root).map_err(|e| failed("update Cargo.lock", e))?;
        match ws.version() {
            Ok(v) if v == new.to_string() => cx.say(format!("every package is now {v}")),
            Ok(v) => {
                let msg = format!("packages are at {v}, not {new}");
                return Err(failed("update Cargo.lock", msg));
            }
            Err(e) => return Err(failed("update Cargo.lock", e)),
        }
    }

    cx.announce("changelog");
    let moved = plan.released.notes.lines().count();
    cx.say(format!(
        "edit {CHANGELOG}: the {moved} lines under `## [Unreleased]` move under `## [{new}] - {}`",
        plan.date
    ));
    let old_lines: Vec<&str> = plan.changelog_old.lines().collect();
    for line in plan.released.text.lines() {
        if line.starts_with('[') && !old_lines.contains(&line) {
            cx.say(format!("edit {CHANGELOG}: link reference `{line}`"));
        }
    }
    if !dry {
        let text = &plan.released.text;
        written
            .write(Path::new(CHANGELOG), text)
            .map_err(|e| failed("changelog", e))?;
    }

    let ws = plan.ws;
    let excludes: Vec<String> = ws
        .unpublishable()
        .into_iter()
        .flat_map(|u| ["--exclude".to_string(), u])
        .collect();
    for name in ["test-all", "package", "publish --dry-run"] {
        cx.announce(name);
        let mut cmd = cargo_in(cx.root);
        match name {
            "test-all" => cmd.args(["xtask", "test-all"]),
            "package" => {
                if !cx.opts.skip_checks {
                    let cycles = ws.cycle_problems();
                    if !cycles.is_empty() {
                        cx.stop(name, cycles.join("\n  - "))?;
                    }
                }
                cx.say(format!(
                    "in dependency order: {}",
                    ws.publish_order().join(", ")
                ));
                // The bump is not committed yet, hence --allow-dirty; step 1 saw a clean tree.
                cmd.args(["package", "--workspace", "--allow-dirty"])
                    .args(&excludes);
                if cx.opts.no_verify {
                    cmd.arg("--no-verify");
                }
                &mut cmd
            }
            // `package` has just compiled these very .crate files; this adds crates.io's checks.
            _ => cmd
                .args([
                    "publish",
                    "--workspace",
                    "--dry-run",
                    "--allow-dirty",
                    "--no-verify",
                ])
                .args(&excludes),
        };
        if cx.opts.skip_checks {
            cx.say(format!(
                "skipped (skip_checks, the release's own tests): $ {}",
                shell_line(&cmd)
            ));
            continue;
        }
        cx.exec(name, &mut cmd)?;
    }

    cx.announce("commit");
    let mut files: Vec<String> = plan
        .bumps
        .iter()
        .map(|f| f.rel.display().to_string())
        .collect();
    files.push("Cargo.lock".into());
    files.push(CHANGELOG.into());
    if !dry {
        // What is committed must be what was tested: the checks may not change other files.
        let status = util::output(cx.git().args(["status", "--porcelain"]))
            .map_err(|e| failed("commit", e))?;
        let others: Vec<&str> = status
            .lines()
            .filter(|l| !files.iter().any(|f| l.get(3..) == Some(f.as_str())))
            .collect();
        if !others.is_empty() {
            let msg = format!(
                "files the release does not write changed:\n{}",
                others.join("\n")
            );
            return Err(failed("commit", msg));
        }
    }
    let mut add = cx.git();
    cx.exec("commit", add.arg("add").arg("--").args(&files))?;
    let mut commit = cx.git();
    commit.args(["commit", "--quiet", "--message", &format!("release {new}")]);
    if let Err(e) = cx.exec("commit", &mut commit) {
        // Unstage, so that putting the files back leaves the index as clean as the tree.
        let _ = cx
            .git()
            .args(["reset", "--quiet", "--"])
            .args(&files)
            .status();
        return Err(e);
    }
    Ok(())
}
