//! ResNet-9, the CIFAR-10 network of Myrtle.ai's DAWNBench entry (David Page, "How to train
//! your ResNet", 2018), with Page's module names: the key list is on [`ResNet9`].

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};
use nanotorch_nn::{
    AdaptiveMaxPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Visitor,
};

/// Page's `conv_bn`: a bias-free 3×3 convolution (padding 1), a norm and a ReLU.
pub struct ConvBn<E: Float = f32, B: Backend = Cpu> {
    /// 3×3, padding 1, no bias; PyTorch's default init.
    pub conv: Conv2d<E, B>,
    /// Norm after the convolution.
    pub bn: BatchNorm2d<E, B>,
    /// The activation.
    pub relu: ReLU,
}

impl<E: Float, B: Backend> ConvBn<E, B> {
    /// `in_channels → out_channels`, size kept.
    pub fn new(in_channels: usize, out_channels: usize, backend: &B) -> Result<Self> {
        Ok(ConvBn {
            conv: Conv2d::new(in_channels, out_channels, (3, 3), backend)?
                .padding((1, 1))
                .without_bias(),
            bn: BatchNorm2d::new(out_channels, backend)?,
            relu: ReLU,
        })
    }

    /// `relu(bn(conv(x)))`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        self.relu.forward(&self.bn.forward(&self.conv.forward(x)?)?)
    }
}

impl<E: Float, B: Backend> Module<E, B> for ConvBn<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("conv", &self.conv);
        v.module("bn", &self.bn);
        v.module("relu", &self.relu);
    }
}

/// Page's `residual`: `x + res2(res1(x))`, both [`ConvBn`] at the same width.
pub struct Residual<E: Float = f32, B: Backend = Cpu> {
    /// First conv-bn-relu.
    pub res1: ConvBn<E, B>,
    /// Second conv-bn-relu.
    pub res2: ConvBn<E, B>,
}

impl<E: Float, B: Backend> Residual<E, B> {
    /// A residual branch of two `channels → channels` [`ConvBn`]s.
    pub fn new(channels: usize, backend: &B) -> Result<Self> {
        Ok(Residual {
            res1: ConvBn::new(channels, channels, backend)?,
            res2: ConvBn::new(channels, channels, backend)?,
        })
    }

    /// `x + res2(res1(x))`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        x.add(&self.res2.forward(&self.res1.forward(x)?)?)
    }
}

impl<E: Float, B: Backend> Module<E, B> for Residual<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("res1", &self.res1);
        v.module("res2", &self.res2);
    }
}

/// One of Page's `layer1`–`layer3`: conv-bn-relu, a 2×2 max pool, then (in `layer1` and
/// `layer3`) a [`Residual`]. The conv, norm and activation are direct children (`layer1.conv`,
/// not `layer1.conv_bn.conv`), as in Page's network.
pub struct Stage9<E: Float = f32, B: Backend = Cpu> {
    /// 3×3, padding 1, no bias.
    pub conv: Conv2d<E, B>,
    /// Norm after the convolution.
    pub bn: BatchNorm2d<E, B>,
    /// The activation.
    pub relu: ReLU,
    /// 2×2, stride 2: halves the size.
    pub pool: MaxPool2d,
    /// The residual branch after the pool, if the stage has one.
    pub residual: Option<Residual<E, B>>,
}

impl<E: Float, B: Backend> Stage9<E, B> {
    /// `in_channels → out_channels`, with a residual branch if `residual`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        residual: bool,
        backend: &B,
    ) -> Result<Self> {
        let ConvBn { conv, bn, relu } = ConvBn::new(in_channels, out_channels, backend)?;
        Ok(Stage9 {
            conv,
            bn,
            relu,
            pool: MaxPool2d::new((2, 2)),
            residual: residual
                .then(|| Residual::new(out_channels, backend))
                .transpose()?,
        })
    }

    /// `[n, in, h, w]` → `[n, out, h / 2, w / 2]` (rounded down).
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let x = self.conv.forward(x)?;
        let x = self
            .pool
            .forward(&self.relu.forward(&self.bn.forward(&x)?)?)?;
        match &self.residual {
            Some(r) => r.forward(&x),
            None => Ok(x),
        }
    }
}

impl<E: Float, B: Backend> Module<E, B> for Stage9<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("conv", &self.conv);
        v.module("bn", &self.bn);
        v.module("relu", &self.relu);
        v.module("pool", &self.pool);
        if let Some(r) = &self.residual {
            v.module("residual", r);
        }
    }
}

/// The options of [`resnet9_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResNet9Options {
    /// Outputs of `linear` (10 for CIFAR-10).
    pub num_classes: usize,
    /// The logits are multiplied by this (Page's `Mul(0.125)`: it tempers the logits of a
    /// network without a final norm so that training at a high learning rate stays stable).
    pub scale: f64,
    /// Whether `linear` has a bias (Page's has none).
    pub bias: bool,
    /// Channels out of `prep` (64 in Page's net); the stages have 2, 4 and 8 times as many.
    /// A smaller width gives the same network at a fraction of the cost (tests, quick runs).
    pub width: usize,
}

impl Default for ResNet9Options {
    /// Page's network: 10 classes, scale 0.125, no bias, width 64.
    fn default() -> Self {
        ResNet9Options {
            num_classes: 10,
            scale: 0.125,
            bias: false,
            width: 64,
        }
    }
}

/// ResNet-9: `prep` (3 → 64), `layer1` (→ 128, pool, residual), `layer2` (→ 256, pool),
/// `layer3` (→ 512, pool, residual), a global max pool, `linear` and the scale (channels at
/// the default width, 64). Input `[n, 3, h, w]` with `h, w ≥ 8` (32×32 for CIFAR), logits
/// `[n, num_classes]`. Layers have PyTorch's default init, as in Page's network.
///
/// The module tree is Page's (`prep`, `layer1.conv`, `layer1.residual.res1.bn`, `linear`), so
/// the state-dict keys are (at width 64):
///
/// ```text
/// prep.conv.weight                     [64, 3, 3, 3]
/// prep.bn.{weight,bias,running_mean,running_var,num_batches_tracked}
/// layer1.conv.weight                   [128, 64, 3, 3]     layer1.bn.*
/// layer1.residual.res1.conv.weight     [128, 128, 3, 3]    layer1.residual.res1.bn.*
/// layer1.residual.res2.conv.weight     [128, 128, 3, 3]    layer1.residual.res2.bn.*
/// layer2.conv.weight                   [256, 128, 3, 3]    layer2.bn.*
/// layer3.conv.weight                   [512, 256, 3, 3]    layer3.bn.*
/// layer3.residual.res{1,2}.conv.weight [512, 512, 3, 3]    layer3.residual.res{1,2}.bn.*
/// linear.weight                        [num_classes, 512]  (linear.bias with `bias: true`)
/// ```
///
/// `tests/fixtures/make_resnet_fixtures.py` writes the same model in PyTorch; the tests check
/// these keys and the logits against it.
pub struct ResNet9<E: Float = f32, B: Backend = Cpu> {
    /// conv-bn-relu, 3 → width.
    pub prep: ConvBn<E, B>,
    /// width → 2·width, pool, residual.
    pub layer1: Stage9<E, B>,
    /// 2·width → 4·width, pool.
    pub layer2: Stage9<E, B>,
    /// 4·width → 8·width, pool, residual.
    pub layer3: Stage9<E, B>,
    /// The maximum over what is left of each map (`AdaptiveMaxPool2d((1, 1))`; Page pools with
    /// `MaxPool2d(4)`, the same on 32×32 inputs, where this one takes any size).
    pub pool: AdaptiveMaxPool2d,
    /// `[n, 8·width, 1, 1]` → `[n, 8·width]`.
    pub flatten: Flatten,
    /// 8·width → `num_classes`.
    pub linear: Linear<E, B>,
    /// Multiplies the logits.
    pub scale: f64,
}

impl<E: Float, B: Backend> ResNet9<E, B> {
    /// The network with `options`. A width of 0 is an error.
    pub fn new(options: ResNet9Options, backend: &B) -> Result<Self> {
        let w = options.width;
        if w == 0 {
            return Err(Error::msg("ResNet9: width must be positive, got 0"));
        }
        Ok(ResNet9 {
            prep: ConvBn::new(3, w, backend)?,
            layer1: Stage9::new(w, 2 * w, true, backend)?,
            layer2: Stage9::new(2 * w, 4 * w, false, backend)?,
            layer3: Stage9::new(4 * w, 8 * w, true, backend)?,
            pool: AdaptiveMaxPool2d::new((1, 1)),
            flatten: Flatten::new(),
            linear: Linear::with_bias(8 * w, options.num_classes, options.bias, backend)?,
            scale: options.scale,
        })
    }

    /// The forward pass: `[n, 3, h, w]` → logits `[n, num_classes]`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let x = self.prep.forward(x)?;
        let x = self
            .layer3
            .forward(&self.layer2.forward(&self.layer1.forward(&x)?)?)?;
        let x = self.flatten.forward(&self.pool.forward(&x)?)?;
        self.linear.forward(&x)?.mul_scalar(E::from_f64(self.scale))
    }
}

impl<E: Float, B: Backend> Module<E, B> for ResNet9<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("prep", &self.prep);
        v.module("layer1", &self.layer1);
        v.module("layer2", &self.layer2);
        v.module("layer3", &self.layer3);
        v.module("pool", &self.pool);
        v.module("flatten", &self.flatten);
        v.module("linear", &self.linear);
    }

    fn extra_repr(&self) -> String {
        format!("scale={}", self.scale)
    }
}

crate::model_traits!(ConvBn, Residual, Stage9, ResNet9);

/// Page's ResNet-9 with `num_classes` outputs (scale 0.125, no bias in `linear`).
pub fn resnet9<E: Float, B: Backend>(num_classes: usize, backend: &B) -> Result<ResNet9<E, B>> {
    resnet9_with(
        ResNet9Options {
            num_classes,
            ..ResNet9Options::default()
        },
        backend,
    )
}

/// ResNet-9 with every option.
pub fn resnet9_with<E: Float, B: Backend>(
    options: ResNet9Options,
    backend: &B,
) -> Result<ResNet9<E, B>> {
    ResNet9::new(options, backend)
}
