//! Prepared statements kept across calls for queries diesel will not cache on its own.
//!
//! diesel prepares every `UPDATE`, every `sql_query` and every insert whose columns it cannot
//! prove fixed afresh on each call (it cannot tell a fixed statement from one built from
//! unbounded input, so it assumes the worst). On the hot paths that is a parse and a plan per
//! statement per call. [`Cached`] tells diesel a statement is safe to keep, and keys it by its
//! SQL text (never by its Rust type): two calls share a prepared statement exactly when they
//! produce the same SQL, so a statement whose text depends on its values (an optional column)
//! is still correct, just kept once per text.
//!
//! The rule for callers: wrap only statements whose SQL comes from a bounded set, never one whose
//! text grows with input (`eq_any` over a list, a variable number of rows).

use diesel::{
    backend::Backend,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    result::QueryResult,
};

/// A statement diesel keeps prepared on the connection, keyed by its SQL text.
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(Q);

/// Wraps a statement in [`Cached`].
pub trait CacheStatement: Sized {
    /// This statement, kept prepared across calls (see the module documentation for when that
    /// is allowed).
    fn cached(self) -> Cached<Self> {
        Cached(self)
    }
}

impl<Q> CacheStatement for Q {}

impl<Q, DB> QueryFragment<DB> for Cached<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();

    /// No static id: the cache key is the SQL text, which is what makes caching correct for
    /// statements whose text varies with their values.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for Cached<Q> {}
