//! A PostgreSQL connection kept between batches of reads by id (GetPayment's), instead
//! of going back to the pool after each (issue 11): sqlx pings every connection that
//! comes back (a Sync and its ReadyForQuery), so each batch was two round trips, not
//! one. One connection at most is kept; a batch that finds none kept (another batch
//! has it) takes one from the pool as before. A kept connection that fails is
//! dropped, and its batch read again on one from the pool, so a broken connection
//! costs a retry, not the batch. A pool of one connection keeps none: its writes
//! would wait for it forever. The kept connection goes back when the store closes
//! (the pool's close waits for it), and after the pool's `max_lifetime` kept, so the
//! pool still renews it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::Any;
use sqlx::pool::PoolConnection;

/// A pooled connection, with when it left the pool.
pub(crate) struct Kept {
    connection: PoolConnection<Any>,
    since: Instant,
}

impl Kept {
    /// A connection fresh from the pool, to keep after its read.
    pub(crate) fn from_pool(connection: PoolConnection<Any>) -> Self {
        Self { connection, since: Instant::now() }
    }

    pub(crate) fn connection(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.connection
    }
}

/// The one kept connection, while no batch has it.
pub(crate) struct HeldReads {
    max_lifetime: Duration,
    /// `None` once the store is closing, or for a pool of one: nothing is kept then.
    kept: Mutex<Option<Option<Kept>>>,
}

impl HeldReads {
    pub(crate) fn new(max_lifetime: Duration, pool_size: u32) -> Self {
        let slot = (pool_size > 1).then_some(None);
        Self { max_lifetime, kept: Mutex::new(slot) }
    }

    /// The kept connection, if one is (and no other batch has it).
    pub(crate) fn take(&self) -> Option<Kept> {
        self.kept.lock().ok()?.as_mut()?.take()
    }

    /// Keeps a connection whose read went well; dropped instead (back to the pool) when
    /// one is kept already, it is past its lifetime, or the store is closing.
    pub(crate) fn keep(&self, kept: Kept) {
        if kept.since.elapsed() >= self.max_lifetime {
            return;
        }
        if let Ok(mut slot) = self.kept.lock()
            && let Some(empty @ None) = slot.as_mut()
        {
            *empty = Some(kept);
        }
    }

    /// Gives the kept connection back to the pool and keeps none from now on.
    pub(crate) fn release(&self) {
        let kept = self.kept.lock().ok().and_then(|mut slot| slot.take());
        drop(kept);
    }
}
