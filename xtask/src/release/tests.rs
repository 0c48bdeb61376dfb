//! The release flow run for real in temporary clones of this repository.
//!
//! Each test clones the committed HEAD (`git clone` of the workspace root), commits a changelog
//! fixture in the clone, and runs [`release_at`] against it. `skip_checks` keeps them fast: no
//! test builds the workspace; `cargo metadata` and `cargo update --workspace` run for real.

use super::checks::Workspace;
use super::{release_at, Options};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURE: &str = "# Changelog\n\nAll notable changes.\n\n## [Unreleased]\n\n### Added\n\n\
                       - The line a release moves.\n\n### Fixed\n\n\
                       [Unreleased]: https://github.com/nanotorch/nanotorch/commits/main\n";

/// A temporary clone, deleted when dropped.
struct Clone {
    dir: PathBuf,
}

impl Drop for Clone {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn clone(name: &str) -> Clone {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "xtask-release-{name}-{}-{nanos}",
        std::process::id()
    ));
    let source = crate::util::root();
    let status = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&source)
        .arg(&dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git clone {}", source.display());
    let c = Clone { dir };
    for (key, value) in [
        ("user.email", "release-test@example.com"),
        ("user.name", "release test"),
        ("commit.gpgsign", "false"),
        ("tag.gpgsign", "false"),
    ] {
        git(&c.dir, &["config", key, value]);
    }
    std::fs::write(c.dir.join("CHANGELOG.md"), FIXTURE).unwrap();
    git(&c.dir, &["add", "CHANGELOG.md"]);
    git(
        &c.dir,
        &["commit", "--quiet", "-m", "test: changelog fixture"],
    );
    c
}

/// The clone's workspace version and the next minor one (`0.1.0` -> `0.2.0`).
fn versions(dir: &Path) -> (String, String) {
    let current = Workspace::load(dir).unwrap().version().unwrap();
    let parts: Vec<u64> = current
        .split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse().unwrap())
        .collect();
    (current, format!("{}.{}.0", parts[0], parts[1] + 1))
}

/// Every file outside .git with its bytes, plus HEAD, the status and the tags.
fn snapshot(dir: &Path) -> (BTreeMap<PathBuf, Vec<u8>>, String) {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name() == Some(".git".as_ref()) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    let git_state = ["rev-parse HEAD", "status --porcelain", "tag --list"]
        .iter()
        .map(|a| git(dir, &a.split(' ').collect::<Vec<_>>()))
        .collect::<Vec<_>>()
        .join("|");
    (files, git_state)
}

fn opts(version: &str, dry_run: bool) -> Options {
    Options {
        version: Some(version.to_string()),
        dry_run,
        skip_checks: !dry_run,
        date: Some("2030-01-02".into()),
        ..Options::default()
    }
}

#[test]
fn dry_run_lists_every_step_and_changes_nothing() {
    let c = clone("dry");
    let (old, new) = versions(&c.dir);
    let before = snapshot(&c.dir);
    let mut log = Vec::new();
    release_at(&c.dir, &opts(&new, true), &mut log).unwrap();
    assert!(before == snapshot(&c.dir), "the dry run changed the clone");

    let all = log.join("\n");
    for n in 1..=11 {
        assert!(
            log.iter().any(|l| l.starts_with(&format!("[{n}/11] "))),
            "step {n} missing:\n{all}"
        );
    }
    let has = |needle: &str| all.contains(needle);
    let lock_update = log
        .iter()
        .any(|l| l.starts_with("would run: $ ") && l.ends_with(" update --workspace"));
    assert!(lock_update, "no Cargo.lock update:\n{all}");
    for needle in [
        format!("`version = \"{old}\"` -> `version = \"{new}\"`"),
        format!("version = \"{new}\" }}`"),
        format!("move under `## [{new}] - 2030-01-02`"),
        format!("`[{new}]: https://github.com/nanotorch/nanotorch/releases/tag/v{new}`"),
        " xtask test-all".into(),
        " package --workspace --allow-dirty --exclude ".into(),
        " publish --workspace --dry-run ".into(),
        "would run: $ git add -- Cargo.toml".into(),
        format!("would run: $ git commit --quiet --message 'release {new}'"),
        format!("would run: $ git tag --annotate --cleanup=whitespace v{new} --message 'release {new}\n\n### Added\n\n- The line a release moves.'"),
        "dry run: nothing changed".into(),
    ] {
        assert!(
            has(&needle),
            "`{needle}` not in the dry run's report:\n{all}"
        );
    }
}

#[test]
fn a_dirty_tree_is_refused_before_anything_changes() {
    let c = clone("dirty");
    let (_, new) = versions(&c.dir);
    std::fs::write(c.dir.join("untracked.txt"), "x").unwrap();
    let before = snapshot(&c.dir);
    let err = release_at(&c.dir, &opts(&new, false), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("step 1/11 (clean tree) failed"), "{err}");
    assert!(err.contains("untracked.txt"), "{err}");
    assert!(before == snapshot(&c.dir));
    // A dry run shows the plan but still fails, naming what would stop the real run.
    let err = release_at(&c.dir, &opts(&new, true), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("step 1 (clean tree)"), "{err}");
}

#[test]
fn versions_that_do_not_increase_or_do_not_parse_are_refused() {
    let c = clone("version");
    let (old, _) = versions(&c.dir);
    let before = snapshot(&c.dir);
    let lower = if old.starts_with("0.0.") {
        "0.0.0-alpha".into()
    } else {
        "0.0.1".to_string()
    };
    for v in [old.as_str(), lower.as_str()] {
        let err = release_at(&c.dir, &opts(v, false), &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("step 2/11 (version) failed"), "{err}");
        assert!(
            err.contains(&format!(
                "{v} does not increase the workspace version {old}"
            )),
            "{err}"
        );
    }
    let err = release_at(&c.dir, &opts("1.2", true), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step 2/11 (version)") && err.contains("MAJOR.MINOR.PATCH"),
        "{err}"
    );
    assert!(before == snapshot(&c.dir));
}

#[test]
fn a_release_bumps_every_version_moves_the_changelog_commits_and_tags() {
    let c = clone("real");
    let (old, new) = versions(&c.dir);
    let head_before = git(&c.dir, &["rev-parse", "HEAD"]);
    release_at(&c.dir, &opts(&new, false), &mut Vec::new()).unwrap();

    // Every package and every inter-crate requirement moved together (cargo's own view).
    let ws = Workspace::load(&c.dir).unwrap();
    assert_eq!(ws.version().unwrap(), new);
    assert_eq!(ws.metadata_problems(), Vec::<String>::new());
    let lock = std::fs::read_to_string(c.dir.join("Cargo.lock")).unwrap();
    for p in &ws.packages {
        let entry = format!("name = \"{}\"\nversion = \"{new}\"", p.name);
        assert!(lock.contains(&entry), "Cargo.lock lacks {entry}");
    }
    let manifest = std::fs::read_to_string(c.dir.join("Cargo.toml")).unwrap();
    assert!(
        !manifest.contains(&format!("\"{old}\"")),
        "{old} left in Cargo.toml"
    );

    let changelog = std::fs::read_to_string(c.dir.join("CHANGELOG.md")).unwrap();
    let released = format!(
        "## [Unreleased]\n\n## [{new}] - 2030-01-02\n\n### Added\n\n- The line a release moves.\n"
    );
    assert!(changelog.contains(&released), "{changelog}");
    assert!(changelog.contains(&format!(
        "[{new}]: https://github.com/nanotorch/nanotorch/releases/tag/v{new}"
    )));

    assert_eq!(git(&c.dir, &["status", "--porcelain"]), "");
    assert_eq!(git(&c.dir, &["rev-parse", "HEAD~1"]), head_before);
    assert_eq!(
        git(&c.dir, &["log", "-1", "--format=%s"]).trim(),
        format!("release {new}")
    );
    let changed = git(&c.dir, &["show", "--name-only", "--format=", "HEAD"]);
    for f in ["Cargo.toml", "Cargo.lock", "CHANGELOG.md"] {
        assert!(
            changed.lines().any(|l| l == f),
            "{f} not in the commit:\n{changed}"
        );
    }
    let tag = format!("v{new}");
    assert_eq!(
        git(&c.dir, &["cat-file", "-t", &tag]).trim(),
        "tag",
        "not annotated"
    );
    assert!(git(&c.dir, &["tag", "-n1"]).contains(&format!("release {new}")));
    let message = git(&c.dir, &["tag", "--list", "--format=%(contents)", &tag]);
    assert!(
        message.contains("### Added\n\n- The line a release moves."),
        "{message}"
    );
    assert_eq!(
        git(&c.dir, &["rev-parse", &format!("{tag}^{{commit}}")]),
        git(&c.dir, &["rev-parse", "HEAD"])
    );
}

#[test]
fn a_failed_commit_puts_every_written_file_back() {
    let c = clone("undo");
    let (_, new) = versions(&c.dir);
    let hook = c.dir.join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho refused by the test hook >&2\nexit 1\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let before = snapshot(&c.dir);
    let err = release_at(&c.dir, &opts(&new, false), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("step 10/11 (commit) failed"), "{err}");
    assert!(
        err.contains("undone:") && err.contains("CHANGELOG.md"),
        "{err}"
    );
    assert!(
        before == snapshot(&c.dir),
        "files, index or tags differ after the failure"
    );
}

#[test]
fn the_repository_changelog_keeps_the_format_the_release_edits() {
    let text = std::fs::read_to_string(crate::util::root().join("CHANGELOG.md")).unwrap();
    assert!(
        text.lines().any(|l| l == "## [Unreleased]"),
        "no `## [Unreleased]` heading"
    );
    for heading in text
        .lines()
        .filter(|l| l.starts_with("## [") && *l != "## [Unreleased]")
    {
        let (version, date) = heading[4..]
            .split_once("] - ")
            .unwrap_or_else(|| panic!("`{heading}` is not `## [X.Y.Z] - YYYY-MM-DD`"));
        super::semver::Version::parse(version).unwrap();
        assert!(date.len() == 10 && date.as_bytes()[4] == b'-', "{heading}");
    }
}
