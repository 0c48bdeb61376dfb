//! `nanotorch::viz`: the DOT and SVG written for graphs whose shape we know.

use nanotorch::autograd::BackwardOptions;
use nanotorch::viz::{to_dot, to_svg, RankDir, VizOptions, MAX_SVG_SIZE};
use nanotorch::{Cpu, Result, Tensor};
use std::collections::HashMap;

fn retain() -> BackwardOptions {
    BackwardOptions {
        retain_graph: true,
        ..Default::default()
    }
}

/// The nodes (`id`, unescaped label) of DOT text in our format, in order.
fn nodes(dot: &str) -> Vec<(String, String)> {
    dot.lines()
        .filter_map(|line| {
            let (id, rest) = line.trim().split_once(" [label=\"")?;
            let mut label = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return Some((id.to_string(), label)),
                    '\\' => match chars.next()? {
                        'n' => label.push('\n'),
                        other => label.push(other),
                    },
                    c => label.push(c),
                }
            }
            None
        })
        .collect()
}

fn edges(dot: &str) -> Vec<(String, String)> {
    dot.lines()
        .filter_map(|line| {
            let (from, to) = line.trim().strip_suffix(';')?.split_once(" -> ")?;
            Some((from.to_string(), to.to_string()))
        })
        .collect()
}

fn fmt4(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:.4}")).collect();
    format!("[{}]", items.join(", "))
}

#[test]
fn dot_of_a_known_graph_lists_each_tensor_once_inputs_first() -> Result<()> {
    let (av, bv) = ([1.5f64, -2.0], [3.0f64, 0.25]);
    let a = Tensor::from_slice(&av, [2], &Cpu)?.requires_grad_(true);
    let b = Tensor::from_slice(&bv, [2], &Cpu)?.requires_grad_(true);
    let e = (&(&a * &b) + &a).sum_all()?; // e = Σ a·b + a
    e.backward_with(None, retain())?;

    let dot = to_dot(&e, &[], &VizOptions::default())?;
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("rankdir=LR"), "{dot}");
    let nodes = nodes(&dot);
    let ids: Vec<&str> = nodes.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["t0", "t1", "t2", "t3", "t4"], "{dot}");
    let label: HashMap<&str, &str> = nodes
        .iter()
        .map(|(id, l)| (id.as_str(), l.as_str()))
        .collect();

    let prod: Vec<f64> = av.iter().zip(&bv).map(|(x, y)| x * y).collect();
    let sum: Vec<f64> = prod.iter().zip(&av).map(|(p, x)| p + x).collect();
    let grad_a: Vec<f64> = bv.iter().map(|y| y + 1.0).collect(); // ∂e/∂a = b + 1
    assert_eq!(
        label["t0"],
        format!(
            "leaf\nshape [2]\ndata {}\ngrad {}",
            fmt4(&av),
            fmt4(&grad_a)
        )
    );
    assert_eq!(
        label["t1"],
        format!("leaf\nshape [2]\ndata {}\ngrad {}", fmt4(&bv), fmt4(&av))
    );
    assert_eq!(label["t2"], format!("mul\nshape [2]\ndata {}", fmt4(&prod)));
    assert_eq!(label["t3"], format!("add\nshape [2]\ndata {}", fmt4(&sum)));
    let total: f64 = sum.iter().sum();
    assert_eq!(
        label["t4"],
        format!("{}\nshape []\ndata {total:.4}", e.op_name().unwrap())
    );

    let mut got = edges(&dot);
    got.sort();
    let mut want: Vec<(String, String)> = [
        ("t0", "t2"),
        ("t1", "t2"),
        ("t2", "t3"),
        ("t0", "t3"),
        ("t3", "t4"),
    ]
    .iter()
    .map(|&(f, t)| (f.to_string(), t.to_string()))
    .collect();
    want.sort();
    assert_eq!(got, want, "{dot}");
    // Only the leaves that want a gradient are highlighted.
    assert_eq!(dot.matches("fillcolor").count(), 2, "{dot}");
    Ok(())
}

#[test]
fn a_tensor_used_twice_by_one_op_has_two_arrows() -> Result<()> {
    let x = Tensor::from_vec(vec![3.0f32], [1], &Cpu)?.requires_grad_(true);
    let y = &x * &x;
    let dot = to_dot(&y, &[], &VizOptions::default())?;
    assert_eq!(nodes(&dot).len(), 2, "{dot}");
    assert_eq!(edges(&dot), vec![("t0".into(), "t1".into()); 2], "{dot}");
    Ok(())
}

#[test]
fn labels_are_escaped_for_dot_and_for_svg() -> Result<()> {
    const OP: &str = "say \"hi\" \\N\nto <all> & sundry";
    let x = Tensor::from_vec(vec![1.0f64], [1], &Cpu)?.requires_grad_(true);
    let y = Tensor::from_op(x.array().clone(), OP, &[&x], |_, _, g| {
        Ok(vec![Some(g.clone())])
    });
    let dot = to_dot(&y, &[], &VizOptions::default())?;
    // A bare `\N` would be Graphviz's node-name escape and a bare quote would end the string.
    assert!(
        dot.contains(r#"label="say \"hi\" \\N\nto <all> & sundry\nshape [1]"#),
        "{dot}"
    );
    assert_eq!(
        nodes(&dot)[1].1.lines().take(2).collect::<Vec<_>>(),
        ["say \"hi\" \\N", "to <all> & sundry"]
    );

    let svg = to_svg(&y, &[], &VizOptions::default())?;
    let elements = check_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(elements["rect"], 2, "{svg}");
    assert!(svg.contains("say &quot;hi&quot; \\N"), "{svg}");
    assert!(svg.contains("to &lt;all&gt; &amp; sundry"), "{svg}");
    Ok(())
}

#[test]
fn svg_is_well_formed_with_a_box_per_tensor_and_an_arrow_per_edge() -> Result<()> {
    let x = Tensor::from_vec(vec![0.5f32, -1.0, 2.0], [3], &Cpu)?.requires_grad_(true);
    let w = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3], &Cpu)?.requires_grad_(true);
    let y = (&x * &w).tanh()?.sum_all()?.mul_scalar(2.0)?;
    y.backward_with(None, retain())?;
    let options = VizOptions::default();
    let dot = to_dot(&y, &[], &options)?;
    let svg = to_svg(&y, &[], &options)?;
    let elements = check_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(elements["svg"], 1);
    assert_eq!(elements["rect"], nodes(&dot).len(), "{svg}");
    assert_eq!(elements["path"], edges(&dot).len(), "{svg}");
    for (_, label) in nodes(&dot) {
        for line in label.lines() {
            assert!(
                svg.contains(&format!(">{line}<")),
                "{line} missing from\n{svg}"
            );
        }
    }
    // The canvas holds the boxes, without a wide empty band below them.
    let number = |text: &str, key: &str| -> f64 {
        let value = text.split(&format!(" {key}=\"")).nth(1).unwrap();
        value.split('"').next().unwrap().parse().unwrap()
    };
    let lowest = svg
        .split("<rect")
        .skip(1)
        .map(|rect| number(rect, "y") + number(rect, "height"))
        .fold(0.0, f64::max);
    let height = number(&svg, "height");
    assert!(
        (lowest..lowest + 40.0).contains(&height),
        "boxes end at {lowest}, canvas is {height} tall"
    );
    Ok(())
}

#[test]
fn the_graph_released_by_backward_is_an_error_that_says_what_to_do() -> Result<()> {
    let x = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
    let y = x.square()?.sum_all()?;
    y.backward()?;
    for result in [
        to_dot(&y, &[], &VizOptions::default()),
        to_svg(&y, &[], &VizOptions::default()),
    ] {
        let message = result.unwrap_err().to_string();
        assert!(message.contains("released by backward"), "{message}");
        assert!(message.contains("retain_graph"), "{message}");
    }
    // A leaf has no graph to lose: it is drawn alone, with the gradient backward left in it.
    let dot = to_dot(&x, &[], &VizOptions::default())?;
    assert_eq!(
        nodes(&dot),
        [(
            "t0".to_string(),
            format!(
                "leaf\nshape [2]\ndata {}\ngrad {}",
                fmt4(&[1.0, 2.0]),
                fmt4(&[2.0, 4.0])
            )
        )]
    );
    Ok(())
}

#[test]
fn options_choose_direction_how_many_values_and_digits() -> Result<()> {
    let x = Tensor::from_vec(vec![0.125f64, 1.0], [2], &Cpu)?.requires_grad_(true);
    let big = Tensor::<f64>::ones([3, 3], &Cpu)?;
    let y = (&x.sum_all()? * &big).sum_all()?;
    let default = to_dot(&y, &[], &VizOptions::default())?;
    // 9 elements is over the default 8: op and shape only.
    let ones = nodes(&default)
        .into_iter()
        .find(|(_, l)| l.contains("shape [3, 3]"))
        .unwrap();
    assert_eq!(ones.1, "leaf\nshape [3, 3]");

    let options = VizOptions {
        rankdir: RankDir::TopToBottom,
        max_elements: 9,
        precision: 1,
    };
    let dot = to_dot(&y, &[], &options)?;
    assert!(dot.contains("rankdir=TB"), "{dot}");
    assert!(
        dot.contains(&format!("data [{}]", ["1.0"; 9].join(", "))),
        "{dot}"
    );
    assert!(dot.contains("data [0.1, 1.0]"), "{dot}");
    let svg = to_svg(&y, &[], &options)?;
    let elements = check_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(elements["rect"], nodes(&dot).len(), "{svg}");

    let none = to_dot(
        &y,
        &[],
        &VizOptions {
            max_elements: 0,
            ..VizOptions::default()
        },
    )?;
    assert!(!none.contains("data"), "{none}");
    Ok(())
}

#[test]
fn named_tensors_show_their_name_before_their_op() -> Result<()> {
    let w = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
    let x = Tensor::from_vec(vec![3.0f32, 4.0], [2], &Cpu)?;
    let h = &w * &x;
    let y = h.sum_all()?;
    let dot = to_dot(&y, &[("w", &w), ("h", &h)], &VizOptions::default())?;
    let firsts: Vec<String> = nodes(&dot)
        .iter()
        .map(|(_, label)| label.lines().next().unwrap().to_string())
        .collect();
    assert_eq!(firsts, ["w: leaf", "leaf", "h: mul", y.op_name().unwrap()]);
    Ok(())
}

#[test]
fn a_lone_leaf_and_an_empty_tensor_are_drawn() -> Result<()> {
    let empty = Tensor::<f32>::zeros([0, 3], &Cpu)?;
    let dot = to_dot(&empty, &[], &VizOptions::default())?;
    assert_eq!(nodes(&dot)[0].1, "leaf\nshape [0, 3]\ndata []");
    let svg = to_svg(&empty, &[], &VizOptions::default())?;
    let elements = check_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!((elements["rect"], elements.get("path")), (1, None), "{svg}");
    Ok(())
}

#[test]
fn integer_values_are_printed_as_integers() -> Result<()> {
    let labels = Tensor::<i64>::from_vec(vec![3, -1, 0], [3], &Cpu)?;
    let dot = to_dot(&labels, &[], &VizOptions::default())?;
    assert_eq!(nodes(&dot)[0].1, "leaf\nshape [3]\ndata [3, -1, 0]");
    Ok(())
}

#[test]
fn a_retained_non_leaf_gradient_is_shown() -> Result<()> {
    let x = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
    let h = x.mul_scalar(3.0)?;
    h.retain_grad()?;
    let y = h.square()?.sum_all()?; // ∂y/∂h = 2h
    y.backward_with(None, retain())?;
    let dot = to_dot(&y, &[], &VizOptions::default())?;
    let label = &nodes(&dot)[1].1;
    assert!(
        label.ends_with(&format!("grad {}", fmt4(&[6.0, 12.0]))),
        "{label}"
    );
    Ok(())
}

#[test]
fn the_same_code_draws_the_same_picture() -> Result<()> {
    let draw = || -> Result<(String, String)> {
        let a = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
        let b = Tensor::from_vec(vec![0.5f32, 4.0], [2], &Cpu)?.requires_grad_(true);
        let c = (&a * &b).exp()?;
        let d = (&(&c + &a) - &b).sum_all()?;
        Ok((
            to_dot(&d, &[], &VizOptions::default())?,
            to_svg(&d, &[], &VizOptions::default())?,
        ))
    };
    assert_eq!(draw()?, draw()?);
    Ok(())
}

#[test]
fn ten_thousand_tensors_are_walked_without_recursion() {
    // A recursive walk of a 10k-deep chain would overflow this small stack.
    let worker = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| -> Result<()> {
            let x = Tensor::from_vec(vec![1.0f32], [1], &Cpu)?.requires_grad_(true);
            let mut y = x.clone();
            for _ in 0..10_000 {
                y = y.add_scalar(1.0)?;
            }
            let dot = to_dot(&y, &[], &VizOptions::default())?;
            assert_eq!(nodes(&dot).len(), 10_001);
            assert_eq!(edges(&dot).len(), 10_000);
            let last = &nodes(&dot)[10_000];
            let want = format!("{}\nshape [1]\ndata [10001.0000]", y.op_name().unwrap());
            assert_eq!(*last, ("t10000".to_string(), want));
            // Too large for the built-in layout: a quick error that points to Graphviz.
            let message = to_svg(&y, &[], &VizOptions::default())
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("to_dot") && message.contains(&MAX_SVG_SIZE.to_string()),
                "{message}"
            );
            Ok(())
        });
    worker.unwrap().join().unwrap().unwrap();
}

/// Checks that `text` is well-formed XML (one root, tags nested and closed, attributes quoted,
/// no bare `<` or `&` in text) and counts the elements by name.
fn check_xml(text: &str) -> std::result::Result<HashMap<String, usize>, String> {
    fn check_entities(s: &str) -> std::result::Result<(), String> {
        for (i, _) in s.match_indices('&') {
            let rest = &s[i + 1..];
            let end = rest
                .find(';')
                .ok_or(format!("unterminated entity in {s:?}"))?;
            let name = &rest[..end];
            let ok = ["amp", "lt", "gt", "quot", "apos"].contains(&name)
                || name
                    .strip_prefix('#')
                    .is_some_and(|n| n.parse::<u32>().is_ok());
            if !ok {
                return Err(format!("bad entity &{name}; in {s:?}"));
            }
        }
        if s.contains('<') {
            return Err(format!("bare < in {s:?}"));
        }
        Ok(())
    }
    let mut counts = HashMap::new();
    let mut open: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = text.trim();
    if let Some(after) = rest.strip_prefix("<?xml") {
        rest = &after[after.find("?>").ok_or("unterminated prolog")? + 2..];
    }
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        check_entities(&rest[..lt])?;
        if !rest[..lt].trim().is_empty() && open.is_empty() {
            return Err("text outside the root element".into());
        }
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let top = open.pop().ok_or(format!("</{name}> closes nothing"))?;
            if top != name.trim() {
                return Err(format!("<{top}> closed by </{name}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let name = &tag[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "-_:".contains(c))
        {
            return Err(format!("bad element name {name:?}"));
        }
        // Attributes: name = "value", values without < and with valid entities.
        let mut attrs = tag[name_end..].trim();
        while !attrs.is_empty() {
            let eq = attrs
                .find('=')
                .ok_or(format!("attribute without value in <{tag}>"))?;
            let value = attrs[eq + 1..].trim_start();
            let value = value
                .strip_prefix('"')
                .ok_or(format!("unquoted attribute in <{tag}>"))?;
            let close = value
                .find('"')
                .ok_or(format!("unterminated attribute in <{tag}>"))?;
            check_entities(&value[..close])?;
            attrs = value[close + 1..].trim_start();
        }
        if open.is_empty() {
            roots += 1;
        }
        *counts.entry(name.to_string()).or_insert(0) += 1;
        if !self_closing {
            open.push(name.to_string());
        }
    }
    if !open.is_empty() {
        return Err(format!("unclosed elements {open:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(counts)
}
