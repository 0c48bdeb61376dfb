//! Training workloads, the same models as torch_bench.py: the 784-256-128-10 ReLU MLP with
//! cross-entropy on a batch of 128 (forward + backward, and a full SGD-momentum step), and a
//! small CNN step with Adam; and one Adam step alone on a parameter of 1M elements (the fused
//! optimizer step, with its gradient already in place).

use crate::harness::Bench;
use nanotorch::array::Backend;
use nanotorch::autograd::{manual_seed, Tensor};
use nanotorch::nn::functional::cross_entropy;
use nanotorch::nn::{Linear, Module, ReLU, Sequential};
use nanotorch::optim::{Adam, AdamOptions, Optimizer, SgdOptions, SGD};

type Res = Result<(), Box<dyn std::error::Error>>;

fn mlp<B: Backend>(backend: &B) -> nanotorch::Result<Sequential<f32, B>> {
    Ok(Sequential::new()
        .append(Linear::new(784, 256, backend)?)
        .append(ReLU)
        .append(Linear::new(256, 128, backend)?)
        .append(ReLU)
        .append(Linear::new(128, 10, backend)?))
}

/// Every training case selected by `bench`.
pub fn run<B: Backend>(backend: &B, bench: &Bench) -> Res {
    manual_seed(0);
    let batch = 128;
    for (case, with_step) in [("mlp_fwd_bwd/b128", false), ("mlp_train_step/b128", true)] {
        if !bench.want(case) {
            continue;
        }
        let model = mlp(backend)?;
        let mut opt = SGD::new(
            model.parameters(),
            SgdOptions {
                lr: 0.01,
                momentum: 0.9,
                ..Default::default()
            },
        )?;
        let x = Tensor::<f32, B>::randn([batch, 784], backend)?;
        let y = Tensor::<i64, B>::randint(0, 10, [batch], backend)?;
        let mut step = || -> nanotorch::Result<()> {
            opt.zero_grad();
            cross_entropy(&model.forward(&x)?, &y)?.backward()?;
            if with_step {
                opt.step()?;
            }
            Ok(())
        };
        let t = bench.time(backend, || step().expect("mlp step"))?;
        bench.emit(case, t, Some(("samples_per_s", batch as f64 / t.0 * 1e3)));
    }

    let case = "cnn_train_step/b64";
    if bench.want(case) {
        let batch = 64;
        let conv1 = (
            Tensor::<f32, B>::randn([8, 1, 3, 3], backend)?
                .mul_scalar(0.3)?
                .requires_grad_(true),
            Tensor::zeros([8], backend)?.requires_grad_(true),
        );
        let conv2 = (
            Tensor::<f32, B>::randn([16, 8, 3, 3], backend)?
                .mul_scalar(0.1)?
                .requires_grad_(true),
            Tensor::zeros([16], backend)?.requires_grad_(true),
        );
        let head = Linear::new(16 * 7 * 7, 10, backend)?;
        let mut params = vec![
            conv1.0.clone(),
            conv1.1.clone(),
            conv2.0.clone(),
            conv2.1.clone(),
        ];
        params.extend(head.parameters());
        let mut opt = Adam::new(
            params,
            AdamOptions {
                lr: 1e-3,
                ..Default::default()
            },
        )?;
        let x = Tensor::<f32, B>::randn([batch, 1, 28, 28], backend)?;
        let y = Tensor::<i64, B>::randint(0, 10, [batch], backend)?;
        let mut step = || -> nanotorch::Result<()> {
            opt.zero_grad();
            let h = x
                .conv2d(&conv1.0, Some(&conv1.1), (1, 1), (1, 1), (1, 1))?
                .relu()?
                .max_pool2d((2, 2), (2, 2))?;
            let h = h
                .conv2d(&conv2.0, Some(&conv2.1), (1, 1), (1, 1), (1, 1))?
                .relu()?
                .max_pool2d((2, 2), (2, 2))?;
            let logits = head.forward(&h.flatten(1, -1)?)?;
            cross_entropy(&logits, &y)?.backward()?;
            opt.step()
        };
        let t = bench.time(backend, || step().expect("cnn step"))?;
        bench.emit(case, t, Some(("samples_per_s", batch as f64 / t.0 * 1e3)));
    }

    let case = "adam_step/1048576";
    if bench.want(case) {
        let n = 1 << 20;
        let p = Tensor::<f32, B>::randn([n], backend)?.requires_grad_(true);
        p.set_grad(Some(Tensor::<f32, B>::randn([n], backend)?));
        let mut opt = Adam::new([p], AdamOptions::default())?;
        let t = bench.time(backend, || opt.step().expect("adam step"))?;
        // θ, g, m, v read; θ, m, v written
        bench.emit(case, t, Some(("gbps", 28.0 * n as f64 / t.0 / 1e6)));
    }
    Ok(())
}
