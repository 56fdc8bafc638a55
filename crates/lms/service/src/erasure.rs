//! `identity.account.erased` (security review, finding 7; finding 9 for the page sessions).
//!
//! Retention (EA data architecture, "Data Retention Policy": training records 7 years,
//! certificates for life, personal data purged on request): what is only about the learner
//! is deleted — enrolments (with the proposed name), lesson completions, quiz attempts (with
//! the answers), practical sign-offs (with the checked name and the place), and the
//! `/belajar/` page sessions, which end at once. Each certificate's entry in the register
//! stays, so the gap-free register keeps no holes and the training record its 7 years and
//! more, but without personal data: no holder name, no credential (it carries the name),
//! the account id replaced by a random pseudonym, no reminder any more. Where the erased
//! account signed off others as an instructor, its name and id leave their sign-offs and
//! certificates too.

use async_trait::async_trait;
use kreki_identity_contracts::AccountErased;
use kreki_platform::{
    bus::{
        Event,
        consumer::{AfterCommit, HandleError, Handler},
    },
    storage::Tx,
    time_util::now_micros,
};

/// Deletes or pseudonymises everything the LMS holds about an erased account.
pub struct ErasureHandler;

#[async_trait]
impl Handler for ErasureHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let ev: AccountErased = event.decode()?;
        if ev.account_id.is_empty() || ev.account_id.len() > 128 {
            return Err(HandleError::Reject(anyhow::anyhow!(
                "account.erased without a usable account id"
            )));
        }
        let n = erase_account(tx, &ev.account_id, now_micros()).await?;
        tracing::info!(certificates = n, "lms data of an erased account removed");
        Ok(())
    }
}

/// Erase `account` in `tx`; returns how many certificate entries were pseudonymised.
/// Idempotent (a second run finds nothing).
pub async fn erase_account(tx: &mut Tx, account: &str, now_us: i64) -> Result<u64, sqlx::Error> {
    let pseudonym = format!("erased:{}", uuid::Uuid::new_v4());
    for sql in [
        "DELETE FROM web_sessions WHERE account_id = $1",
        "DELETE FROM lesson_completions WHERE account_id = $1",
        "DELETE FROM attempts WHERE account_id = $1",
        "DELETE FROM signoffs WHERE account_id = $1",
        "DELETE FROM enrollments WHERE account_id = $1",
    ] {
        sqlx::query(sql).bind(account).execute(&mut **tx).await?;
    }
    let certs = sqlx::query(
        "UPDATE certificates SET holder_name = '', credential = '', account_id = $2, \
         holder_erased_at = $3, reminded_at = COALESCE(reminded_at, $3) WHERE account_id = $1",
    )
    .bind(account)
    .bind(&pseudonym)
    .bind(now_us)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    // As an instructor or a training admin on other people's records.
    for sql in [
        "UPDATE certificates SET instructor_name = '', instructor_id = $2 WHERE instructor_id = $1",
        "UPDATE signoffs SET instructor_name = '', instructor_id = $2 WHERE instructor_id = $1",
        "UPDATE certificates SET revoked_by = $2 WHERE revoked_by = $1",
    ] {
        sqlx::query(sql)
            .bind(account)
            .bind(&pseudonym)
            .execute(&mut **tx)
            .await?;
    }
    Ok(certs)
}
