//! Helpers shared by the xtask commands: running a command loudly, finding the workspace root,
//! reading `cargo metadata`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// xtask's result type: any error, printed by `main`.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A `cargo` command run from the workspace root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Prints the command, runs it, and fails if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    println!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {}: {e}", describe(cmd)))?;
    if !status.success() {
        return Err(format!("`{}` failed ({status})", describe(cmd)).into());
    }
    Ok(())
}

/// Prints the command, runs it, and returns its standard output (standard error passes through).
pub fn output(cmd: &mut Command) -> Result<String> {
    println!("$ {}", describe(cmd));
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", describe(cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", describe(cmd), out.status).into());
    }
    String::from_utf8(out.stdout)
        .map_err(|_| format!("`{}` printed output that is not UTF-8", describe(cmd)).into())
}

/// The command as a shell-like line, environment overrides first.
pub fn describe(cmd: &Command) -> String {
    let envs: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())))
        .collect();
    let mut parts = envs;
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// `cargo metadata --no-deps` of the workspace, parsed.
pub fn metadata() -> Result<serde_json::Value> {
    let text = output(cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("cannot parse `cargo metadata`: {e}"))?)
}

/// The workspace's packages, as `cargo metadata` lists them.
pub fn packages(meta: &serde_json::Value) -> Result<&Vec<serde_json::Value>> {
    meta["packages"]
        .as_array()
        .ok_or_else(|| "`cargo metadata` printed no `packages` array".into())
}

/// A duration as `1m 23.4s` or `4.2s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 60.0 {
        format!("{}m {:.1}s", (secs / 60.0).floor(), secs % 60.0)
    } else {
        format!("{secs:.1}s")
    }
}

/// Runs `f`, returning its result and how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// Pulls `--name VALUE` (or `--name=VALUE`) out of `args`; `Ok(None)` when absent.
pub fn take_value(args: &mut Vec<String>, name: &str) -> Result<Option<String>> {
    let prefix = format!("{name}=");
    if let Some(i) = args.iter().position(|a| a == name) {
        if i + 1 >= args.len() {
            return Err(format!("`{name}` needs a value").into());
        }
        let value = args.remove(i + 1);
        args.remove(i);
        return Ok(Some(value));
    }
    if let Some(i) = args.iter().position(|a| a.starts_with(&prefix)) {
        let value = args.remove(i)[prefix.len()..].to_string();
        return Ok(Some(value));
    }
    Ok(None)
}

/// Pulls the flag `name` out of `args`; whether it was there.
pub fn take_flag(args: &mut Vec<String>, name: &str) -> bool {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    }
}

/// Fails on arguments a command did not recognise.
pub fn no_more_args(command: &str, args: &[String]) -> Result<()> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(format!("{command}: unexpected argument(s): {}", args.join(" ")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn take_value_reads_both_spellings_and_removes_them() {
        let mut a = args(&["--only", "sgemm", "--threads=2", "--compare"]);
        assert_eq!(
            take_value(&mut a, "--only").unwrap().as_deref(),
            Some("sgemm")
        );
        assert_eq!(
            take_value(&mut a, "--threads").unwrap().as_deref(),
            Some("2")
        );
        assert_eq!(take_value(&mut a, "--repeat").unwrap(), None);
        assert!(take_flag(&mut a, "--compare"));
        assert!(a.is_empty(), "left over: {a:?}");
    }

    #[test]
    fn take_value_without_a_value_is_an_error_naming_the_flag() {
        let mut a = args(&["--only"]);
        let err = take_value(&mut a, "--only").unwrap_err().to_string();
        assert!(err.contains("--only"), "{err}");
    }

    #[test]
    fn leftover_arguments_are_reported() {
        let err = no_more_args("bench", &args(&["--fast"]))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "bench: unexpected argument(s): --fast");
    }

    #[test]
    fn durations_print_in_minutes_past_a_minute() {
        assert_eq!(format_duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(format_duration(Duration::from_secs(83)), "1m 23.0s");
    }
}
