//! Resampling: [`interpolate`] (nearest, linear, bilinear, trilinear, with `align_corners`) and
//! the [`Upsample`] layer over it, and the channel dropouts [`Dropout1d`]/[`Dropout2d`].
//!
//! Both are compositions of differentiable ops: interpolation picks rows with `index_select`
//! and mixes them with constant weights, channel dropout multiplies by a mask drawn per
//! channel, so neither needs a backward of its own.

mod dropout;
mod interpolate;

pub use dropout::{dropout1d, dropout2d, Dropout1d, Dropout2d};
pub use interpolate::{interpolate, InterpolateMode, Resize, Upsample};

/// The layers and functions of this file, by name: `tests/gradcheck.rs` fails if one has no case.
pub const RESAMPLE_LAYERS: &[&str] = &[
    "interpolate",
    "Upsample",
    "dropout1d",
    "dropout2d",
    "Dropout1d",
    "Dropout2d",
];
