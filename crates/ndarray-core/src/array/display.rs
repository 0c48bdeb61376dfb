//! Printing like PyTorch: `tensor([[1., 2.], [3., 4.]])`, with `...` for big arrays.

use super::NDArray;
use crate::{Backend, DType, Element};
use std::fmt;

/// Arrays with more elements than this are summarised, as PyTorch's default `threshold`.
const SUMMARY_THRESHOLD: usize = 1000;
/// How many leading and trailing entries of each axis a summary shows.
const EDGE_ITEMS: usize = 3;

impl<E: Element, B: Backend> fmt::Display for NDArray<E, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = match self.to_vec() {
            Ok(v) => v,
            Err(e) => return write!(f, "tensor(<unreadable: {e}>)"),
        };
        let summarise = values.len() > SUMMARY_THRESHOLD;
        let style = NumberStyle::for_values(&values, summarise.then_some(self.dims()));
        let mut text = String::from("tensor(");
        if values.is_empty() {
            text.push_str("[]");
            if self.rank() > 1 || self.numel() == 0 && self.rank() != 1 {
                // PyTorch prints the size as a Python tuple: `size=(0, 3)`.
                let dims: Vec<String> = self.dims().iter().map(|d| d.to_string()).collect();
                text.push_str(&format!(", size=({})", dims.join(", ")));
            }
        } else {
            let width = values
                .iter()
                .map(|&v| style.format(v).len())
                .max()
                .unwrap_or(0);
            let strides = self.shape().contiguous_strides();
            write_axis(
                &mut text,
                &values,
                self.dims(),
                &strides,
                0,
                0,
                width,
                &style,
                summarise,
            );
        }
        if E::DTYPE == DType::F64 {
            text.push_str(", dtype=f64");
        }
        let device = self.backend().name();
        if device != "cpu" {
            text.push_str(&format!(", device='{device}'"));
        }
        text.push(')');
        f.write_str(&text)
    }
}

impl<E: Element, B: Backend> fmt::Debug for NDArray<E, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[allow(clippy::too_many_arguments)]
fn write_axis<E: Element>(
    out: &mut String,
    values: &[E],
    dims: &[usize],
    strides: &[usize],
    axis: usize,
    base: usize,
    width: usize,
    style: &NumberStyle,
    summarise: bool,
) {
    if axis == dims.len() {
        out.push_str(&format!("{:>width$}", style.format(values[base])));
        return;
    }
    let n = dims[axis];
    let shown: Vec<Option<usize>> = if summarise && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - EDGE_ITEMS..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    let indent = " ".repeat("tensor(".len() + axis + 1);
    let newlines = "\n".repeat(dims.len() - axis - 1);
    out.push('[');
    for (pos, entry) in shown.iter().enumerate() {
        if pos > 0 {
            out.push(',');
            if axis + 1 == dims.len() {
                out.push(' ');
            } else {
                out.push_str(&newlines);
                out.push_str(&indent);
            }
        }
        match entry {
            Some(i) => write_axis(
                out,
                values,
                dims,
                strides,
                axis + 1,
                base + i * strides[axis],
                width,
                style,
                summarise,
            ),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

/// How to print every number of one array, chosen once so columns line up (as PyTorch does).
enum NumberStyle {
    Integer,
    /// Floats that are all whole numbers: `1.`, `-3.`.
    WholeFloat,
    /// Fixed point with 4 decimals.
    Fixed,
    /// Scientific with 4 decimals, for very large or small magnitudes.
    Scientific,
}

impl NumberStyle {
    fn for_values<E: Element>(values: &[E], _summarised_dims: Option<&[usize]>) -> Self {
        if !E::DTYPE.is_float() {
            return NumberStyle::Integer;
        }
        let finite: Vec<f64> = values
            .iter()
            .map(|v| v.to_f64())
            .filter(|v| v.is_finite())
            .collect();
        if finite.iter().all(|v| v.fract() == 0.0) {
            if finite.iter().any(|v| v.abs() >= 1e8) {
                return NumberStyle::Scientific;
            }
            return NumberStyle::WholeFloat;
        }
        let max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let min_nonzero = finite
            .iter()
            .filter(|v| **v != 0.0)
            .fold(f64::INFINITY, |m, v| m.min(v.abs()));
        if max >= 1e8 || min_nonzero < 1e-4 || (max / min_nonzero) > 1000.0 && max > 1000.0 {
            NumberStyle::Scientific
        } else {
            NumberStyle::Fixed
        }
    }

    fn format<E: Element>(&self, v: E) -> String {
        let x = v.to_f64();
        if E::DTYPE.is_float() {
            if x.is_nan() {
                return "nan".into();
            }
            if x.is_infinite() {
                return if x > 0.0 { "inf".into() } else { "-inf".into() };
            }
        }
        match self {
            NumberStyle::Integer => format!("{v}"),
            NumberStyle::WholeFloat => format!("{x:.0}."),
            NumberStyle::Fixed => format!("{x:.4}"),
            NumberStyle::Scientific => {
                let s = format!("{x:.4e}");
                // Rust prints `1.0000e5`; PyTorch prints `1.0000e+05`.
                match s.split_once('e') {
                    Some((mantissa, exp)) => {
                        let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
                        format!("{mantissa}e{sign}{digits:0>2}")
                    }
                    None => s,
                }
            }
        }
    }
}
