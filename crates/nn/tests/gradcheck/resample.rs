//! Gradient checks of the resampling layers and channel dropouts (`RESAMPLE_LAYERS`).

use super::*;
use nanotorch_nn::{
    dropout1d, dropout2d, interpolate, Dropout1d, Dropout2d, InterpolateMode, Upsample,
};

/// The resampling cases, one or more per name in `RESAMPLE_LAYERS`. Interpolation is linear in
/// its input, so the checks see every weight and every index a mode produces; the sizes are
/// non-integer ratios, up and down, so positions are read by several outputs or by none.
pub(super) fn cases() -> Vec<Case> {
    use InterpolateMode::{Bilinear, Linear, Nearest, NearestExact, Trilinear};
    vec![
        (
            "interpolate",
            || vec![randn(&[1, 2, 3, 4])],
            |x| {
                let a = interpolate(&x[0], (5, 3), Bilinear, false)?;
                let b = interpolate(&x[0], (2, 7), Bilinear, true)?;
                let c = interpolate(&x[0], (1.7, 0.6), Nearest, false)?;
                a.sum()?.add(&b.square()?.sum()?)?.add(&c.square()?.sum()?)
            },
        ),
        (
            "interpolate",
            || vec![randn(&[2, 1, 5]), randn(&[1, 1, 2, 3, 2])],
            |x| {
                let a = interpolate(&x[0], 3, Linear, false)?;
                let b = interpolate(&x[0], 2.5, NearestExact, false)?;
                let c = interpolate(&x[1], (3, 2, 3), Trilinear, true)?;
                a.square()?
                    .sum()?
                    .add(&b.square()?.sum()?)?
                    .add(&c.square()?.sum()?)
            },
        ),
        (
            "Upsample",
            || vec![randn(&[1, 2, 3, 3])],
            |x| {
                let up = Upsample::new(1.5).mode(Bilinear);
                up.forward(&x[0])?.square()
            },
        ),
        (
            "dropout1d",
            || vec![randn(&[3, 4, 2])],
            |x| {
                manual_seed(13); // the same mask on every evaluation
                dropout1d(&x[0], 0.4, true)
            },
        ),
        (
            "dropout2d",
            || vec![randn(&[3, 4, 2, 2])],
            |x| {
                manual_seed(14);
                dropout2d(&x[0], 0.4, true)
            },
        ),
        (
            "Dropout1d",
            || vec![randn(&[4, 3])],
            |x| {
                manual_seed(15);
                Dropout1d::new(0.5).forward(&x[0])?.square()
            },
        ),
        (
            "Dropout2d",
            || vec![randn(&[2, 4, 2, 3])],
            |x| {
                manual_seed(16);
                Dropout2d::new(0.3).forward(&x[0])?.square()
            },
        ),
    ]
}
