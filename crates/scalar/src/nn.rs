//! A neural network out of `Value`s, in the shapes of micrograd's `nn.py`: a `Neuron` is a
//! weighted sum and a nonlinearity, a `Layer` is neurons side by side, an `MLP` is layers in a
//! row.

use crate::rng::Rng;
use crate::value::Value;

/// Anything with trainable parameters.
pub trait Module {
    /// Every trainable number, as handles to the same nodes the model computes with: setting
    /// one's data changes the model.
    fn parameters(&self) -> Vec<Value>;

    /// Sets every parameter's gradient to 0; `backward` adds to gradients, so call this before
    /// each one.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }
}

/// One neuron: `relu(w · x + b)`, or `w · x + b` without the nonlinearity (for an output).
#[derive(Debug)]
pub struct Neuron {
    /// One weight per input, drawn uniformly from `[-1, 1)` as micrograd does.
    pub w: Vec<Value>,
    /// The bias, starting at 0.
    pub b: Value,
    /// Whether to apply ReLU.
    pub nonlin: bool,
}

impl Neuron {
    /// A neuron with `nin` inputs, its weights drawn from `rng`.
    pub fn new(nin: usize, nonlin: bool, rng: &mut Rng) -> Neuron {
        Neuron {
            w: (0..nin)
                .map(|_| Value::new(rng.uniform(-1.0, 1.0)))
                .collect(),
            b: Value::new(0.0),
            nonlin,
        }
    }

    /// `relu(Σᵢ wᵢxᵢ + b)`. Only the first `w.len()` inputs are read.
    pub fn forward(&self, x: &[Value]) -> Value {
        let act = self
            .w
            .iter()
            .zip(x)
            .fold(self.b.clone(), |sum, (wi, xi)| sum + wi * xi);
        if self.nonlin {
            act.relu()
        } else {
            act
        }
    }
}

impl Module for Neuron {
    fn parameters(&self) -> Vec<Value> {
        let mut p = self.w.clone();
        p.push(self.b.clone());
        p
    }
}

/// `nout` neurons reading the same inputs: one output each.
#[derive(Debug)]
pub struct Layer {
    /// The neurons, one per output.
    pub neurons: Vec<Neuron>,
}

impl Layer {
    /// `nout` neurons of `nin` inputs each.
    pub fn new(nin: usize, nout: usize, nonlin: bool, rng: &mut Rng) -> Layer {
        Layer {
            neurons: (0..nout).map(|_| Neuron::new(nin, nonlin, rng)).collect(),
        }
    }

    /// Each neuron's output, in order.
    pub fn forward(&self, x: &[Value]) -> Vec<Value> {
        self.neurons.iter().map(|n| n.forward(x)).collect()
    }
}

impl Module for Layer {
    fn parameters(&self) -> Vec<Value> {
        self.neurons.iter().flat_map(|n| n.parameters()).collect()
    }
}

/// A multi-layer perceptron: ReLU layers, then a linear output layer.
///
/// ```
/// use nanotorch_scalar::{Module, Rng, Value, MLP};
///
/// let model = MLP::new(2, &[16, 16, 1], &mut Rng::new(0));
/// assert_eq!(model.parameters().len(), (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)); // 337
/// let score = &model.forward(&[Value::new(0.5), Value::new(-1.0)])[0];
/// score.backward(); // fills the gradient of every weight
/// ```
#[derive(Debug)]
pub struct MLP {
    /// The layers, input side first.
    pub layers: Vec<Layer>,
}

impl MLP {
    /// `nin` inputs, then one layer per entry of `nouts` (its width); every layer but the last
    /// applies ReLU.
    pub fn new(nin: usize, nouts: &[usize], rng: &mut Rng) -> MLP {
        let sizes: Vec<usize> = std::iter::once(nin).chain(nouts.iter().copied()).collect();
        MLP {
            layers: (0..nouts.len())
                .map(|i| Layer::new(sizes[i], sizes[i + 1], i + 1 != nouts.len(), rng))
                .collect(),
        }
    }

    /// The outputs of the last layer.
    pub fn forward(&self, x: &[Value]) -> Vec<Value> {
        self.layers
            .iter()
            .fold(x.to_vec(), |activations, layer| layer.forward(&activations))
    }
}

impl Module for MLP {
    fn parameters(&self) -> Vec<Value> {
        self.layers.iter().flat_map(|l| l.parameters()).collect()
    }
}
