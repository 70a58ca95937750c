//! Group commit (issue 11): the writes of concurrent requests go to the database
//! together, one transaction for many. The writer takes whatever queued while its
//! last write was under way, so a lone request waits for nothing extra and a busy
//! service commits many at once. Each request gets its own answer back, and one
//! that goes away after queueing still has its item written.
//!
//! Reads by id use the same queue (`GroupCommit::for_reads`): each batch is read
//! after its requests queued, so a read still sees every write committed before it
//! was asked for. Reads differ in three ways: a read whose caller went away is not
//! made, a batch that is slow to answer does not hold up the next one for long, and
//! one stuck past `READ_BATCH_TIMEOUT` fails its reads.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use tokio::sync::{Semaphore, mpsc, oneshot};

/// Items one write takes at most (a batch of reads binds as many ids).
const BATCH_MAX: usize = 32;
/// Batches of reads under way at once, at most. Writes go one batch at a time: two
/// writers made smaller batches and cost more CPU for nothing (ARCHITECTURE.md).
const READ_BATCHES_AT_ONCE: usize = 4;
/// The next batch of reads starts beside one still under way after this long. Reads
/// wait for the batch before them otherwise: two at once all the time made batches
/// smaller and cost a fifth more CPU per read.
const SLOW_READ_BATCH: Duration = Duration::from_millis(50);
/// Longest wait for a batch of reads: one stuck on a broken connection fails its
/// reads (as the pool's wait for a connection does) and frees its turn for the next.
const READ_BATCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Items waiting for the writer at most; a request past it waits to queue.
const QUEUE_MAX: usize = 1024;

type Job<T, R> = (T, oneshot::Sender<R>);

/// The item's write panicked (or the writer is gone): whether it was written is not
/// known here; a transfer left pending is found by the recovery job. A read that
/// fails so (or times out) changed nothing.
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
    reads: bool,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        Self { write: self.write.clone(), queue: self.queue.clone(), reads: self.reads }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    pub(crate) fn new<Fut>(write: impl Fn(Vec<T>) -> Fut + Send + Sync + 'static) -> Self
    where
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        Self { write: Arc::new(move |items| write(items).boxed()), queue: Arc::default(), reads: false }
    }

    /// This queue's items are reads (the module's doc says how they differ).
    pub(crate) fn for_reads(self) -> Self {
        Self { reads: true, ..self }
    }

    /// Queues `item` and waits for its answer.
    pub(crate) async fn submit(&self, item: T) -> Result<R, WriterStopped> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE_MAX);
            tokio::spawn(write_batches(self.write.clone(), receiver, self.reads));
            sender
        });
        let (answer, answered) = oneshot::channel();
        queue.send((item, answer)).await.map_err(|_| WriterStopped)?;
        answered.await.map_err(|_| WriterStopped)
    }
}

async fn write_batches<T: Send + 'static, R: Send + 'static>(
    write: Write<T, R>,
    mut queue: mpsc::Receiver<Job<T, R>>,
    reads: bool,
) {
    // A batch is taken only when one may start: meanwhile the queue fills the next.
    let at_once = Arc::new(Semaphore::new(if reads { READ_BATCHES_AT_ONCE } else { 1 }));
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    loop {
        let Ok(turn) = at_once.clone().acquire_owned().await else { return };
        if queue.recv_many(&mut jobs, BATCH_MAX).await == 0 {
            return;
        }
        if reads {
            jobs.retain(|(_, answer)| !answer.is_closed());
        }
        let batch = write_batch(write.clone(), std::mem::take(&mut jobs));
        if reads {
            let mut read = tokio::spawn(async move {
                // Dropped at the deadline, the batch's answers go with it: `WriterStopped`.
                if tokio::time::timeout(READ_BATCH_TIMEOUT, batch).await.is_err() {
                    tracing::warn!(timeout = ?READ_BATCH_TIMEOUT, "a batch of reads timed out");
                }
                drop(turn);
            });
            let _ = tokio::time::timeout(SLOW_READ_BATCH, &mut read).await;
        } else {
            batch.await;
            drop(turn);
        }
    }
}

async fn write_batch<T, R>(write: Write<T, R>, jobs: Vec<Job<T, R>>) {
    if jobs.is_empty() {
        return;
    }
    let (items, answers): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
    // A write that panics fails its own batch (its requests get `WriterStopped`)
    // and not every later one: the writer goes on with the next.
    let Ok(results) = AssertUnwindSafe(write(items)).catch_unwind().await else {
        tracing::error!(items = answers.len(), "a group-commit write panicked");
        return;
    };
    for (answer, result) in answers.into_iter().zip(results) {
        // The request went away: its item is written all the same.
        let _ = answer.send(result);
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

    /// Reads: a batch stuck on its read holds up the next only for a while, and a read
    /// whose caller went away before its batch began is not made. The clock is paused:
    /// it moves only when every task waits, so the timer cannot fire mid-step.
    #[tokio::test(start_paused = true)]
    async fn reads_go_past_a_stuck_batch_and_skip_callers_that_left() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let unstick = Arc::new(Semaphore::new(0));
        let group: GroupCommit<u32, u32> = GroupCommit::new({
            let (batches, unstick) = (batches.clone(), unstick.clone());
            move |items: Vec<u32>| {
                let (batches, unstick) = (batches.clone(), unstick.clone());
                async move {
                    batches.lock().expect("batches").push(items.clone());
                    if items.contains(&0) {
                        drop(unstick.acquire().await.expect("open"));
                    }
                    items
                }
            }
        })
        .for_reads();
        let submit = |item: u32| {
            let group = group.clone();
            tokio::spawn(async move { group.submit(item).await })
        };
        let read_count = |count: usize| {
            let batches = batches.clone();
            async move {
                while batches.lock().expect("batches").len() < count {
                    tokio::task::yield_now().await;
                }
            }
        };
        let stuck = submit(0);
        read_count(1).await;
        let started = tokio::time::Instant::now();
        assert_eq!(group.submit(1).await.expect("read beside the stuck one"), 1);
        let waited = started.elapsed();
        assert!(waited >= SLOW_READ_BATCH && waited < 2 * SLOW_READ_BATCH, "waited {waited:?} for the stuck batch");
        let also_stuck = submit(0);
        read_count(3).await;
        let gone = submit(5);
        let queue = group.queue.get().expect("started");
        while queue.max_capacity() == queue.capacity() {
            tokio::task::yield_now().await;
        }
        gone.abort();
        assert!(gone.await.expect_err("aborted").is_cancelled());
        let after = submit(6);
        while queue.max_capacity() - queue.capacity() < 2 {
            tokio::task::yield_now().await;
        }
        unstick.add_permits(2);
        assert_eq!(after.await.expect("task").expect("answer"), 6);
        assert_eq!((stuck.await.expect("task").expect("answer"), also_stuck.await.expect("task").expect("answer")), (0, 0));
        assert_eq!(*batches.lock().expect("batches"), vec![vec![0], vec![1], vec![0], vec![6]]);
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
