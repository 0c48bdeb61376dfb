//! ResNet-18/34/50 with torchvision's module tree (`torchvision.models.resnet`), so state-dict
//! keys match key for key: `conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`.

mod block;
mod bottleneck;

pub use block::{BasicBlock, Downsample};
pub use bottleneck::Bottleneck;

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};
use nanotorch_nn::{
    AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Forward, Linear, MaxPool2d, Module, ReLU, Visitor,
};

/// Which residual block a [`ResNet`] is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// [`BasicBlock`]: ResNet-18 and ResNet-34.
    Basic,
    /// [`Bottleneck`]: ResNet-50 and deeper.
    Bottleneck,
}

impl BlockKind {
    /// Output channels per `planes`: 1 for `Basic`, 4 for `Bottleneck`.
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }
}

/// One residual block of either kind: what a [`Stage`] of a [`ResNet`] holds. It adds no level
/// to the module tree (its keys are the block's own: `layer1.0.conv1.weight`).
pub enum Block<E: Float = f32, B: Backend = Cpu> {
    /// A ResNet-18/34 block.
    Basic(BasicBlock<E, B>),
    /// A ResNet-50 block.
    Bottleneck(Bottleneck<E, B>),
}

impl<E: Float, B: Backend> Block<E, B> {
    /// The block's forward pass.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        match self {
            Block::Basic(b) => b.forward(x),
            Block::Bottleneck(b) => b.forward(x),
        }
    }

    /// The norm whose weight `zero_init_residual` zeroes: `bn2` of a basic block, `bn3` of a
    /// bottleneck.
    pub fn last_norm(&self) -> &BatchNorm2d<E, B> {
        match self {
            Block::Basic(b) => &b.bn2,
            Block::Bottleneck(b) => &b.bn3,
        }
    }
}

impl<E: Float, B: Backend> Module<E, B> for Block<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        match self {
            Block::Basic(b) => b.visit(v),
            Block::Bottleneck(b) => b.visit(v),
        }
    }

    fn module_name(&self) -> String {
        match self {
            Block::Basic(b) => b.module_name(),
            Block::Bottleneck(b) => b.module_name(),
        }
    }
}

/// A run of blocks applied in order: torchvision's `layer1` … `layer4`, an `nn.Sequential`.
/// Children are named `0`, `1`, … and it prints as `Sequential`, as there; unlike
/// [`nanotorch_nn::Sequential`] it keeps the blocks' type, so `model.layer4[1].bn2` is typed.
pub struct Stage<M> {
    blocks: Vec<M>,
}

impl<M> std::ops::Deref for Stage<M> {
    type Target = [M];

    fn deref(&self) -> &[M] {
        &self.blocks
    }
}

impl<E: Float, B: Backend, M: Forward<E, B>> Module<E, B> for Stage<M> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        for (i, block) in self.blocks.iter().enumerate() {
            v.module(&i.to_string(), block);
        }
    }

    fn module_name(&self) -> String {
        "Sequential".into()
    }
}

impl<E: Float, B: Backend, M: Forward<E, B>> Forward<E, B> for Stage<M> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let mut x = x.clone();
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        Ok(x)
    }
}

/// The options of torchvision's `ResNet(...)` that this crate builds (`groups` and
/// `width_per_group`, which give ResNeXt and Wide ResNet, are left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResNetOptions {
    /// Outputs of `fc` (torchvision's default 1000, ImageNet's classes).
    pub num_classes: usize,
    /// Start the last norm of each block (`bn2` of a basic block, `bn3` of a bottleneck) at
    /// weight 0, so every residual branch starts as zero and each block as the identity
    /// (torchvision's `zero_init_residual`, from "Bag of Tricks", He et al. 2019).
    pub zero_init_residual: bool,
}

impl Default for ResNetOptions {
    /// torchvision's defaults: 1000 classes, no zero init.
    fn default() -> Self {
        ResNetOptions {
            num_classes: 1000,
            zero_init_residual: false,
        }
    }
}

/// torchvision's `ResNet`: a 7×7/2 stem convolution, norm, ReLU, a 3×3/2 max pool, four
/// [`Stage`]s of residual blocks (64, 128, 256, 512 planes; stride 2 from the second on), a
/// global average pool and `fc`. Input `[n, 3, h, w]`, logits `[n, num_classes]`.
pub struct ResNet<E: Float = f32, B: Backend = Cpu> {
    /// The 7×7 stem convolution, stride 2, `3 → 64`.
    pub conv1: Conv2d<E, B>,
    /// Norm after the stem.
    pub bn1: BatchNorm2d<E, B>,
    /// The stem's activation.
    pub relu: ReLU,
    /// 3×3, stride 2, padding 1.
    pub maxpool: MaxPool2d,
    /// 64 planes, stride 1.
    pub layer1: Stage<Block<E, B>>,
    /// 128 planes, stride 2.
    pub layer2: Stage<Block<E, B>>,
    /// 256 planes, stride 2.
    pub layer3: Stage<Block<E, B>>,
    /// 512 planes, stride 2.
    pub layer4: Stage<Block<E, B>>,
    /// Global average pool to 1×1.
    pub avgpool: AdaptiveAvgPool2d,
    /// `512·expansion → num_classes`, PyTorch's default `Linear` init.
    pub fc: Linear<E, B>,
}

impl<E: Float, B: Backend> ResNet<E, B> {
    /// torchvision's `ResNet(block, layers, num_classes, zero_init_residual)`: `layers` gives the
    /// number of blocks in each stage (`[2, 2, 2, 2]` is ResNet-18, `[3, 4, 23, 3]` with
    /// bottlenecks ResNet-101). Convolutions are drawn from torchvision's
    /// `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, norms start at weight 1 and bias
    /// 0, `fc` has `nn.Linear`'s default init. A stage of zero blocks is an error.
    pub fn new(
        block: BlockKind,
        layers: [usize; 4],
        options: ResNetOptions,
        backend: &B,
    ) -> Result<Self> {
        if layers.contains(&0) {
            return Err(Error::msg(format!(
                "ResNet: every stage needs at least one block, got layers {layers:?}"
            )));
        }
        let mut in_channels = 64;
        let mut stage = |planes: usize,
                         count: usize,
                         stride: usize|
         -> Result<Stage<Block<E, B>>> {
            let mut blocks = Vec::with_capacity(count);
            for i in 0..count {
                let s = if i == 0 { stride } else { 1 };
                let zero = options.zero_init_residual;
                blocks.push(match block {
                    BlockKind::Basic => {
                        Block::Basic(BasicBlock::new(in_channels, planes, s, zero, backend)?)
                    }
                    BlockKind::Bottleneck => {
                        Block::Bottleneck(Bottleneck::new(in_channels, planes, s, zero, backend)?)
                    }
                });
                in_channels = planes * block.expansion();
            }
            Ok(Stage { blocks })
        };
        let (layer1, layer2) = (stage(64, layers[0], 1)?, stage(128, layers[1], 2)?);
        let (layer3, layer4) = (stage(256, layers[2], 2)?, stage(512, layers[3], 2)?);
        Ok(ResNet {
            conv1: block::conv(3, 64, 7, 2, backend)?,
            bn1: BatchNorm2d::new(64, backend)?,
            relu: ReLU,
            maxpool: MaxPool2d::new((3, 3)).stride((2, 2)).padding((1, 1)),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2d::new((1, 1)),
            fc: Linear::new(512 * block.expansion(), options.num_classes, backend)?,
        })
    }

    /// The forward pass: `[n, 3, h, w]` → logits `[n, num_classes]`. Any `h, w ≥ 1` works
    /// (the stem, pool and stages divide the size by 32, rounding up; the pool averages what is
    /// left).
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let x = self.conv1.forward(x)?;
        let x = self
            .maxpool
            .forward(&self.relu.forward(&self.bn1.forward(&x)?)?)?;
        let mut x = x;
        for stage in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            x = stage.forward(&x)?;
        }
        self.fc.forward(&self.avgpool.forward(&x)?.flatten(1, -1)?)
    }
}

impl<E: Float, B: Backend> Module<E, B> for ResNet<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("conv1", &self.conv1);
        v.module("bn1", &self.bn1);
        v.module("relu", &self.relu);
        v.module("maxpool", &self.maxpool);
        v.module("layer1", &self.layer1);
        v.module("layer2", &self.layer2);
        v.module("layer3", &self.layer3);
        v.module("layer4", &self.layer4);
        v.module("avgpool", &self.avgpool);
        v.module("fc", &self.fc);
    }
}

crate::model_traits!(Block, ResNet);

/// ResNet-18 (`torchvision.models.resnet18(num_classes=...)`): basic blocks `[2, 2, 2, 2]`,
/// 11.7 M parameters at 1000 classes. Its state dict is torchvision's, so torchvision weights
/// saved as safetensors load with [`Module::load_state_dict`].
pub fn resnet18<E: Float, B: Backend>(num_classes: usize, backend: &B) -> Result<ResNet<E, B>> {
    resnet18_with(options(num_classes), backend)
}

/// ResNet-34: basic blocks `[3, 4, 6, 3]`, 21.8 M parameters at 1000 classes.
pub fn resnet34<E: Float, B: Backend>(num_classes: usize, backend: &B) -> Result<ResNet<E, B>> {
    resnet34_with(options(num_classes), backend)
}

/// ResNet-50 (v1.5, torchvision's): bottlenecks `[3, 4, 6, 3]`, 25.6 M parameters at 1000
/// classes.
pub fn resnet50<E: Float, B: Backend>(num_classes: usize, backend: &B) -> Result<ResNet<E, B>> {
    resnet50_with(options(num_classes), backend)
}

/// [`resnet18`] with every option (`zero_init_residual`).
pub fn resnet18_with<E: Float, B: Backend>(
    options: ResNetOptions,
    backend: &B,
) -> Result<ResNet<E, B>> {
    ResNet::new(BlockKind::Basic, [2, 2, 2, 2], options, backend)
}

/// [`resnet34`] with every option.
pub fn resnet34_with<E: Float, B: Backend>(
    options: ResNetOptions,
    backend: &B,
) -> Result<ResNet<E, B>> {
    ResNet::new(BlockKind::Basic, [3, 4, 6, 3], options, backend)
}

/// [`resnet50`] with every option.
pub fn resnet50_with<E: Float, B: Backend>(
    options: ResNetOptions,
    backend: &B,
) -> Result<ResNet<E, B>> {
    ResNet::new(BlockKind::Bottleneck, [3, 4, 6, 3], options, backend)
}

fn options(num_classes: usize) -> ResNetOptions {
    ResNetOptions {
        num_classes,
        ..ResNetOptions::default()
    }
}
