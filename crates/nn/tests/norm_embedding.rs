//! LayerNorm, BatchNorm1d, Embedding, one_hot, ModuleList, GELU(tanh) and orthogonal init,
//! each against a reference worked out here from PyTorch's documented definition.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::functional::{layer_norm, one_hot};
use nanotorch_nn::{
    init, BatchNorm1d, Embedding, Forward, LayerNorm, Linear, Module, ModuleList, ReLU, Sequential,
    GELU,
};

type T = Tensor<f64, Cpu>;

fn tensor(values: &[f64], shape: &[usize]) -> T {
    Tensor::from_vec(values.to_vec(), shape.to_vec(), &Cpu).unwrap()
}

fn ids(values: &[i64], shape: &[usize]) -> Tensor<i64, Cpu> {
    Tensor::from_vec(values.to_vec(), shape.to_vec(), &Cpu).unwrap()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: {g} vs {w}"
        );
    }
}

/// `(x − mean) / √(var + eps)` over each chunk of `width` values, biased variance.
fn normalise_rows(x: &[f64], width: usize, eps: f64) -> Vec<f64> {
    x.chunks(width)
        .flat_map(|row| {
            let mean = row.iter().sum::<f64>() / width as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / width as f64;
            row.iter()
                .map(move |v| (v - mean) / (var + eps).sqrt())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn layer_norm_normalises_the_trailing_axes() {
    let x = [1.0, 2.0, 4.0, -1.0, 0.5, 3.0, 3.0, 3.0, 0.0, 8.0, -2.0, 1.0];
    let out = layer_norm(&tensor(&x, &[2, 2, 3]), &[2, 3], None, None, 1e-5).unwrap();
    assert_eq!(out.dims(), [2, 2, 3]);
    assert_close(&out.to_vec().unwrap(), &normalise_rows(&x, 6, 1e-5), 1e-12);

    let weight = [2.0, -1.0, 0.5];
    let bias = [0.1, 0.2, 0.3];
    let out = layer_norm(
        &tensor(&x, &[4, 3]),
        &[3],
        Some(&tensor(&weight, &[3])),
        Some(&tensor(&bias, &[3])),
        1e-5,
    )
    .unwrap();
    let want: Vec<f64> = normalise_rows(&x, 3, 1e-5)
        .iter()
        .enumerate()
        .map(|(i, v)| v * weight[i % 3] + bias[i % 3])
        .collect();
    assert_close(&out.to_vec().unwrap(), &want, 1e-12);
}

#[test]
fn layer_norm_module_has_pytorch_parameters_and_errors() {
    let norm = LayerNorm::<f64, Cpu>::new([4], &Cpu).unwrap();
    let names: Vec<String> = norm
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(norm.weight.as_ref().unwrap().to_vec().unwrap(), [1.0; 4]);
    assert_eq!(norm.bias.as_ref().unwrap().to_vec().unwrap(), [0.0; 4]);
    let err = norm
        .forward(&T::zeros([2, 3], &Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layer_norm") && err.contains("[2, 3]") && err.contains("[4]"),
        "{err}"
    );
    let plain = LayerNorm::<f64, Cpu>::with_options([4], 1e-5, false, false, &Cpu).unwrap();
    assert!(plain.named_parameters().is_empty());
}

/// Batch statistics per channel of `[n, c]` data: (mean, biased var, unbiased var).
fn channel_stats(x: &[f64], n: usize, c: usize) -> Vec<(f64, f64, f64)> {
    (0..c)
        .map(|j| {
            let col: Vec<f64> = (0..n).map(|i| x[i * c + j]).collect();
            let mean = col.iter().sum::<f64>() / n as f64;
            let ss = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
            (mean, ss / n as f64, ss / (n as f64 - 1.0))
        })
        .collect()
}

#[test]
fn batch_norm_trains_on_batch_statistics_and_tracks_running_ones() {
    let x = [1.0, 10.0, 2.0, 14.0, 4.0, 9.0, 5.0, 11.0];
    let (n, c) = (4, 2);
    let stats = channel_stats(&x, n, c);
    let norm = BatchNorm1d::<f64, Cpu>::new(c, &Cpu).unwrap();
    let out = norm
        .forward(&tensor(&x, &[n, c]))
        .unwrap()
        .to_vec()
        .unwrap();
    let want: Vec<f64> = (0..n * c)
        .map(|k| {
            let (mean, var, _) = stats[k % c];
            (x[k] - mean) / (var + 1e-5).sqrt()
        })
        .collect();
    assert_close(&out, &want, 1e-12);

    // running = 0.9·running + 0.1·batch, with the unbiased variance; starts at mean 0, var 1
    let mean_want: Vec<f64> = stats.iter().map(|s| 0.1 * s.0).collect();
    let var_want: Vec<f64> = stats.iter().map(|s| 0.9 + 0.1 * s.2).collect();
    assert_close(
        &norm.running_mean().unwrap().to_vec().unwrap(),
        &mean_want,
        1e-12,
    );
    assert_close(
        &norm.running_var().unwrap().to_vec().unwrap(),
        &var_want,
        1e-12,
    );
    let state = norm.state_dict();
    assert_eq!(state["num_batches_tracked"].item().unwrap(), 1.0);
    let keys: Vec<&String> = state.keys().collect();
    assert_eq!(
        keys,
        [
            "bias",
            "num_batches_tracked",
            "running_mean",
            "running_var",
            "weight"
        ]
    );
    assert_eq!(norm.parameters().len(), 2, "buffers are not parameters");

    // evaluation uses the running statistics and leaves them alone
    let mut norm = norm;
    norm.eval();
    let probe = [3.0, 12.0];
    let out = norm
        .forward(&tensor(&probe, &[1, 2]))
        .unwrap()
        .to_vec()
        .unwrap();
    let want: Vec<f64> = (0..2)
        .map(|j| (probe[j] - mean_want[j]) / (var_want[j] + 1e-5).sqrt())
        .collect();
    assert_close(&out, &want, 1e-12);
    assert_close(
        &norm.running_mean().unwrap().to_vec().unwrap(),
        &mean_want,
        1e-12,
    );
    assert_eq!(
        norm.state_dict()["num_batches_tracked"].item().unwrap(),
        1.0
    );
}

#[test]
fn batch_norm_three_d_input_and_cumulative_average() {
    // [n=2, c=2, l=2]: channel j collects x[i, j, :] over i
    let x = [1.0, 3.0, 10.0, 20.0, 5.0, 7.0, 30.0, 40.0];
    let norm = BatchNorm1d::<f64, Cpu>::with_options(2, 1e-5, None, false, true, &Cpu).unwrap();
    let out = norm
        .forward(&tensor(&x, &[2, 2, 2]))
        .unwrap()
        .to_vec()
        .unwrap();
    let channel = |j: usize| [x[j * 2], x[j * 2 + 1], x[4 + j * 2], x[4 + j * 2 + 1]];
    for j in 0..2 {
        let values = channel(j);
        let mean = values.iter().sum::<f64>() / 4.0;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        for (k, &i) in [j * 2, j * 2 + 1, 4 + j * 2, 4 + j * 2 + 1]
            .iter()
            .enumerate()
        {
            let want = (values[k] - mean) / (var + 1e-5).sqrt();
            assert!((out[i] - want).abs() < 1e-12, "{} vs {want}", out[i]);
        }
    }
    // momentum None: after two batches the running mean is the plain average of the two means
    let y: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
    norm.forward(&tensor(&y, &[2, 2, 2])).unwrap();
    let mean = |v: &[f64], j: usize| (v[j * 2] + v[j * 2 + 1] + v[4 + j * 2] + v[5 + j * 2]) / 4.0;
    let want: Vec<f64> = (0..2).map(|j| (mean(&x, j) + mean(&y, j)) / 2.0).collect();
    assert_close(
        &norm.running_mean().unwrap().to_vec().unwrap(),
        &want,
        1e-12,
    );
}

#[test]
fn batch_norm_rejects_bad_input() {
    let norm = BatchNorm1d::<f64, Cpu>::new(3, &Cpu).unwrap();
    let err = norm
        .forward(&T::zeros([1, 3], &Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than one value per channel"), "{err}");
    let err = norm
        .forward(&T::zeros([4, 2], &Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("batch_norm") && err.contains("[4, 2]") && err.contains("[3]"),
        "{err}"
    );
    let err = norm
        .forward(&T::zeros([4], &Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("[N, C]"), "{err}");
    assert_eq!(
        norm.state_dict()["num_batches_tracked"].item().unwrap(),
        0.0,
        "a failed forward does not count as a batch"
    );
}

#[test]
fn embedding_looks_up_rows_and_skips_padding_gradients() {
    manual_seed(3);
    let table = Embedding::<f64, Cpu>::with_padding(5, 3, Some(-1), &Cpu).unwrap();
    assert_eq!(table.padding_idx(), Some(4));
    let weight = table.weight.to_vec().unwrap();
    assert_eq!(&weight[12..15], [0.0; 3], "the padding row starts at zero");

    let picked = ids(&[2, 4, 2, 0], &[2, 2]);
    let out = table.lookup(&picked).unwrap();
    assert_eq!(out.dims(), [2, 2, 3]);
    let want: Vec<f64> = [2, 4, 2, 0]
        .iter()
        .flat_map(|&r| weight[r * 3..r * 3 + 3].to_vec())
        .collect();
    assert_eq!(out.to_vec().unwrap(), want);

    out.sum_all().unwrap().backward().unwrap();
    let grad = table.weight.grad().unwrap().to_vec().unwrap();
    let want_grad = [
        [1.0; 3], // row 0 once
        [0.0; 3], [2.0; 3], // row 2 twice: gradients accumulate
        [0.0; 3], [0.0; 3], // padding row: none
    ];
    assert_eq!(grad, want_grad.concat());

    let err = table.lookup(&ids(&[0, 5], &[2])).unwrap_err().to_string();
    assert!(err.contains("index 5 is out of range for 5"), "{err}");
    let err = Embedding::<f64, Cpu>::with_padding(5, 3, Some(5), &Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("padding_idx 5"), "{err}");
    // the single-tensor `Forward` form (what `Sequential` calls) takes whole-number floats
    let out = Forward::forward(&table, &tensor(&[2.0, 0.0], &[2])).unwrap();
    assert_eq!(
        out.to_vec().unwrap(),
        [&weight[6..9], &weight[0..3]].concat()
    );
    assert!(Forward::forward(&table, &tensor(&[0.5], &[1])).is_err());
    // the inherent `forward` is the typed one, on i64 ids
    assert_eq!(table.forward(&ids(&[2], &[1])).unwrap().dims(), [1, 3]);
}

#[test]
fn one_hot_matches_its_definition() {
    let hot = one_hot(&ids(&[0, 2, 1], &[3]), None).unwrap();
    assert_eq!(hot.dims(), [3, 3]);
    assert_eq!(hot.to_vec().unwrap(), [1, 0, 0, 0, 0, 1, 0, 1, 0]);
    let hot = one_hot(&ids(&[3, 0], &[2, 1]), Some(5)).unwrap();
    assert_eq!(hot.dims(), [2, 1, 5]);
    assert_eq!(hot.to_vec().unwrap(), [0, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
    assert!(one_hot(&ids(&[3], &[1]), Some(3)).is_err());
    assert!(one_hot(&ids(&[-1], &[1]), None).is_err());
}

#[test]
fn module_list_names_children_by_index() {
    manual_seed(1);
    // A mixed list holds boxed single-tensor modules.
    let mut blocks = ModuleList::<Box<dyn Forward<f64, Cpu>>>::new();
    blocks.push(Box::new(Linear::new(2, 3, &Cpu).unwrap()));
    blocks.push(Box::new(ReLU));
    blocks.push(Box::new(BatchNorm1d::new(3, &Cpu).unwrap()));
    let keys: Vec<String> = blocks.state_dict().into_keys().collect();
    assert_eq!(
        keys,
        [
            "0.bias",
            "0.weight",
            "2.bias",
            "2.num_batches_tracked",
            "2.running_mean",
            "2.running_var",
            "2.weight"
        ]
    );
    assert_eq!(blocks.parameters().len(), 4);
    // running the list by hand is what its owner does
    let x = T::ones([4, 2], &Cpu).unwrap();
    let y = blocks
        .iter()
        .try_fold(x, |h, block| block.forward(&h))
        .unwrap();
    assert_eq!(y.dims(), [4, 3]);
    assert!(blocks
        .to_string()
        .starts_with("ModuleList(\n  (0): Linear(in_features=2, out_features=3, bias=true)\n  (1): ReLU()\n  (2): BatchNorm1d(3,"));
    // A list of one layer type keeps each layer's own typed methods.
    let layers: ModuleList<Linear<f64, Cpu>> =
        (0..3).map(|_| Linear::new(4, 4, &Cpu).unwrap()).collect();
    assert_eq!(layers[2].in_features(), 4);
    assert_eq!(Module::<f64, Cpu>::named_parameters(&layers)[5].0, "2.bias");

    let mut model = Sequential::<f64, Cpu>::new()
        .append(Linear::new(2, 3, &Cpu).unwrap())
        .append(BatchNorm1d::new(3, &Cpu).unwrap());
    assert!(model.state_dict().contains_key("1.running_var"));
    model.eval(); // reaches the BatchNorm: a batch of one is fine in evaluation
    assert!(model.forward(&T::ones([1, 2], &Cpu).unwrap()).is_ok());
}

#[test]
fn gelu_tanh_module_follows_the_approximation() {
    let x = [-2.0, -0.5, 0.0, 0.7, 3.0];
    let out = GELU::tanh()
        .forward(&tensor(&x, &[5]))
        .unwrap()
        .to_vec()
        .unwrap();
    let want: Vec<f64> = x
        .iter()
        .map(|v| {
            let inner = (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v);
            0.5 * v * (1.0 + inner.tanh())
        })
        .collect();
    assert_close(&out, &want, 1e-12);
    assert_eq!(GELU::tanh().to_string(), "GELU(approximate='tanh')");
}

#[test]
fn orthogonal_init_gives_orthonormal_rows_or_columns() {
    manual_seed(5);
    for (shape, gain) in [(vec![3, 5], 1.0), (vec![5, 3], 2.0), (vec![4, 2, 3], 1.5)] {
        let w = init::orthogonal::<f64, Cpu>(shape.clone(), gain, &Cpu).unwrap();
        assert_eq!(w.dims(), shape);
        assert!(w.requires_grad());
        let rows = shape[0];
        let cols: usize = shape[1..].iter().product();
        let flat = w.reshape([rows, cols]).unwrap();
        // the Gram matrix of the shorter side is gain²·I
        let gram = if rows <= cols {
            flat.matmul(&flat.t().unwrap()).unwrap()
        } else {
            flat.t().unwrap().matmul(&flat).unwrap()
        };
        let k = rows.min(cols);
        let want: Vec<f64> = (0..k * k)
            .map(|i| if i / k == i % k { gain * gain } else { 0.0 })
            .collect();
        assert_close(&gram.to_vec().unwrap(), &want, 1e-10);
    }
    assert!(init::orthogonal::<f64, Cpu>([4], 1.0, &Cpu).is_err());
}

#[test]
fn pytorch_batch_norm_counter_loads_from_i64() {
    // PyTorch saves `num_batches_tracked` as a 0-d int64 tensor.
    let header = br#"{"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&7i64.to_le_bytes());
    let state = nanotorch_nn::parse_safetensors::<f64, Cpu>(&bytes, "bn", &Cpu).unwrap();
    let counter = &state["bn.num_batches_tracked"];
    assert_eq!(counter.dims(), [] as [usize; 0]);
    assert_eq!(counter.item().unwrap(), 7.0);
}

#[test]
fn bad_padding_and_absurd_one_hot_are_errors() {
    let table = T::zeros([5, 2], &Cpu).unwrap();
    assert!(Embedding::from_pretrained(table.clone(), Some(9)).is_err());
    let padded = Embedding::from_pretrained(table, Some(-1)).unwrap();
    assert_eq!(padded.padding_idx(), Some(4));
    assert!(one_hot(&ids(&[i64::MAX], &[1]), None).is_err());
    assert!(one_hot(&ids(&[0, 1], &[2]), Some(usize::MAX)).is_err());
}

#[test]
fn conv_and_pool_modules_match_the_ops_with_pytorch_init() {
    use nanotorch_nn::{AvgPool2d, Conv1d, Conv2d, MaxPool2d};
    manual_seed(8);
    let conv = Conv2d::<f64, Cpu>::new(3, 4, (3, 3), &Cpu)
        .unwrap()
        .padding((1, 1));
    assert_eq!(conv.weight.dims(), [4, 3, 3, 3]);
    // PyTorch's default init: U(±1/√fan_in), fan_in = 3·3·3
    let bound = 1.0 / 27f64.sqrt();
    let w = conv.weight.to_vec().unwrap();
    assert!(w.iter().all(|v| v.abs() <= bound) && w.iter().any(|v| v.abs() > bound / 2.0));
    let names: Vec<String> = conv
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["weight", "bias"]);
    let x = T::randn([2, 3, 6, 5], &Cpu).unwrap();
    let want = x
        .conv2d(&conv.weight, conv.bias.as_ref(), (1, 1), (1, 1), (1, 1))
        .unwrap();
    assert_eq!(
        conv.forward(&x).unwrap().to_vec().unwrap(),
        want.to_vec().unwrap()
    );
    assert_eq!(conv.forward(&x).unwrap().dims(), [2, 4, 6, 5]);
    assert!(conv
        .to_string()
        .starts_with("Conv2d(3, 4, kernel_size=(3, 3)"));

    let pooled = MaxPool2d::new((2, 2)).forward(&x).unwrap();
    assert_eq!(pooled.dims(), [2, 3, 3, 2]);
    let first = x.to_vec().unwrap();
    let window_max = [first[0], first[1], first[5], first[6]]
        .into_iter()
        .fold(f64::MIN, f64::max);
    assert_eq!(pooled.to_vec().unwrap()[0], window_max);
    let averaged = AvgPool2d::new((2, 2)).forward(&x).unwrap();
    let window_mean = (first[0] + first[1] + first[5] + first[6]) / 4.0;
    assert!((averaged.to_vec().unwrap()[0] - window_mean).abs() < 1e-12);

    let conv1 = Conv1d::<f64, Cpu>::new(2, 5, 3, &Cpu).unwrap();
    let out = conv1.forward(&T::ones([4, 2, 10], &Cpu).unwrap()).unwrap();
    assert_eq!(out.dims(), [4, 5, 8]);
    let err = conv
        .forward(&T::ones([2, 2, 6, 5], &Cpu).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("conv2d"), "{err}");
}
