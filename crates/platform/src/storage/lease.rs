//! Lease queues: replicas take due rows of one table without two taking the same row.
//!
//! A claim is one statement that writes first (`UPDATE … WHERE key IN (SELECT key … LIMIT n)
//! RETURNING …`): on SQLite no read-then-write upgrade can be refused (the single writer
//! serialises claims anyway); on PostgreSQL the inner select adds `FOR UPDATE SKIP LOCKED`,
//! so competing replicas each take rows no other holds. The `SET` moves the rows out of the
//! due set (a later retry time, a state), which is the lease: a claimer that dies leaves the
//! rows to be claimed again when that time comes.

use super::Backend;

/// ` FOR UPDATE SKIP LOCKED` on PostgreSQL, where replicas compete for rows; nothing on
/// SQLite, where writers take turns.
pub fn skip_locked(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}

/// The claim of up to `limit` due rows of `table` (see the module's documentation).
/// Parameters (`$1`, …) are the caller's, bound in the order its fragments use them.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub table: &'a str,
    /// The key the inner select returns (`id`, `case_id`).
    pub key: &'a str,
    /// What the claim changes (the lease): `state = 'sending', next_attempt_at = $1`.
    pub set: &'a str,
    /// Which rows are due: `status = 'queued' AND next_attempt_at <= $2`.
    pub due: &'a str,
    /// Which due rows first (empty: any).
    pub order_by: &'a str,
    pub limit: i64,
    /// The columns the claim answers with.
    pub returning: &'a str,
}

impl Claim<'_> {
    /// The statement for `backend`.
    pub fn sql(&self, backend: Backend) -> String {
        let Claim {
            table,
            key,
            set,
            due,
            order_by,
            limit,
            returning,
        } = *self;
        let order = if order_by.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {order_by}")
        };
        let lock = skip_locked(backend);
        format!(
            "UPDATE {table} SET {set} WHERE {key} IN (SELECT {key} FROM {table} WHERE {due}{order} \
             LIMIT {limit}{lock}) RETURNING {returning}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_writes_first_and_skips_locked_rows_on_postgres_only() {
        let claim = Claim {
            table: "jobs",
            key: "id",
            set: "next_at = $1",
            due: "next_at <= $2",
            order_by: "next_at, id",
            limit: 10,
            returning: "id, body",
        };
        assert_eq!(
            claim.sql(Backend::Postgres),
            "UPDATE jobs SET next_at = $1 WHERE id IN (SELECT id FROM jobs WHERE next_at <= $2 \
             ORDER BY next_at, id LIMIT 10 FOR UPDATE SKIP LOCKED) RETURNING id, body"
        );
        let unordered = Claim {
            order_by: "",
            ..claim
        };
        assert_eq!(
            unordered.sql(Backend::Sqlite),
            "UPDATE jobs SET next_at = $1 WHERE id IN (SELECT id FROM jobs WHERE next_at <= $2 \
             LIMIT 10) RETURNING id, body"
        );
    }
}
