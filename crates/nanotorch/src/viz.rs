//! Pictures of the autograd graph behind a tensor, like micrograd's `draw_dot`: one box per
//! tensor showing the op that made it (or `leaf`), its shape and, for small tensors, its values
//! and gradient; an arrow from each input to the tensor its op produced.
//!
//! [`to_dot`] writes Graphviz DOT (render it with `dot -Tsvg`, or paste it into any DOT viewer);
//! [`to_svg`] lays the same DOT out and draws it with the `layout-rs` crate, so no Graphviz
//! install is needed.
//!
//! `backward()` releases the graph as it walks it, so draw before backward, or run backward with
//! `retain_graph` to draw the graph with its gradients:
//!
//! ```
//! use nanotorch::autograd::BackwardOptions;
//! use nanotorch::viz::{to_dot, to_svg, VizOptions};
//! use nanotorch::{Cpu, Tensor};
//!
//! # fn main() -> nanotorch::Result<()> {
//! let x = Tensor::from_vec(vec![1.0f32, -2.0], [2], &Cpu)?.requires_grad_(true);
//! let y = (&x * &x).sum_all()?;
//! y.backward_with(None, BackwardOptions { retain_graph: true, ..Default::default() })?;
//! let dot = to_dot(&y, &[("x", &x)], &VizOptions::default())?;
//! assert!(dot.contains(r"x: leaf\nshape [2]\ndata [1.0000, -2.0000]\ngrad [2.0000, -4.0000]"));
//! let svg = to_svg(&y, &[], &VizOptions::default())?;
//! std::fs::write(std::env::temp_dir().join("graph.svg"), svg)?;
//! # Ok(()) }
//! ```
//!
//! Tensors are numbered in walk order (every input before the tensors made from it), never by
//! address, so the same code draws the same picture on every run.

use crate::array::{Backend, Element};
use crate::autograd::Tensor;
use crate::{Error, Result};
use std::collections::HashMap;
use std::fmt::Write as _;

mod svg;

/// Which way the graph flows in the picture (Graphviz's `rankdir`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RankDir {
    /// Inputs on the left, the output on the right (`LR`), as micrograd draws it.
    #[default]
    LeftToRight,
    /// Inputs at the top, the output at the bottom (`TB`).
    TopToBottom,
}

impl RankDir {
    fn as_dot(self) -> &'static str {
        match self {
            RankDir::LeftToRight => "LR",
            RankDir::TopToBottom => "TB",
        }
    }
}

/// What [`to_dot`] and [`to_svg`] draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VizOptions {
    /// Which way the graph flows.
    pub rankdir: RankDir,
    /// Values and gradients are shown for tensors of at most this many elements (default 8);
    /// larger tensors show their op and shape only. 0 shows no values at all.
    pub max_elements: usize,
    /// Digits after the decimal point for float values (default 4).
    pub precision: usize,
}

impl Default for VizOptions {
    fn default() -> Self {
        VizOptions {
            rankdir: RankDir::default(),
            max_elements: 8,
            precision: 4,
        }
    }
}

/// The graph behind `root` as Graphviz DOT. Nodes are `t0`, `t1`, ... in walk order (inputs
/// before the tensors made from them, so `root` is last); a tensor used twice by one op (`x * x`)
/// has two arrows into it. A tensor listed in `names` (say `("w", &w)`, or the pairs of a
/// module's `named_parameters()`) has its name before its op: `w: leaf`, as torchviz's `params`.
///
/// Fails if `root` is the result of an op whose graph `backward` has already released (draw
/// before backward, or pass `retain_graph`), or if a value cannot be copied to the host.
pub fn to_dot<E: Element, B: Backend>(
    root: &Tensor<E, B>,
    names: &[(&str, &Tensor<E, B>)],
    options: &VizOptions,
) -> Result<String> {
    dot(&walk(root, "viz::to_dot")?, names, options)
}

fn dot<E: Element, B: Backend>(
    graph: &Walk<E, B>,
    names: &[(&str, &Tensor<E, B>)],
    options: &VizOptions,
) -> Result<String> {
    let names: HashMap<usize, &str> = names.iter().map(|(n, t)| (t.graph_id(), *n)).collect();
    let mut dot = format!(
        "digraph autograd {{\n  rankdir={};\n  node [shape=box];\n",
        options.rankdir.as_dot()
    );
    for (i, tensor) in graph.tensors.iter().enumerate() {
        let label = label(tensor, names.get(&tensor.graph_id()).copied(), options)?;
        let style = if tensor.is_leaf() && tensor.requires_grad() {
            // Leaves that want a gradient are the parameters and inputs a reader looks for.
            ", style=filled, fillcolor=lightblue"
        } else {
            ""
        };
        // Writing to a String cannot fail.
        let _ = writeln!(dot, "  t{i} [label=\"{}\"{style}];", escape_label(&label));
    }
    for &(from, to) in &graph.edges {
        let _ = writeln!(dot, "  t{from} -> t{to};");
    }
    dot.push_str("}\n");
    Ok(dot)
}

/// The graph behind `root` as an SVG picture: the DOT of [`to_dot`], laid out and drawn by the
/// `layout-rs` crate (no Graphviz needed). Its layout differs from Graphviz's own, but shows the
/// same boxes and arrows.
///
/// Fails as [`to_dot`] does, if the layout engine rejects the graph, or if the graph is larger
/// than [`MAX_SVG_SIZE`].
pub fn to_svg<E: Element, B: Backend>(
    root: &Tensor<E, B>,
    names: &[(&str, &Tensor<E, B>)],
    options: &VizOptions,
) -> Result<String> {
    let graph = walk(root, "viz::to_svg")?;
    let size = graph.layout_size();
    if size > MAX_SVG_SIZE {
        return Err(Error::invalid(
            "viz::to_svg",
            format!(
                "the graph has {} tensors and {} arrows, about {size} boxes and arrow bends to lay \
                 out, more than the {MAX_SVG_SIZE} the built-in layout handles in seconds; write \
                 it with to_dot and render it with Graphviz (`dot -Tsvg`)",
                graph.tensors.len(),
                graph.edges.len()
            ),
            root.shape(),
        ));
    }
    svg::render(&dot(&graph, names, options)?)
}

/// The most boxes and arrow bends [`to_svg`] lays out. Its layout engine's time grows about with
/// the cube of this size (on a 2-core AMD EPYC, a chain of 500 tensors takes 0.2 s and one of
/// 1,000 takes 1.2 s); each arrow bends once per rank it skips, so a tensor used all along a long
/// graph costs as much as the tensors it passes.
pub const MAX_SVG_SIZE: usize = 1_000;

/// The tensors reachable from a root, inputs first, and the arrows between them by index.
struct Walk<E: Element, B: Backend> {
    tensors: Vec<Tensor<E, B>>,
    edges: Vec<(usize, usize)>,
    /// The longest path from a leaf to each tensor: its column in a left-to-right picture.
    ranks: Vec<usize>,
}

impl<E: Element, B: Backend> Walk<E, B> {
    /// Boxes plus arrow bends, as a layered layout sees them: an arrow gets one bend for each
    /// rank it passes over.
    fn layout_size(&self) -> usize {
        let bends: usize = self
            .edges
            .iter()
            .map(|&(from, to)| self.ranks[to] - self.ranks[from] - 1)
            .sum();
        self.tensors.len() + bends
    }
}

/// Orders the graph with an explicit stack (post-order), not recursion: an unrolled recurrent
/// network can be millions of nodes deep.
fn walk<E: Element, B: Backend>(root: &Tensor<E, B>, op: &'static str) -> Result<Walk<E, B>> {
    if !root.is_leaf() && root.op_name().is_none() {
        return Err(Error::invalid(
            op,
            "the graph behind this tensor was released by backward; draw it before backward, \
             or run backward_with(None, BackwardOptions { retain_graph: true, .. })",
            root.shape(),
        ));
    }
    enum Step<E: Element, B: Backend> {
        Enter(Tensor<E, B>),
        Exit(Tensor<E, B>, Vec<Tensor<E, B>>),
    }
    let mut index: HashMap<usize, usize> = HashMap::new();
    let mut entered = std::collections::HashSet::new();
    let mut out = Walk {
        tensors: Vec::new(),
        edges: Vec::new(),
        ranks: Vec::new(),
    };
    let mut stack = vec![Step::Enter(root.clone())];
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(tensor) => {
                if !entered.insert(tensor.graph_id()) {
                    continue;
                }
                let inputs = tensor.graph_inputs();
                // Pushed in reverse so the first argument is numbered first.
                let pending: Vec<_> = inputs
                    .iter()
                    .rev()
                    .filter(|t| !entered.contains(&t.graph_id()))
                    .map(|t| Step::Enter(t.clone()))
                    .collect();
                stack.push(Step::Exit(tensor, inputs));
                stack.extend(pending);
            }
            Step::Exit(tensor, inputs) => {
                let to = out.tensors.len();
                // In a DAG every input has exited before the tensor made from it.
                let mut rank = 0;
                for input in &inputs {
                    let from = index[&input.graph_id()];
                    rank = rank.max(out.ranks[from] + 1);
                    out.edges.push((from, to));
                }
                out.ranks.push(rank);
                index.insert(tensor.graph_id(), to);
                out.tensors.push(tensor);
            }
        }
    }
    Ok(out)
}

/// The lines of one tensor's box.
fn label<E: Element, B: Backend>(
    tensor: &Tensor<E, B>,
    name: Option<&str>,
    options: &VizOptions,
) -> Result<String> {
    let op = match (tensor.is_leaf(), tensor.op_name()) {
        (true, _) => "leaf",
        (false, Some(op)) => op,
        // Part of the graph below a tensor whose own graph is alive was released by an earlier
        // backward from an intermediate tensor.
        (false, None) => "(released)",
    };
    let first = match name {
        Some(name) => format!("{name}: {op}"),
        None => op.to_string(),
    };
    let mut lines = vec![first, format!("shape {}", tensor.shape())];
    if tensor.numel() <= options.max_elements {
        lines.push(format!("data {}", values(tensor, options.precision)?));
        if let Some(grad) = tensor.grad() {
            lines.push(format!("grad {}", values(&grad, options.precision)?));
        }
    }
    Ok(lines.join("\n"))
}

/// `0.5000` for a 0-d tensor, `[0.5000, -1.0000]` otherwise (row-major, flattened).
fn values<E: Element, B: Backend>(tensor: &Tensor<E, B>, precision: usize) -> Result<String> {
    // Display ignores the precision for integers, which is what we want for them.
    let items: Vec<String> = tensor
        .to_vec()?
        .iter()
        .map(|v| format!("{v:.precision$}"))
        .collect();
    Ok(if tensor.rank() == 0 {
        items.concat()
    } else {
        format!("[{}]", items.join(", "))
    })
}

/// A label as a DOT quoted string's contents: quotes and backslashes escaped (a bare backslash
/// would start a Graphviz escape such as `\N`), line breaks as `\n`, other control characters
/// dropped.
fn escape_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}
