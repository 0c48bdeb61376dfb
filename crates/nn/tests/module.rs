//! The traversal trait: one `visit` per module, and everything derived from it (parameter lists,
//! train/eval, state dicts, zero_grad, printing) reaching every level of a user's model.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use nanotorch_nn::functional::cross_entropy;
use nanotorch_nn::{
    BatchNorm1d, Conv1d, Conv2d, Dropout, Flatten, Forward, Linear, MaxPool2d, Module, ReLU,
    Sequential, Training, Unflatten, Visitor,
};

type T = Tensor<f64, Cpu>;

/// A user's block: two sub-modules, a buffer and a training flag of its own.
struct Block {
    fc: Linear<f64, Cpu>,
    norm: BatchNorm1d<f64, Cpu>,
    scale: T,
    training: Training,
}

impl Module<f64, Cpu> for Block {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, f64, Cpu>) {
        v.training(&self.training);
        v.module("fc", &self.fc);
        v.module("norm", &self.norm);
        v.buffer("scale", &self.scale);
    }
}

impl Block {
    fn new(width: usize) -> Result<Self> {
        Ok(Block {
            fc: Linear::new(width, width, &Cpu)?,
            norm: BatchNorm1d::new(width, &Cpu)?,
            scale: Tensor::full([1], 0.5, &Cpu)?,
            training: Training::new(),
        })
    }

    fn forward(&self, x: &T) -> Result<T> {
        x.add(&self.norm.forward(&self.fc.forward(x)?)?.mul(&self.scale)?)
    }
}

impl Forward<f64, Cpu> for Block {
    fn forward(&self, x: &T) -> Result<T> {
        Block::forward(self, x)
    }
}

/// A model holding the block under a field, plus a head and dropout.
struct Net {
    block: Block,
    drop: Dropout,
    head: Linear<f64, Cpu>,
}

impl Module<f64, Cpu> for Net {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, f64, Cpu>) {
        v.module("block", &self.block);
        v.module("drop", &self.drop);
        v.module("head", &self.head);
    }
}

fn net() -> Net {
    Net {
        block: Block::new(3).unwrap(),
        drop: Dropout::new(0.5),
        head: Linear::new(3, 2, &Cpu).unwrap(),
    }
}

#[test]
fn names_follow_the_field_path() {
    manual_seed(0);
    let model = net();
    let params: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        params,
        [
            "block.fc.weight",
            "block.fc.bias",
            "block.norm.weight",
            "block.norm.bias",
            "head.weight",
            "head.bias"
        ]
    );
    let buffers: Vec<String> = model.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers,
        [
            "block.norm.running_mean",
            "block.norm.running_var",
            "block.norm.num_batches_tracked",
            "block.scale"
        ]
    );
    // 3·3 + 3 (fc) + 3 + 3 (norm affine) + 3·2 + 2 (head)
    assert_eq!(model.num_parameters(), 26);
    assert_eq!(model.state_dict().len(), 10);
    let modules: Vec<String> = model.named_modules().into_iter().map(|(n, _)| n).collect();
    assert_eq!(modules, ["block", "block.fc", "block.norm", "drop", "head"]);
    let children: Vec<String> = model.named_children().into_iter().map(|(n, _)| n).collect();
    assert_eq!(children, ["block", "drop", "head"]);
}

#[test]
fn eval_and_train_reach_every_flag() {
    let mut model = net();
    assert!(model.is_training());
    model.eval();
    assert!(!model.block.training.get());
    assert!(!model.block.norm.is_training());
    assert!(!Module::<f64, Cpu>::is_training(&model.drop));
    assert!(!model.is_training());
    // In evaluation, BatchNorm uses running statistics: a batch of one works, and dropout is off,
    // so two runs agree.
    let x = T::ones([1, 3], &Cpu).unwrap();
    let run = |m: &Net| {
        let h = m.block.forward(&x).unwrap();
        m.head
            .forward(&m.drop.forward(&h).unwrap())
            .unwrap()
            .to_vec()
            .unwrap()
    };
    assert_eq!(run(&model), run(&model));
    model.train();
    assert!(model.block.training.get() && model.block.norm.is_training());
}

#[test]
fn zero_grad_and_requires_grad_cover_every_parameter() {
    manual_seed(1);
    let model = net();
    let x = T::randn([4, 3], &Cpu).unwrap();
    let y = Tensor::from_vec(vec![0i64, 1, 1, 0], [4], &Cpu).unwrap();
    let logits = model
        .head
        .forward(&model.block.forward(&x).unwrap())
        .unwrap();
    cross_entropy(&logits, &y).unwrap().backward().unwrap();
    assert!(model.parameters().iter().all(|p| p.grad().is_some()));
    model.zero_grad();
    assert!(model.parameters().iter().all(|p| p.grad().is_none()));
    model.block.requires_grad_(false);
    let frozen = model.block.parameters();
    assert!(frozen.iter().all(|p| !p.requires_grad()));
    assert!(model.head.weight.requires_grad());
}

#[test]
fn state_dicts_round_trip_through_the_traversal() {
    manual_seed(2);
    let a = net();
    manual_seed(3);
    let b = net();
    assert_ne!(
        a.head.weight.to_vec().unwrap(),
        b.head.weight.to_vec().unwrap()
    );
    a.block
        .scale
        .array()
        .assign(T::full([1], 2.0, &Cpu).unwrap().array())
        .unwrap();
    b.load_state_dict(&a.state_dict(), true).unwrap();
    assert_eq!(
        a.head.weight.to_vec().unwrap(),
        b.head.weight.to_vec().unwrap()
    );
    assert_eq!(b.block.scale.to_vec().unwrap(), [2.0]);
}

#[test]
fn a_user_module_goes_into_sequential_and_boxes() {
    manual_seed(4);
    let mut model = Sequential::<f64, Cpu>::new()
        .append(Block::new(3).unwrap())
        .append(ReLU)
        .append(Linear::new(3, 2, &Cpu).unwrap());
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names[0], "0.fc.weight");
    assert_eq!(names.last().unwrap(), "2.bias");
    assert!(model.state_dict().contains_key("0.scale"));
    model.eval();
    let inner = model.named_modules();
    assert_eq!(inner[1].0, "0.fc");
    assert!(
        !inner[2].1.is_training(),
        "eval reached the nested BatchNorm"
    );
    assert_eq!(
        model
            .forward(&T::ones([1, 3], &Cpu).unwrap())
            .unwrap()
            .dims(),
        [1, 2]
    );
    // A boxed trait object is a module too.
    let boxed: Box<dyn Module<f64, Cpu>> = Box::new(model);
    assert_eq!(boxed.parameters().len(), 6);
    // Printing walks the same tree.
    let printed = format!("{}", boxed.as_ref());
    assert!(
        printed.starts_with("Sequential(\n  (0): Block(\n    (fc): Linear(in_features=3"),
        "{printed}"
    );
}

#[test]
fn a_cnn_on_flat_rows_is_one_sequential() {
    manual_seed(5);
    let model = Sequential::<f32, Cpu>::new()
        .append(Unflatten::new(1, [1, 8, 8]))
        .append(Conv2d::new(1, 4, (3, 3), &Cpu).unwrap().padding((1, 1)))
        .append(ReLU)
        .append(MaxPool2d::new((2, 2)))
        .append(Flatten::new())
        .append(Linear::new(4 * 4 * 4, 10, &Cpu).unwrap());
    let x = Tensor::<f32, Cpu>::randn([5, 64], &Cpu).unwrap();
    assert_eq!(model.forward(&x).unwrap().dims(), [5, 10]);
    // −1 is inferred, as in PyTorch; sizes that do not fit are an error naming the layer.
    let y = Unflatten::new(-1, [-1, 8]).forward(&x).unwrap();
    assert_eq!(y.dims(), [5, 8, 8]);
    let err = Unflatten::new(1, [3, 5])
        .forward(&x)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Unflatten") && err.contains("[5, 64]"),
        "{err}"
    );
    assert!(Unflatten::new(1, [-1, -1]).forward(&x).is_err());
    assert!(Unflatten::new(2, [8, 8]).forward(&x).is_err());
}

#[test]
fn conv1d_has_conv2d_options() {
    manual_seed(6);
    let conv = Conv1d::<f32, Cpu>::new(2, 3, 3, &Cpu)
        .unwrap()
        .stride(2)
        .padding(1)
        .dilation(2)
        .without_bias();
    assert!(conv.bias.is_none());
    // L' = (L + 2p − d(k − 1) − 1) / s + 1 = (9 + 2 − 4 − 1) / 2 + 1 = 4
    let y = conv
        .forward(&Tensor::randn([1, 2, 9], &Cpu).unwrap())
        .unwrap();
    assert_eq!(y.dims(), [1, 3, 4]);
    assert_eq!(
        conv.to_string(),
        "Conv1d(2, 3, kernel_size=3, stride=2, padding=1, dilation=2, bias=false)"
    );
}

#[test]
fn linear_shape_error_shows_the_weight_as_out_in() {
    let layer = Linear::<f32, Cpu>::new(4, 3, &Cpu).unwrap();
    let err = layer
        .forward(&Tensor::ones([2, 5], &Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[out_features, in_features]") && err.contains("[3, 4]"),
        "{err}"
    );
    assert!(!err.contains("[4, 3]"), "{err}");
}

#[test]
fn layers_default_to_f32_on_the_cpu() {
    manual_seed(7);
    // `Linear` alone is `Linear<f32, Cpu>`, as the facade's `Tensor` is `Tensor<f32, Cpu>`.
    let layer: Linear = Linear::new(2, 2, &Cpu).unwrap();
    let x: Tensor<f32, Cpu> = Tensor::ones([1, 2], &Cpu).unwrap();
    assert_eq!(layer.forward(&x).unwrap().dims(), [1, 2]);
    let model: Sequential = Sequential::new().append(layer);
    let as_module: &dyn Module = &model;
    assert_eq!(as_module.parameters().len(), 2);
}

#[test]
fn load_state_dict_from_copies_through_the_host_and_checks_shapes() {
    // On a GPU machine the target is built on `Cuda`; the path is the same for any backend.
    let source: Linear = Linear::new(3, 2, &Cpu).unwrap();
    let target: Linear = Linear::new(3, 2, &Cpu).unwrap();
    target
        .load_state_dict_from(&source.state_dict(), true)
        .unwrap();
    assert_eq!(
        target.weight.to_vec().unwrap(),
        source.weight.to_vec().unwrap()
    );
    // A copy, not shared storage.
    assert!(!target.weight.array().same_storage(source.weight.array()));
    let wrong: Linear = Linear::new(4, 2, &Cpu).unwrap();
    let err = target
        .load_state_dict_from(&wrong.state_dict(), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("weight") && err.contains("shape"), "{err}");
}
