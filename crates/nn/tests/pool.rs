//! The pooling layers: PyTorch's defaults, shapes, reprs and errors, and forward values against
//! naive loops (the ops underneath are checked against PyTorch in nanotorch-autograd's
//! `tests/pool.rs`).

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use nanotorch_nn::{
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d,
    AvgPool2d, Forward, LPPool1d, LPPool2d, MaxPool1d, MaxPool2d, MaxUnpool1d, MaxUnpool2d, Module,
    Sequential,
};

type T = Tensor<f64, Cpu>;

/// `[n, c, h, w]` values `0, 1, 2, …` scrambled so that maxima move around: `(7·i) mod 11`.
fn scrambled(shape: [usize; 4]) -> T {
    let n: usize = shape.iter().product();
    let data = (0..n).map(|i| ((7 * i) % 11) as f64).collect();
    T::from_vec(data, shape, &Cpu).unwrap()
}

fn error<V: std::fmt::Debug>(r: Result<V>) -> String {
    r.expect_err("should fail").to_string()
}

#[test]
fn resnet_stem_max_pool_pads_with_minus_infinity() -> Result<()> {
    let x = scrambled([2, 3, 7, 8]).neg()?; // all ≤ 0: zero padding would win somewhere
    let pool = MaxPool2d::new((3, 3)).stride((2, 2)).padding((1, 1));
    let y = Forward::forward(&pool, &x)?;
    assert_eq!(y.dims(), &[2, 3, 4, 4]);
    let (data, got) = (x.to_vec()?, y.to_vec()?);
    for plane in 0..6 {
        for (i, j) in (0..4usize).flat_map(|i| (0..4usize).map(move |j| (i, j))) {
            let mut best = f64::NEG_INFINITY;
            for r in (2 * i).saturating_sub(1)..(2 * i + 2).min(7) {
                for c in (2 * j).saturating_sub(1)..(2 * j + 2).min(8) {
                    best = best.max(data[plane * 56 + r * 8 + c]);
                }
            }
            assert_eq!(
                got[plane * 16 + i * 4 + j],
                best,
                "plane {plane} at ({i}, {j})"
            );
        }
    }
    Ok(())
}

#[test]
fn global_average_pool_is_the_mean_of_each_plane() -> Result<()> {
    let x = scrambled([2, 3, 4, 5]);
    let y = AdaptiveAvgPool2d::new((1, 1)).forward(&x)?;
    assert_eq!(y.dims(), &[2, 3, 1, 1]);
    let data = x.to_vec()?;
    for (plane, got) in y.to_vec()?.into_iter().enumerate() {
        let mean = data[plane * 20..(plane + 1) * 20].iter().sum::<f64>() / 20.0;
        assert!((got - mean).abs() < 1e-12);
    }
    // In a Sequential, as ResNet's head uses it.
    let head = Sequential::new().append(AdaptiveAvgPool2d::new((1, 1)));
    assert_eq!(head.forward(&x)?.dims(), &[2, 3, 1, 1]);
    Ok(())
}

#[test]
fn none_in_an_adaptive_output_size_keeps_the_input_size() -> Result<()> {
    let x = scrambled([1, 2, 5, 6]);
    let keep_h = AdaptiveAvgPool2d {
        output_size: (None, Some(2)),
    };
    assert_eq!(keep_h.forward(&x)?.dims(), &[1, 2, 5, 2]);
    let keep_w = AdaptiveMaxPool2d {
        output_size: (Some(3), None),
    };
    assert_eq!(keep_w.forward(&x)?.dims(), &[1, 2, 3, 6]);
    // Keeping both sizes is the identity.
    let both = AdaptiveAvgPool2d {
        output_size: (None, None),
    };
    assert_eq!(both.forward(&x)?.to_vec()?, x.to_vec()?);
    Ok(())
}

#[test]
fn defaults_and_reprs_are_pytorchs() {
    let pool = MaxPool2d::new((3, 3));
    assert_eq!(pool.stride, (3, 3));
    assert_eq!(
        pool.stride((2, 2)).padding((1, 1)).to_string(),
        "MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), \
         ceil_mode=false)"
    );
    assert_eq!(
        MaxPool1d::new(2).to_string(),
        "MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=false)"
    );
    let avg = AvgPool2d::new((2, 2));
    assert!(avg.count_include_pad && avg.divisor_override.is_none() && !avg.ceil_mode);
    assert_eq!(
        avg.to_string(),
        "AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    );
    assert_eq!(
        AvgPool1d::new(3).to_string(),
        "AvgPool1d(kernel_size=3, stride=3, padding=0)"
    );
    assert_eq!(
        AdaptiveAvgPool2d::new((1, 1)).to_string(),
        "AdaptiveAvgPool2d(output_size=(1, 1))"
    );
    let half = AdaptiveMaxPool2d {
        output_size: (None, Some(7)),
    };
    assert_eq!(half.to_string(), "AdaptiveMaxPool2d(output_size=(None, 7))");
    assert_eq!(
        AdaptiveAvgPool1d::new(4).to_string(),
        "AdaptiveAvgPool1d(output_size=4)"
    );
    assert_eq!(
        MaxUnpool2d::new((2, 2)).to_string(),
        "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    );
    assert_eq!(
        LPPool2d::new(2.0, (2, 2)).to_string(),
        "LPPool2d(norm_type=2, kernel_size=(2, 2), stride=(2, 2), ceil_mode=false)"
    );
    // No parameters, nothing in the state dict.
    let layer = AdaptiveMaxPool1d::new(2);
    assert!(Module::<f64, Cpu>::state_dict(&layer).is_empty());
}

#[test]
fn unpooling_puts_the_maxima_back_and_zeros_elsewhere() -> Result<()> {
    let x = scrambled([2, 2, 4, 6]);
    let (y, index) = MaxPool2d::new((2, 2)).forward_with_indices(&x)?;
    let back = MaxUnpool2d::new((2, 2)).forward(&y, &index, None)?;
    assert_eq!(back.dims(), x.dims());
    let data = x.to_vec()?;
    for (plane, chunk) in back.to_vec()?.chunks(24).enumerate() {
        for (p, &v) in chunk.iter().enumerate() {
            let (r, c) = (p / 6, p % 6);
            let window: Vec<f64> = (0..4)
                .map(|k| data[plane * 24 + (r / 2 * 2 + k / 2) * 6 + c / 2 * 2 + k % 2])
                .collect();
            let max = window.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let first = window.iter().position(|&w| w == max).unwrap();
            let is_first_max = (r % 2) * 2 + c % 2 == first;
            assert_eq!(
                v,
                if is_first_max { max } else { 0.0 },
                "plane {plane} at {p}"
            );
        }
    }
    // 1-d, to a requested length within one stride of the default 6.
    let x1 = T::from_vec(vec![1.0, 5.0, 2.0, 2.0, 0.0, 3.0], [1, 1, 6], &Cpu)?;
    let (y1, i1) = MaxPool1d::new(2).forward_with_indices(&x1)?;
    assert_eq!(i1.to_vec()?, [1, 2, 5]);
    let back = MaxUnpool1d::new(2).forward(&y1, &i1, Some(7))?;
    assert_eq!(back.to_vec()?, [0.0, 5.0, 2.0, 0.0, 0.0, 3.0, 0.0]);
    Ok(())
}

#[test]
fn average_pool_options_divide_as_pytorch() -> Result<()> {
    // A 1×3 row of ones with one zero of padding on each side, windows of 2 with stride 2.
    let ones = T::ones([1, 1, 1, 3], &Cpu)?;
    let pool = AvgPool2d::new((1, 2)).padding((0, 1));
    // count_include_pad: [pad, 1] / 2 and [1, 1] / 2.
    assert_eq!(pool.forward(&ones)?.to_vec()?, [0.5, 1.0]);
    assert_eq!(
        pool.count_include_pad(false).forward(&ones)?.to_vec()?,
        [1.0, 1.0]
    );
    assert_eq!(
        pool.divisor_override(4).forward(&ones)?.to_vec()?,
        [0.25, 0.5]
    );
    // ceil_mode keeps a last window that starts inside the input; the part of it past the
    // (padded) input is not counted, even with count_include_pad: [1] / 1.
    let five = T::ones([1, 1, 1, 5], &Cpu)?;
    let ceil = AvgPool2d::new((1, 2)).ceil_mode(true);
    assert_eq!(ceil.forward(&five)?.to_vec()?, [1.0, 1.0, 1.0]);
    assert_eq!(AvgPool2d::new((1, 2)).forward(&five)?.dims(), &[1, 1, 1, 2]);
    let x = T::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0], [1, 1, 5], &Cpu)?;
    assert_eq!(
        AvgPool1d::new(2).ceil_mode(true).forward(&x)?.to_vec()?,
        [1.5, 3.5, 5.0]
    );
    Ok(())
}

#[test]
fn lp_pooling_is_the_p_norm_of_each_window() -> Result<()> {
    let x = T::from_vec(vec![3.0, 4.0, 1.0, 2.0, 2.0, 1.0], [1, 1, 6], &Cpu)?;
    let got = LPPool1d::new(2.0, 2).forward(&x)?.to_vec()?;
    let want = [5.0, 5f64.sqrt(), 5f64.sqrt()];
    assert!(
        got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-12),
        "{got:?}"
    );
    let plane = T::from_vec(vec![1.0, 2.0, 2.0, 4.0], [1, 1, 2, 2], &Cpu)?;
    let got = LPPool2d::new(1.0, (2, 2)).forward(&plane)?.to_vec()?;
    assert!(
        (got[0] - 9.0).abs() < 1e-12,
        "p = 1 sums the window: {got:?}"
    );
    Ok(())
}

#[test]
fn bad_options_are_refused_by_name() {
    let x = T::zeros([1, 1, 4, 4], &Cpu).unwrap();
    let err = error(MaxPool2d::new((3, 3)).padding((2, 2)).forward(&x));
    assert!(
        err.contains("pad should be at most half of kernel size"),
        "{err}"
    );
    let err = error(MaxPool2d::new((2, 2)).dilation((0, 1)).forward(&x));
    assert!(
        err.starts_with("MaxPool2d: dilation must be positive"),
        "{err}"
    );
    let err = error(AvgPool2d::new((2, 2)).divisor_override(0).forward(&x));
    assert!(err.contains("divisor must be not zero"), "{err}");
    let err = error(MaxPool2d::new((5, 5)).forward(&x));
    assert!(err.contains("spans more than the input"), "{err}");
    let err = error(MaxPool1d::new(2).forward(&x));
    assert!(
        err.contains("max_pool1d") && err.contains("[n, c, l]"),
        "{err}"
    );
    let index = Tensor::<i64, Cpu>::from_vec(vec![0, 99], [1, 1, 2], &Cpu).unwrap();
    let y = T::ones([1, 1, 2], &Cpu).unwrap();
    let err = error(MaxUnpool1d::new(2).forward(&y, &index, None));
    assert!(err.contains("invalid max index: 99"), "{err}");
    let err = error(MaxUnpool1d::new(2).forward(&y, &index, Some(9)));
    assert!(err.contains("invalid output_size"), "{err}");
}
