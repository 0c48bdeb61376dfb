//! CUDA tasks: `ptx` (kernels/*.cu to PTX) and `test-cuda`. Owned by the backend-cuda work.
//!
//! - `cargo xtask ptx [--check] [--install-nvcc]` writes `kernels/generated/ops.cuh` from the
//!   op tables (see `ops_header`), then compiles every `kernels/*.cu` to PTX for the
//!   virtual architecture `compute_75` into `crates/backend-cuda/ptx/`, where it is committed and
//!   embedded, then assembles each PTX with `ptxas` for sm_80 and sm_90 as a check. `--check`
//!   compiles into a temporary folder instead and fails when a committed file differs.
//!   `--install-nvcc` first creates `.venv-nvcc` with the pinned PyPI wheels of nvcc 13.0.
//! - `cargo xtask test-cuda [--build-only]` builds the backend's tests with the `cuda` feature,
//!   linking against a stub `libcuda.so.1` generated from the wheel's `cuda.h` (every driver
//!   entry point returns CUDA_ERROR_NO_DEVICE), and runs them with that stub, so they take the
//!   skip path here and load the real driver on a GPU machine (where a system libcuda.so.1
//!   exists, the stub is used only to link).
//! - `cargo xtask test-cuda --bundle DIR` builds those tests and the device benchmark here (against
//!   the stub) into a self-contained folder with a `run.sh` for a machine with only an NVIDIA
//!   driver (see [`bundle`]).
//! - `cargo xtask bench --device cuda` runs [`bench_device`] first (GPU-sized cases next to the
//!   copy bandwidth) and, when it finds a GPU, the facade's workloads on cuda.

mod ops_header;

mod bundle;

use crate::util::{cargo, root, run, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The virtual architecture the PTX targets: old enough for Turing and later.
const VIRTUAL_ARCH: &str = "compute_75";
/// Real architectures each PTX is assembled for, as a check that the driver's JIT will accept it.
const CHECK_ARCHS: [&str; 2] = ["sm_80", "sm_90"];
/// The pinned wheels `--install-nvcc` installs, and nothing else.
const NVCC_WHEELS: [&str; 4] = [
    "nvidia-cuda-nvcc==13.0.88",
    "nvidia-cuda-crt==13.0.88",
    "nvidia-nvvm==13.0.88",
    "nvidia-cuda-runtime==13.0.96",
];

/// `cargo xtask ptx [--check] [--install-nvcc]`.
pub fn ptx(args: &[String]) -> Result<()> {
    let mut check = false;
    let mut install = false;
    for a in args {
        match a.as_str() {
            "--check" => check = true,
            "--install-nvcc" => install = true,
            other => return Err(format!("ptx: unknown argument `{other}`").into()),
        }
    }
    if install {
        install_nvcc()?;
    }
    ops_header::write_or_check(check)?;
    let bin = find_nvcc_bin().ok_or(
        "ptx: nvcc not found on PATH, under CUDA_HOME/bin, or in .venv-nvcc \
         (run `cargo xtask ptx --install-nvcc`)",
    )?;
    if check {
        let tmp = root().join("target/ptx-check");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        compile_all(&bin, &tmp)?;
        compare_dirs(&tmp, &ptx_dir())
    } else {
        compile_all(&bin, &ptx_dir())
    }
}

/// `cargo xtask test-cuda [--build-only] [--bundle DIR]`.
pub fn test_cuda(args: &[String]) -> Result<()> {
    let mut build_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--build-only" => build_only = true,
            "--bundle" => {
                let dir = it.next().ok_or("test-cuda: --bundle needs a folder")?;
                return bundle::bundle(std::path::Path::new(dir));
            }
            other => return Err(format!("test-cuda: unknown argument `{other}`").into()),
        }
    }
    let stub = make_libcuda_stub()?;
    let mut cmd = cargo();
    cmd.args(["test", "-p", "nanotorch-backend-cuda", "--features", "cuda"])
        .env("CUDA_LIBRARY_PATH", &stub);
    // Run against the stub only where the system has no driver: on a GPU machine the same
    // binaries load the real libcuda.so.1 (the stub only stood in at link time).
    if !system_has_libcuda() {
        cmd.env("LD_LIBRARY_PATH", join_path(&stub.join("lib64")));
    }
    if build_only {
        cmd.arg("--no-run");
    } else {
        // Show each test's SKIPPED line.
        cmd.args(["--", "--nocapture"]);
    }
    run(&mut cmd)
}

/// Sets up `cmd` (a cargo build of something with the `cuda` feature) to link: unless the caller
/// chose a CUDA_LIBRARY_PATH, it links against the generated stub, and runs against it only
/// where the system has no libcuda.so.1 (so a GPU machine runs on its real driver). Without
/// `cuda.h` for the stub, `cmd` is left as it is (a CUDA toolkit then has to be found by cust).
pub fn link_env(cmd: &mut Command) -> Result<()> {
    if std::env::var_os("CUDA_LIBRARY_PATH").is_some() || find_cuda_include().is_none() {
        return Ok(());
    }
    let stub = make_libcuda_stub()?;
    cmd.env("CUDA_LIBRARY_PATH", &stub);
    if !system_has_libcuda() {
        cmd.env("LD_LIBRARY_PATH", join_path(&stub.join("lib64")));
    }
    Ok(())
}

/// The GPU part of `cargo xtask bench --device cuda`: `nanotorch-backend-cuda`'s `device` bench
/// (copy bandwidth, sgemm up to 4096, element-wise at 16M and 256M, reductions), its lines
/// echoed. Returns false when it skipped (no GPU), after saying so.
pub fn bench_device(only: Option<&str>, repeat: Option<&str>) -> Result<bool> {
    let mut cmd = cargo();
    cmd.args([
        "bench",
        "-p",
        "nanotorch-backend-cuda",
        "--features",
        "cuda",
        "--bench",
        "device",
        "--",
    ]);
    if let Some(only) = only {
        cmd.args(["--only", only]);
    }
    if let Some(r) = repeat {
        cmd.args(["--repeat", r]);
    }
    link_env(&mut cmd)?;
    let out = crate::util::output(&mut cmd)?;
    print!("{out}");
    if out.lines().any(|l| l.starts_with("SKIPPED")) {
        println!(
            "bench --device cuda: no GPU here, so the facade's workloads on cuda are skipped too"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Whether the dynamic loader can find a system libcuda.so.1 (an NVIDIA driver is installed).
fn system_has_libcuda() -> bool {
    let cached = Command::new("ldconfig")
        .arg("-p")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("libcuda.so.1"))
        .unwrap_or(false);
    cached
        || [
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            "/usr/lib/aarch64-linux-gnu/libcuda.so.1",
            "/usr/lib64/libcuda.so.1",
            "/usr/lib/wsl/lib/libcuda.so.1",
        ]
        .iter()
        .any(|p| Path::new(p).is_file())
}

/// The CUDA steps of `test-all`: the PTX freshness check when nvcc is at hand (saying plainly
/// when it is skipped) and a type-check of `nanotorch-backend-cuda --features cuda`.
pub fn test_all_steps() -> Result<()> {
    if find_nvcc_bin().is_some() {
        ptx(&["--check".to_string()])?;
    } else {
        println!(
            "SKIPPED: `cargo xtask ptx --check` (no nvcc on PATH, under CUDA_HOME or in \
             .venv-nvcc; `cargo xtask ptx --install-nvcc` provides one)"
        );
    }
    let stub = empty_cuda_library_path()?;
    run(cargo()
        .args([
            "check",
            "-p",
            "nanotorch-backend-cuda",
            "--features",
            "cuda",
            "--all-targets",
        ])
        .env("CUDA_LIBRARY_PATH", &stub))
}

/// Where the committed PTX lives.
fn ptx_dir() -> PathBuf {
    root().join("crates/backend-cuda/ptx")
}

/// The folder holding nvcc and ptxas: PATH, then CUDA_HOME/bin, then the pinned venv.
fn find_nvcc_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("nvcc").is_file() {
                return Some(dir);
            }
        }
    }
    if let Some(home) = std::env::var_os("CUDA_HOME") {
        let dir = PathBuf::from(home).join("bin");
        if dir.join("nvcc").is_file() {
            return Some(dir);
        }
    }
    venv_cuda_root()
        .map(|r| r.join("bin"))
        .filter(|d| d.join("nvcc").is_file())
}

/// `.venv-nvcc/lib/python3.*/site-packages/nvidia/cu13`, if the venv exists.
fn venv_cuda_root() -> Option<PathBuf> {
    let lib = root().join(".venv-nvcc/lib");
    let mut entries: Vec<PathBuf> = fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    entries
        .into_iter()
        .map(|p| p.join("site-packages/nvidia/cu13"))
        .find(|p| p.is_dir())
}

/// Creates `.venv-nvcc` and installs exactly the pinned wheels into it.
fn install_nvcc() -> Result<()> {
    let venv = root().join(".venv-nvcc");
    if !venv.join("bin/pip").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet"])
        .args(NVCC_WHEELS))
}

/// The kernel sources, sorted.
fn kernel_sources() -> Result<Vec<PathBuf>> {
    let mut cu: Vec<PathBuf> = fs::read_dir(root().join("kernels"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cu"))
        .collect();
    cu.sort();
    if cu.is_empty() {
        return Err("ptx: no kernels/*.cu found".into());
    }
    Ok(cu)
}

/// Compiles every kernel to `out/<stem>.ptx` and assembles each for the check architectures.
fn compile_all(bin: &Path, out: &Path) -> Result<()> {
    fs::create_dir_all(out)?;
    let scratch = root().join("target/ptxas-check");
    fs::create_dir_all(&scratch)?;
    for src in kernel_sources()? {
        let stem = src
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let ptx = out.join(format!("{stem}.ptx"));
        run(Command::new(bin.join("nvcc"))
            .current_dir(root())
            .args([
                "-ptx",
                "-std=c++17",
                "-O3",
                &format!("-arch={VIRTUAL_ARCH}"),
            ])
            .arg("-o")
            .arg(&ptx)
            .arg(&src))?;
        for arch in CHECK_ARCHS {
            run(Command::new(bin.join("ptxas"))
                .arg(format!("-arch={arch}"))
                .arg("-o")
                .arg(scratch.join(format!("{stem}.{arch}.cubin")))
                .arg(&ptx))?;
        }
    }
    Ok(())
}

/// Fails unless every `.ptx` in `fresh` equals the committed one, and no committed one is extra.
fn compare_dirs(fresh: &Path, committed: &Path) -> Result<()> {
    let mut stale = Vec::new();
    let list = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".ptx"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let (a, b) = (list(fresh), list(committed));
    for name in &a {
        let new = fs::read(fresh.join(name))?;
        if fs::read(committed.join(name)).ok().as_deref() != Some(&new[..]) {
            stale.push(name.clone());
        }
    }
    for name in b.iter().filter(|n| !a.contains(n)) {
        stale.push(format!("{name} (no source)"));
    }
    if stale.is_empty() {
        println!("ptx --check: {} committed PTX files are fresh", a.len());
        Ok(())
    } else {
        Err(format!(
            "ptx --check: stale PTX in crates/backend-cuda/ptx: {} (run `cargo xtask ptx`)",
            stale.join(", ")
        )
        .into())
    }
}

/// A CUDA_LIBRARY_PATH with an empty `lib64/`: all cust's build script needs to type-check.
fn empty_cuda_library_path() -> Result<PathBuf> {
    let dir = root().join("target/cuda-stub");
    fs::create_dir_all(dir.join("lib64"))?;
    Ok(dir)
}

/// Builds `target/cuda-libstub/lib64/libcuda.so.1` (+ `libcuda.so`): every `cu*` function of
/// the wheel's `cuda.h`, each returning 100 (CUDA_ERROR_NO_DEVICE).
fn make_libcuda_stub() -> Result<PathBuf> {
    let include = find_cuda_include().ok_or(
        "test-cuda: cuda.h not found (CUDA_HOME/include or .venv-nvcc; \
         run `cargo xtask ptx --install-nvcc`)",
    )?;
    let dir = root().join("target/cuda-libstub");
    let lib64 = dir.join("lib64");
    fs::create_dir_all(&lib64)?;
    let pre = Command::new("gcc")
        .args(["-E", "-P", "-x", "c"])
        .arg(format!("-I{}", include.display()))
        .arg(include.join("cuda.h"))
        .output()
        .map_err(|e| format!("test-cuda: cannot run gcc: {e}"))?;
    if !pre.status.success() {
        return Err("test-cuda: gcc -E cuda.h failed".into());
    }
    let text = String::from_utf8_lossy(&pre.stdout);
    let names = cu_function_names(&text);
    if names.is_empty() {
        return Err("test-cuda: found no cu* functions in cuda.h".into());
    }
    let mut c = String::from(
        "/* Generated by `cargo xtask test-cuda`: every CUDA driver entry point returns\n   \
         CUDA_ERROR_NO_DEVICE (100), so binaries link here and take their no-GPU path. */\n",
    );
    for n in &names {
        c.push_str(&format!("int {n}(void) {{ return 100; }}\n"));
    }
    let src = dir.join("libcuda_stub.c");
    fs::write(&src, c)?;
    let so = lib64.join("libcuda.so.1");
    run(Command::new("gcc")
        .args(["-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o"])
        .arg(&so)
        .arg(&src))?;
    let link = lib64.join("libcuda.so");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink("libcuda.so.1", &link)?;
    println!(
        "test-cuda: stub {} with {} entry points",
        so.display(),
        names.len()
    );
    Ok(dir)
}

/// The folder holding `cuda.h`.
fn find_cuda_include() -> Option<PathBuf> {
    let home = std::env::var_os("CUDA_HOME").map(|h| PathBuf::from(h).join("include"));
    home.into_iter()
        .chain(venv_cuda_root().map(|r| r.join("include")))
        .find(|d| d.join("cuda.h").is_file())
}

/// Every identifier `cu…` that is declared as a function (followed by `(`) in preprocessed C.
fn cu_function_names(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut names = std::collections::BTreeSet::new();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            let mut j = i;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let prev_ok = start == 0 || !is_ident(bytes[start - 1]);
            if prev_ok
                && word.starts_with("cu")
                && word.len() > 2
                && word.as_bytes()[2].is_ascii_uppercase()
                && j < bytes.len()
                && bytes[j] == b'('
            {
                names.insert(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    names.into_iter().collect()
}

/// `dir` prepended to the current LD_LIBRARY_PATH.
fn join_path(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_owned())
}
