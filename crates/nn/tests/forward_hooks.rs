//! Forward hooks through `Hooked<M>`: hooks run around forward, and the wrapper is invisible to
//! parameters, state dicts, modes and repr.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Error, Result};
use nanotorch_nn::{Dropout, Hooked, Linear, Module, ReLU, Sequential};
use std::sync::{Arc, Mutex};

type T = Tensor<f64, Cpu>;

fn input() -> T {
    Tensor::from_vec(vec![-1.0, 2.0, -3.0, 4.0], [2, 2], &Cpu).unwrap()
}

#[test]
fn pre_hooks_replace_the_input_and_forward_hooks_the_output_in_order() -> Result<()> {
    let relu: Hooked<ReLU, f64, Cpu> = Hooked::new(ReLU);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2, o3) = (order.clone(), order.clone(), order.clone());
    let _negate = relu.register_forward_pre_hook(move |_, x| {
        o1.lock().unwrap().push("pre");
        Ok(Some(x.neg()?))
    });
    let _plus_ten = relu.register_forward_hook(move |_, x, y| {
        o2.lock().unwrap().push("post 1");
        // The hook sees the input the pre-hook left.
        assert_eq!(x.to_vec()?, [1.0, -2.0, 3.0, -4.0]);
        Ok(Some(y.add(10.0)?))
    });
    let _inspect = relu.register_forward_hook(move |_, _, y| {
        o3.lock().unwrap().push("post 2");
        assert_eq!(y.to_vec()?, [11.0, 10.0, 13.0, 10.0]);
        Ok(None)
    });
    let out = relu.forward(&input())?;
    assert_eq!(out.to_vec()?, [11.0, 10.0, 13.0, 10.0]);
    assert_eq!(*order.lock().unwrap(), ["pre", "post 1", "post 2"]);
    Ok(())
}

#[test]
fn a_removed_hook_no_longer_runs() -> Result<()> {
    let relu: Hooked<ReLU, f64, Cpu> = Hooked::new(ReLU);
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    let handle = relu.register_forward_hook(move |_, _, _| {
        *c.lock().unwrap() += 1;
        Ok(None)
    });
    relu.forward(&input())?;
    handle.remove();
    let out = relu.forward(&input())?;
    assert_eq!(*calls.lock().unwrap(), 1);
    assert_eq!(out.to_vec()?, [0.0, 2.0, 0.0, 4.0]);
    Ok(())
}

#[test]
fn hooks_get_the_module_and_their_errors_fail_forward() -> Result<()> {
    let layer: Hooked<Linear<f64, Cpu>, f64, Cpu> = Hooked::new(Linear::new(2, 3, &Cpu)?);
    let _check = layer.register_forward_pre_hook(|module, x| {
        if x.dims()[1] != module.weight.dims()[1] {
            return Err(Error::msg("input width does not match the weight"));
        }
        Ok(None)
    });
    assert_eq!(layer.forward(&input())?.dims(), &[2, 3]);
    let wide = Tensor::<f64, Cpu>::zeros([2, 5], &Cpu)?;
    let err = layer.forward(&wide).unwrap_err().to_string();
    assert_eq!(err, "input width does not match the weight");
    Ok(())
}

#[test]
fn the_wrapper_is_invisible_to_parameters_state_dicts_modes_and_repr() -> Result<()> {
    let mut plain = Sequential::<f64, Cpu>::new()
        .append(Linear::new(2, 3, &Cpu)?)
        .append(ReLU)
        .append(Dropout::new(0.5))
        .append(Linear::new(3, 1, &Cpu)?);
    let mut hooked = Sequential::<f64, Cpu>::new()
        .append(Hooked::<_, f64, Cpu>::new(Linear::new(2, 3, &Cpu)?))
        .append(Hooked::<_, f64, Cpu>::new(ReLU))
        .append(Hooked::<_, f64, Cpu>::new(Dropout::new(0.5)))
        .append(Linear::new(3, 1, &Cpu)?);
    let keys = |m: &Sequential<f64, Cpu>| m.state_dict().into_keys().collect::<Vec<_>>();
    assert_eq!(keys(&plain), keys(&hooked));
    assert_eq!(plain.num_parameters(), hooked.num_parameters());
    assert_eq!(plain.to_string(), hooked.to_string());
    let report = hooked.load_state_dict(&plain.state_dict(), true)?;
    assert!(report.is_complete());
    // eval() reaches the wrapped Dropout: two evaluations agree.
    hooked.eval();
    plain.eval();
    let x = input();
    assert_eq!(hooked.forward(&x)?.to_vec()?, plain.forward(&x)?.to_vec()?);
    Ok(())
}

#[test]
fn gradients_flow_through_a_replaced_output() -> Result<()> {
    let layer: Hooked<Linear<f64, Cpu>, f64, Cpu> = Hooked::new(Linear::new(2, 1, &Cpu)?);
    let _double = layer.register_forward_hook(|_, _, y| Ok(Some(y.mul(2.0)?)));
    layer.forward(&input())?.sum_all()?.backward()?;
    // d(2·sum(xWᵀ + b))/db = 2 per row, 2 rows.
    assert_eq!(
        layer.bias.as_ref().unwrap().grad().unwrap().to_vec()?,
        [4.0]
    );
    Ok(())
}
