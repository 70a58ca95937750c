//! Group commit (issue 11): the writes of concurrent requests go to the database
//! together, one transaction for many. The writer takes whatever queued while its
//! last write was under way, so a lone request waits for nothing extra and a busy
//! service commits many at once. Each request gets its own answer back, and one
//! that goes away after queueing still has its item written. Reads by id use the
//! same queue: each batch is read after its requests queued, so a read still sees
//! every write committed before it was asked for.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use tokio::sync::{mpsc, oneshot};

/// Items one write takes at most.
const BATCH_MAX: usize = 32;
/// Items waiting for the writer at most; a request past it waits to queue.
const QUEUE_MAX: usize = 1024;

type Job<T, R> = (T, oneshot::Sender<R>);

/// The item's write panicked (or the writer is gone): whether it was written is not
/// known here; a transfer left pending is found by the recovery job.
#[derive(Debug, thiserror::Error)]
#[error("the group-commit writer stopped")]
pub(crate) struct WriterStopped;

/// The write: a batch in, one answer per item out, in order.
type Write<T, R> = Arc<dyn Fn(Vec<T>) -> BoxFuture<'static, Vec<R>> + Send + Sync>;

/// A queue and the task that writes it, started on first use inside the runtime that
/// serves the requests; the task ends when the last handle is dropped.
pub(crate) struct GroupCommit<T, R> {
    write: Write<T, R>,
    queue: Arc<OnceLock<mpsc::Sender<Job<T, R>>>>,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        Self { write: self.write.clone(), queue: self.queue.clone() }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    pub(crate) fn new<Fut>(write: impl Fn(Vec<T>) -> Fut + Send + Sync + 'static) -> Self
    where
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        Self { write: Arc::new(move |items| write(items).boxed()), queue: Arc::default() }
    }

    /// Queues `item` and waits for its answer.
    pub(crate) async fn submit(&self, item: T) -> Result<R, WriterStopped> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE_MAX);
            tokio::spawn(write_batches(self.write.clone(), receiver));
            sender
        });
        let (answer, answered) = oneshot::channel();
        queue.send((item, answer)).await.map_err(|_| WriterStopped)?;
        answered.await.map_err(|_| WriterStopped)
    }
}

async fn write_batches<T, R>(write: Write<T, R>, mut queue: mpsc::Receiver<Job<T, R>>) {
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    while queue.recv_many(&mut jobs, BATCH_MAX).await > 0 {
        let (items, answers): (Vec<_>, Vec<_>) = jobs.drain(..).unzip();
        // A write that panics fails its own batch (its requests get `WriterStopped`)
        // and not every later one: the writer goes on with the next.
        let Ok(results) = AssertUnwindSafe(write(items)).catch_unwind().await else {
            tracing::error!(items = answers.len(), "a group-commit write panicked");
            continue;
        };
        for (answer, result) in answers.into_iter().zip(results) {
            // The request went away: its item is written all the same.
            let _ = answer.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::Notify;

    use super::*;

    /// While one write is under way, the items queued meanwhile go together in the
    /// next, and each request gets its own answer.
    #[tokio::test]
    async fn items_queued_during_a_write_are_written_together() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let (started, gate) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let group: GroupCommit<u32, u32> = GroupCommit::new({
            let (batches, started, gate) = (batches.clone(), started.clone(), gate.clone());
            move |items: Vec<u32>| {
                let (batches, started, gate) = (batches.clone(), started.clone(), gate.clone());
                async move {
                    let first = {
                        let mut batches = batches.lock().expect("batches");
                        batches.push(items.clone());
                        batches.len() == 1
                    };
                    if first {
                        started.notify_one();
                        gate.notified().await;
                    }
                    items.into_iter().map(|item| item * 10).collect()
                }
            }
        });
        let submit = |item: u32| {
            let group = group.clone();
            tokio::spawn(async move { group.submit(item).await.expect("answer") })
        };
        let first = submit(1);
        started.notified().await;
        let later: Vec<_> = (2..=5).map(submit).collect();
        let queue = group.queue.get().expect("started");
        while queue.max_capacity() - queue.capacity() < later.len() {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        assert_eq!(first.await.expect("first"), 10);
        for (item, answer) in (2..=5).zip(later) {
            assert_eq!(answer.await.expect("later"), item * 10);
        }
        assert_eq!(*batches.lock().expect("batches"), vec![vec![1], vec![2, 3, 4, 5]]);
    }

    /// A write that panics fails only its own items: the next ones are written.
    #[tokio::test]
    async fn a_panicking_write_fails_only_its_own_batch() {
        let group: GroupCommit<u32, u32> = GroupCommit::new(|items: Vec<u32>| async move {
            assert!(!items.contains(&0), "zero is refused by panicking");
            items
        });
        assert!(group.submit(0).await.is_err());
        assert_eq!(group.submit(7).await.expect("the writer goes on"), 7);
    }
}
