//! DistributedDataParallel on one process: buckets, the overlap of all-reduces with backward,
//! no_sync and unused parameters. (Several ranks: `tests/mpirun.rs`, feature `mpi`.)

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_distributed::{
    DdpOptions, DistributedDataParallel, LocalGroup, ProcessGroup, ReduceOp, Result, Work,
};
use nanotorch_ndarray_core::Element;
use nanotorch_nn::{Linear, Module, ReLU, Sequential, Visitor};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn mlp() -> Result<Sequential> {
    Ok(Sequential::new()
        .append(Linear::new(4, 8, &Cpu)?)
        .append(ReLU)
        .append(Linear::new(8, 3, &Cpu)?))
}

fn batch() -> Result<Tensor<f32, Cpu>> {
    Tensor::from_vec(
        (0..20).map(|i| (i as f32 * 0.37).sin()).collect(),
        [5, 4],
        &Cpu,
    )
}

fn grads(m: &impl Module) -> Vec<Vec<f32>> {
    m.parameters()
        .iter()
        .map(|p| p.grad().unwrap().to_vec().unwrap())
        .collect()
}

/// A world of one that logs the collectives it runs, so a test can see when they start.
#[derive(Default)]
struct Recording {
    log: Arc<Mutex<Vec<String>>>,
}

impl ProcessGroup for Recording {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn all_reduce_start<E: Element>(&self, data: Vec<E>, op: ReduceOp) -> Result<Work<E>> {
        self.log
            .lock()
            .unwrap()
            .push(format!("all_reduce {op:?} {}", data.len()));
        Ok(Work::completed(data))
    }
    fn broadcast_slice<E: Element>(&self, data: &mut [E], root: usize) -> Result<()> {
        LocalGroup::new().broadcast_slice(data, root)
    }
    fn all_gather_slice<E: Element>(&self, data: &[E]) -> Result<Vec<E>> {
        Ok(data.to_vec())
    }
    fn reduce_scatter_slice<E: Element>(&self, data: &[E], _: ReduceOp) -> Result<Vec<E>> {
        Ok(data.to_vec())
    }
    fn barrier(&self) -> Result<()> {
        Ok(())
    }
}

#[test]
fn one_rank_gradients_equal_plain_backward() -> Result<()> {
    manual_seed(1);
    let plain = mlp()?;
    plain.forward(&batch()?)?.square()?.mean_all()?.backward()?;
    manual_seed(1);
    let ddp = DistributedDataParallel::new(mlp()?, Arc::new(LocalGroup::new()))?;
    ddp.forward(&batch()?)?.square()?.mean_all()?.backward()?;
    assert_eq!(grads(ddp.module()), grads(&plain));
    let stats = ddp.comm_stats();
    assert_eq!((stats.syncs, stats.all_reduces), (1, 1)); // 4·8+8+8·3+3 floats fit one bucket
    assert_eq!(stats.bytes, (4 * 8 + 8 + 8 * 3 + 3) * 4);
    Ok(())
}

#[test]
fn buckets_follow_reverse_registration_order_and_the_cap() -> Result<()> {
    // 40 floats = 160 bytes per bucket: fc2 (24 + 3) fits one, fc1's weight (32) another.
    let cap_mb = 160.0 / 1048576.0;
    let options = DdpOptions {
        bucket_cap_mb: cap_mb,
        ..DdpOptions::default()
    };
    let ddp = DistributedDataParallel::with_options(mlp()?, Arc::new(LocalGroup::new()), options)?;
    let buckets = ddp.buckets();
    let flat: Vec<String> = buckets.concat();
    let mut names: Vec<String> = ddp
        .module()
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.reverse();
    assert_eq!(flat, names, "every parameter once, last registered first");
    let sizes: std::collections::HashMap<String, usize> = ddp
        .module()
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.numel()))
        .collect();
    for b in &buckets {
        let total: usize = b.iter().map(|n| sizes[n]).sum();
        assert!(
            total <= 40 || b.len() == 1,
            "bucket {b:?} holds {total} floats"
        );
    }
    assert!(buckets.len() >= 2);
    Ok(())
}

#[test]
fn the_last_layer_bucket_starts_before_backward_reaches_the_first_layer() -> Result<()> {
    let group = Recording::default();
    let log = Arc::clone(&group.log);
    // 27 floats per bucket: the last layer (8·3 + 3) exactly fills the first one.
    let options = DdpOptions {
        bucket_cap_mb: 27.0 * 4.0 / 1048576.0,
        ..DdpOptions::default()
    };
    let ddp = DistributedDataParallel::with_options(mlp()?, Arc::new(group), options)?;
    assert_eq!(ddp.buckets()[0], ["2.bias", "2.weight"]);
    let first_weight = ddp.module().parameters()[0].clone();
    let seen = Arc::clone(&log);
    let _h = first_weight.register_post_accumulate_grad_hook(move |_| {
        seen.lock().unwrap().push("first layer ready".into());
        Ok(())
    })?;
    ddp.forward(&batch()?)?.square()?.mean_all()?.backward()?;
    let log = log.lock().unwrap().clone();
    let position = |e: &str| log.iter().position(|x| x == e);
    assert!(
        position("all_reduce Avg 27") < position("first layer ready"),
        "the last layer's all-reduce did not start while backward was still running: {log:?}"
    );
    assert_eq!(
        log.iter().filter(|e| e.starts_with("all_reduce")).count(),
        ddp.buckets().len()
    );
    Ok(())
}

#[test]
fn no_sync_accumulates_locally_then_one_sync_averages_the_sum() -> Result<()> {
    manual_seed(2);
    let plain = mlp()?;
    let x = batch()?;
    let y = x.mul(0.5)?;
    plain.forward(&x)?.sum_all()?.backward()?;
    plain.forward(&y)?.sum_all()?.backward()?;
    manual_seed(2);
    let ddp = DistributedDataParallel::new(mlp()?, Arc::new(LocalGroup::new()))?;
    {
        let _guard = ddp.no_sync();
        ddp.forward(&x)?.sum_all()?.backward()?;
    }
    assert_eq!(ddp.comm_stats().all_reduces, 0);
    ddp.forward(&y)?.sum_all()?.backward()?;
    assert_eq!(ddp.comm_stats().syncs, 1);
    assert_eq!(grads(ddp.module()), grads(&plain));
    Ok(())
}

/// Two linear layers of which the forward uses only the first.
struct HalfUsed {
    used: Linear,
    unused: Linear,
}

impl Module for HalfUsed {
    fn visit<'a>(&'a self, v: &mut Visitor<'a>) {
        v.module("used", &self.used);
        v.module("unused", &self.unused);
    }
}

fn half_used() -> Result<HalfUsed> {
    Ok(HalfUsed {
        used: Linear::new(4, 2, &Cpu)?,
        unused: Linear::new(4, 2, &Cpu)?,
    })
}

#[test]
fn an_unused_parameter_is_a_clear_error_unless_asked_to_find_it() -> Result<()> {
    let ddp = DistributedDataParallel::new(half_used()?, Arc::new(LocalGroup::new()))?;
    let err = ddp
        .module()
        .used
        .forward(&batch()?)?
        .sum_all()?
        .backward()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`unused.weight`") && err.contains("`unused.bias`"),
        "{err}"
    );
    assert!(err.contains("find_unused_parameters"), "{err}");
    // The failed step left nothing behind: the next backward synchronises normally.
    let options = DdpOptions {
        find_unused_parameters: true,
        ..DdpOptions::default()
    };
    let ddp =
        DistributedDataParallel::with_options(half_used()?, Arc::new(LocalGroup::new()), options)?;
    ddp.module()
        .used
        .forward(&batch()?)?
        .sum_all()?
        .backward()?;
    assert!(ddp.module().used.weight.grad().is_some());
    assert!(
        ddp.module().unused.weight.grad().is_none(),
        "no rank used it: no gradient"
    );
    Ok(())
}

#[test]
fn dropping_ddp_removes_its_hooks() -> Result<()> {
    let model = mlp()?;
    let params = model.parameters();
    let ddp = DistributedDataParallel::new(model, Arc::new(LocalGroup::new()))?;
    let model = ddp.into_inner();
    model.forward(&batch()?)?.sum_all()?.backward()?;
    assert!(params.iter().all(|p| p.grad().is_some()));
    Ok(())
}

#[test]
fn collectives_of_one_rank_return_their_input() -> Result<()> {
    let g = LocalGroup::new();
    let t = Tensor::from_vec(vec![1i64, 2, 3, 4], [2, 2], &Cpu)?;
    assert_eq!(g.all_reduce(&t, ReduceOp::Max)?.to_vec()?, [1, 2, 3, 4]);
    assert_eq!(g.broadcast(&t, 0)?.to_vec()?, [1, 2, 3, 4]);
    assert!(g
        .broadcast(&t, 1)
        .unwrap_err()
        .to_string()
        .contains("root rank 1"));
    let gathered = g.all_gather(&t)?;
    assert_eq!(gathered.len(), 1);
    assert_eq!(gathered[0].dims(), [2, 2]);
    assert_eq!(g.reduce_scatter(&t, ReduceOp::Sum)?.dims(), [2, 2]);
    let flags = Tensor::from_vec(vec![nanotorch_ndarray_core::Bool::from(true)], [1], &Cpu)?;
    let err = g.all_reduce(&flags, ReduceOp::Avg).unwrap_err().to_string();
    assert!(err.contains("all_reduce") && err.contains("bool"), "{err}");
    g.barrier()
}

/// Registers `b` before `a` but runs `b(a(x))`: the bucket of `a` comes first in reverse
/// registration order, yet backward finishes `b`'s gradients first.
struct Reordered {
    b: Linear,
    a: Linear,
}

impl Module for Reordered {
    fn visit<'a>(&'a self, v: &mut Visitor<'a>) {
        v.module("b", &self.b);
        v.module("a", &self.a);
    }
}

#[test]
fn buckets_start_in_bucket_order_whatever_order_they_complete_in() -> Result<()> {
    let group = Recording::default();
    let log = Arc::clone(&group.log);
    let model = Reordered {
        b: Linear::new(3, 2, &Cpu)?,
        a: Linear::new(4, 3, &Cpu)?,
    };
    // 15 floats per bucket: `a` (4·3 + 3) is bucket 0, `b` (3·2 + 2) bucket 1.
    let options = DdpOptions {
        bucket_cap_mb: 15.0 * 4.0 / 1048576.0,
        ..DdpOptions::default()
    };
    let ddp = DistributedDataParallel::with_options(model, Arc::new(group), options)?;
    assert_eq!(
        ddp.buckets(),
        [["a.bias", "a.weight"], ["b.bias", "b.weight"]]
    );
    let m = ddp.module();
    m.b.forward(&m.a.forward(&batch()?)?)?
        .sum_all()?
        .backward()?;
    // Every rank issues the collectives in this order, which is how MPI pairs them up.
    assert_eq!(
        *log.lock().unwrap(),
        ["all_reduce Avg 15", "all_reduce Avg 8"]
    );
    Ok(())
}
