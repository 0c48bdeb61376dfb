//! BatchNorm2d/3d, GroupNorm and InstanceNorm1d/2d (layers and functions) against PyTorch: forward
//! values in training and evaluation mode, and the state dict (running statistics after the
//! training steps, PyTorch's keys), read from `fixtures/norm.safetensors`
//! (`fixtures/make_norm.py`). nanotorch runs in f32 against PyTorch's float64 values.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::functional::{batch_norm, group_norm, instance_norm, RunningStats};
use nanotorch_nn::{
    parse_safetensors, BatchNorm2d, BatchNorm3d, Forward, GroupNorm, InstanceNorm1d,
    InstanceNorm2d, Module, StateDict,
};

type T = Tensor<f32, Cpu>;

fn fixture() -> StateDict<f32, Cpu> {
    let bytes = include_bytes!("fixtures/norm.safetensors");
    parse_safetensors::<f32, Cpu>(bytes, "norm.safetensors", &Cpu).unwrap()
}

fn get(fx: &StateDict<f32, Cpu>, name: &str) -> T {
    fx.get(name)
        .unwrap_or_else(|| panic!("fixture has no `{name}`"))
        .clone()
}

fn assert_close(got: &T, want: &T, what: &str) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    for (i, (a, b)) in got
        .to_vec()
        .unwrap()
        .iter()
        .zip(want.to_vec().unwrap())
        .enumerate()
    {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{what}[{i}]: {a} vs PyTorch's {b}"
        );
    }
}

/// Loads the case's affine parameters (if the fixture has them) into `model`.
fn load_affine<M: Module<f32, Cpu>>(fx: &StateDict<f32, Cpu>, case: &str, model: &M) {
    let mut state = StateDict::new();
    for key in ["weight", "bias"] {
        if let Some(t) = fx.get(&format!("{case}.{key}")) {
            state.insert(key.to_string(), t.clone());
        }
    }
    model.load_state_dict(&state, false).unwrap();
}

/// Replays the fixture's case on `model`: the training steps `x<i> -> y<i>`, the state dict
/// after them (same keys as PyTorch's, same values), then the evaluation steps `e<i> -> z<i>`.
fn replay<M: Module<f32, Cpu> + Forward<f32, Cpu>>(
    fx: &StateDict<f32, Cpu>,
    case: &str,
    mut model: M,
) {
    load_affine(fx, case, &model);
    model.train();
    let mut steps = 0;
    while let Some(x) = fx.get(&format!("{case}.x{steps}")) {
        let y = Forward::forward(&model, x).unwrap();
        assert_close(
            &y,
            &get(fx, &format!("{case}.y{steps}")),
            &format!("{case} step {steps}"),
        );
        steps += 1;
    }
    assert!(steps > 0, "{case}: no training steps in the fixture");
    let prefix = format!("{case}.after.");
    let want: Vec<(&str, &T)> = fx
        .iter()
        .filter_map(|(k, t)| k.strip_prefix(&prefix).map(|k| (k, t)))
        .collect();
    let state = model.state_dict();
    let keys: Vec<&str> = state.keys().map(String::as_str).collect();
    let want_keys: Vec<&str> = want.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, want_keys, "{case}: state-dict keys");
    for (key, t) in want {
        assert_close(&state[key], t, &format!("{case}.{key} after {steps} steps"));
    }
    model.eval();
    let mut evals = 0;
    while let Some(x) = fx.get(&format!("{case}.e{evals}")) {
        let z = Forward::forward(&model, x).unwrap();
        assert_close(
            &z,
            &get(fx, &format!("{case}.z{evals}")),
            &format!("{case} eval {evals}"),
        );
        evals += 1;
    }
}

#[test]
fn batch_norm_2d_trains_tracks_and_evaluates_as_pytorch() {
    let fx = fixture();
    replay(&fx, "bn2d", BatchNorm2d::new(3, &Cpu).unwrap());
}

#[test]
fn batch_norm_2d_cumulative_average_without_affine() {
    let fx = fixture();
    let norm = BatchNorm2d::with_options(2, 1e-5, None, false, true, &Cpu).unwrap();
    replay(&fx, "bn2d_cumulative", norm);
}

#[test]
fn batch_norm_3d_and_functional_on_rank_five() {
    let fx = fixture();
    replay(&fx, "bn3d", BatchNorm3d::new(2, &Cpu).unwrap());
    // The function alone, in evaluation with the fixture's running statistics.
    let stats = RunningStats {
        mean: &get(&fx, "bn3d.after.running_mean"),
        var: &get(&fx, "bn3d.after.running_var"),
        momentum: 0.1,
    };
    let (w, b) = (get(&fx, "bn3d.weight"), get(&fx, "bn3d.bias"));
    let z = batch_norm(
        &get(&fx, "bn3d.e0"),
        Some(stats),
        Some(&w),
        Some(&b),
        false,
        1e-5,
    );
    assert_close(&z.unwrap(), &get(&fx, "bn3d.z0"), "batch_norm eval rank 5");
}

#[test]
fn group_norm_as_pytorch() {
    let fx = fixture();
    replay(&fx, "gn", GroupNorm::new(3, 6, &Cpu).unwrap());
    replay(
        &fx,
        "gn_plain",
        GroupNorm::with_options(2, 4, 1e-5, false, &Cpu).unwrap(),
    );
    let y = group_norm(&get(&fx, "gn_plain.x0"), 2, None, None, 1e-5).unwrap();
    assert_close(&y, &get(&fx, "gn_plain.y0"), "group_norm");
}

#[test]
fn instance_norm_as_pytorch_batched_and_not() {
    let fx = fixture();
    // PyTorch's defaults: no affine, no running statistics, so no state and input statistics in
    // evaluation too; step 1 is an unbatched [C, L].
    replay(&fx, "in1d", InstanceNorm1d::new(3, &Cpu).unwrap());
    // Running statistics: updated in training (num_batches_tracked stays 0, as PyTorch's),
    // used in evaluation; eval step 1 is an unbatched [C, H, W].
    let norm = InstanceNorm2d::with_options(3, 1e-5, Some(0.1), true, true, &Cpu).unwrap();
    replay(&fx, "in2d", norm);
    let (w, b) = (get(&fx, "in2d.weight"), get(&fx, "in2d.bias"));
    let y = instance_norm(&get(&fx, "in2d.x0"), None, Some(&w), Some(&b), true, 1e-5).unwrap();
    assert_close(&y, &get(&fx, "in2d.y0"), "instance_norm");
}

#[test]
fn bad_input_is_a_clear_error() {
    let err = |r: nanotorch_ndarray_core::Result<T>| r.expect_err("an error").to_string();
    let Err(e) = GroupNorm::<f32, Cpu>::new(4, 6, &Cpu).map(|g| g.num_groups()) else {
        panic!("GroupNorm(4, 6) was accepted");
    };
    let e = e.to_string();
    assert!(
        e.contains("GroupNorm") && e.contains("(6)") && e.contains("(4)"),
        "{e}"
    );
    let x = T::zeros([2, 6, 3], &Cpu).unwrap();
    let e = err(group_norm(&x, 4, None, None, 1e-5));
    assert!(
        e.contains("group_norm") && e.contains("(6)") && e.contains("(4)"),
        "{e}"
    );
    let e = err(GroupNorm::new(3, 6, &Cpu)
        .unwrap()
        .forward(&T::zeros([2, 4, 3], &Cpu).unwrap()));
    assert!(e.contains("GroupNorm") && e.contains("[2, 4, 3]"), "{e}");

    let bn = BatchNorm2d::<f32, Cpu>::new(3, &Cpu).unwrap();
    let e = err(bn.forward(&T::zeros([2, 3, 4], &Cpu).unwrap()));
    assert!(
        e.contains("BatchNorm2d") && e.contains("[N, C, H, W]") && e.contains("[2, 3, 4]"),
        "{e}"
    );
    let e = err(bn.forward(&T::zeros([2, 4, 2, 2], &Cpu).unwrap()));
    assert!(
        e.contains("batch_norm") && e.contains("[2, 4, 2, 2]") && e.contains("[3]"),
        "{e}"
    );
    let e = err(bn.forward(&T::zeros([1, 3, 1, 1], &Cpu).unwrap()));
    assert!(e.contains("more than one value per channel"), "{e}");
    assert_eq!(bn.state_dict()["num_batches_tracked"].item().unwrap(), 0.0);
    let e = err(batch_norm(
        &T::zeros([3], &Cpu).unwrap(),
        None,
        None,
        None,
        true,
        1e-5,
    ));
    assert!(e.contains("batch_norm") && e.contains("[N, C"), "{e}");

    let inorm = InstanceNorm2d::<f32, Cpu>::new(3, &Cpu).unwrap();
    let e = err(inorm.forward(&T::zeros([3, 4], &Cpu).unwrap()));
    assert!(
        e.contains("InstanceNorm2d") && e.contains("[C, H, W]"),
        "{e}"
    );
    let e = err(inorm.forward(&T::zeros([2, 3, 1, 1], &Cpu).unwrap()));
    assert!(
        e.contains("instance_norm") && e.contains("more than one position"),
        "{e}"
    );
}

#[test]
fn layers_print_as_pytorch_and_run_in_a_sequential() {
    let bn = BatchNorm2d::<f32, Cpu>::new(3, &Cpu).unwrap();
    assert!(bn.to_string().starts_with("BatchNorm2d(3, eps="), "{bn}");
    assert!(
        bn.to_string()
            .ends_with("affine=true, track_running_stats=true)"),
        "{bn}"
    );
    let inorm = InstanceNorm2d::<f32, Cpu>::new(3, &Cpu).unwrap();
    assert!(
        inorm
            .to_string()
            .ends_with("affine=false, track_running_stats=false)"),
        "{inorm}"
    );
    assert!(inorm.state_dict().is_empty());
    let gn = GroupNorm::<f32, Cpu>::with_options(2, 4, 1e-3, false, &Cpu).unwrap();
    assert_eq!(gn.to_string(), "GroupNorm(2, 4, eps=0.001, affine=false)");
    let model = nanotorch_nn::Sequential::<f32, Cpu>::new()
        .append(bn)
        .append(GroupNorm::new(3, 3, &Cpu).unwrap())
        .append(inorm);
    let y = model
        .forward(&T::randn([2, 3, 2, 2], &Cpu).unwrap())
        .unwrap();
    assert_eq!(y.dims(), [2, 3, 2, 2]);
    let keys: Vec<String> = model.state_dict().into_keys().collect();
    let want = [
        "0.bias",
        "0.num_batches_tracked",
        "0.running_mean",
        "0.running_var",
        "0.weight",
        "1.bias",
        "1.weight",
    ];
    assert_eq!(keys, want);
}
