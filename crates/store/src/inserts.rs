//! Inserts held back and written in few round trips (issue 11: under load a write
//! costs what its round trips cost): one per 16 statements or 30,000 values. On
//! PostgreSQL those become one statement, each insert a data-modifying CTE of it:
//! they run on one snapshot, and the foreign keys are checked when it ends. On
//! SQLite they go as one string of statements, run in order in one call (one
//! hand-off to the connection's thread). Either way parents are added before
//! children: a foreign key may be checked before a later write.

use app::StoreError;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments, AssertSqlSafe, Encode, Transaction, Type};

use crate::rows::{ROWS_PER_INSERT, multi_row_insert};
use crate::{Dialect, db};

/// Bound values per written statement: below PostgreSQL's 65,535 and SQLite's
/// 32,766 (its limit is per statement of the string, so this is safe there too).
const VALUES_PER_WRITE: usize = 30_000;
/// Statements per written statement: PostgreSQL plans every CTE of a statement it
/// has not seen, so hundreds of small ones cost more than their round trips saved
/// (callers add many rows as one multi-row statement instead).
const STATEMENTS_PER_WRITE: usize = 16;

/// Inserts that read nothing another of them writes, in the order added (parents
/// before children: SQLite checks a foreign key at each statement).
#[derive(Default)]
pub(crate) struct Inserts {
    writes: Vec<Write>,
}

/// Statements written together, and their values in binding order.
#[derive(Default)]
struct Write {
    /// Each with the name another statement reads its `RETURNING` rows by.
    statements: Vec<(Option<&'static str>, String)>,
    /// The placeholders of `statements`: where the next one's are numbered from.
    numbered: usize,
    values: AnyArguments,
    error: Option<String>,
}

impl Inserts {
    /// Adds an `INSERT` whose placeholders are numbered `$1…$n`; its `n` values
    /// follow with `bind`, before the next statement is added.
    pub(crate) fn add(&mut self, statement: &str) -> &mut Self {
        self.add_as(None, statement)
    }

    /// Adds a statement whose `RETURNING` rows later ones (and `fetch_all`'s
    /// `select`) read as `name`; on PostgreSQL only, where it is a CTE.
    pub(crate) fn add_named(&mut self, name: &'static str, statement: &str) -> &mut Self {
        self.add_as(Some(name), statement)
    }

    fn add_as(&mut self, name: Option<&'static str>, statement: &str) -> &mut Self {
        let count = highest_placeholder(statement);
        match self.writes.last_mut() {
            Some(write) if write.numbered + count <= VALUES_PER_WRITE && write.statements.len() < STATEMENTS_PER_WRITE => {
                write.statements.push((name, renumbered(statement, write.numbered)));
                write.numbered += count;
            }
            _ => self.writes.push(Write { statements: vec![(name, statement.to_owned())], numbered: count, ..Write::default() }),
        }
        self
    }

    /// Adds `rows` to `table` (`name (columns…)`) as multi-row INSERTs, each row's
    /// `columns` values bound by `bind` in the order the table names them.
    pub(crate) fn add_rows<T>(&mut self, table: &str, columns: usize, rows: &[T], bind: impl Fn(&mut Self, &T)) -> &mut Self {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            self.add(&multi_row_insert(table, columns, chunk.len()));
            for row in chunk {
                bind(self, row);
            }
        }
        self
    }

    pub(crate) fn bind<'t, T: Encode<'t, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        if let Some(write) = self.writes.last_mut()
            && let Err(error) = write.values.add(value)
        {
            write.error.get_or_insert(error.to_string());
        }
        self
    }

    /// Whether `statements` more, binding `values`, would still be written with
    /// these as one statement.
    pub(crate) fn has_room_for(&self, statements: usize, values: usize) -> bool {
        match &self.writes[..] {
            [] => statements <= STATEMENTS_PER_WRITE && values <= VALUES_PER_WRITE,
            [write] => write.statements.len() + statements <= STATEMENTS_PER_WRITE && write.numbered + values <= VALUES_PER_WRITE,
            _ => false,
        }
    }

    /// Writes them all in the caller's transaction.
    pub(crate) async fn write(self, tx: &mut Transaction<'_, Any>) -> Result<(), StoreError> {
        let dialect = Dialect::of_connection(tx);
        for write in self.writes {
            let (sql, values) = write.joined(dialect, None)?;
            sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut **tx).await.map_err(db)?;
        }
        Ok(())
    }

    /// Runs them as one statement and answers its rows: `select`'s, after every
    /// statement as a CTE (PostgreSQL only), or else the last statement's. Outside a
    /// transaction that statement commits alone, all or nothing.
    pub(crate) async fn fetch_all<'c>(
        self,
        dialect: Dialect,
        executor: impl sqlx::Executor<'c, Database = Any>,
        select: Option<&str>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        self.try_fetch_all(dialect, executor, select).await?.map_err(db)
    }

    /// `fetch_all`, with the database's own error apart, for a caller that expects
    /// some errors (its code tells which).
    pub(crate) async fn try_fetch_all<'c>(
        self,
        dialect: Dialect,
        executor: impl sqlx::Executor<'c, Database = Any>,
        select: Option<&str>,
    ) -> Result<Result<Vec<AnyRow>, sqlx::Error>, StoreError> {
        let [write] = <[Write; 1]>::try_from(self.writes)
            .map_err(|writes| StoreError::Database(format!("{} statements cannot be run as one", writes.len())))?;
        let (sql, values) = write.joined(dialect, select)?;
        Ok(sqlx::query_with(AssertSqlSafe(sql), values).fetch_all(executor).await)
    }
}

impl Write {
    /// One statement of PostgreSQL (every statement but the last, or all of them
    /// before `select`, a CTE), or SQLite's statements one after another.
    fn joined(self, dialect: Dialect, select: Option<&str>) -> Result<(String, AnyArguments), StoreError> {
        if let Some(error) = self.error {
            return Err(StoreError::Database(format!("a value could not be bound: {error}")));
        }
        // SQLite binds NULL to a placeholder without a value, and every later value
        // would shift into the wrong column.
        if self.values.len() != self.numbered {
            return Err(StoreError::Database(format!("{} values bound for {} placeholders", self.values.len(), self.numbered)));
        }
        let sql = match (dialect, select) {
            (Dialect::Postgres, Some(select)) => format!("WITH {} {select}", ctes(&self.statements)),
            (Dialect::Postgres, None) => match self.statements.split_last() {
                Some(((_, last), before)) if !before.is_empty() => {
                    if last.trim_start().get(..4).is_some_and(|word| word.eq_ignore_ascii_case("WITH")) {
                        return Err(StoreError::Database("a statement with its own WITH cannot end a merged one".into()));
                    }
                    format!("WITH {} {last}", ctes(before))
                }
                _ => plain(&self.statements),
            },
            (Dialect::Sqlite, None) => plain(&self.statements),
            (Dialect::Sqlite, Some(_)) => {
                return Err(StoreError::Database("SQLite runs no data-modifying CTE".into()));
            }
        };
        Ok((sql, self.values))
    }
}

fn ctes(statements: &[(Option<&'static str>, String)]) -> String {
    let named = statements.iter().enumerate().map(|(n, (name, statement))| match name {
        Some(name) => format!("{name} AS ({statement})"),
        None => format!("insert_{n} AS ({statement})"),
    });
    named.collect::<Vec<_>>().join(", ")
}

fn plain(statements: &[(Option<&'static str>, String)]) -> String {
    statements.iter().map(|(_, statement)| statement.as_str()).collect::<Vec<_>>().join(";\n")
}

/// The largest `$N` of a statement: the number of values it binds.
fn highest_placeholder(statement: &str) -> usize {
    placeholders(statement).map(|(_, n)| n).max().unwrap_or(0)
}

/// The statement with each `$N` made `$(N + offset)`. Our statements hold no `$`
/// but their placeholders (every value is bound, none is a literal).
fn renumbered(statement: &str, offset: usize) -> String {
    if offset == 0 {
        return statement.to_owned();
    }
    let mut out = String::with_capacity(statement.len() + statement.len() / 8);
    let mut copied = 0;
    for (range, n) in placeholders(statement) {
        out.push_str(&statement[copied..range.start]);
        out.push_str(&format!("${}", n + offset));
        copied = range.end;
    }
    out.push_str(&statement[copied..]);
    out
}

/// Each `$N` of a statement: where it stands and its number.
fn placeholders(statement: &str) -> impl Iterator<Item = (std::ops::Range<usize>, usize)> + '_ {
    let bytes = statement.as_bytes();
    bytes.iter().enumerate().filter(|(_, byte)| **byte == b'$').filter_map(move |(start, _)| {
        let digits = bytes[start + 1..].iter().take_while(|byte| byte.is_ascii_digit()).count();
        let number = statement[start + 1..start + 1 + digits].parse().ok()?;
        Some((start..start + 1 + digits, number))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_moved_past_the_values_before_them() {
        let insert = "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $10)";
        assert_eq!(highest_placeholder(insert), 10);
        assert_eq!(renumbered(insert, 0), insert);
        assert_eq!(renumbered(insert, 7), "INSERT INTO t (a, b) VALUES ($8, $9), ($10, $17)");
        assert_eq!(highest_placeholder("SELECT 1"), 0);
    }

    fn sql(inserts: Inserts, dialect: Dialect, select: Option<&str>) -> Result<String, StoreError> {
        let mut writes = inserts.writes.into_iter();
        let write = writes.next().expect("one write");
        assert!(writes.next().is_none());
        write.joined(dialect, select).map(|(sql, _)| sql)
    }

    #[test]
    fn postgres_gets_one_statement_and_sqlite_a_string_of_them() {
        let two = || {
            let mut inserts = Inserts::default();
            inserts.add("INSERT INTO a VALUES ($1)").bind(1_i64).add("INSERT INTO b VALUES ($1)").bind(2_i64);
            inserts
        };
        assert_eq!(
            sql(two(), Dialect::Postgres, None).expect("sql"),
            "WITH insert_0 AS (INSERT INTO a VALUES ($1)) INSERT INTO b VALUES ($2)"
        );
        assert_eq!(sql(two(), Dialect::Sqlite, None).expect("sql"), "INSERT INTO a VALUES ($1);\nINSERT INTO b VALUES ($2)");
        let mut one = Inserts::default();
        one.add("INSERT INTO a VALUES ($1)").bind(1_i64);
        assert_eq!(sql(one, Dialect::Postgres, None).expect("sql"), "INSERT INTO a VALUES ($1)");
        let mut with_last = Inserts::default();
        with_last.add("INSERT INTO a VALUES ($1)").bind(1_i64).add("WITH x AS (VALUES ($1)) INSERT INTO b SELECT * FROM x");
        with_last.bind(2_i64);
        assert!(sql(with_last, Dialect::Postgres, None).is_err(), "it cannot follow the CTEs");
    }

    #[test]
    fn a_select_reads_a_named_statement_after_all_of_them_on_postgres_only() {
        let both = || {
            let mut inserts = Inserts::default();
            inserts.add_named("moved", "UPDATE a SET x = $1 RETURNING id").bind(1_i64).add("INSERT INTO b SELECT id FROM moved");
            inserts
        };
        assert_eq!(
            sql(both(), Dialect::Postgres, Some("SELECT id FROM moved")).expect("sql"),
            "WITH moved AS (UPDATE a SET x = $1 RETURNING id), insert_1 AS (INSERT INTO b SELECT id FROM moved) SELECT id FROM moved"
        );
        assert!(sql(both(), Dialect::Sqlite, Some("SELECT id FROM moved")).is_err());
    }

    #[test]
    fn rows_go_in_multi_row_statements_of_at_most_their_share() {
        let mut inserts = Inserts::default();
        let rows: Vec<i64> = (0..=i64::try_from(ROWS_PER_INSERT).expect("small")).collect();
        inserts.add_rows("t (a)", 1, &rows, |row, a| {
            row.bind(*a);
        });
        let statements = sql(inserts, Dialect::Sqlite, None).expect("sql");
        let [full, rest] = statements.split(";\n").collect::<Vec<_>>()[..] else { panic!("{statements}") };
        assert_eq!(full.matches('(').count(), 1 + ROWS_PER_INSERT, "the table's list and each row");
        assert_eq!(rest, format!("INSERT INTO t (a) VALUES (${})", ROWS_PER_INSERT + 1));
    }

    #[test]
    fn values_must_match_their_placeholders() {
        let mut short = Inserts::default();
        short.add("INSERT INTO a VALUES ($1, $2)").bind(1_i64).add("INSERT INTO b VALUES ($1)").bind(2_i64);
        let refused = sql(short, Dialect::Sqlite, None).map_err(|error| error.to_string());
        assert!(refused.is_err_and(|error| error.contains("2 values bound for 3 placeholders")));
        let mut exact = Inserts::default();
        exact.add("INSERT INTO a VALUES ($1, $2)").bind(1_i64).bind(2_i64);
        assert_eq!(sql(exact, Dialect::Sqlite, None).expect("sql"), "INSERT INTO a VALUES ($1, $2)");
    }

    #[test]
    fn a_write_holds_at_most_its_share_of_values() {
        let mut inserts = Inserts::default();
        let wide = crate::rows::multi_row_insert("t (a)", 1, VALUES_PER_WRITE - 1);
        inserts.add(&wide).add("INSERT INTO u VALUES ($1)").add("INSERT INTO v VALUES ($1, $2)");
        let counts: Vec<usize> = inserts.writes.iter().map(|write| write.statements.len()).collect();
        assert_eq!(counts, [2, 1], "the third would pass the bound: a write of its own");
        assert!(inserts.writes[1].statements[0].1.ends_with("($1, $2)"), "numbered from its own write's start");
        let mut small = Inserts::default();
        for _ in 0..STATEMENTS_PER_WRITE + 1 {
            small.add("INSERT INTO u VALUES ($1)");
        }
        let counts: Vec<usize> = small.writes.iter().map(|write| write.statements.len()).collect();
        assert_eq!(counts, [STATEMENTS_PER_WRITE, 1], "and at most its share of statements");
    }
}
