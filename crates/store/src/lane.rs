//! PostgreSQL connections for one autocommit statement at a time (a payment read by
//! id, a checkout's insert). sqlx's pool pings every connection it takes back, a
//! second round trip for each of these (issue 11: reads ran at half the speed of
//! their statement). Nothing of such a statement outlives it: a query dropped half
//! way leaves only its answer unread, and sqlx reads that away before the
//! connection's next statement. A connection whose statement failed other than by
//! the database's refusal is not lent again.

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, Pool, RecycleError, RecycleResult};
use sqlx::any::{AnyQueryResult, AnyRow};
use sqlx::{AnyConnection, Connection};

use crate::rows::AnyQuery;

pub(crate) struct Connector {
    url: String,
    max_lifetime: Duration,
}

impl managed::Manager for Connector {
    type Type = AnyConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<AnyConnection, sqlx::Error> {
        AnyConnection::connect(&self.url).await
    }

    async fn recycle(&self, _: &mut AnyConnection, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if metrics.age() > self.max_lifetime {
            return Err(RecycleError::message("past its lifetime"));
        }
        Ok(())
    }
}

#[derive(Clone)]
pub(crate) struct Lane(Pool<Connector>);

impl Lane {
    pub(crate) fn new(url: &str, size: u32, max_lifetime: Duration, wait: Duration) -> Result<Self, String> {
        let connector = Connector { url: url.to_owned(), max_lifetime };
        let pool = Pool::builder(connector)
            .max_size(usize::try_from(size).map_err(|error| error.to_string())?)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Self(pool))
    }

    pub(crate) async fn fetch_optional(&self, query: AnyQuery<'_>) -> Result<Option<AnyRow>, sqlx::Error> {
        let mut connection = self.connection().await?;
        let answer = query.fetch_optional(&mut *connection).await;
        keep_if_sound(connection, &answer);
        answer
    }

    pub(crate) async fn execute(&self, query: AnyQuery<'_>) -> Result<AnyQueryResult, sqlx::Error> {
        let mut connection = self.connection().await?;
        let answer = query.execute(&mut *connection).await;
        keep_if_sound(connection, &answer);
        answer
    }

    async fn connection(&self) -> Result<Object<Connector>, sqlx::Error> {
        self.0.get().await.map_err(|error| match error {
            managed::PoolError::Backend(error) => error,
            managed::PoolError::Timeout(_) => sqlx::Error::PoolTimedOut,
            managed::PoolError::Closed => sqlx::Error::PoolClosed,
            other => sqlx::Error::Protocol(other.to_string()),
        })
    }

    pub(crate) fn close(&self) {
        self.0.close();
    }
}

/// A connection goes back to the lane unless its statement failed for another reason
/// than the database refusing it (a broken socket, a protocol error).
fn keep_if_sound<T>(connection: Object<Connector>, answer: &Result<T, sqlx::Error>) {
    if matches!(answer, Err(error) if !matches!(error, sqlx::Error::Database(_))) {
        drop(Object::take(connection));
    }
}
