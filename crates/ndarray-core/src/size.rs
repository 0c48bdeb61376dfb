//! Element counts and buffer sizes, computed in one place with checked arithmetic.
//!
//! Every constructor goes through [`buffer_len`] (a shape) or [`check_buffer`] (a count) on any
//! device, and every host-side buffer (the CPU backend's storage included) through
//! [`check_host_buffer`] and [`try_host_vec`], so an absurd
//! size is an [`Error::Alloc`] naming the op, never a wrapped count, a `capacity overflow`
//! panic or an allocator abort. The rules, in order:
//!
//! 1. The element count must fit in a `usize` (`[usize::MAX, 2]` and `[1 << 32, 1 << 32]` do
//!    not; before this module the first panicked and the second wrapped to 0 elements).
//! 2. The buffer must be at most [`MAX_BUFFER_BYTES`] (`isize::MAX`) bytes, Rust's limit for one
//!    allocation.
//! 3. A host buffer must be at most [`host_memory_limit`] bytes: the RAM and swap of the machine,
//!    or the process's cgroup memory limit when it is lower. A buffer bigger than that can never be
//!    backed, and every constructor writes each element, so on a kernel that overcommits memory
//!    the request would "succeed" and the process would be killed while filling it.
//! 4. The host allocator must agree ([`Vec::try_reserve_exact`]): a refusal is an error, not an
//!    abort.
//!
//! Rules 1 and 2 hold on every device; 3 and 4 are the host's (a GPU's memory is not the host's,
//! and its backend reports a failed device allocation itself).
//!
//! What this cannot promise: many buffers that each fit but together exceed memory still end
//! in the operating system's out-of-memory handling, as in any native library.

use crate::{Element, Error, Result, Shape};
use std::sync::OnceLock;

/// The most bytes one buffer may take: `isize::MAX`, Rust's limit for a single allocation.
pub const MAX_BUFFER_BYTES: usize = isize::MAX as usize;

/// The number of elements of `shape`, or an [`Error::InvalidArgument`] naming `op` when it
/// overflows a `usize`. A view costs no memory but must still be countable; use this for views and
/// [`buffer_len`] for anything that allocates.
pub fn numel(op: &'static str, shape: &Shape) -> Result<usize> {
    shape.checked_numel().ok_or_else(|| {
        Error::invalid(
            op,
            format!(
                "the element count ({}) overflows a usize",
                exact_count(shape.dims())
            ),
            shape,
        )
    })
}

/// The number of elements of a buffer of `E` with `shape` on any device, checked by rules 1–2
/// of the module docs, with errors naming `op`.
pub fn buffer_len<E: Element>(op: &'static str, shape: &Shape) -> Result<usize> {
    let len = numel(op, shape)?;
    let what = || format!("shape {shape} of {}", E::DTYPE);
    check_bytes(op, what, len, std::mem::size_of::<E>(), false)?;
    Ok(len)
}

/// Checks a buffer of `len` elements of `E` on any device by rule 2 of the module docs, naming
/// `op`.
pub fn check_buffer<E: Element>(op: &'static str, len: usize) -> Result<()> {
    let what = || format!("{len} elements of {}", E::DTYPE);
    check_bytes(op, what, len, std::mem::size_of::<E>(), false)
}

/// Checks a host buffer of `len` elements of `E` by rules 2–3 of the module docs, naming `op`
/// (rule 4 is [`try_host_vec`]'s, when it allocates).
pub fn check_host_buffer<E: Element>(op: &'static str, len: usize) -> Result<()> {
    let what = || format!("{len} elements of {}", E::DTYPE);
    check_bytes(op, what, len, std::mem::size_of::<E>(), true)
}

/// An empty host `Vec` with room for exactly `len` elements of `T`, checked by every rule of the
/// module docs (the allocator's refusal included), naming `op`.
pub fn try_host_vec<T>(op: &'static str, len: usize) -> Result<Vec<T>> {
    let elem = std::mem::size_of::<T>();
    let what = || format!("{len} elements of {elem} bytes");
    check_bytes(op, what, len, elem, true)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|e| Error::Alloc {
        op,
        what: what(),
        why: format!("the allocator refused it ({e})"),
    })?;
    Ok(v)
}

/// `err` with its op set to `op` if it is an [`Error::Alloc`] (a backend reports the allocation
/// it could not make under its own primitive's name; the constructor knows what the user called).
pub fn relabel_alloc(op: &'static str, err: Error) -> Error {
    match err {
        Error::Alloc { what, why, .. } => Error::Alloc { op, what, why },
        other => other,
    }
}

fn check_bytes(
    op: &'static str,
    what: impl Fn() -> String,
    len: usize,
    elem_bytes: usize,
    host: bool,
) -> Result<()> {
    let bytes = (len as u128) * (elem_bytes as u128);
    if bytes > MAX_BUFFER_BYTES as u128 {
        return Err(Error::Alloc {
            op,
            what: what(),
            why: format!(
                "{} is more than the largest possible buffer ({})",
                human_bytes(bytes),
                human_bytes(MAX_BUFFER_BYTES as u128)
            ),
        });
    }
    if let Some(limit) = host.then(host_memory_limit).flatten() {
        if bytes > limit as u128 {
            return Err(Error::Alloc {
                op,
                what: what(),
                why: format!(
                    "{} is more than this machine can hold ({} of memory and swap \
                     available to this process)",
                    human_bytes(bytes),
                    human_bytes(limit as u128)
                ),
            });
        }
    }
    Ok(())
}

/// The most memory this process could ever have, in bytes: RAM plus swap (`/proc/meminfo`), or
/// the cgroup v2 limit (`memory.max` plus `memory.swap.max`) when that is lower. `None` where it
/// cannot be read (not Linux): then only rules 1, 2 and 4 apply. Read once and cached.
pub fn host_memory_limit() -> Option<u64> {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = meminfo.lines().find(|l| l.starts_with(name))?;
            let kib: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            kib.checked_mul(1024)
        };
        let swap = field("SwapTotal:").unwrap_or(0);
        let machine = field("MemTotal:")?.saturating_add(swap);
        let cgroup = |file: &str| -> Option<u64> {
            std::fs::read_to_string(format!("/sys/fs/cgroup/{file}"))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        // "max" (no limit) does not parse and leaves the machine's size in force.
        // An unlimited (or absent) swap.max leaves the machine's swap as the bound.
        let cgroup_swap = cgroup("memory.swap.max").unwrap_or(swap);
        let limit = match cgroup("memory.max") {
            Some(mem) => machine.min(mem.saturating_add(cgroup_swap)),
            None => machine,
        };
        Some(limit)
    })
}

/// `dims`' product written out exactly (in u128, or as a power of ten beyond), for messages.
fn exact_count(dims: &[usize]) -> String {
    match dims
        .iter()
        .try_fold(1u128, |n, &d| n.checked_mul(d as u128))
    {
        Some(n) => n.to_string(),
        None => {
            let log10: f64 = dims.iter().map(|&d| (d as f64).log10()).sum();
            format!("about 10^{log10:.0}")
        }
    }
}

/// `bytes` in binary units with one decimal, for messages: `4.0 TiB`.
pub(crate) fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_that_overflow_are_errors_naming_the_op() {
        let err = numel("zeros", &Shape::from([usize::MAX, 2])).unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg,
            "zeros: the element count (36893488147419103230) overflows a usize \
             (shape [18446744073709551615, 2])"
        );
        let err = numel("zeros", &Shape::from([1 << 32, 1 << 32])).unwrap_err();
        assert!(err.to_string().contains("18446744073709551616"), "{err}");
        assert_eq!(numel("zeros", &Shape::from([0, usize::MAX])).unwrap(), 0);
    }

    #[test]
    fn buffers_over_isize_max_bytes_are_errors() {
        // 2^62 f32 elements count fine but are 16 EiB.
        let err = buffer_len::<f32>("ones", &Shape::from([1 << 62])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("ones: cannot allocate shape [4611686018427387904] of f32"),
            "{msg}"
        );
        assert!(
            msg.contains("16.0 EiB") && msg.contains("largest possible buffer"),
            "{msg}"
        );
        assert_eq!(buffer_len::<f32>("ones", &Shape::from([2, 3])).unwrap(), 6);
    }

    #[test]
    fn host_vecs_are_reserved_or_refused() {
        let v = try_host_vec::<f64>("eye", 10).unwrap();
        assert!(v.capacity() >= 10 && v.is_empty());
        assert!(matches!(
            try_host_vec::<u8>("eye", usize::MAX),
            Err(Error::Alloc { op: "eye", .. })
        ));
    }

    #[test]
    fn byte_sizes_read_well() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(4 << 40), "4.0 TiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
