//! Normalisation layers: `LayerNorm` and `GroupNorm` (statistics per sample), `BatchNorm1d/2d/3d`
//! (statistics per channel over the batch, with running averages for evaluation) and
//! `InstanceNorm1d/2d` (statistics per sample and channel).

mod base;
mod batch;
mod group;
mod instance;
mod layer;

pub use batch::{batch_norm, BatchNorm1d, BatchNorm2d, BatchNorm3d, RunningStats};
pub use group::{group_norm, GroupNorm};
pub use instance::{instance_norm, InstanceNorm1d, InstanceNorm2d};
pub use layer::{layer_norm, LayerNorm};

/// The normalisation layers and functions of this module, by name: `tests/gradcheck.rs` fails if
/// one has no case.
pub const NORM_LAYERS: &[&str] = &[
    "LayerNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "layer_norm",
    "batch_norm",
    "group_norm",
    "instance_norm",
];
