//! Layer errors name the layer and the argument (issue 13, item 6), and a non-strict
//! `load_state_dict` says what it did not load (item 7), as PyTorch's `_IncompatibleKeys` does.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use nanotorch_nn::functional::one_hot;
use nanotorch_nn::{
    AvgPool2d, Conv1d, Conv2d, Linear, LoadReport, MaxPool2d, Module, Sequential, StateDict,
};

type T = Tensor<f32, Cpu>;

fn error<X: std::fmt::Debug>(r: Result<X>) -> String {
    r.expect_err("an error").to_string()
}

fn ids(values: &[i64]) -> Tensor<i64, Cpu> {
    Tensor::from_vec(values.to_vec(), [values.len()], &Cpu).unwrap()
}

fn strings(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[test]
fn one_hot_with_a_huge_class_count_blames_the_count() {
    // Was "index 1 is out of range for 18446744073709551615 entries": the count, cast to i64,
    // wrapped to -1 and every id looked out of range.
    for huge in [usize::MAX, 1usize << 63] {
        let err = error(one_hot(&ids(&[1]), Some(huge)));
        assert!(
            err.starts_with("one_hot: num_classes") && err.contains(&huge.to_string()),
            "{err}"
        );
        assert!(!err.contains("index 1"), "{err}");
    }
    // Ids out of range are still reported as ids.
    let err = error(one_hot(&ids(&[0, 3]), Some(3)));
    assert!(
        err.starts_with("one_hot: index 3 is out of range for 3"),
        "{err}"
    );
    assert_eq!(
        one_hot(&ids(&[2, 0]), Some(3)).unwrap().to_vec().unwrap(),
        [0, 0, 1, 1, 0, 0]
    );
}

#[test]
fn convolution_layers_refuse_a_zero_stride_or_dilation_by_name() {
    let x = T::zeros([1, 1, 6, 6], &Cpu).unwrap();
    // Was "conv2d: kernel (3, 3) does not fit".
    let conv = Conv2d::<f32, Cpu>::new(1, 2, (3, 3), &Cpu)
        .unwrap()
        .stride((0, 1));
    let err = error(conv.forward(&x));
    assert!(err.starts_with("Conv2d: stride must be positive"), "{err}");
    let conv = Conv2d::<f32, Cpu>::new(1, 2, (3, 3), &Cpu)
        .unwrap()
        .dilation((1, 0));
    assert!(error(conv.forward(&x)).starts_with("Conv2d: dilation must be positive"));
    let conv = Conv1d::<f32, Cpu>::new(1, 2, 3, &Cpu).unwrap().stride(0);
    let err = error(conv.forward(&T::zeros([1, 1, 6], &Cpu).unwrap()));
    assert!(err.starts_with("Conv1d: stride must be positive"), "{err}");
    // Good options still work.
    let conv = Conv2d::<f32, Cpu>::new(1, 2, (3, 3), &Cpu)
        .unwrap()
        .stride((2, 1));
    assert_eq!(conv.forward(&x).unwrap().dims(), &[1, 2, 2, 4]);
}

#[test]
fn pooling_layers_refuse_a_zero_stride_or_kernel_by_name() {
    let x = T::zeros([1, 1, 4, 4], &Cpu).unwrap();
    // Was "max_pool2d: window (2, 2) does not fit".
    let err = error(MaxPool2d::new((2, 2)).stride((0, 2)).forward(&x));
    assert!(
        err.starts_with("MaxPool2d: stride must be positive"),
        "{err}"
    );
    let err = error(AvgPool2d::new((0, 2)).forward(&x));
    assert!(
        err.starts_with("AvgPool2d: kernel_size must be positive"),
        "{err}"
    );
    assert_eq!(
        MaxPool2d::new((2, 2)).forward(&x).unwrap().dims(),
        &[1, 1, 2, 2]
    );
}

fn model() -> Sequential<f32, Cpu> {
    Sequential::new()
        .append(Linear::new(2, 3, &Cpu).unwrap())
        .append(Linear::new(3, 1, &Cpu).unwrap())
}

#[test]
fn a_non_strict_load_reports_missing_and_unexpected_keys() {
    let m = model();
    // A state dict that matches no key at all: was Ok(()) and said nothing.
    let mut foreign: StateDict<f32, Cpu> = StateDict::new();
    foreign.insert("encoder.weight".into(), T::zeros([3, 2], &Cpu).unwrap());
    let report = m.load_state_dict(&foreign, false).unwrap();
    assert_eq!(
        report.missing,
        strings(&["0.bias", "0.weight", "1.bias", "1.weight"])
    );
    assert_eq!(report.unexpected, strings(&["encoder.weight"]));
    assert!(!report.is_complete());

    // A partial match loads what matches and lists the rest.
    let mut partial = model().state_dict();
    partial.remove("1.bias");
    let loaded = partial["0.weight"].to_vec().unwrap();
    let report = m.load_state_dict(&partial, false).unwrap();
    assert_eq!(
        report,
        LoadReport {
            missing: strings(&["1.bias"]),
            unexpected: vec![]
        }
    );
    assert_eq!(m.state_dict()["0.weight"].to_vec().unwrap(), loaded);

    // A full match is complete, strict or not.
    let report = m.load_state_dict(&model().state_dict(), true).unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.to_string(), "all keys matched");
}

#[test]
fn a_strict_load_lists_every_bad_key() {
    let m = model();
    let mut state = m.state_dict();
    state.remove("0.bias");
    state.remove("1.bias");
    state.insert("extra".into(), T::zeros([1], &Cpu).unwrap());
    let err = error(m.load_state_dict(&state, true));
    assert_eq!(
        err,
        "load_state_dict: missing keys `0.bias`, `1.bias`; unexpected key `extra`"
    );
}

#[test]
fn load_state_dict_from_reports_too() {
    let m = model();
    let mut state = model().state_dict();
    state.insert("extra".into(), T::zeros([1], &Cpu).unwrap());
    let report = m.load_state_dict_from(&state, false).unwrap();
    assert_eq!(report.unexpected, strings(&["extra"]));
    assert!(report.missing.is_empty());
    // A module with nothing to load into reports every key as unexpected, and strict refuses.
    let empty = MaxPool2d::new((2, 2));
    let report = Module::<f32, Cpu>::load_state_dict_from(&empty, &state, false).unwrap();
    assert_eq!(report.unexpected.len(), 5);
    assert!(Module::<f32, Cpu>::load_state_dict_from(&empty, &state, true).is_err());
}

fn zeros(dims: &[usize]) -> T {
    T::zeros(dims.to_vec(), &Cpu).unwrap()
}

#[test]
fn functional_ops_name_themselves_not_the_ops_inside() {
    use nanotorch_nn::functional::{
        cross_entropy, linear, log_softmax, nll_loss, softmax, Reduction,
    };
    use nanotorch_nn::{LogSoftmax, Softmax};
    let scalar_target = Tensor::<i64, Cpu>::zeros([], &Cpu).unwrap();
    // Was `max: axis 1 is out of range …`, from the log_softmax inside.
    let err = error(cross_entropy(&zeros(&[]), &scalar_target));
    assert!(
        err.starts_with("cross_entropy: the input needs a class axis"),
        "{err}"
    );
    let err = error(nll_loss(&zeros(&[]), &scalar_target, Reduction::Mean));
    assert!(
        err.starts_with("nll_loss: the input needs a class axis"),
        "{err}"
    );
    // Was `matmul: inner dimensions differ: lhs [2, 3] vs rhs [5, 4]` (the transposed weight).
    let err = error(linear(&zeros(&[2, 3]), &zeros(&[4, 5]), None));
    assert_eq!(
        err,
        "linear: expected input [..., in] and weight [out, in]: lhs [2, 3] vs rhs [4, 5]"
    );
    // Was `add: shapes [2, 4] and [5] cannot be broadcast together`.
    let err = error(linear(&zeros(&[2, 3]), &zeros(&[4, 3]), Some(&zeros(&[5]))));
    assert!(err.starts_with("linear: the bias must be [out]"), "{err}");
    // A 0-d weight with a batched input indexed a missing axis and panicked.
    let err = error(linear(&zeros(&[2, 2, 3]), &zeros(&[]), None));
    assert!(err.starts_with("linear: "), "{err}");
    assert_eq!(
        linear(&zeros(&[2, 2, 3]), &zeros(&[4, 3]), Some(&zeros(&[4])))
            .unwrap()
            .dims(),
        &[2, 2, 4]
    );
    // Was `max: axis 3 is out of range …`.
    assert!(error(softmax(&zeros(&[2]), 3)).starts_with("softmax: axis 3"));
    assert!(error(log_softmax(&zeros(&[2]), -2)).starts_with("log_softmax: axis -2"));
    assert!(error(Softmax::new(3).forward(&zeros(&[2]))).starts_with("softmax: axis 3"));
    assert!(error(LogSoftmax::new(1).forward(&zeros(&[2]))).starts_with("log_softmax: axis 1"));
}
