//! Background work that must stop cleanly: every worker gets a cancellation token, and
//! shutdown cancels them all and waits (bounded) for each to finish what it holds, such as
//! a batch of clicks not yet written.

use std::{future::Future, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

#[derive(Clone, Default)]
pub struct Background {
    tracker: TaskTracker,
    token: CancellationToken,
}

impl Background {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` until it returns; it should return soon after `stop` is cancelled.
    pub fn spawn<F, Fut>(&self, name: &'static str, work: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = self.token.child_token();
        let fut = work(stop);
        self.tracker.spawn(async move {
            fut.await;
            tracing::debug!(worker = name, "background worker stopped");
        });
    }

    /// Asks every worker to stop and waits up to `timeout` for all of them.
    /// Returns whether they all finished in time.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        let finished = tokio::time::timeout(timeout, self.tracker.wait())
            .await
            .is_ok();
        if !finished {
            tracing::warn!(?timeout, "background workers did not stop in time");
        }
        finished
    }

    /// Like [`Background::spawn`], but on a thread of its own with its own single-threaded
    /// runtime, for a worker whose throughput the request load must not decide.
    ///
    /// On the shared runtime such a worker is one task among the request handlers: each
    /// time its database driver wakes it (the SQLite driver is a thread; PostgreSQL's
    /// socket is polled by the runtime), it waits in line behind the requests being
    /// served. The click writer, woken a few hundred times per batch, spent much of each
    /// batch waiting so under load; on its own thread it waits for a core instead.
    pub fn spawn_on_own_thread<F, Fut>(&self, name: &'static str, work: F) -> std::io::Result<()>
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let stop = self.token.child_token();
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(work(stop));
                drop(done);
            })?;
        self.tracker.spawn(async move {
            // Resolves when the thread drops `done`: its work is over, or it panicked.
            let _ = finished.await;
            tracing::debug!(worker = name, "background worker stopped");
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    #[tokio::test]
    async fn shutdown_waits_for_workers_to_finish_their_work() {
        let background = Background::new();
        let flushed = Arc::new(AtomicBool::new(false));
        let flag = flushed.clone();
        background.spawn("flusher", |stop| async move {
            stop.cancelled().await;
            // Work done after the stop signal, like flushing a final batch.
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        assert!(background.shutdown(Duration::from_secs(5)).await);
        assert!(flushed.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_worker_on_its_own_thread_is_waited_for_too() {
        let background = Background::new();
        let ran_on = Arc::new(std::sync::Mutex::new(None));
        let record = ran_on.clone();
        background
            .spawn_on_own_thread("writer", |stop| async move {
                stop.cancelled().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                *record.lock().unwrap() = std::thread::current().name().map(str::to_owned);
            })
            .unwrap();
        assert!(background.shutdown(Duration::from_secs(5)).await);
        assert_eq!(ran_on.lock().unwrap().as_deref(), Some("writer"));
    }

    #[tokio::test]
    async fn shutdown_gives_up_on_a_stuck_worker() {
        let background = Background::new();
        background.spawn("stuck", |_| std::future::pending());
        assert!(!background.shutdown(Duration::from_millis(50)).await);
    }
}
