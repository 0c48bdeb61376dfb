//! Initialisation schemes. Every draw goes through autograd's seeded generator, so
//! `manual_seed(s)` makes a model's initial weights reproducible bit for bit.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, RandomDist, Result, Shape};

/// A leaf parameter (requires grad) drawn uniformly from `[low, high)`.
pub fn uniform<E: Float, B: Backend>(
    shape: impl Into<Shape>,
    low: f64,
    high: f64,
    backend: &B,
) -> Result<Tensor<E, B>> {
    Ok(Tensor::random(shape, RandomDist::Uniform { low, high }, backend)?.requires_grad_(true))
}

/// A leaf parameter drawn from a normal distribution.
pub fn normal<E: Float, B: Backend>(
    shape: impl Into<Shape>,
    mean: f64,
    std: f64,
    backend: &B,
) -> Result<Tensor<E, B>> {
    Ok(Tensor::random(shape, RandomDist::Normal { mean, std }, backend)?.requires_grad_(true))
}

/// `(fan_in, fan_out)` of a weight shape, as `torch.nn.init._calculate_fan_in_and_fan_out`:
/// `[out, in, k…]` has fan_in = in·∏k and fan_out = out·∏k.
pub fn fans(shape: &Shape) -> Result<(usize, usize)> {
    let dims = shape.dims();
    if dims.len() < 2 {
        return Err(Error::invalid(
            "init",
            "fan in and fan out need at least 2 axes",
            shape,
        ));
    }
    let receptive: usize = dims[2..].iter().product();
    Ok((dims[1] * receptive, dims[0] * receptive))
}

/// The recommended gain for a nonlinearity, as `torch.nn.init.calculate_gain`
/// (`"linear"`, `"sigmoid"`, `"tanh"`, `"relu"`, `"leaky_relu"` with its slope, `"selu"`).
pub fn calculate_gain(nonlinearity: &str, param: Option<f64>) -> Result<f64> {
    Ok(match nonlinearity {
        "linear" | "conv1d" | "conv2d" | "sigmoid" => 1.0,
        "tanh" => 5.0 / 3.0,
        "relu" => 2f64.sqrt(),
        "leaky_relu" => {
            let slope = param.unwrap_or(0.01);
            (2.0 / (1.0 + slope * slope)).sqrt()
        }
        "selu" => 0.75,
        other => {
            return Err(Error::msg(format!(
                "calculate_gain: unknown nonlinearity `{other}`"
            )))
        }
    })
}

/// Kaiming (He) uniform init for a ReLU network: `U(±gain·√(3/fan_in))`.
pub fn kaiming_uniform<E: Float, B: Backend>(
    shape: impl Into<Shape>,
    nonlinearity: &str,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let shape = shape.into();
    let (fan_in, _) = fans(&shape)?;
    let bound = calculate_gain(nonlinearity, None)? * (3.0 / fan_in as f64).sqrt();
    uniform(shape, -bound, bound, backend)
}

/// Xavier (Glorot) uniform init: `U(±gain·√(6/(fan_in + fan_out)))`.
pub fn xavier_uniform<E: Float, B: Backend>(
    shape: impl Into<Shape>,
    gain: f64,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let shape = shape.into();
    let (fan_in, fan_out) = fans(&shape)?;
    let bound = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    uniform(shape, -bound, bound, backend)
}

/// Which fan Kaiming init scales by (`mode=` in PyTorch): `FanIn` keeps the forward pass's
/// variance, `FanOut` the backward pass's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanMode {
    /// Scale by the number of inputs (PyTorch's default).
    #[default]
    FanIn,
    /// Scale by the number of outputs.
    FanOut,
}

fn kaiming_std(shape: &Shape, mode: FanMode, nonlinearity: &str, a: Option<f64>) -> Result<f64> {
    let (fan_in, fan_out) = fans(shape)?;
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    if fan == 0 {
        return Err(Error::invalid("init", "a zero fan (an empty axis)", shape));
    }
    Ok(calculate_gain(nonlinearity, a)? / (fan as f64).sqrt())
}

/// Kaiming uniform with the mode and the leaky-ReLU slope `a` spelled out
/// (`torch.nn.init.kaiming_uniform_(w, a, mode, nonlinearity)`): `U(±√3·gain/√fan)`.
pub fn kaiming_uniform_with<E: Float, B: Backend>(
    shape: impl Into<Shape>,
    a: Option<f64>,
    mode: FanMode,
    nonlinearity: &str,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let shape = shape.into();
    let bound = 3f64.sqrt() * kaiming_std(&shape, mode, nonlinearity, a)?;
    uniform(shape, -bound, bound, backend)
}

/// Kaiming (He) normal init (`torch.nn.init.kaiming_normal_`): `N(0, (gain/√fan)²)`.
pub fn kaiming_normal<E: Float, B: Backend>(
    shape: impl Into<Shape>,
    a: Option<f64>,
    mode: FanMode,
    nonlinearity: &str,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let shape = shape.into();
    let std = kaiming_std(&shape, mode, nonlinearity, a)?;
    normal(shape, 0.0, std, backend)
}

/// Xavier (Glorot) normal init: `N(0, (gain·√(2/(fan_in + fan_out)))²)`.
pub fn xavier_normal<E: Float, B: Backend>(
    shape: impl Into<Shape>,
    gain: f64,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let shape = shape.into();
    let (fan_in, fan_out) = fans(&shape)?;
    let std = gain * (2.0 / (fan_in + fan_out) as f64).sqrt();
    normal(shape, 0.0, std, backend)
}

/// A leaf parameter of zeros (`torch.nn.init.zeros_`).
pub fn zeros<E: Float, B: Backend>(shape: impl Into<Shape>, backend: &B) -> Result<Tensor<E, B>> {
    Ok(Tensor::full(shape, E::from_f64(0.0), backend)?.requires_grad_(true))
}

/// A leaf parameter of ones (`torch.nn.init.ones_`).
pub fn ones<E: Float, B: Backend>(shape: impl Into<Shape>, backend: &B) -> Result<Tensor<E, B>> {
    Ok(Tensor::full(shape, E::from_f64(1.0), backend)?.requires_grad_(true))
}

/// A (semi-)orthogonal matrix scaled by `gain` (`torch.nn.init.orthogonal_`): the weight,
/// flattened to `[shape[0], ∏rest]`, has orthonormal rows (or columns, whichever are fewer).
/// Like PyTorch, it orthogonalises a standard-normal draw with a QR decomposition whose `R` has
/// a positive diagonal, so the result is uniformly (Haar) distributed.
pub fn orthogonal<E: Float, B: Backend>(
    shape: impl Into<Shape>,
    gain: f64,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let shape = shape.into();
    if shape.rank() < 2 {
        return Err(Error::invalid(
            "init::orthogonal",
            "needs at least 2 axes",
            &shape,
        ));
    }
    let rows = shape.dims()[0];
    let cols = shape.numel() / rows.max(1);
    let draw = Tensor::<f64, B>::random(
        [rows, cols],
        RandomDist::Normal {
            mean: 0.0,
            std: 1.0,
        },
        backend,
    )?
    .to_vec()?;
    // Orthonormalise the columns of the tall orientation (m ≥ n) by modified Gram–Schmidt: its
    // R has a positive diagonal, which is the sign convention PyTorch applies to its QR.
    let (m, n, tall) = if rows >= cols {
        (rows, cols, true)
    } else {
        (cols, rows, false)
    };
    let at = |i: usize, j: usize| {
        if tall {
            draw[i * cols + j]
        } else {
            draw[j * cols + i]
        }
    };
    let mut q: Vec<Vec<f64>> = (0..n).map(|j| (0..m).map(|i| at(i, j)).collect()).collect();
    for j in 0..n {
        let (done, rest) = q.split_at_mut(j);
        let column = &mut rest[0];
        for previous in done.iter() {
            let dot: f64 = column.iter().zip(previous).map(|(a, b)| a * b).sum();
            column
                .iter_mut()
                .zip(previous)
                .for_each(|(c, p)| *c -= dot * p);
        }
        let norm = column.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Err(Error::msg(
                "init::orthogonal: the random draw was rank deficient",
            ));
        }
        column.iter_mut().for_each(|v| *v /= norm);
    }
    let values = (0..rows * cols)
        .map(|flat| {
            let (r, c) = (flat / cols, flat % cols);
            let v = if tall { q[c][r] } else { q[r][c] };
            E::from_f64(gain * v)
        })
        .collect();
    Ok(Tensor::from_vec(values, shape, backend)?.requires_grad_(true))
}
