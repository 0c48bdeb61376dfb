//! ResNet workloads, the same as torch_bench.py's: `resnet18_fwd_bwd/b16x32`, a batch of 16
//! random 3×32×32 images through torchvision's resnet18 layout (10 classes) in training mode,
//! cross-entropy, backward; the gradients are cleared before each call, as the peer's
//! `model.zero_grad(set_to_none=True)` does.

use crate::harness::Bench;
use nanotorch::array::Backend;
use nanotorch::autograd::{manual_seed, Tensor};
use nanotorch::models::resnet18;
use nanotorch::nn::functional::cross_entropy;
use nanotorch::nn::Module;

type Res = Result<(), Box<dyn std::error::Error>>;

/// Every ResNet case selected by `bench`.
pub fn run<B: Backend>(backend: &B, bench: &Bench) -> Res {
    let case = "resnet18_fwd_bwd/b16x32";
    if !bench.want(case) {
        return Ok(());
    }
    manual_seed(0);
    let (batch, size) = (16, 32);
    let mut model = resnet18::<f32, B>(10, backend)?;
    model.train();
    let x = Tensor::<f32, B>::randn([batch, 3, size, size], backend)?;
    let y = Tensor::<i64, B>::randint(0, 10, [batch], backend)?;
    let step = || -> nanotorch::Result<()> {
        model.zero_grad();
        cross_entropy(&model.forward(&x)?, &y)?.backward()
    };
    let t = bench.time(backend, || step().expect("resnet18 step"))?;
    bench.emit(case, t, Some(("samples_per_s", batch as f64 / t.0 * 1e3)));
    Ok(())
}
