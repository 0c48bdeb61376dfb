//! Whether operations record the graph: on by default, off inside `no_grad`.
//!
//! The flag is per thread, as in PyTorch: a data-loading thread never records anything.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether operations on this thread currently record the graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Sets grad mode until dropped, then restores the previous mode.
#[must_use = "grad mode is restored when the guard is dropped"]
pub struct GradModeGuard {
    previous: bool,
}

impl GradModeGuard {
    /// Sets grad mode to `enabled` for the guard's lifetime.
    pub fn new(enabled: bool) -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
        GradModeGuard { previous }
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// A guard under which nothing is recorded (PyTorch's `with torch.no_grad():`).
pub fn no_grad_guard() -> GradModeGuard {
    GradModeGuard::new(false)
}

/// Runs `f` without recording the graph (for evaluation and parameter updates).
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = no_grad_guard();
    f()
}

/// Runs `f` with recording on, even inside `no_grad`.
pub fn enable_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = GradModeGuard::new(true);
    f()
}
