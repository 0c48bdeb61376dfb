//! The worker threads behind [`DataLoader`](crate::DataLoader) and the iterator over one epoch's
//! batches: worker `w` of `W` loads batches `w, w + W, …` into its own bounded channel, and
//! [`BatchIter`] takes batch `b` from channel `b % W`, so batches arrive in epoch order.

use nanotorch_ndarray_core::{Error, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Loads batch `b` of an epoch.
pub(super) type LoadFn<T> = dyn Fn(usize) -> Result<T> + Send + Sync;

/// Runs `load(b)`, turning a panic into an error that says where it happened.
fn load_catching<T>(load: &LoadFn<T>, b: usize, worker: Option<usize>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(|| load(b))).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".to_string());
        let place = worker.map_or_else(
            || "the calling thread".to_string(),
            |w| format!("worker {w}"),
        );
        Err(Error::msg(format!(
            "DataLoader: loading batch {b} panicked on {place}: {what}"
        )))
    })
}

struct Worker<T> {
    rx: Receiver<Result<T>>,
    handle: JoinHandle<()>,
}

/// The batches of one epoch, in order; see [`DataLoader`](crate::DataLoader). Dropping it stops
/// the workers (each finishes at most the batch it is loading) and joins them.
pub struct BatchIter<T: Send + 'static> {
    load: Option<Arc<LoadFn<T>>>,
    total: usize,
    next: usize,
    workers: Vec<Worker<T>>,
    stop: Arc<AtomicBool>,
    pending_error: Option<Error>,
    finished: bool,
}

impl<T: Send + 'static> BatchIter<T> {
    pub(super) fn failed(error: Error) -> Self {
        BatchIter {
            load: None,
            total: 0,
            next: 0,
            workers: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            pending_error: Some(error),
            finished: false,
        }
    }

    pub(super) fn start(
        load: Arc<LoadFn<T>>,
        total: usize,
        num_workers: usize,
        prefetch: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let n = num_workers.min(total);
        let mut workers = Vec::with_capacity(n);
        let mut pending_error = None;
        for w in 0..n {
            let (tx, rx) = sync_channel(prefetch);
            let (load, stop) = (Arc::clone(&load), Arc::clone(&stop));
            let spawned = std::thread::Builder::new()
                .name(format!("nanotorch-data-{w}"))
                .spawn(move || {
                    for b in (w..total).step_by(n) {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let result = load_catching(&*load, b, Some(w));
                        let failed = result.is_err();
                        // A closed channel means the iterator was dropped: stop quietly.
                        if tx.send(result).is_err() || failed {
                            return;
                        }
                    }
                });
            match spawned {
                Ok(handle) => workers.push(Worker { rx, handle }),
                Err(e) => {
                    pending_error = Some(Error::msg(format!(
                        "DataLoader: could not start worker thread {w}: {e}"
                    )));
                    break;
                }
            }
        }
        let mut iter = BatchIter {
            load: Some(load),
            total,
            next: 0,
            workers,
            stop,
            pending_error,
            finished: false,
        };
        if iter.pending_error.is_some() {
            iter.shutdown();
        }
        iter
    }

    /// Stops and joins the workers.
    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let handles: Vec<JoinHandle<()>> = self
            .workers
            .drain(..)
            .map(|w| {
                drop(w.rx); // unblocks a worker waiting to send
                w.handle
            })
            .collect();
        for h in handles {
            // Worker bodies catch panics from user code; a join error cannot carry anything the
            // caller has not already been told.
            let _ = h.join();
        }
    }
}

impl<T: Send + 'static> Iterator for BatchIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if let Some(e) = self.pending_error.take() {
            self.finished = true;
            return Some(Err(e));
        }
        if self.finished || self.next >= self.total {
            self.finished = true;
            self.shutdown();
            return None;
        }
        let b = self.next;
        self.next += 1;
        let result = if self.workers.is_empty() {
            match &self.load {
                Some(load) => load_catching(&**load, b, None),
                None => Err(Error::msg("DataLoader: iterator has no batches to load")),
            }
        } else {
            let w = b % self.workers.len();
            self.workers[w].rx.recv().unwrap_or_else(|_| {
                Err(Error::msg(format!(
                    "DataLoader: worker {w} stopped before delivering batch {b}"
                )))
            })
        };
        if result.is_err() {
            self.finished = true;
            self.shutdown();
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.pending_error.is_some() {
            return (1, Some(1));
        }
        if self.finished {
            return (0, Some(0));
        }
        (0, Some(self.total - self.next))
    }
}

impl<T: Send + 'static> Drop for BatchIter<T> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<T: Send + 'static> std::fmt::Debug for BatchIter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchIter")
            .field("next", &self.next)
            .field("total", &self.total)
            .field("workers", &self.workers.len())
            .field("finished", &self.finished)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Batch, DataLoader, Dataset, Sample};
    use nanotorch_ndarray_core::{Error, Result};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A dataset that fails (or panics) on one index and counts how often `get` ran.
    struct Faulty {
        bad: usize,
        panic: bool,
        calls: Arc<AtomicUsize>,
    }

    impl Dataset for Faulty {
        type Item = Sample;
        fn len(&self) -> usize {
            1000
        }
        fn get(&self, index: usize) -> Result<Sample> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if index == self.bad {
                if self.panic {
                    panic!("bad record {index}");
                }
                return Err(Error::msg(format!("record {index} is corrupt")));
            }
            Sample::new(vec![index as f32], [1], 0)
        }
    }

    #[test]
    fn worker_errors_and_panics_reach_the_caller_in_order() {
        for panic in [false, true] {
            for workers in [0, 1, 3] {
                let calls = Arc::new(AtomicUsize::new(0));
                let data = Faulty {
                    bad: 25,
                    panic,
                    calls: Arc::clone(&calls),
                };
                let l = DataLoader::new(data, 10).num_workers(workers);
                let results: Vec<Result<Batch>> = l.iter().collect();
                // Batches 0 and 1 arrive, batch 2 (holding index 25) is the error, then nothing.
                assert_eq!(results.len(), 3, "panic={panic} workers={workers}");
                assert!(results[0].is_ok() && results[1].is_ok());
                let err = results[2].as_ref().unwrap_err().to_string();
                let want = if panic {
                    "bad record 25"
                } else {
                    "record 25 is corrupt"
                };
                assert!(err.contains(want), "{err}");
                if panic {
                    assert!(err.contains("batch 2") && err.contains("panicked"), "{err}");
                }
                // The workers stopped long before the 1000 items.
                assert!(calls.load(Ordering::SeqCst) < 200);
            }
        }
    }

    #[test]
    fn dropping_the_iterator_stops_the_workers() {
        let calls = Arc::new(AtomicUsize::new(0));
        let data = Faulty {
            bad: usize::MAX,
            panic: false,
            calls: Arc::clone(&calls),
        };
        let l = DataLoader::new(data, 1).num_workers(2).prefetch_factor(2);
        let mut it = l.iter();
        it.next().unwrap().unwrap();
        drop(it); // joins the workers
        let after_drop = calls.load(Ordering::SeqCst);
        // Each worker holds at most prefetch_factor batches plus the one in flight.
        assert!(after_drop <= 1 + 2 * 4, "{after_drop}");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(calls.load(Ordering::SeqCst), after_drop);
    }
}
