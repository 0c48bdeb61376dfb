//! torchvision's `BasicBlock` (two 3×3 convolutions, ResNet-18/34) and the parts both blocks
//! share: the bias-free convolutions with torchvision's init and the projection shortcut.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Float, Result};
use nanotorch_nn::init::{self, FanMode};
use nanotorch_nn::{BatchNorm2d, Conv2d, Module, ReLU, Visitor};

/// A bias-free `k×k` convolution with torchvision's init: `kaiming_normal_(mode="fan_out",
/// nonlinearity="relu")`, i.e. `N(0, 2 / (out·k·k))`. The padding keeps the size for odd `k`
/// at stride 1 (torchvision's `conv3x3` pads 1, `conv1x1` 0, the 7×7 stem 3).
pub(crate) fn conv<E: Float, B: Backend>(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    backend: &B,
) -> Result<Conv2d<E, B>> {
    let mut conv = Conv2d::new(in_channels, out_channels, (kernel, kernel), backend)?
        .stride((stride, stride))
        .padding((kernel / 2, kernel / 2))
        .without_bias();
    conv.weight = init::kaiming_normal(
        conv.weight.shape().clone(),
        None,
        FanMode::FanOut,
        "relu",
        backend,
    )?;
    Ok(conv)
}

/// A `BatchNorm2d` whose weight starts at zero: the last norm of a block under
/// `zero_init_residual`, so each block starts as the identity.
pub(crate) fn zeroed_norm<E: Float, B: Backend>(
    channels: usize,
    backend: &B,
) -> Result<BatchNorm2d<E, B>> {
    let mut bn = BatchNorm2d::new(channels, backend)?;
    bn.weight = Some(init::zeros([channels], backend)?);
    Ok(bn)
}

/// The last norm of a block: zero-initialised or PyTorch's default (weight 1, bias 0).
pub(crate) fn last_norm<E: Float, B: Backend>(
    channels: usize,
    zero_init: bool,
    backend: &B,
) -> Result<BatchNorm2d<E, B>> {
    if zero_init {
        zeroed_norm(channels, backend)
    } else {
        BatchNorm2d::new(channels, backend)
    }
}

/// The projection shortcut for a block from `in_channels` to `out_channels` at `stride`, if
/// it needs one (torchvision's condition: the shapes of input and output differ).
pub(crate) fn shortcut<E: Float, B: Backend>(
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    backend: &B,
) -> Result<Option<Downsample<E, B>>> {
    (stride != 1 || in_channels != out_channels)
        .then(|| Downsample::new(in_channels, out_channels, stride, backend))
        .transpose()
}

/// The projection shortcut, torchvision's `nn.Sequential(conv1x1(in, out, stride),
/// BatchNorm2d(out))`: its children are named `0` and `1`, as there (`downsample.0.weight`,
/// `downsample.1.running_mean`), and it prints as `Sequential`.
pub struct Downsample<E: Float = f32, B: Backend = Cpu> {
    /// The 1×1 convolution (child `0`).
    pub conv: Conv2d<E, B>,
    /// Its batch norm (child `1`).
    pub bn: BatchNorm2d<E, B>,
}

impl<E: Float, B: Backend> Downsample<E, B> {
    /// `conv1x1(in_channels, out_channels, stride)` then `BatchNorm2d(out_channels)`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        stride: usize,
        backend: &B,
    ) -> Result<Self> {
        Ok(Downsample {
            conv: conv(in_channels, out_channels, 1, stride, backend)?,
            bn: BatchNorm2d::new(out_channels, backend)?,
        })
    }

    /// `bn(conv(x))`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        self.bn.forward(&self.conv.forward(x)?)
    }
}

impl<E: Float, B: Backend> Module<E, B> for Downsample<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("0", &self.conv);
        v.module("1", &self.bn);
    }

    fn module_name(&self) -> String {
        "Sequential".into()
    }
}

/// torchvision's `BasicBlock` (expansion 1): `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`
/// with 3×3 convolutions, the stride on `conv1`, and the shortcut a [`Downsample`] projection
/// when the shape changes.
pub struct BasicBlock<E: Float = f32, B: Backend = Cpu> {
    /// 3×3, `in → planes`, carries the stride.
    pub conv1: Conv2d<E, B>,
    /// Norm after `conv1`.
    pub bn1: BatchNorm2d<E, B>,
    /// Shared by both activations (torchvision's `self.relu`).
    pub relu: ReLU,
    /// 3×3, `planes → planes`.
    pub conv2: Conv2d<E, B>,
    /// Norm after `conv2`; its weight starts at zero under `zero_init_residual`.
    pub bn2: BatchNorm2d<E, B>,
    /// The projection shortcut, if the block changes the shape.
    pub downsample: Option<Downsample<E, B>>,
}

impl<E: Float, B: Backend> BasicBlock<E, B> {
    /// Output channels per `planes` (torchvision's `BasicBlock.expansion`).
    pub const EXPANSION: usize = 1;

    /// A block from `in_channels` to `planes` channels at `stride`, with a projection shortcut
    /// when needed, torchvision's init, and `bn2.weight` zero under `zero_init_residual`.
    pub fn new(
        in_channels: usize,
        planes: usize,
        stride: usize,
        zero_init_residual: bool,
        backend: &B,
    ) -> Result<Self> {
        Ok(BasicBlock {
            conv1: conv(in_channels, planes, 3, stride, backend)?,
            bn1: BatchNorm2d::new(planes, backend)?,
            relu: ReLU,
            conv2: conv(planes, planes, 3, 1, backend)?,
            bn2: last_norm(planes, zero_init_residual, backend)?,
            downsample: shortcut(in_channels, planes, stride, backend)?,
        })
    }

    /// The forward pass: `[n, in, h, w]` → `[n, planes, h / stride, w / stride]` (rounded up).
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let out = self
            .relu
            .forward(&self.bn1.forward(&self.conv1.forward(x)?)?)?;
        let out = self.bn2.forward(&self.conv2.forward(&out)?)?;
        let identity = match &self.downsample {
            Some(d) => d.forward(x)?,
            None => x.clone(),
        };
        self.relu.forward(&out.add(&identity)?)
    }
}

impl<E: Float, B: Backend> Module<E, B> for BasicBlock<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("conv1", &self.conv1);
        v.module("bn1", &self.bn1);
        v.module("relu", &self.relu);
        v.module("conv2", &self.conv2);
        v.module("bn2", &self.bn2);
        if let Some(d) = &self.downsample {
            v.module("downsample", d);
        }
    }
}

crate::model_traits!(Downsample, BasicBlock);
