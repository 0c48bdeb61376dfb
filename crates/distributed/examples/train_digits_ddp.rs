//! `train_digits` on several processes: the MLP on the bundled 8×8 digits, data-parallel over MPI.
//!
//! ```text
//! cargo build --release -p nanotorch-distributed --features mpi --example train_digits_ddp
//! mpirun -np 2 target/release/examples/train_digits_ddp            # add --allow-run-as-root as root
//! mpirun -np 2 --hostfile hosts target/release/examples/train_digits_ddp   # across machines
//! ```
//!
//! Every rank builds the same model (DDP copies rank 0's weights to the others), reads its own
//! share of each epoch through a `DistributedSampler`, and steps its optimizer on gradients that
//! DDP has averaged over all ranks during backward, so the replicas stay identical. Only rank 0
//! prints. Options: `--epochs N` (default 20), `--batch-size N` per rank (default 32), `--lr X`
//! (default 1e-3), `--seed N`, `--bucket-mb X` (default 25), `--expect-accuracy X` (exit with an
//! error below it). At the end rank 0 reports the mean step time, the share of it spent in
//! gradient communication, and the bytes all-reduced per step.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_data::{datasets, Batch, DataLoader, Dataset, TensorDataset};
use nanotorch_distributed::{
    DdpOptions, DistributedDataParallel, DistributedSampler, MpiGroup, ProcessGroup, ReduceOp,
};
use nanotorch_ndarray_core::{Error, Result};
use nanotorch_nn::functional::cross_entropy;
use nanotorch_nn::{Linear, Module, ReLU, Sequential};
use nanotorch_optim::{Adam, AdamOptions, Optimizer};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    epochs: usize,
    batch_size: usize,
    lr: f64,
    seed: u64,
    bucket_mb: f64,
    expect_accuracy: Option<f64>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        epochs: 20,
        batch_size: 32,
        lr: 1e-3,
        seed: 0,
        bucket_mb: 25.0,
        expect_accuracy: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| Error::msg(format!("{flag} needs a value")))?;
        let bad = |e: &dyn std::fmt::Display| Error::msg(format!("{flag} `{value}`: {e}"));
        match flag.as_str() {
            "--epochs" => args.epochs = value.parse().map_err(|e| bad(&e))?,
            "--batch-size" => args.batch_size = value.parse().map_err(|e| bad(&e))?,
            "--lr" => args.lr = value.parse().map_err(|e| bad(&e))?,
            "--seed" => args.seed = value.parse().map_err(|e| bad(&e))?,
            "--bucket-mb" => args.bucket_mb = value.parse().map_err(|e| bad(&e))?,
            "--expect-accuracy" => args.expect_accuracy = Some(value.parse().map_err(|e| bad(&e))?),
            _ => return Err(Error::msg(format!("unknown option {flag}"))),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let group = match MpiGroup::init() {
        Ok(group) => Arc::new(group),
        Err(e) => {
            eprintln!("train_digits_ddp: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = parse_args().and_then(|args| train(&group, &args)) {
        // One message per line and rank, then end every rank: none is left waiting for this one.
        let line = format!("rank {}: {e}\n", group.rank());
        let _ = std::io::stderr().write_all(line.as_bytes());
        group.abort(1);
    }
    ExitCode::SUCCESS
}

/// Pixel counts 0..=16 scaled to [0, 1].
fn scale(ds: TensorDataset) -> Result<TensorDataset> {
    let features = ds.features().iter().map(|v| v / 16.0).collect();
    TensorDataset::new(features, ds.sample_shape().clone(), ds.labels().to_vec())
}

fn tensors(batch: Batch) -> Result<(Tensor<f32, Cpu>, Tensor<i64, Cpu>)> {
    let n = batch.len();
    let (features, shape, labels) = batch.into_parts();
    let x = Tensor::from_vec(features, shape, &Cpu)?;
    Ok((x, Tensor::from_vec(labels, [n], &Cpu)?))
}

fn train(group: &Arc<MpiGroup>, args: &Args) -> Result<()> {
    let (rank, world) = (group.rank(), group.world_size());
    let say = |text: String| {
        if rank == 0 {
            println!("{text}");
        }
    };
    manual_seed(args.seed);
    let (train, test) = datasets::digits()?;
    let (train, test) = (scale(train)?, scale(test)?);
    let sampler = DistributedSampler::for_group(train.len(), group.as_ref())?.seed(args.seed);
    say(format!(
        "digits: {} training images over {world} rank(s), {} each per epoch; batches of {} per rank",
        train.len(),
        nanotorch_data::Sampler::len(&sampler),
        args.batch_size
    ));
    let loader = DataLoader::new(train, args.batch_size).sampler(sampler);
    let test_loader = DataLoader::new(test, 512);

    let model = Sequential::new()
        .append(Linear::new(64, 128, &Cpu)?)
        .append(ReLU)
        .append(Linear::new(128, 64, &Cpu)?)
        .append(ReLU)
        .append(Linear::new(64, 10, &Cpu)?);
    let options = DdpOptions {
        bucket_cap_mb: args.bucket_mb,
        ..DdpOptions::default()
    };
    let ddp = DistributedDataParallel::with_options(model, Arc::clone(group), options)?;
    let mut optimizer = Adam::new(
        ddp.module().parameters(),
        AdamOptions {
            lr: args.lr,
            ..Default::default()
        },
    )?;
    say(format!(
        "model: {} parameters in {} bucket(s); Adam, lr {}",
        ddp.module().num_parameters(),
        ddp.buckets().len(),
        args.lr
    ));

    let mut step_time = Duration::ZERO;
    let mut steps = 0u64;
    let mut accuracy = 0.0;
    for epoch in 1..=args.epochs {
        let mut loss_sum = [0.0f64, 0.0];
        for batch in loader.iter() {
            let (x, y) = tensors(batch?)?;
            let started = Instant::now();
            optimizer.zero_grad();
            let loss = cross_entropy(&ddp.forward(&x)?, &y)?;
            loss.backward()?; // gradients are averaged over the ranks in here
            optimizer.step()?;
            step_time += started.elapsed();
            steps += 1;
            loss_sum[0] += f64::from(loss.item()?);
            loss_sum[1] += 1.0;
        }
        group.all_reduce_slice(&mut loss_sum, ReduceOp::Sum)?;
        accuracy = evaluate(ddp.module(), &test_loader)?;
        say(format!(
            "epoch {epoch:>3}: train loss {:.4}, test accuracy {:.2}%",
            loss_sum[0] / loss_sum[1],
            100.0 * accuracy
        ));
    }

    let stats = ddp.comm_stats();
    let step_ms = step_time.as_secs_f64() * 1e3 / steps.max(1) as f64;
    // Each rank's own figures, averaged over ranks.
    let mut figures = [
        step_ms,
        stats.comm_time.as_secs_f64() / step_time.as_secs_f64(),
        stats.wait_time.as_secs_f64() / step_time.as_secs_f64(),
    ];
    group.all_reduce_slice(&mut figures, ReduceOp::Avg)?;
    say(format!(
        "{world} rank(s): {steps} steps of {:.3} ms on average; gradient communication {:.1}% of \
         the step ({:.1}% spent blocked at the end of backward); {} bytes all-reduced per step in \
         {} all-reduce(s)",
        figures[0],
        100.0 * figures[1],
        100.0 * figures[2],
        stats.bytes / stats.syncs.max(1),
        stats.all_reduces / stats.syncs.max(1),
    ));
    say(format!("final test accuracy: {:.2}%", 100.0 * accuracy));
    if let Some(want) = args.expect_accuracy {
        if accuracy < want {
            return Err(Error::msg(format!(
                "test accuracy {accuracy:.4} is below the expected {want}"
            )));
        }
    }
    Ok(())
}

/// The fraction of the test set classified correctly (every rank evaluates all of it: the replicas
/// are identical, so they agree).
fn evaluate(model: &Sequential, loader: &DataLoader<TensorDataset>) -> Result<f64> {
    let _no_grad = nanotorch_autograd::no_grad_guard();
    let (mut correct, mut seen) = (0usize, 0usize);
    for batch in loader.iter() {
        let (x, y) = tensors(batch?)?;
        let predicted = model.forward(&x)?.argmax(Some(1), false)?.to_vec()?;
        correct += predicted
            .iter()
            .zip(y.to_vec()?)
            .filter(|(p, l)| **p == *l)
            .count();
        seen += predicted.len();
    }
    Ok(correct as f64 / seen.max(1) as f64)
}
