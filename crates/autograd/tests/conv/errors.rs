//! The errors PyTorch also raises, each naming the op and the shapes or options at fault.

use super::*;

#[test]
fn pad_refuses_what_pytorch_refuses() {
    let x = randn(&[1, 2, 3]);
    let message = |pad: &[isize], mode| x.pad(pad, mode, 0.0).unwrap_err().to_string();
    let reflect = message(&[3, 0], PadMode::Reflect);
    assert!(
        reflect.contains("pad") && reflect.contains("smaller than the axis"),
        "{reflect}"
    );
    let circular = message(&[0, 4], PadMode::Circular);
    assert!(circular.contains("wrap around"), "{circular}");
    assert!(message(&[1, 1, 1], PadMode::Constant).contains("pairs"));
    assert!(message(&[0; 8], PadMode::Constant).contains("pairs"));
    assert!(message(&[-2, -2], PadMode::Constant).contains("negative size"));
    // The largest legal pads go through.
    assert_eq!(
        x.pad(&[2, 2], PadMode::Reflect, 0.0).unwrap().dims(),
        &[1, 2, 7]
    );
    assert_eq!(
        x.pad(&[3, 3], PadMode::Circular, 0.0).unwrap().dims(),
        &[1, 2, 9]
    );
}

#[test]
fn convolution_errors_name_the_op_and_both_shapes() {
    let x = randn(&[1, 4, 5, 5]);
    let message = |r: nanotorch_ndarray_core::Result<T>| r.unwrap_err().to_string();
    let grouped = message(x.conv2d_with(
        &randn(&[6, 3, 3, 3]),
        None,
        &Conv2dOptions::default().groups(3),
    ));
    assert!(
        grouped.starts_with("conv2d")
            && grouped.contains("[1, 4, 5, 5]")
            && grouped.contains("[6, 3, 3, 3]"),
        "{grouped}"
    );
    let out = message(x.conv2d_with(
        &randn(&[5, 2, 3, 3]),
        None,
        &Conv2dOptions::default().groups(2),
    ));
    assert!(out.contains("5 output channels"), "{out}");
    let same = message(
        x.conv2d_with(
            &randn(&[2, 4, 3, 3]),
            None,
            &Conv2dOptions::default()
                .stride((2, 1))
                .padding(ConvPadding::Same),
        ),
    );
    assert!(same.contains("'same'"), "{same}");
    let reflect = message(
        x.conv2d_with(
            &randn(&[2, 4, 3, 3]),
            None,
            &Conv2dOptions::default()
                .padding((5, 0))
                .padding_mode(PadMode::Reflect),
        ),
    );
    assert!(
        reflect.starts_with("conv2d") && reflect.contains("reflect"),
        "{reflect}"
    );
    let w = randn(&[4, 2, 3, 3]);
    let extra = message(
        x.conv_transpose2d(
            &w,
            None,
            &ConvTranspose2dOptions::default()
                .stride((2, 2))
                .output_padding((2, 0)),
        ),
    );
    assert!(
        extra.starts_with("conv_transpose2d") && extra.contains("output_padding"),
        "{extra}"
    );
    let channels = message(randn(&[1, 3, 4, 4]).conv_transpose2d(
        &w,
        None,
        &ConvTranspose2dOptions::default(),
    ));
    assert!(
        channels.contains("[1, 3, 4, 4]") && channels.contains("[4, 2, 3, 3]"),
        "{channels}"
    );
    let empty = message(randn(&[1, 4, 1]).conv_transpose1d(
        &randn(&[4, 1, 1]),
        None,
        &ConvTranspose1dOptions::default().padding(1),
    ));
    assert!(
        empty.starts_with("conv_transpose1d") && empty.contains("empty"),
        "{empty}"
    );
}
