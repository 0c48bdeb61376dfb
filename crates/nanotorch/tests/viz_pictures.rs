//! The book's pictures of the graph, drawn by `nanotorch::viz` from the code the chapters show.
//! Each test compares the committed file with what the code draws now, so a picture cannot drift
//! from the library; `NANOTORCH_BLESS=1` writes them instead.

use nanotorch::autograd::BackwardOptions;
use nanotorch::viz::{to_dot, to_svg, VizOptions};
use nanotorch::{Cpu, Result, Tensor};
use std::path::PathBuf;

/// Writes (under `NANOTORCH_BLESS=1`) or checks `docs/images/<name>.dot` and `.svg`.
fn picture(name: &str, root: &Tensor<f64>, names: &[(&str, &Tensor<f64>)]) -> Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/images");
    let options = VizOptions::default();
    let bless = std::env::var("NANOTORCH_BLESS").is_ok_and(|v| v == "1");
    for (ext, text) in [
        ("dot", to_dot(root, names, &options)?),
        ("svg", to_svg(root, names, &options)?),
    ] {
        let path = dir.join(format!("{name}.{ext}"));
        if bless {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&path, &text)?;
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "docs/images/{name}.{ext} differs from what the code draws now; if the change is \
             meant, regenerate the pictures with\n  NANOTORCH_BLESS=1 cargo test -p nanotorch \
             --test viz_pictures\nand commit them"
        );
    }
    Ok(())
}

fn retain_graph() -> BackwardOptions {
    BackwardOptions {
        retain_graph: true,
        ..Default::default()
    }
}

/// Chapter 0: one neuron `tanh(x · w + b)` with micrograd's numbers (its output is 1/√2), after
/// backward, every tensor keeping its gradient so each box shows one, as micrograd's do.
#[test]
fn ch00_neuron() -> Result<()> {
    let x = Tensor::from_vec(vec![2.0f64, 0.0], [2], &Cpu)?.requires_grad_(true);
    let w = Tensor::from_vec(vec![-3.0f64, 1.0], [2], &Cpu)?.requires_grad_(true);
    let b = Tensor::scalar(6.881_373_587_019_543, &Cpu)?.requires_grad_(true);
    let xw = x.matmul(&w)?;
    let n = &xw + &b;
    let o = n.tanh()?;
    for t in [&xw, &n, &o] {
        t.retain_grad()?;
    }
    o.backward_with(None, retain_graph())?;
    assert!((o.item()? - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
    picture(
        "ch00-neuron",
        &o,
        &[("x", &x), ("w", &w), ("b", &b), ("n", &n), ("o", &o)],
    )
}

/// Chapter 3: the first example, `c = ((a + b) + 2a / b)³` at a = 2, b = 3, after backward with
/// `retain_graph`; only the leaves keep gradients, as the chapter explains.
#[test]
fn ch03_graph() -> Result<()> {
    let a = Tensor::scalar(2.0f64, &Cpu)?.requires_grad_(true);
    let b = Tensor::scalar(3.0f64, &Cpu)?.requires_grad_(true);
    let mut c = &a + &b;
    c = &c + &(&(&a * 2.0) / &b);
    c = c.pow_scalar(3.0)?;
    c.backward_with(None, retain_graph())?;
    assert!((a.grad().unwrap().item()? - 200.5555).abs() < 1e-3);
    picture("ch03-graph", &c, &[("a", &a), ("b", &b), ("c", &c)])
}
