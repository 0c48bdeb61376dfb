//! Autograd overhead: `autograd_chain/1000` is 1000 × (y·1.0001 + 0.0001) on a 4-element tensor,
//! forward and backward, so its time is almost all graph bookkeeping (2000 ops). `us_per_op` is
//! the time per op, forward and backward together — the number the autograd issue targets.

use crate::harness::Bench;
use nanotorch::array::Backend;
use nanotorch::autograd::Tensor;

type Res = Result<(), Box<dyn std::error::Error>>;

/// Every autograd case selected by `bench`.
pub fn run<B: Backend>(backend: &B, bench: &Bench) -> Res {
    let case = "autograd_chain/1000";
    if bench.want(case) {
        let x = Tensor::<f32, B>::randn([4], backend)?.requires_grad_(true);
        let step = || -> nanotorch::array::Result<()> {
            let mut y = x.clone();
            for _ in 0..1000 {
                y = y.mul_scalar(1.0001)?.add_scalar(0.0001)?;
            }
            y.sum_all()?.backward()?;
            x.zero_grad();
            Ok(())
        };
        let t = bench.time(backend, || step().expect("autograd chain"))?;
        bench.emit(case, t, Some(("us_per_op", t.0 * 1e3 / 2000.0)));
    }
    Ok(())
}
