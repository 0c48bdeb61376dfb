//! Writing a file so that a crash, a kill or a full disk never leaves it half written.
//!
//! What [`write_atomically`] does, in order, and why:
//!
//! 1. **Follows symlinks** to the file they name (also a link whose target does not exist yet),
//!    so saving to `latest.safetensors -> run-7/model.safetensors` updates the target and keeps
//!    the link, as `cp` and editors do. Renaming over the link itself would replace it with a
//!    file.
//! 2. **Cleans stale temporary files** of its own naming, `.<name>.tmp-<pid>-<n>` next to the
//!    target, left by a save that was killed mid-write (they can be as large as the checkpoint).
//!    Only files whose process is gone are removed: on Linux that is read from `/proc/<pid>`
//!    (a live process's save may be in progress, and deleting its file would make its rename
//!    fail); where the process table cannot be read, a file untouched for [`STALE_AFTER`] counts
//!    as stale. The alternative rule, "older than this save's start", would delete the file of a
//!    concurrent save that started a moment earlier, so it is not used. A reused PID only delays
//!    the cleanup to a later save.
//! 3. **Writes a new temporary file** in the same folder (a rename is atomic only within one file
//!    system), created exclusively so it never clobbers anything, with the existing file's
//!    permission bits (a `0600` checkpoint stays `0600`; a new file gets the usual umask
//!    default). Ownership is not copied: that needs privileges a training run should not have.
//! 4. **Flushes it to disk** (`fsync`), **renames** it over the target, then on Unix **fsyncs the
//!    folder**, so the rename itself survives a power cut.
//!
//! On any error before the rename the temporary file is removed and the target is untouched.

use nanotorch_ndarray_core::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where the owning process cannot be looked up, a temporary file unmodified for this long is
/// taken to be left over from a killed save.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Symlink hops followed before giving up (Linux's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// Writes a file atomically: `write` fills a temporary file in the same folder, which is flushed
/// to disk and renamed over `path`. Readers see the old file or the new one, never a mix, even
/// if the process is killed mid-write. Follows symlinks to their target, keeps the existing
/// file's permission bits, removes temporary files (`.<name>.tmp-<pid>-<n>`) left by earlier
/// saves whose process is gone (on Linux, read from `/proc`; elsewhere, files untouched for a
/// day), and (on Unix) flushes the folder after the rename. The comments at the top of
/// `src/checkpoint/atomic.rs` say why each step is there. Errors name the path and the step.
pub fn write_atomically(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let fail = |what: &str, e: io::Error| {
        Error::msg(format!("write_atomically {}: {what}: {e}", path.display()))
    };
    let target = resolve_symlinks(path).map_err(|e| fail("cannot follow the symlink", e))?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| {
            Error::msg(format!(
                "write_atomically {}: not a file path (it has no file name)",
                path.display()
            ))
        })?
        .to_string_lossy()
        .into_owned();
    // Best effort: a leftover we cannot remove must not stop a save.
    remove_stale_temp_files(&dir, &name);

    // Unique per process and per call, so concurrent saves to one path never share a file.
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        "{}{}-{}",
        temp_prefix(&name),
        std::process::id(),
        SAVES.fetch_add(1, Ordering::Relaxed)
    ));
    let existing = fs::metadata(&target).ok();
    let result = (|| -> io::Result<()> {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        if let Some(meta) = &existing {
            // Before any byte is written, so the data is never readable more widely than the
            // file it replaces.
            file.set_permissions(meta.permissions())?;
        }
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(fail("cannot write the temporary file", e));
    }
    if let Err(e) = fs::rename(&tmp, &target) {
        let _ = fs::remove_file(&tmp);
        return Err(fail("cannot rename the temporary file over it", e));
    }
    sync_dir(&dir).map_err(|e| fail("written, but cannot flush its folder to disk", e))
}

/// `.<name>.tmp-`: hidden, and tied to one target so cleanup never touches another file's.
fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

/// `path` with every symlink along its last component followed, also to a target that does not
/// exist yet (`fs::canonicalize` fails on those, and would also resolve the folders, which the
/// rename does not need).
fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_SYMLINK_HOPS} levels of symbolic links"
    )))
}

/// Removes `.<name>.tmp-<pid>-<n>` files in `dir` whose writer is gone.
fn remove_stale_temp_files(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = temp_prefix(name);
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        // Exactly our pattern: `<pid>-<n>`, both decimal. Anything else is someone else's file.
        let Some((pid, n)) = rest.split_once('-') else {
            continue;
        };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else {
            continue;
        };
        if pid == std::process::id() {
            continue; // ours: in flight on another thread, or already removed on failure
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.is_file() && writer_is_gone(pid, &meta) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether the process that created a temporary file can no longer be writing it.
fn writer_is_gone(pid: u32, meta: &fs::Metadata) -> bool {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        return !Path::new(&format!("/proc/{pid}")).exists();
    }
    meta.modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age > STALE_AFTER)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a folder as a file; NTFS journals the rename itself.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("nanotorch-atomic-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failing_writer_leaves_the_target_and_no_temp_file() {
        let dir = scratch("fail");
        let path = dir.join("f.txt");
        fs::write(&path, "old").unwrap();
        let e = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("f.txt") && e.contains("disk full"), "{e}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cleanup_touches_only_our_pattern_for_this_target() {
        let dir = scratch("pattern");
        // PID 0 is never a user process, so on Linux these count as stale.
        let foreign = [
            ".g.txt.tmp-0-1",   // another target's
            ".f.txt.tmp-0",     // not our pattern
            ".f.txt.tmp-0-1-x", // not our pattern
            "f.txt.tmp-0-1",    // not hidden: not ours
            ".f.txt.tmp-abc-1", // pid not a number
        ];
        for n in foreign {
            fs::write(dir.join(n), "x").unwrap();
        }
        let ours = dir.join(format!(".f.txt.tmp-{}-999", std::process::id()));
        fs::write(&ours, "x").unwrap();
        write_atomically(dir.join("f.txt"), |w| w.write_all(b"new")).unwrap();
        for n in foreign {
            assert!(dir.join(n).exists(), "{n} was removed");
        }
        assert!(
            ours.exists(),
            "a temp file of this live process was removed"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn follows_a_chain_of_relative_symlinks_to_a_missing_target() {
        #[cfg(unix)]
        {
            let dir = scratch("chain");
            fs::create_dir_all(dir.join("sub")).unwrap();
            std::os::unix::fs::symlink("sub/b", dir.join("a")).unwrap();
            std::os::unix::fs::symlink("c", dir.join("sub/b")).unwrap();
            write_atomically(dir.join("a"), |w| w.write_all(b"data")).unwrap();
            assert_eq!(fs::read(dir.join("sub/c")).unwrap(), b"data");
            assert!(fs::symlink_metadata(dir.join("a"))
                .unwrap()
                .file_type()
                .is_symlink());
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}
