//! `cargo xtask book [--open]`: the chapters in `docs/` as an HTML book, built by mdBook into
//! `target/book` with math rendered by MathJax.
//!
//! The chapters stay plain markdown that GitHub renders and `nanotorch-book` runs as doctests.
//! mdBook wants a source folder with a `SUMMARY.md`; both are generated on every run into
//! `target/book-src/` (see `summary.rs`: the table of contents comes from the `chapters!` list in
//! `docs/src/lib.rs`, so adding a chapter stays one line there), with the math rewritten for
//! MathJax on the way (see `math.rs`). `docs/book.toml` is the mdBook configuration; `docs/images/`
//! is copied along when it exists.
//!
//! mdBook is pinned to [`MDBOOK_VERSION`]: the one in `target/tools/bin` or on `PATH` is used if
//! it is that version, otherwise it is installed from crates.io into `target/tools` (a few
//! minutes, once). Not part of `test-all`: the chapters' code is tested there already, and the
//! install would cost CI minutes for HTML nobody reads in CI.

mod math;
mod summary;

use crate::util::{self, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use summary::Chapter;

/// The mdBook release the book is built with (its `book.toml` keys and HTML are checked against it).
pub const MDBOOK_VERSION: &str = "0.5.4";

/// `cargo xtask book`.
pub fn book(args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let open = util::take_flag(&mut args, "--open");
    util::no_more_args("book", &args)?;
    let root = util::root();
    let target = target_dir(&root);
    let (stage, out) = (target.join("book-src"), target.join("book"));
    let staged = stage_book(&root.join("docs"), &stage)?;
    let mdbook = ensure_mdbook(&target)?;
    let mut cmd = Command::new(&mdbook);
    cmd.arg("build").arg(&stage).arg("--dest-dir").arg(&out);
    if open {
        cmd.arg("--open");
    }
    util::run(&mut cmd)?;
    check_output(&out, &staged)?;
    println!(
        "book: {} chapters and their math are in {}",
        staged.len() - 1,
        out.join("index.html").display()
    );
    Ok(())
}

/// The target directory: `CARGO_TARGET_DIR` if set, else `target/` in the workspace.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// A page of the staged book: the HTML page mdBook makes of it and the formulas it must show.
struct Staged {
    source: String,
    page: String,
    formulas: Vec<String>,
}

/// Writes mdBook's source folder into `stage` (emptied first): `book.toml`, `src/SUMMARY.md`,
/// the introduction and the chapters with their math rewritten, and `images/`.
fn stage_book(docs: &Path, stage: &Path) -> Result<Vec<Staged>> {
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let list = summary::chapter_list(&read(&docs.join("src/lib.rs"))?)
        .map_err(|e| format!("docs/src/lib.rs: {e}"))?;
    if stage.exists() {
        fs::remove_dir_all(stage)?;
    }
    let src = stage.join("src");
    fs::create_dir_all(&src)?;
    fs::copy(docs.join("book.toml"), stage.join("book.toml"))
        .map_err(|e| format!("cannot copy docs/book.toml: {e}"))?;

    let mut staged = Vec::new();
    let mut stage_page = |file: &str, page: String| -> Result<String> {
        let text = read(&docs.join(file))?;
        let title = summary::first_heading(&text)
            .ok_or_else(|| format!("docs/{file} has no `# ` heading to title it with"))?;
        let done = math::rewrite(&text).map_err(|e| format!("docs/{file}: {e}"))?;
        let dest = src.join(file);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&dest, done.markdown)?;
        staged.push(Staged {
            source: file.to_string(),
            page,
            formulas: done.formulas,
        });
        Ok(title)
    };
    // mdBook turns the README into the book's index page.
    let intro = stage_page("README.md", "index.html".into())?;
    let mut chapters = Vec::new();
    for (_, file) in list {
        if !summary::in_book(&file) {
            println!(
                "book: {file} runs as a doctest but is not a page of the book (outside docs/)"
            );
            continue;
        }
        let title = stage_page(&file, summary::html_page(&file))?;
        chapters.push(Chapter { file, title });
    }
    fs::write(
        src.join("SUMMARY.md"),
        summary::summary_md(&intro, &chapters),
    )?;
    let images = docs.join("images");
    if images.is_dir() {
        copy_dir(&images, &src.join("images"))?;
    }
    Ok(staged)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// The path of an mdBook at [`MDBOOK_VERSION`], installing it into `target/tools` if needed.
fn ensure_mdbook(target: &Path) -> Result<PathBuf> {
    let tools = target.join("tools");
    let local = tools
        .join("bin")
        .join(format!("mdbook{}", std::env::consts::EXE_SUFFIX));
    for candidate in [local.clone(), PathBuf::from("mdbook")] {
        if version_of(&candidate).as_deref() == Some(MDBOOK_VERSION) {
            return Ok(candidate);
        }
    }
    println!(
        "book: mdBook {MDBOOK_VERSION} not found; installing it from crates.io into {} \
         (a few minutes, once)",
        tools.display()
    );
    let mut install = util::cargo();
    install
        .args(["install", "mdbook", "--locked", "--version", MDBOOK_VERSION])
        .arg("--root")
        .arg(&tools)
        // Only `mdbook build` is used: leave out the web server and file watcher.
        .args(["--no-default-features", "--features", "search"]);
    util::run(&mut install)?;
    match version_of(&local) {
        Some(v) if v == MDBOOK_VERSION => Ok(local),
        other => Err(format!(
            "installed mdBook into {} but `{} --version` reports {other:?}, not {MDBOOK_VERSION}",
            tools.display(),
            local.display()
        )
        .into()),
    }
}

/// The version `program --version` reports (`mdbook v0.5.4` → `0.5.4`), if it runs.
fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    out.status.success().then_some(())?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

fn parse_version(text: &str) -> Option<String> {
    let word = text.split_whitespace().nth(1)?;
    Some(word.trim_start_matches('v').to_string())
}

/// Checks the built book: every page exists, loads MathJax, and shows each of its formulas
/// exactly as written (so no markdown rule ate a backslash or an underscore).
fn check_output(out: &Path, staged: &[Staged]) -> Result<()> {
    let mut problems = Vec::new();
    for page in staged {
        let path = out.join(&page.page);
        let Ok(html) = fs::read_to_string(&path) else {
            problems.push(format!(
                "{} (from docs/{}) is missing",
                path.display(),
                page.source
            ));
            continue;
        };
        if !html.contains("MathJax.js") {
            problems.push(format!("{} does not load MathJax", page.page));
        }
        let text = squash(&html);
        for formula in &page.formulas {
            if !text.contains(&squash(&html_escape(formula))) {
                problems.push(format!("{}: formula not intact: {formula}", page.page));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("the built book is not right:\n  {}", problems.join("\n  ")).into())
    }
}

/// Text as an HTML serializer writes it in an element.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Whitespace runs collapsed to one space (line breaks inside a formula are the renderer's).
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_mdbook_output() {
        assert_eq!(
            parse_version("mdbook v0.5.4\n").as_deref(),
            Some(MDBOOK_VERSION)
        );
        assert_eq!(parse_version("mdbook").as_deref(), None);
    }

    #[test]
    fn staging_writes_a_summary_and_rewritten_chapters() {
        let dir = std::env::temp_dir().join(format!("xtask-book-{}", std::process::id()));
        let (docs, stage) = (dir.join("docs"), dir.join("stage"));
        fs::create_dir_all(docs.join("src")).unwrap();
        fs::create_dir_all(docs.join("images")).unwrap();
        fs::write(
            docs.join("src/lib.rs"),
            "chapters! {\n    readme => \"../README.md\",\n    ch01 => \"01-a.md\",\n}\n",
        )
        .unwrap();
        fs::write(docs.join("book.toml"), "[book]\n").unwrap();
        fs::write(docs.join("README.md"), "# The book\n").unwrap();
        fs::write(docs.join("01-a.md"), "# 1. A\n\n```math\nx_1\n```\n").unwrap();
        fs::write(docs.join("images/g.svg"), "<svg/>").unwrap();
        fs::create_dir_all(stage.join("src")).unwrap();
        fs::write(stage.join("src/stale.md"), "old").unwrap();

        let staged = stage_book(&docs, &stage).unwrap();
        let pages: Vec<&str> = staged.iter().map(|s| s.page.as_str()).collect();
        assert_eq!(pages, ["index.html", "01-a.html"]);
        assert_eq!(staged[1].formulas, ["\\[\nx_1\n\\]"]);
        let summary = fs::read_to_string(stage.join("src/SUMMARY.md")).unwrap();
        assert!(summary.contains("[The book](README.md)") && summary.contains("- [1. A](01-a.md)"));
        let chapter = fs::read_to_string(stage.join("src/01-a.md")).unwrap();
        assert!(chapter.contains("x\\_1") && !chapter.contains("```math"));
        assert!(stage.join("src/images/g.svg").exists());
        assert!(stage.join("book.toml").exists());
        assert!(
            !stage.join("src/stale.md").exists(),
            "the stage is rebuilt from scratch"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_output_check_finds_a_mangled_formula() {
        let dir = std::env::temp_dir().join(format!("xtask-book-out-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let page = |name: &str, body: &str| {
            fs::write(
                dir.join(name),
                format!("<script src=\"MathJax.js\"></script>{body}"),
            )
            .unwrap()
        };
        page("good.html", "<p>\\[\n a &lt; b_i \\]</p>");
        page("bad.html", "<p>\\[ a &lt; b<em>i</em> \\]</p>");
        let staged = |name: &str| Staged {
            source: "x.md".into(),
            page: name.into(),
            formulas: vec!["\\[\na < b_i\n\\]".into()],
        };
        assert!(check_output(&dir, &[staged("good.html")]).is_ok());
        let err = check_output(&dir, &[staged("bad.html"), staged("gone.html")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.html: formula not intact") && err.contains("gone.html"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
