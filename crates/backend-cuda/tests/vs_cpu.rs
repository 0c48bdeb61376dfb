//! Cuda against Cpu, primitive by primitive, on contiguous and strided views. Each test skips,
//! saying why, when device 0 cannot be opened.
#![cfg(feature = "cuda")]

use nanotorch_backend_cpu::Cpu;
use nanotorch_backend_cuda::Cuda;
use nanotorch_ndarray_core::{Backend, Element, Layout};

fn device_or_skip(test: &str) -> Option<Cuda> {
    match Cuda::new(0) {
        Ok(dev) => Some(dev),
        Err(e) => {
            println!("SKIPPED {test}: no CUDA device: {e}");
            None
        }
    }
}

/// Views of a 4×6 storage: contiguous, transposed, sliced with a step and an offset, broadcast.
fn views() -> Vec<Layout> {
    let base = Layout::contiguous(vec![4, 6]);
    vec![
        base.clone(),
        base.transpose(0, 1).unwrap(),
        base.slice(1, 1, 6, 2).unwrap().narrow(0, 1, 2).unwrap(),
        Layout::new(vec![3, 6], vec![0, 1], 6),
    ]
}

fn same<E: Element>(cuda: &Cuda, a: &[E], layout: &Layout) -> Vec<E> {
    let s = cuda.from_slice(a).unwrap();
    cuda.to_vec(&s, layout).unwrap()
}

#[test]
fn fills_match_cpu() {
    let Some(cuda) = device_or_skip("fills_match_cpu") else {
        return;
    };
    let cpu = Cpu;
    let l = Layout::contiguous(vec![37]);
    let g = cuda.full(37, 2.5f32).unwrap();
    let c = cpu.full(37, 2.5f32).unwrap();
    assert_eq!(cuda.to_vec(&g, &l).unwrap(), cpu.to_vec(&c, &l).unwrap());
    let g = cuda.arange::<i64>(-3.0, 0.7, 37).unwrap();
    let c = cpu.arange::<i64>(-3.0, 0.7, 37).unwrap();
    assert_eq!(cuda.to_vec(&g, &l).unwrap(), cpu.to_vec(&c, &l).unwrap());
    let g = cuda.arange::<f64>(-3.0, 0.7, 37).unwrap();
    let c = cpu.arange::<f64>(-3.0, 0.7, 37).unwrap();
    assert_eq!(cuda.to_vec(&g, &l).unwrap(), cpu.to_vec(&c, &l).unwrap());
    assert_eq!(cuda.storage_len(&cuda.full(0, 1i64).unwrap()), 0);
}

#[test]
fn copies_and_casts_match_cpu() {
    let Some(cuda) = device_or_skip("copies_and_casts_match_cpu") else {
        return;
    };
    let cpu = Cpu;
    let data: Vec<f64> = (0..24).map(|i| (i as f64 - 11.3) * 1.7).collect();
    for layout in views() {
        let out_l = Layout::contiguous(layout.shape().clone());
        let gs = cuda.from_slice(&data).unwrap();
        let cs = cpu.from_slice(&data).unwrap();
        let g = cuda.copy_strided(&gs, &layout).unwrap();
        let c = cpu.copy_strided(&cs, &layout).unwrap();
        assert_eq!(
            cuda.to_vec(&g, &out_l).unwrap(),
            cpu.to_vec(&c, &out_l).unwrap()
        );
        let g = cuda.cast::<f64, i64>(&gs, &layout).unwrap();
        let c = cpu.cast::<f64, i64>(&cs, &layout).unwrap();
        assert_eq!(
            cuda.to_vec(&g, &out_l).unwrap(),
            cpu.to_vec(&c, &out_l).unwrap()
        );
        let g = cuda.cast::<f64, f32>(&gs, &layout).unwrap();
        let c = cpu.cast::<f64, f32>(&cs, &layout).unwrap();
        assert_eq!(
            cuda.to_vec(&g, &out_l).unwrap(),
            cpu.to_vec(&c, &out_l).unwrap()
        );
        assert_eq!(
            same(&cuda, &data, &layout),
            cpu.to_vec(&cs, &layout).unwrap()
        );
    }
    // A layout reaching past the storage is an error, not an out-of-bounds read.
    let small = cuda.from_slice(&[1.0f32, 2.0]).unwrap();
    assert!(cuda
        .copy_strided(&small, &Layout::contiguous(vec![3]))
        .is_err());
}
