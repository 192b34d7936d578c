//! A synchronous SQLite query layer over rusqlite with the shape of sqlx's query API (`query`, `query_as`,
//! `query_scalar`, `.bind`, `.execute`/`.fetch_*`), so the SQLite files of [`crate::sqlite`] read like their
//! PostgreSQL twins in [`crate::postgres`] and a query moves between them unchanged.
//!
//! Why not sqlx for SQLite: sqlx runs each SQLite connection on its own thread and hands every statement and
//! row across channels. A checkout runs ~45 statements, and on a 2-core machine the thread hand-offs, not SQLite,
//! were most of the CPU (`perf`: ~60% of samples in the scheduler). SQLite statements take microseconds, so
//! running them directly on the calling task is cheaper than any hand-off; the futures returned here are
//! already complete. Durability waits (the fsync at COMMIT) are shared by group commit in [`crate::sqlite`].

use rusqlite::types::Value;
use std::future::{ready, Ready};

/// One SQLite connection. The mutex is never contended (the owner holds `&mut`); it only makes the
/// connection `Sync`, which async transactions shared across threads need.
pub struct Conn {
    inner: std::sync::Mutex<rusqlite::Connection>,
}

impl Conn {
    pub fn new(conn: rusqlite::Connection) -> Conn {
        Conn { inner: std::sync::Mutex::new(conn) }
    }

    pub fn get(&mut self) -> &mut rusqlite::Connection {
        match self.inner.get_mut() {
            Ok(c) => c,
            // A panic while a statement ran leaves nothing half-done in SQLite itself; keep using the connection.
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs SQL without parameters or results (BEGIN, COMMIT, SAVEPOINT...).
    pub fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.get().execute_batch(sql).map_err(Error)
    }

    /// Runs one statement without parameters or results from the connection's statement cache: for the
    /// BEGIN, SAVEPOINT, RELEASE, COMMIT and ROLLBACK of every transaction, which [`Conn::batch`] would parse
    /// again each time (measured: about 1 % of the checkout benchmark's CPU in `sqlite3_prepare_v2`).
    pub fn exec(&mut self, sql: &'static str) -> Result<(), Error> {
        self.get().prepare_cached(sql).and_then(|mut stmt| stmt.raw_execute()).map(drop).map_err(Error)
    }
}

/// A rusqlite error, mapped to a `StoreError` like sqlx's.
#[derive(Debug)]
pub struct Error(pub rusqlite::Error);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What `execute` reports.
pub struct Done {
    rows: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows
    }
}

/// A value that can be bound to a `$n` parameter.
pub trait Bind {
    fn value(self) -> Value;
}

macro_rules! bind_via {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl Bind for $t {
            fn value(self) -> Value {
                let $v = self;
                $e
            }
        })*
    };
}

bind_via! {
    i64 => |v| Value::Integer(v),
    i32 => |v| Value::Integer(i64::from(v)),
    bool => |v| Value::Integer(i64::from(v)),
    String => |v| Value::Text(v),
    &String => |v| Value::Text(v.clone()),
    &str => |v| Value::Text(v.to_string()),
    Vec<u8> => |v| Value::Blob(v),
    &Vec<u8> => |v| Value::Blob(v.clone()),
    &[u8] => |v| Value::Blob(v.to_vec()),
}

impl<T: Bind> Bind for Option<T> {
    fn value(self) -> Value {
        self.map_or(Value::Null, Bind::value)
    }
}

impl<'a, T> Bind for &'a Option<T>
where
    &'a T: Bind,
{
    fn value(self) -> Value {
        self.as_ref().map_or(Value::Null, Bind::value)
    }
}

impl<const N: usize> Bind for &[u8; N] {
    fn value(self) -> Value {
        Value::Blob(self.to_vec())
    }
}

/// A column value that can be read back.
pub trait Decode: Sized {
    fn decode(v: &Value) -> Result<Self, Error>;
}

fn mismatch(expected: &'static str, v: &Value) -> Error {
    Error(rusqlite::Error::InvalidColumnType(
        0,
        format!("expected {expected}, found {:?}", v.data_type()),
        v.data_type(),
    ))
}

impl Decode for i64 {
    fn decode(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Integer(i) => Ok(*i),
            other => Err(mismatch("integer", other)),
        }
    }
}

impl Decode for i32 {
    fn decode(v: &Value) -> Result<Self, Error> {
        let i = i64::decode(v)?;
        i32::try_from(i).map_err(|_| Error(rusqlite::Error::IntegralValueOutOfRange(0, i)))
    }
}

impl Decode for bool {
    fn decode(v: &Value) -> Result<Self, Error> {
        Ok(i64::decode(v)? != 0)
    }
}

impl Decode for String {
    fn decode(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(mismatch("text", other)),
        }
    }
}

impl Decode for Vec<u8> {
    fn decode(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            other => Err(mismatch("blob", other)),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Null => Ok(None),
            other => T::decode(other).map(Some),
        }
    }
}

/// A row read into memory.
pub struct Row {
    values: Vec<Value>,
}

/// Mirrors `sqlx::Row::try_get` by index, so the shared code reads both backends' rows the same way.
pub trait RowExt {
    fn try_get<T: Decode>(&self, i: usize) -> Result<T, Error>;
}

impl RowExt for Row {
    fn try_get<T: Decode>(&self, i: usize) -> Result<T, Error> {
        match self.values.get(i) {
            Some(v) => T::decode(v),
            None => Err(Error(rusqlite::Error::InvalidColumnIndex(i))),
        }
    }
}

/// A row decoded into a tuple, as `sqlx::query_as` does.
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self, Error>;
}

macro_rules! tuple_from_row {
    ($($n:tt $t:ident),+) => {
        impl<$($t: Decode),+> FromRow for ($($t,)+) {
            fn from_row(row: &Row) -> Result<Self, Error> {
                Ok(($(row.try_get::<$t>($n)?,)+))
            }
        }
    };
}

tuple_from_row!(0 A);
tuple_from_row!(0 A, 1 B);
tuple_from_row!(0 A, 1 B, 2 C);
tuple_from_row!(0 A, 1 B, 2 C, 3 D);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O, 15 P);

/// Parameter names for the common case, so binding does not format a string per value.
const PARAM_NAMES: [&str; 16] =
    ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16"];

/// A statement with its bound values. `$n` parameters are SQLite named parameters; each is bound by name.
pub struct Query<'q> {
    sql: &'q str,
    args: Vec<Value>,
}

pub fn query(sql: &str) -> Query<'_> {
    Query { sql, args: Vec::new() }
}

impl<'q> Query<'q> {
    pub fn bind<T: Bind>(mut self, v: T) -> Self {
        self.args.push(v.value());
        self
    }

    fn prepare<'c>(&self, conn: &'c mut Conn) -> Result<rusqlite::CachedStatement<'c>, Error> {
        let mut stmt = conn.get().prepare_cached(self.sql).map_err(Error)?;
        for (i, v) in self.args.iter().enumerate() {
            let owned;
            let name = match PARAM_NAMES.get(i) {
                Some(n) => *n,
                None => {
                    owned = format!("${}", i + 1);
                    owned.as_str()
                }
            };
            // A parameter the SQL does not use (allowed by PostgreSQL's `$2 = $2` idiom too) is skipped.
            if let Some(idx) = stmt.parameter_index(name).map_err(Error)? {
                stmt.raw_bind_parameter(idx, v).map_err(Error)?;
            }
        }
        Ok(stmt)
    }

    fn run(self, conn: &mut Conn, limit: Option<usize>) -> Result<Vec<Row>, Error> {
        let mut stmt = self.prepare(conn)?;
        let columns = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(Error)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(r.get::<_, Value>(i).map_err(Error)?);
            }
            out.push(Row { values });
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    fn run_execute(self, conn: &mut Conn) -> Result<Done, Error> {
        let mut stmt = self.prepare(conn)?;
        let rows = stmt.raw_execute().map_err(Error)?;
        Ok(Done { rows: rows as u64 })
    }

    pub fn execute(self, conn: &mut Conn) -> Ready<Result<Done, Error>> {
        ready(self.run_execute(conn))
    }

    /// Every row, each through `decode`.
    fn all<O>(self, conn: &mut Conn, decode: impl Fn(&Row) -> Result<O, Error>) -> Result<Vec<O>, Error> {
        self.run(conn, None)?.iter().map(decode).collect()
    }

    /// The first row, if any, through `decode`.
    fn first<O>(self, conn: &mut Conn, decode: impl Fn(&Row) -> Result<O, Error>) -> Result<Option<O>, Error> {
        self.run(conn, Some(1))?.first().map(decode).transpose()
    }

    /// The first row through `decode`; none is sqlx's `RowNotFound` (a `NotFound` store error).
    fn one<O>(self, conn: &mut Conn, decode: impl Fn(&Row) -> Result<O, Error>) -> Result<O, Error> {
        self.first(conn, decode)?.ok_or(Error(rusqlite::Error::QueryReturnedNoRows))
    }

    pub fn fetch_all(self, conn: &mut Conn) -> Ready<Result<Vec<Row>, Error>> {
        ready(self.run(conn, None))
    }

    pub fn fetch_optional(self, conn: &mut Conn) -> Ready<Result<Option<Row>, Error>> {
        ready(self.run(conn, Some(1)).map(|rows| rows.into_iter().next()))
    }

    pub fn fetch_one(self, conn: &mut Conn) -> Ready<Result<Row, Error>> {
        ready(self.fetch_optional(conn).into_inner().and_then(|r| r.ok_or(Error(rusqlite::Error::QueryReturnedNoRows))))
    }
}

/// A query whose rows decode into `O` (a tuple).
pub struct QueryAs<'q, O> {
    q: Query<'q>,
    _o: std::marker::PhantomData<fn() -> O>,
}

pub fn query_as<O: FromRow>(sql: &str) -> QueryAs<'_, O> {
    QueryAs { q: query(sql), _o: std::marker::PhantomData }
}

impl<'q, O: FromRow> QueryAs<'q, O> {
    pub fn bind<T: Bind>(mut self, v: T) -> Self {
        self.q = self.q.bind(v);
        self
    }

    pub fn fetch_all(self, conn: &mut Conn) -> Ready<Result<Vec<O>, Error>> {
        ready(self.q.all(conn, O::from_row))
    }

    pub fn fetch_optional(self, conn: &mut Conn) -> Ready<Result<Option<O>, Error>> {
        ready(self.q.first(conn, O::from_row))
    }

    pub fn fetch_one(self, conn: &mut Conn) -> Ready<Result<O, Error>> {
        ready(self.q.one(conn, O::from_row))
    }
}

/// A query whose first column decodes into `O`.
pub struct QueryScalar<'q, O> {
    q: Query<'q>,
    _o: std::marker::PhantomData<fn() -> O>,
}

pub fn query_scalar<O: Decode>(sql: &str) -> QueryScalar<'_, O> {
    QueryScalar { q: query(sql), _o: std::marker::PhantomData }
}

impl<'q, O: Decode> QueryScalar<'q, O> {
    pub fn bind<T: Bind>(mut self, v: T) -> Self {
        self.q = self.q.bind(v);
        self
    }

    pub fn fetch_all(self, conn: &mut Conn) -> Ready<Result<Vec<O>, Error>> {
        ready(self.q.all(conn, |r| r.try_get::<O>(0)))
    }

    pub fn fetch_optional(self, conn: &mut Conn) -> Ready<Result<Option<O>, Error>> {
        ready(self.q.first(conn, |r| r.try_get::<O>(0)))
    }

    pub fn fetch_one(self, conn: &mut Conn) -> Ready<Result<O, Error>> {
        ready(self.q.one(conn, |r| r.try_get::<O>(0)))
    }
}
