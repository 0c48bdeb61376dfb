//! Forward values of `pad`, grouped / padded convolution and transposed convolution against
//! naive references written plainly here from PyTorch's documented definitions, the adjoint
//! identity that ties convolution to its transpose, and the errors PyTorch also raises.

use nanotorch_autograd::{
    grad, manual_seed, BackwardOptions, Conv1dOptions, Conv2dOptions, ConvPadding,
    ConvTranspose1dOptions, ConvTranspose2dOptions, PadMode, Tensor,
};
use nanotorch_backend_cpu::Cpu;
use reference::{conv_reference, pad_reference, transpose_reference, Geometry};

mod errors;
mod reference;

type T = Tensor<f64, Cpu>;

fn randn(shape: &[usize]) -> T {
    Tensor::randn(shape.to_vec(), &Cpu).unwrap()
}

fn assert_close(got: &T, want_dims: &[usize], want: &[f64]) {
    assert_eq!(got.dims(), want_dims);
    let got = got.to_vec().unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-10 * (1.0 + w.abs()),
            "element {i}: {g} vs {w}"
        );
    }
}

#[test]
fn pad_matches_the_definition() {
    manual_seed(3);
    let dims = [2, 3, 4, 5];
    let x = randn(&dims);
    let xv = x.to_vec().unwrap();
    let cases: &[(&[isize], PadMode)] = &[
        (&[2, 1, 3, 0], PadMode::Reflect),
        (&[4, 4], PadMode::Reflect),
        (&[1, 3, 2, 2, 1, 0], PadMode::Replicate),
        (&[5, 2, 0, 4], PadMode::Circular),
        (&[-1, 2, 1, -2], PadMode::Circular),
        (&[-2, 1, 3, -1], PadMode::Reflect),
        (&[1, 2, 0, 1, 2, 0, 1, 1], PadMode::Constant),
        (&[-1, -3, 2, -1], PadMode::Constant),
        (&[], PadMode::Reflect),
    ];
    for &(pad, mode) in cases {
        let (want_dims, want) = pad_reference(&xv, &dims, pad, mode, -0.5);
        let got = x.pad(pad, mode, -0.5).unwrap();
        assert_close(&got, &want_dims, &want);
    }
}

#[test]
fn conv2d_with_groups_padding_and_modes_matches_the_definition() {
    manual_seed(5);
    // (input, weight, stride, padding, dilation, groups, mode, the (t, b, l, r) padding it means)
    type Case = (
        [usize; 4],
        [usize; 4],
        (usize, usize),
        ConvPadding<(usize, usize)>,
        (usize, usize),
        usize,
        PadMode,
        [isize; 4],
    );
    let cases: &[Case] = &[
        (
            [2, 4, 6, 5],
            [6, 2, 3, 2],
            (2, 1),
            ConvPadding::Explicit((1, 2)),
            (1, 2),
            2,
            PadMode::Constant,
            [1, 1, 2, 2],
        ),
        (
            [1, 3, 5, 5],
            [6, 1, 3, 3],
            (1, 1),
            ConvPadding::Explicit((1, 1)),
            (1, 1),
            3,
            PadMode::Constant,
            [1, 1, 1, 1],
        ),
        (
            [1, 2, 5, 6],
            [3, 2, 4, 2],
            (1, 1),
            ConvPadding::Same,
            (1, 2),
            1,
            PadMode::Constant,
            [1, 2, 1, 1],
        ),
        (
            [2, 4, 5, 6],
            [4, 1, 2, 3],
            (1, 1),
            ConvPadding::Same,
            (2, 1),
            4,
            PadMode::Reflect,
            [1, 1, 1, 1],
        ),
        (
            [1, 2, 4, 5],
            [2, 2, 3, 3],
            (2, 2),
            ConvPadding::Explicit((2, 1)),
            (1, 1),
            1,
            PadMode::Circular,
            [2, 2, 1, 1],
        ),
        (
            [1, 2, 4, 5],
            [4, 1, 3, 2],
            (1, 2),
            ConvPadding::Explicit((1, 1)),
            (1, 1),
            2,
            PadMode::Replicate,
            [1, 1, 1, 1],
        ),
        // Planes so small that some taps see only padding (the kernel is cut to the rest).
        (
            [2, 3, 1, 1],
            [4, 3, 3, 3],
            (1, 1),
            ConvPadding::Explicit((1, 1)),
            (1, 1),
            1,
            PadMode::Constant,
            [1, 1, 1, 1],
        ),
        (
            [2, 4, 2, 3],
            [4, 2, 3, 3],
            (2, 2),
            ConvPadding::Explicit((1, 1)),
            (1, 1),
            2,
            PadMode::Constant,
            [1, 1, 1, 1],
        ),
        (
            [1, 2, 1, 4],
            [2, 2, 3, 3],
            (1, 1),
            ConvPadding::Explicit((2, 1)),
            (2, 1),
            1,
            PadMode::Constant,
            [2, 2, 1, 1],
        ),
        (
            [1, 2, 4, 5],
            [2, 2, 3, 3],
            (1, 1),
            ConvPadding::Valid,
            (1, 1),
            1,
            PadMode::Reflect,
            [0, 0, 0, 0],
        ),
    ];
    for &(xd, wd, stride, padding, dilation, groups, mode, [t, b, l, r]) in cases {
        let (x, w) = (randn(&xd), randn(&wd));
        let options = Conv2dOptions::default()
            .stride(stride)
            .padding(padding)
            .dilation(dilation)
            .groups(groups)
            .padding_mode(mode);
        let got = x.conv2d_with(&w, None, &options).unwrap();
        let (pd, padded) = pad_reference(&x.to_vec().unwrap(), &xd, &[l, r, t, b], mode, 0.0);
        let geometry = Geometry {
            stride,
            dilation,
            groups,
        };
        let pd = [pd[0], pd[1], pd[2], pd[3]];
        let (want_dims, want) = conv_reference(&padded, pd, &w.to_vec().unwrap(), wd, geometry);
        assert_close(&got, &want_dims, &want);
    }
}

#[test]
fn conv1d_with_groups_and_circular_padding_matches_the_definition() {
    manual_seed(6);
    let (x, w, bias) = (randn(&[2, 4, 7]), randn(&[6, 2, 3]), randn(&[6]));
    let options = Conv1dOptions::default()
        .stride(2)
        .padding(2)
        .dilation(2)
        .groups(2)
        .padding_mode(PadMode::Circular);
    let got = x.conv1d_with(&w, Some(&bias), &options).unwrap();
    let (pd, padded) = pad_reference(
        &x.to_vec().unwrap(),
        &[2, 4, 7],
        &[2, 2],
        PadMode::Circular,
        0.0,
    );
    let geometry = Geometry {
        stride: (1, 2),
        dilation: (1, 2),
        groups: 2,
    };
    let (dims, mut want) = conv_reference(
        &padded,
        [pd[0], pd[1], 1, pd[2]],
        &w.to_vec().unwrap(),
        [6, 2, 1, 3],
        geometry,
    );
    let (bv, l) = (bias.to_vec().unwrap(), dims[3]);
    for (i, v) in want.iter_mut().enumerate() {
        *v += bv[i / l % 6];
    }
    assert_close(&got, &[dims[0], dims[1], l], &want);
}

#[test]
fn conv_transpose2d_matches_the_definition() {
    manual_seed(7);
    // (input, weight, stride, padding, output_padding, dilation, groups)
    type Case = (
        [usize; 4],
        [usize; 4],
        (usize, usize),
        (usize, usize),
        (usize, usize),
        (usize, usize),
        usize,
    );
    let cases: &[Case] = &[
        (
            [2, 4, 3, 3],
            [4, 3, 3, 3],
            (2, 2),
            (1, 1),
            (1, 1),
            (1, 1),
            2,
        ),
        (
            [1, 2, 3, 4],
            [2, 2, 2, 3],
            (1, 2),
            (0, 1),
            (0, 1),
            (2, 1),
            1,
        ),
        (
            [1, 3, 2, 3],
            [3, 1, 3, 2],
            (3, 1),
            (2, 0),
            (2, 0),
            (1, 2),
            3,
        ),
        (
            [1, 2, 3, 2],
            [2, 1, 2, 2],
            (1, 1),
            (0, 0),
            (1, 1),
            (2, 2),
            1,
        ),
    ];
    for &(xd, wd, stride, padding, output_padding, dilation, groups) in cases {
        let (x, w) = (randn(&xd), randn(&wd));
        let options = ConvTranspose2dOptions::default()
            .stride(stride)
            .padding(padding)
            .output_padding(output_padding)
            .dilation(dilation)
            .groups(groups);
        let got = x.conv_transpose2d(&w, None, &options).unwrap();
        let geometry = Geometry {
            stride,
            dilation,
            groups,
        };
        let (dims, want) = transpose_reference(
            &x.to_vec().unwrap(),
            xd,
            &w.to_vec().unwrap(),
            wd,
            geometry,
            padding,
            output_padding,
        );
        assert_close(&got, &dims, &want);
    }
}

#[test]
fn conv_transpose1d_with_bias_matches_the_definition() {
    manual_seed(8);
    let (x, w, bias) = (randn(&[2, 2, 5]), randn(&[2, 3, 3]), randn(&[3]));
    let options = ConvTranspose1dOptions::default()
        .stride(3)
        .padding(1)
        .output_padding(2);
    let got = x.conv_transpose1d(&w, Some(&bias), &options).unwrap();
    let geometry = Geometry {
        stride: (1, 3),
        dilation: (1, 1),
        groups: 1,
    };
    let (dims, mut want) = transpose_reference(
        &x.to_vec().unwrap(),
        [2, 2, 1, 5],
        &w.to_vec().unwrap(),
        [2, 3, 1, 3],
        geometry,
        (0, 1),
        (0, 2),
    );
    let (bv, l) = (bias.to_vec().unwrap(), dims[3]);
    for (i, v) in want.iter_mut().enumerate() {
        *v += bv[i / l % 3];
    }
    assert_close(&got, &[2, 3, l], &want);
}

/// `<conv(x), y> = <x, conv_transpose(y)>` for the same weight and geometry: the transposed
/// convolution is the adjoint that its name promises.
#[test]
fn conv_transpose_is_the_adjoint_of_conv() {
    manual_seed(9);
    let (x, w) = (randn(&[2, 4, 8, 6]), randn(&[6, 2, 3, 2]));
    let conv = Conv2dOptions::default()
        .stride((2, 1))
        .padding((1, 1))
        .dilation((1, 2))
        .groups(2);
    let y = x.conv2d_with(&w, None, &conv).unwrap();
    let g = randn(y.dims());
    // The stride-2 rows drop one of x's 8 (8 + 2 − 3 = 7 is odd): output_padding gives it back.
    let transpose = ConvTranspose2dOptions::default()
        .stride((2, 1))
        .padding((1, 1))
        .dilation((1, 2))
        .output_padding((1, 0))
        .groups(2);
    let back = g.conv_transpose2d(&w, None, &transpose).unwrap();
    assert_eq!(back.dims(), x.dims());
    let dot = |a: &T, b: &T| a.mul(b).unwrap().sum_all().unwrap().item().unwrap();
    let (lhs, rhs) = (dot(&y, &g), dot(&x, &back));
    assert!(
        (lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0),
        "{lhs} vs {rhs}"
    );
}

/// Where some kernel taps see only padding the convolution runs with the kernel cut to the
/// others: against the same convolution over an explicitly padded input (whose taps all read
/// something, so nothing is cut), values, first derivatives and second derivatives agree.
#[test]
fn a_cut_kernel_matches_explicit_padding_to_second_order() {
    manual_seed(11);
    // (input, weight, stride, padding, groups)
    type Case = (
        [usize; 4],
        [usize; 4],
        (usize, usize),
        (usize, usize),
        usize,
    );
    let cases: &[Case] = &[
        ([2, 3, 1, 1], [4, 3, 3, 3], (1, 1), (1, 1), 1),
        ([1, 4, 2, 3], [4, 2, 3, 3], (2, 2), (1, 1), 2),
    ];
    for &(xd, wd, stride, (ph, pw), groups) in cases {
        let x = randn(&xd).requires_grad_(true);
        let w = randn(&wd).requires_grad_(true);
        let cut = Conv2dOptions::default()
            .stride(stride)
            .padding((ph, pw))
            .groups(groups);
        let whole = Conv2dOptions::default().stride(stride).groups(groups);
        let sides = [pw, pw, ph, ph].map(|n| n as isize);
        let run = |cut_path: bool| {
            if cut_path {
                x.conv2d_with(&w, None, &cut).unwrap()
            } else {
                let padded = x.pad(&sides, PadMode::Constant, 0.0).unwrap();
                padded.conv2d_with(&w, None, &whole).unwrap()
            }
        };
        let (a, b) = (run(true), run(false));
        assert_close(&a, b.dims(), &b.to_vec().unwrap());
        let weights = randn(a.dims());
        let loss = |y: &T| {
            y.mul(&weights)
                .unwrap()
                .square()
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let create = BackwardOptions {
            retain_graph: true,
            create_graph: true,
        };
        let derivatives = |y: &T| {
            let first = grad(&loss(y), None, &[&x, &w], create).unwrap();
            let (gx, gw) = (first[0].clone().unwrap(), first[1].clone().unwrap());
            let s = gw.square().unwrap().sum_all().unwrap();
            let second = grad(&s, None, &[&x, &w], BackwardOptions::default()).unwrap();
            let second: Vec<T> = second.into_iter().map(Option::unwrap).collect();
            (gx, gw, second)
        };
        let (got, want) = (derivatives(&a), derivatives(&b));
        assert_close(&got.0, want.0.dims(), &want.0.to_vec().unwrap());
        assert_close(&got.1, want.1.dims(), &want.1.to_vec().unwrap());
        for (g, e) in got.2.iter().zip(&want.2) {
            assert_close(g, e.dims(), &e.to_vec().unwrap());
        }
    }
}
