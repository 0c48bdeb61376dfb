//! Several real ranks (feature `mpi`): this test is its own MPI program. Run by `cargo test`
//! (no `--case` argument), it launches itself under `mpirun -np 2` and `-np 3` once per case and
//! checks each job's exit status and output; run by `mpirun` (`--case NAME`), it is one rank.
//!
//! Without `mpirun` on PATH it says so and passes: `cargo xtask test-all` reports that skip.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_data::Sampler;
use nanotorch_distributed::{
    DdpOptions, DistributedDataParallel, DistributedSampler, MpiGroup, ProcessGroup, ReduceOp,
};
use nanotorch_ndarray_core::{Error, Result};
use nanotorch_nn::{Linear, Module, ReLU, Sequential};
use nanotorch_optim::{Optimizer, SgdOptions, SGD};
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every case, and whether its job must succeed.
const CASES: &[(&str, bool)] = &[
    ("collectives", true),
    ("equivalence", true),
    ("sampler", true),
    ("stall", false),
    ("crash", false),
];

/// A job that has not ended after this long is hung: the test fails instead of waiting.
const JOB_LIMIT: Duration = Duration::from_secs(90);

/// The timeout the ranks of the `stall` case use, far below [`JOB_LIMIT`].
const STALL_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--case") {
        Some(i) => rank_main(args.get(i + 1).map_or("", String::as_str)),
        None => launcher(),
    }
}

// ---------------------------------------------------------------------------------------------
// The launcher (plain `cargo test`).

fn launcher() -> ExitCode {
    if Command::new("mpirun").arg("--version").output().is_err() {
        println!("mpirun: SKIPPED, no `mpirun` on PATH (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)");
        return ExitCode::SUCCESS;
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mpirun");
    std::fs::create_dir_all(&dir).expect("a scratch folder in the target dir");
    let mut failures = Vec::new();
    for np in [2, 3] {
        for &(case, must_succeed) in CASES {
            match run_job(&exe, &dir, np, case, must_succeed) {
                Ok(()) => println!("mpirun -np {np} {case}: ok"),
                Err(why) => {
                    println!("mpirun -np {np} {case}: FAILED\n{why}");
                    failures.push(format!("-np {np} {case}"));
                }
            }
        }
    }
    if failures.is_empty() {
        println!("mpirun: all {} jobs passed", CASES.len() * 2);
        ExitCode::SUCCESS
    } else {
        println!("mpirun: failed: {}", failures.join(", "));
        ExitCode::FAILURE
    }
}

/// Runs one job and checks it: a passing case ends with status 0 and an `ok` line per rank; a
/// failing case ends with a non-zero status, well before [`JOB_LIMIT`], saying why.
fn run_job(
    exe: &Path,
    dir: &Path,
    np: usize,
    case: &str,
    must_succeed: bool,
) -> std::result::Result<(), String> {
    let log = dir.join(format!("{case}-np{np}.log"));
    let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let err_file = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("mpirun")
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            &np.to_string(),
        ])
        .arg(exe)
        .args(["--case", case])
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err_file))
        .spawn()
        .map_err(|e| format!("cannot start mpirun: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > JOB_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "hung: still running after {JOB_LIMIT:?}; killed (log: {})",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    let fail = |why: &str| {
        Err(format!(
            "{why} (exit status {status})\n--- output ---\n{out}"
        ))
    };
    if must_succeed {
        let oks = out
            .lines()
            .filter(|l| l.contains(&format!("{case} ok")))
            .count();
        if !status.success() {
            return fail("the job failed");
        }
        if oks != np {
            return fail(&format!("{oks} of {np} ranks reported ok"));
        }
        return Ok(());
    }
    if status.success() {
        return fail("a rank failed but the job exited successfully");
    }
    let expected = match case {
        // The ranks that waited name the collective, their rank and the timeout.
        "stall" => format!("all_reduce timed out after {STALL_TIMEOUT:?} on rank 0 of {np}"),
        _ => format!("rank {}: simulated failure", np - 1),
    };
    if !out.contains(&expected) {
        return fail(&format!("the output does not say `{expected}`"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// One rank (under mpirun).

fn rank_main(case: &str) -> ExitCode {
    let group = match MpiGroup::init() {
        Ok(g) => Arc::new(g),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match case {
        "collectives" => collectives(&group),
        "equivalence" => equivalence(&group),
        "sampler" => sampler(&group),
        "stall" => stall(&group),
        "crash" => crash(&group),
        other => Err(Error::msg(format!("unknown case `{other}`"))),
    };
    match result {
        Ok(()) => {
            println!("rank {}: {case} ok", group.rank());
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Ends every rank at once: no rank is left waiting in a collective.
            // One write per message, so the ranks' lines do not interleave.
            let line = format!("rank {}: {e}\n", group.rank());
            let _ = std::io::stderr().write_all(line.as_bytes());
            group.abort(1)
        }
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::msg(what()))
    }
}

/// Every collective against values computed by hand from the ranks' inputs.
fn collectives(group: &Arc<MpiGroup>) -> Result<()> {
    let (rank, world) = (group.rank(), group.world_size());
    let sum_of_ranks = (world * (world - 1) / 2) as f64;
    let mut x = vec![rank as f64, 1.0];
    group.all_reduce_slice(&mut x, ReduceOp::Sum)?;
    check(x == [sum_of_ranks, world as f64], || {
        format!("all_reduce sum gave {x:?}")
    })?;
    let t = Tensor::from_vec(vec![rank as f32 * 2.0; 3], [3], &Cpu)?;
    let avg = group.all_reduce(&t, ReduceOp::Avg)?.to_vec()?;
    check(avg == vec![(world - 1) as f32; 3], || {
        format!("all_reduce avg gave {avg:?}")
    })?;
    let mut m = vec![rank as i64, -(rank as i64)];
    group.all_reduce_slice(&mut m, ReduceOp::Max)?;
    check(m == [world as i64 - 1, 0], || {
        format!("all_reduce max gave {m:?}")
    })?;
    let root = world - 1;
    let b = group
        .broadcast(&Tensor::from_vec(vec![rank as u8; 2], [2], &Cpu)?, root)?
        .to_vec()?;
    check(b == [root as u8; 2], || format!("broadcast gave {b:?}"))?;
    let gathered = group.all_gather_slice(&[rank as i64, 10])?;
    let want: Vec<i64> = (0..world as i64).flat_map(|r| [r, 10]).collect();
    check(gathered == want, || format!("all_gather gave {gathered:?}"))?;
    // Rank r contributes r + k at position k; block `rank` of the sum is what this rank gets.
    let data: Vec<f64> = (0..2 * world).map(|k| (rank + k) as f64).collect();
    let block = group.reduce_scatter_slice(&data, ReduceOp::Sum)?;
    let want: Vec<f64> = (2 * rank..2 * rank + 2)
        .map(|k| sum_of_ranks + (world * k) as f64)
        .collect();
    check(block == want, || {
        format!("reduce_scatter gave {block:?}, want {want:?}")
    })?;
    let uneven = group
        .all_gather_slice(&vec![0.0f32; rank + 1])
        .unwrap_err()
        .to_string();
    check(uneven.contains("same length"), || {
        format!("uneven all_gather said: {uneven}")
    })?;
    // Rank 1 wraps another architecture: every rank must refuse, and none may hang.
    let model: Linear = Linear::new(3, if rank == 1 { 5 } else { 4 }, &Cpu)?;
    let msg = match DistributedDataParallel::new(model, Arc::clone(group)) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    check(msg.contains("another model"), || {
        format!("a mismatched model gave: {msg:?}")
    })?;
    group.barrier()
}

fn mlp() -> Result<Sequential> {
    Ok(Sequential::new()
        .append(Linear::new(6, 16, &Cpu)?)
        .append(ReLU)
        .append(Linear::new(16, 4, &Cpu)?))
}

/// Rows `rows` of a fixed regression batch (inputs and targets).
fn rows(rows: std::ops::Range<usize>) -> Result<(Tensor<f32, Cpu>, Tensor<f32, Cpu>)> {
    let n = rows.len();
    let x = rows
        .clone()
        .flat_map(|r| (0..6).map(move |c| ((r * 7 + c * 3) as f32 * 0.31).sin()));
    let y = rows.flat_map(|r| (0..4).map(move |c| ((r + c) as f32 * 0.17).cos()));
    Ok((
        Tensor::from_vec(x.collect(), [n, 6], &Cpu)?,
        Tensor::from_vec(y.collect(), [n, 4], &Cpu)?,
    ))
}

fn mse(
    model: &Sequential,
    (x, y): &(Tensor<f32, Cpu>, Tensor<f32, Cpu>),
) -> Result<Tensor<f32, Cpu>> {
    model.forward(x)?.sub(y)?.square()?.mean_all()
}

/// N steps of DDP on `world` shards of 5 rows each equal N steps of one model on all the rows.
fn equivalence(group: &Arc<MpiGroup>) -> Result<()> {
    const STEPS: usize = 6;
    const PER_RANK: usize = 5;
    let (rank, world) = (group.rank(), group.world_size());
    let opts = SgdOptions {
        lr: 0.1,
        momentum: 0.9,
        ..SgdOptions::default()
    };
    // Each rank starts from its own random weights: DDP must replace them with rank 0's.
    manual_seed(100 + rank as u64);
    let options = DdpOptions {
        bucket_cap_mb: 256.0 / 1048576.0,
        ..DdpOptions::default()
    };
    let ddp = DistributedDataParallel::with_options(mlp()?, Arc::clone(group), options)?;
    check(ddp.buckets().len() > 1, || {
        "the model should span several buckets".into()
    })?;
    let mut opt = SGD::new(ddp.module().parameters(), opts)?;
    let shard = rows(rank * PER_RANK..(rank + 1) * PER_RANK)?;
    manual_seed(100);
    let reference = mlp()?;
    let mut ref_opt = SGD::new(reference.parameters(), opts)?;
    let all = rows(0..world * PER_RANK)?;
    for _ in 0..STEPS {
        opt.zero_grad();
        mse(ddp.module(), &shard)?.backward()?;
        opt.step()?;
        ref_opt.zero_grad();
        mse(&reference, &all)?.backward()?;
        ref_opt.step()?;
    }
    let mut worst = 0.0f32;
    for (p, q) in ddp.module().parameters().iter().zip(reference.parameters()) {
        let (a, b) = (p.to_vec()?, q.to_vec()?);
        worst = a
            .iter()
            .zip(&b)
            .map(|(a, b)| (a - b).abs())
            .fold(worst, f32::max);
        // The replicas must be identical, bit for bit.
        let everyone = group.all_gather_slice(&a)?;
        check(everyone.chunks(a.len()).all(|c| c == a), || {
            "replicas differ".into()
        })?;
    }
    check(worst <= 1e-5, || {
        format!("DDP and the combined-batch run differ by {worst}")
    })?;
    let stats = ddp.comm_stats();
    check(stats.syncs == STEPS as u64, || {
        format!("{} syncs for {STEPS} steps", stats.syncs)
    })?;
    Ok(())
}

/// Over all ranks, each epoch visits the data set exactly once (when it divides), at least once
/// with padding, at most once with drop_last.
fn sampler(group: &MpiGroup) -> Result<()> {
    let (rank, world) = (group.rank(), group.world_size());
    for (len, drop_last) in [(6 * 17, false), (103, false), (103, true)] {
        for epoch in 0..3 {
            let s = DistributedSampler::new(len, world, rank)?
                .seed(7)
                .drop_last(drop_last);
            let mine: Vec<i64> = s.indices(epoch).iter().map(|&i| i as i64).collect();
            let all = group.all_gather_slice(&mine)?;
            let mut counts = vec![0usize; len];
            all.iter().for_each(|&i| counts[i as usize] += 1);
            let ok = match (len % world == 0, drop_last) {
                (true, _) => counts.iter().all(|&c| c == 1),
                (false, false) => {
                    counts.iter().all(|&c| c >= 1) && all.len() == len.div_ceil(world) * world
                }
                (false, true) => counts.iter().all(|&c| c <= 1) && all.len() == len / world * world,
            };
            check(ok, || {
                format!("len {len}, drop_last {drop_last}, epoch {epoch}: counts {counts:?}")
            })?;
        }
    }
    Ok(())
}

/// The last rank never joins the all-reduce: the others must time out, saying so.
fn stall(group: &MpiGroup) -> Result<()> {
    group.set_timeout(STALL_TIMEOUT);
    group.barrier()?;
    if group.rank() == group.world_size() - 1 {
        std::thread::sleep(JOB_LIMIT); // ended by the others' abort long before
        return Ok(());
    }
    let mut x = vec![1.0f32; 4];
    group.all_reduce_slice(&mut x, ReduceOp::Sum)
}

/// The last rank fails before an all-reduce the others are already in.
fn crash(group: &MpiGroup) -> Result<()> {
    group.barrier()?;
    if group.rank() == group.world_size() - 1 {
        return Err(Error::msg("simulated failure"));
    }
    let mut x = vec![1.0f32; 4];
    group.all_reduce_slice(&mut x, ReduceOp::Sum)
}
