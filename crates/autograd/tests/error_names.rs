//! Errors name the op the user called, the argument at fault and why (issue 13, items 6 and 7).
//!
//! Composite ops (`logsumexp` takes a `max`, `conv1d` is a `conv2d`, `masked_fill` is a `where`)
//! used to report under the name of the op inside them; each case below is an op called with one
//! bad argument, and its error must start with that op's own name. The reductions that have no
//! identity (max, min, argmax, argmin) must refuse an empty input, as PyTorch does, instead of
//! returning `-inf`.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Bool, Result};

type T = Tensor<f32, Cpu>;

fn zeros(dims: &[usize]) -> T {
    T::zeros(dims.to_vec(), &Cpu).unwrap()
}

fn ids(values: &[i64]) -> Tensor<i64, Cpu> {
    Tensor::from_vec(values.to_vec(), [values.len()], &Cpu).unwrap()
}

fn error<X: std::fmt::Debug>(r: Result<X>) -> String {
    r.expect_err("an error").to_string()
}

/// Asserts that `message` starts with `op: ` and contains every one of `needles`.
fn names(op: &str, message: &str, needles: &[&str]) {
    assert!(
        message.starts_with(&format!("{op}: ")),
        "expected an error of `{op}`, got: {message}"
    );
    for needle in needles {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
}

#[test]
fn softmax_and_log_softmax_name_themselves() {
    // Was `max: axis 2 is out of range …`: the max inside the stable softmax.
    names(
        "softmax",
        &error(zeros(&[3]).softmax(2)),
        &["axis 2", "[3]"],
    );
    names(
        "log_softmax",
        &error(zeros(&[3]).log_softmax(-2)),
        &["axis -2"],
    );
}

#[test]
fn reductions_built_from_others_name_themselves() {
    // Was `max: …` (logsumexp subtracts the max first) and `var: …` (std is √var).
    names(
        "logsumexp",
        &error(zeros(&[3]).logsumexp(&[4], false)),
        &["axis 4"],
    );
    names(
        "std",
        &error(zeros(&[3]).std_dims(&[4], 1, false)),
        &["axis 4"],
    );
    names(
        "mean",
        &error(zeros(&[3]).mean_dims(&[1], false)),
        &["axis 1"],
    );
}

#[test]
fn convolution_names_the_bad_argument() {
    let x = zeros(&[1, 1, 4, 4]);
    let w = zeros(&[2, 1, 2, 2]);
    // Stride or dilation 0 used to read "kernel (2, 2) does not fit".
    names(
        "conv2d",
        &error(x.conv2d(&w, None, (0, 1), (0, 0), (1, 1))),
        &["stride", "(0, 1)"],
    );
    names(
        "conv2d",
        &error(x.conv2d(&w, None, (1, 1), (0, 0), (1, 0))),
        &["dilation"],
    );
    let w0 = zeros(&[2, 1, 0, 2]);
    names(
        "conv2d",
        &error(x.conv2d(&w0, None, (1, 1), (0, 0), (1, 1))),
        &["kernel size"],
    );
    names(
        "conv2d",
        &error(x.conv2d(&zeros(&[2, 1, 5, 1]), None, (1, 1), (0, 0), (1, 1))),
        &["spans more than the input"],
    );
    // A bias of the wrong length used to fail inside a reshape: `reshape: cannot reshape [3] …`.
    names(
        "conv2d",
        &error(x.conv2d(&w, Some(&zeros(&[3])), (1, 1), (0, 0), (1, 1))),
        &["bias", "[3]"],
    );
}

#[test]
fn conv1d_speaks_in_one_dimension() {
    let x = zeros(&[1, 2, 6]);
    let w = zeros(&[3, 2, 2]);
    // Each used to be an error of `conv2d`, with the 4-d shapes and (1, s) tuples underneath.
    names(
        "conv1d",
        &error(x.conv1d(&w, None, 0, 0, 1)),
        &["stride must be positive"],
    );
    names(
        "conv1d",
        &error(x.conv1d(&w, None, 1, 0, 0)),
        &["dilation must be positive"],
    );
    names(
        "conv1d",
        &error(x.conv1d(&zeros(&[3, 2, 7]), None, 1, 0, 1)),
        &["kernel 7", "length 6"],
    );
    names(
        "conv1d",
        &error(x.conv1d(&zeros(&[3, 1, 2]), None, 1, 0, 1)),
        &["same c", "[1, 2, 6]"],
    );
    names(
        "conv1d",
        &error(x.conv1d(&w, Some(&zeros(&[2])), 1, 0, 1)),
        &["bias"],
    );
    // A good call still works.
    assert_eq!(
        x.conv1d(&w, Some(&zeros(&[3])), 2, 1, 1).unwrap().dims(),
        &[1, 3, 4]
    );
}

#[test]
fn pooling_names_the_bad_argument() {
    let x = zeros(&[1, 1, 4, 4]);
    // Was "window (2, 2) does not fit" for a stride of 0.
    names(
        "max_pool2d",
        &error(x.max_pool2d((2, 2), (0, 1))),
        &["stride", "(0, 1)"],
    );
    names(
        "avg_pool2d",
        &error(x.avg_pool2d((2, 0), (1, 1))),
        &["kernel size"],
    );
    names(
        "avg_pool2d",
        &error(x.avg_pool2d((5, 2), (1, 1))),
        &["spans more than the input"],
    );
}

#[test]
fn joins_and_masks_name_themselves() {
    names(
        "stack",
        &error(T::stack(&[zeros(&[2]), zeros(&[3])], 0)),
        &["[2]", "[3]"],
    );
    names(
        "stack",
        &error(T::stack(&[zeros(&[2]), zeros(&[2])], 5)),
        &["axis 5"],
    );
    names("stack", &error(T::stack(&[], 0)), &["at least one"]);
    let mask = Tensor::<Bool, Cpu>::zeros([4], &Cpu).unwrap();
    names(
        "masked_fill",
        &error(zeros(&[2, 3]).masked_fill(&mask, 1.0)),
        &["[2, 3]", "[4]"],
    );
    names(
        "masked_select",
        &error(zeros(&[3]).masked_select(&mask)),
        &["[3]", "[4]"],
    );
}

/// A sweep: every public op with one bad argument, each error under the op's own name. A new
/// composite op belongs here too.
#[test]
fn every_op_reports_under_its_own_name() {
    let x = zeros(&[3]);
    let m = zeros(&[2, 3]);
    let cases: Vec<(&str, String)> = vec![
        ("sum", error(x.sum_dims(&[2], false))),
        ("prod", error(x.prod_dims(&[2], false))),
        ("var", error(x.var_dims(&[2], 1, false))),
        ("cumsum", error(x.cumsum(2))),
        ("select", error(x.select(0, 3))),
        ("split", error(x.split(0, 0))),
        ("split_sizes", error(x.split_sizes(&[1, 1], 0))),
        ("chunk", error(x.chunk(2, 1))),
        ("narrow", error(x.narrow(0, 2, 5))),
        ("repeat", error(m.repeat(&[2]))),
        ("topk", error(x.topk(4, 0, true, true))),
        ("unbind", error(x.unbind(1))),
        ("gather", error(x.gather(0, &ids(&[5])))),
        ("index_select", error(x.index_select(0, &ids(&[5])))),
        (
            "scatter_add",
            error(x.scatter_add(0, &ids(&[5]), &zeros(&[1]))),
        ),
        ("cat", error(T::cat(&[m.clone(), zeros(&[2, 4])], 0))),
        ("tril", error(x.tril(0))),
        ("dropout", error(x.dropout(1.5, true))),
        ("multinomial", error(x.multinomial(0, true, None))),
        ("add", error(x.add(&zeros(&[4])))),
        ("atan2", error(x.atan2(&zeros(&[4])))),
        ("where", error(T::where_cond(&m, &m, &zeros(&[4])))),
        ("expand", error(x.expand([4]))),
        ("transpose", error(m.transpose(0, 2))),
        ("permute", error(m.permute(&[0, 0]))),
        ("flatten", error(x.flatten(0, 3))),
        ("reshape", error(x.reshape([4]))),
        ("max", error(x.max_dims(&[1], false))),
        ("argmax", error(x.argmax(Some(1), false))),
        ("hardtanh", error(x.hardtanh(2.0, 1.0))),
        ("causal_softmax", error(x.causal_softmax(1.0))),
    ];
    for (op, message) in &cases {
        names(op, message, &[]);
    }
}

#[test]
fn max_and_min_of_nothing_are_errors_as_in_pytorch() {
    let empty = zeros(&[0]);
    // Was Ok(-inf) and Ok(+inf): a value invented for a reduction that has no identity.
    names("max", &error(empty.max_all()), &["no elements"]);
    names("min", &error(empty.min_all()), &["no elements"]);
    names(
        "max",
        &error(zeros(&[0, 3]).max_dims(&[0], false)),
        &["axis 0 has size 0"],
    );
    names(
        "min",
        &error(zeros(&[2, 0]).min_dims(&[-1], true)),
        &["axis -1 has size 0"],
    );
    names(
        "argmax",
        &error(empty.argmax(None, false)),
        &["no elements"],
    );
    names(
        "argmin",
        &error(zeros(&[0, 3]).argmin(Some(0), false)),
        &["axis 0 has size 0"],
    );
    // Reducing over axes that have elements is fine, even when the tensor has none.
    assert_eq!(zeros(&[3, 0]).max_dims(&[0], false).unwrap().dims(), &[0]);
    assert_eq!(zeros(&[3, 0]).argmin(Some(0), false).unwrap().dims(), &[0]);
    // A 0-d tensor has one element.
    assert_eq!(
        T::scalar(2.0, &Cpu)
            .unwrap()
            .max_all()
            .unwrap()
            .item()
            .unwrap(),
        2.0
    );
}

#[test]
fn reductions_with_an_identity_still_reduce_nothing() {
    // As in PyTorch: a sum of nothing is 0, a product 1, and ln Σ e^x over nothing is ln 0.
    let empty = zeros(&[0]);
    assert_eq!(empty.sum().unwrap().item().unwrap(), 0.0);
    assert_eq!(empty.prod_dims(&[], false).unwrap().item().unwrap(), 1.0);
    assert_eq!(
        empty.logsumexp(&[0], false).unwrap().item().unwrap(),
        f32::NEG_INFINITY
    );
    let lse = zeros(&[2, 0]).logsumexp(&[1], true).unwrap();
    assert_eq!(lse.dims(), &[2, 1]);
    assert_eq!(lse.to_vec().unwrap(), [f32::NEG_INFINITY; 2]);
    // And logsumexp over elements is unchanged: ln(e^0 + e^0) = ln 2.
    let two = zeros(&[2]).logsumexp(&[0], false).unwrap().item().unwrap();
    assert!((two - 2f32.ln()).abs() < 1e-6);
}
