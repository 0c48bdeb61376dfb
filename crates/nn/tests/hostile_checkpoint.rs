//! Hostile and careless checkpoint files, each built byte by byte here: every one must give a
//! clear error (or load correctly) while the loader's memory stays within a small constant times
//! the file's size. Memory is measured exactly, with a counting allocator that keeps a per-thread
//! tally (so tests running in parallel do not disturb each other), never by timing.
//!
//! Also the save side: killed saves' leftovers, symlinks, permission bits.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::StateDict;
use nanotorch_nn::{load_safetensors, parse_safetensors, save_safetensors, to_safetensors_bytes};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

#[path = "../../data/tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::peak_bytes;

/// The bound the loader promises: parsing a file allocates at most this many times its size
/// (the file itself is the caller's and not counted). Measured worst cases are in the tests.
const MEMORY_FACTOR: usize = 16;

// ---- Building files by hand ------------------------------------------------------------------

/// A safetensors file: the length, `header`, then `data`.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn entry(name: &str, dtype: &str, shape: &[usize], begin: usize, end: usize) -> String {
    format!(r#""{name}":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[{begin},{end}]}}"#)
}

/// Parses `bytes` as f32, returning the error text (panics if it loads), and checks the memory
/// bound on the way.
fn error_of(bytes: &[u8]) -> String {
    let (result, peak) = peak_bytes(|| parse_safetensors::<f32, Cpu>(bytes, "hostile", &Cpu));
    assert!(
        peak <= MEMORY_FACTOR * bytes.len().max(4096),
        "{peak} bytes allocated for a {}-byte file",
        bytes.len()
    );
    match result {
        Ok(state) => panic!("loaded {} tensors, expected an error", state.len()),
        Err(e) => e.to_string(),
    }
}

// ---- Layout: overlap, gaps, trailing bytes -----------------------------------------------------

#[test]
fn overlapping_byte_ranges_are_refused() {
    let header = format!(
        "{{{},{}}}",
        entry("a", "F32", &[2], 0, 8),
        entry("b", "F32", &[2], 4, 12)
    );
    let e = error_of(&file(&header, &[0; 12]));
    assert!(
        e.contains("tensor `b`") && e.contains("without overlap or gap"),
        "{e}"
    );
}

#[test]
fn two_tensors_over_the_same_bytes_are_refused() {
    let header = format!(
        "{{{},{}}}",
        entry("a", "F32", &[2], 0, 8),
        entry("b", "F32", &[2], 0, 8)
    );
    let e = error_of(&file(&header, &[0; 8]));
    assert!(e.contains("without overlap or gap"), "{e}");
}

#[test]
fn a_gap_between_tensors_is_refused() {
    let header = format!(
        "{{{},{}}}",
        entry("a", "F32", &[1], 0, 4),
        entry("b", "F32", &[1], 8, 12)
    );
    let e = error_of(&file(&header, &[0; 12]));
    assert!(
        e.contains("tensor `b`") && e.contains("without overlap or gap"),
        "{e}"
    );
    // A first tensor that does not start at 0 leaves a gap too.
    let header = format!("{{{}}}", entry("a", "F32", &[1], 4, 8));
    let e = error_of(&file(&header, &[0; 8]));
    assert!(e.contains("tensor `a`"), "{e}");
}

#[test]
fn trailing_bytes_are_refused() {
    let header = format!("{{{}}}", entry("a", "F32", &[1], 0, 4));
    let e = error_of(&file(&header, &[0; 5]));
    assert!(e.contains("trailing bytes"), "{e}");
}

#[test]
fn three_thousand_tensors_over_one_block_fail_without_growing_memory() {
    // The probe's file: 3,000 tensors of 1 Mi f32 each, all over the same 4 MiB (a 4.4 MB file
    // that used to make the loader allocate 12 GB and abort).
    let n = 1 << 20;
    let entries: Vec<String> = (0..3000)
        .map(|i| entry(&format!("t{i}"), "F32", &[n], 0, 4 * n))
        .collect();
    let bytes = file(&format!("{{{}}}", entries.join(",")), &vec![0u8; 4 * n]);
    let (e, peak) = peak_bytes(|| error_of(&bytes));
    assert!(e.contains("without overlap or gap"), "{e}");
    assert!(
        peak < 2 * bytes.len(),
        "{peak} bytes for a {}-byte file",
        bytes.len()
    );
}

// ---- Names, ranks, counts ----------------------------------------------------------------------

#[test]
fn a_name_given_twice_is_refused() {
    // Same name, same bytes: a hash-map parser keeps one entry and sees a valid file.
    let header = format!(
        "{{{},{}}}",
        entry("w", "F32", &[1], 0, 4),
        entry("w", "F32", &[1], 0, 4)
    );
    let e = error_of(&file(&header, &[0; 4]));
    assert!(e.contains("`w` appears twice"), "{e}");
}

#[test]
fn an_absurd_rank_is_refused() {
    let shape = vec![1usize; 100_000];
    let header = format!("{{{}}}", entry("w", "F32", &shape, 0, 4));
    let e = error_of(&file(&header, &[0; 4]));
    assert!(e.contains("`w`") && e.contains("100000 axes"), "{e}");
}

#[test]
fn fifty_thousand_empty_tensors_stay_within_the_memory_bound() {
    // Legal, but each entry costs a tensor: the load must stay within the bound all the same.
    let entries: Vec<String> = (0..50_000)
        .map(|i| entry(&format!("e{i}"), "F32", &[0], 0, 0))
        .collect();
    let bytes = file(&format!("{{{}}}", entries.join(",")), &[]);
    let (state, peak) = peak_bytes(|| parse_safetensors::<f32, Cpu>(&bytes, "empty", &Cpu));
    assert_eq!(state.unwrap().len(), 50_000);
    assert!(
        peak <= MEMORY_FACTOR * bytes.len(),
        "{peak} bytes for a {}-byte file ({:.1}x)",
        bytes.len(),
        peak as f64 / bytes.len() as f64
    );
}

// ---- The header length and the file length ----------------------------------------------------

#[test]
fn header_lengths_beyond_the_file_or_the_limit_are_refused_before_reading() {
    let mut bytes = file("{}", &[]);
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(error_of(&bytes).contains("100000000-byte limit"));
    bytes[..8].copy_from_slice(&(1u64 << 20).to_le_bytes());
    let e = error_of(&bytes);
    assert!(
        e.contains("header length 1048576 exceeds the 2 bytes after it"),
        "{e}"
    );
    assert!(error_of(&[1, 2, 3]).contains("too short"));

    // From a file: the 8-byte prefix is checked against the file's length before the file is
    // read, so a 16-byte file declaring a 90 MB header costs almost nothing.
    let dir = scratch("length");
    let path = dir.join("bad.safetensors");
    let mut small = (90_000_000u64).to_le_bytes().to_vec();
    small.extend_from_slice(b"{}      ");
    std::fs::write(&path, &small).unwrap();
    let (result, peak) = peak_bytes(|| load_safetensors::<f32, Cpu>(&path, &Cpu));
    let e = result.unwrap_err().to_string();
    assert!(
        e.contains("bad.safetensors") && e.contains("exceeds the 8 bytes"),
        "{e}"
    );
    assert!(peak < 64 * 1024, "{peak} bytes allocated");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Dtypes ------------------------------------------------------------------------------------

#[test]
fn i64_converts_only_when_exact() {
    let one = |v: i64| {
        file(
            &format!("{{{}}}", entry("n", "I64", &[], 0, 8)),
            &v.to_le_bytes(),
        )
    };
    // PyTorch's BatchNorm counter: small, exact in both float types.
    let state = parse_safetensors::<f32, Cpu>(&one(7), "bn", &Cpu).unwrap();
    assert_eq!(state["n"].item().unwrap(), 7.0);
    // 2^24 + 1 has no f32 value; 2^53 + 1 has no f64 value: errors, not silent rounding.
    let e = error_of(&one((1 << 24) + 1));
    assert!(
        e.contains("tensor `n`") && e.contains("16777217") && e.contains("f32"),
        "{e}"
    );
    let e = parse_safetensors::<f64, Cpu>(&one((1 << 53) + 1), "bn", &Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no exact f64 value"), "{e}");
    let e = error_of(&one(i64::MAX));
    assert!(e.contains("9223372036854775807"), "{e}");
    assert!(parse_safetensors::<f64, Cpu>(&one(1 << 53), "bn", &Cpu).is_ok());
}

#[test]
fn unsupported_dtypes_are_named() {
    let header = format!("{{{}}}", entry("half", "F16", &[2], 0, 4));
    let e = error_of(&file(&header, &[0; 4]));
    assert!(
        e.contains("`half`") && e.contains("F16 is not supported"),
        "{e}"
    );
    let header = format!("{{{}}}", entry("x", "Q4", &[2], 0, 4));
    let e = error_of(&file(&header, &[0; 4]));
    assert!(e.contains("`x`") && e.contains("Q4"), "{e}");
}

// ---- Random damage to a valid checkpoint -------------------------------------------------------

/// A small valid checkpoint with three tensors.
fn valid_checkpoint() -> Vec<u8> {
    let mut state: StateDict<f32, Cpu> = StateDict::new();
    state.insert(
        "a.weight".into(),
        Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], &Cpu).unwrap(),
    );
    state.insert(
        "a.bias".into(),
        Tensor::from_vec(vec![0.5, -0.5], [2], &Cpu).unwrap(),
    );
    state.insert("scale".into(), Tensor::scalar(3.0, &Cpu).unwrap());
    to_safetensors_bytes(&state).unwrap()
}

proptest! {
    // The stable stand-in for the `safetensors` fuzz target: every damaged file loads or fails
    // with an error, never a panic, and within the memory bound.
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn damaged_checkpoints_load_or_fail_cleanly(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        cutting in any::<bool>(),
        extra in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut bytes = valid_checkpoint();
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if cutting {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        bytes.extend_from_slice(&extra);
        let (result, peak) = peak_bytes(|| parse_safetensors::<f64, Cpu>(&bytes, "fuzz", &Cpu));
        prop_assert!(peak <= MEMORY_FACTOR * bytes.len().max(4096), "{peak} bytes");
        if let Err(e) = result {
            prop_assert!(e.to_string().starts_with("safetensors fuzz: "), "{e}");
        }
    }
}

#[test]
fn the_valid_checkpoint_round_trips() {
    let state = parse_safetensors::<f32, Cpu>(&valid_checkpoint(), "ok", &Cpu).unwrap();
    assert_eq!(state["a.weight"].dims(), &[2, 3]);
    assert_eq!(state["a.bias"].to_vec().unwrap(), vec![0.5, -0.5]);
    assert_eq!(state["scale"].item().unwrap(), 3.0);
    // Edge shapes the writer must encode as the reader expects: no tensors, an empty tensor.
    let empty: StateDict<f64, Cpu> = StateDict::new();
    let bytes = to_safetensors_bytes(&empty).unwrap();
    assert!(parse_safetensors::<f64, Cpu>(&bytes, "none", &Cpu)
        .unwrap()
        .is_empty());
    let mut one = StateDict::new();
    one.insert(
        "e".to_string(),
        Tensor::<f64, Cpu>::zeros([3, 0], &Cpu).unwrap(),
    );
    let back = parse_safetensors::<f64, Cpu>(&to_safetensors_bytes(&one).unwrap(), "e", &Cpu);
    assert_eq!(back.unwrap()["e"].dims(), &[3, 0]);
}

// ---- Saving: leftovers, symlinks, permission bits ----------------------------------------------

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nanotorch-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn small_state(v: f32) -> StateDict<f32, Cpu> {
    let mut state = StateDict::new();
    state.insert("w".into(), Tensor::from_vec(vec![v; 4], [4], &Cpu).unwrap());
    state
}

fn saved_value(path: &Path) -> f32 {
    load_safetensors::<f32, Cpu>(path, &Cpu).unwrap()["w"]
        .to_vec()
        .unwrap()[0]
}

#[test]
#[cfg(target_os = "linux")]
fn a_killed_saves_temp_file_is_removed_by_the_next_save() {
    let dir = scratch("stale");
    let path = dir.join("model.safetensors");
    // A process that has exited: its PID is free, so its temp file is a leftover.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.join(format!(".model.safetensors.tmp-{dead}-0"));
    std::fs::write(&stale, vec![0u8; 1 << 16]).unwrap();
    // A live process (PID 1 always is), maybe mid-save: its file must stay.
    let live = dir.join(".model.safetensors.tmp-1-0");
    std::fs::write(&live, b"in progress").unwrap();
    // Another checkpoint's leftover in the same folder is not this save's business.
    let other = dir.join(format!(".other.safetensors.tmp-{dead}-0"));
    std::fs::write(&other, b"x").unwrap();

    save_safetensors(&small_state(1.0), &path).unwrap();
    assert!(
        !stale.exists(),
        "the dead process's temp file is still there"
    );
    assert!(live.exists() && other.exists());
    assert_eq!(saved_value(&path), 1.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg(unix)]
fn saving_through_a_symlink_updates_its_target_and_keeps_the_link() {
    let dir = scratch("symlink");
    std::fs::create_dir_all(dir.join("run-7")).unwrap();
    let target = dir.join("run-7/model.safetensors");
    let link = dir.join("latest.safetensors");
    save_safetensors(&small_state(1.0), &target).unwrap();
    std::os::unix::fs::symlink("run-7/model.safetensors", &link).unwrap();
    save_safetensors(&small_state(2.0), &link).unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(saved_value(&target), 2.0);
    // No temp file left next to the link or the target.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    assert_eq!(std::fs::read_dir(dir.join("run-7")).unwrap().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg(unix)]
fn saving_keeps_the_files_permission_bits() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("mode");
    let path = dir.join("model.safetensors");
    save_safetensors(&small_state(1.0), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    save_safetensors(&small_state(2.0), &path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(saved_value(&path), 2.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_save_keeps_the_old_checkpoint() {
    let dir = scratch("failed");
    let path = dir.join("model.safetensors");
    save_safetensors(&small_state(1.0), &path).unwrap();
    // A folder cannot be renamed over by a file: the save fails after writing the temp file.
    let blocked = dir.join("blocked");
    std::fs::create_dir_all(blocked.join("inner")).unwrap();
    let e = save_safetensors(&small_state(2.0), &blocked)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("save_safetensors") && e.contains("blocked"),
        "{e}"
    );
    assert_eq!(saved_value(&path), 1.0);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
