//! micrograd's demo in Rust: a 2-16-16-1 MLP of scalar `Value`s learns to separate two moons with
//! plain SGD on a max-margin loss, then draws its decision boundary as text.
//!
//! `cargo run --release -p nanotorch-scalar --example scalar_moons`

use nanotorch_scalar::{accuracy, make_moons, max_margin_loss, Module, Rng, Value, MLP};

fn main() {
    let (points, labels) = make_moons(100, 0.1, 1);
    let inputs: Vec<[Value; 2]> = points.iter().map(|p| p.map(Value::new)).collect();
    let model = MLP::new(2, &[16, 16, 1], &mut Rng::new(1337));
    let parameters = model.parameters();
    println!("{} parameters", parameters.len());

    let steps = 100;
    for step in 0..steps {
        // Forward: the whole data set, one graph of about 70,000 scalar nodes.
        let scores: Vec<Value> = inputs.iter().map(|x| model.forward(x)[0].clone()).collect();
        let loss = max_margin_loss(&scores, &labels, &parameters, 1e-4);

        // Backward, then a plain SGD step with the learning rate decaying from 1.0 to 0.1.
        model.zero_grad();
        loss.backward();
        let lr = 1.0 - 0.9 * step as f64 / steps as f64;
        for p in &parameters {
            p.set_data(p.data() - lr * p.grad());
        }

        if step % 10 == 0 || step == steps - 1 {
            let acc = accuracy(&scores, &labels);
            println!(
                "step {step:3}  loss {:.4}  accuracy {:.0}%",
                loss.data(),
                100.0 * acc
            );
        }
    }

    // The decision boundary: the sign of the score on a grid over the data, `#` for the lower
    // moon's side, `.` for the upper's; `o` and `x` mark the training points (upper and lower).
    let (cols, rows) = (64, 24);
    let cell = |c: usize, r: usize| {
        let x = -1.5 + 4.0 * c as f64 / (cols - 1) as f64;
        let y = 1.5 - 2.75 * r as f64 / (rows - 1) as f64;
        (x, y)
    };
    let mut grid: Vec<Vec<char>> = (0..rows)
        .map(|r| {
            (0..cols)
                .map(|c| {
                    let (x, y) = cell(c, r);
                    let score = model.forward(&[Value::new(x), Value::new(y)])[0].data();
                    if score > 0.0 {
                        '#'
                    } else {
                        '.'
                    }
                })
                .collect()
        })
        .collect();
    for (p, &label) in points.iter().zip(&labels) {
        let c = ((p[0] + 1.5) / 4.0 * (cols - 1) as f64).round();
        let r = ((1.5 - p[1]) / 2.75 * (rows - 1) as f64).round();
        if (0.0..cols as f64).contains(&c) && (0.0..rows as f64).contains(&r) {
            grid[r as usize][c as usize] = if label > 0.0 { 'x' } else { 'o' };
        }
    }
    for row in grid {
        println!("{}", row.into_iter().collect::<String>());
    }
}
