//! Eligibility (published through the outbox when it changes) and the certificates mirrored
//! from the LMS.

use super::*;

/// Publish `volunteers.eligibility.changed` (version + 1) if what the row implies differs
/// from what was last published. Returns whether an event was written.
pub async fn refresh_eligibility(conn: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let Some(row) = profile(&mut *conn, id).await? else {
        return Ok(false);
    };
    let unversioned = json_text(&row.eligibility_event(0))?;
    if row.eligibility.as_deref() == Some(unversioned.as_str()) {
        return Ok(false);
    }
    let version = row.eligibility_version + 1;
    sqlx::query(
        "UPDATE profiles SET eligibility = $2, eligibility_version = $3 WHERE volunteer_id = $1",
    )
    .bind(id)
    .bind(&unversioned)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    let event = Event::new(SOURCE, ELIGIBILITY_CHANGED, &row.eligibility_event(version))
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    outbox::enqueue(conn, &event).await?;
    Ok(true)
}

/// Record a certificate event's effect (`issued` → valid, `revoked` → revoked).
pub async fn save_certificate(
    conn: &mut AnyConnection,
    certificate_id: &str,
    holder: &str,
    level: CertLevel,
    valid_until: i64,
    status: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    // A revocation is final: a late or replayed `issued` never revives a revoked certificate.
    sqlx::query(
        "INSERT INTO certificates (certificate_id, volunteer_id, level, valid_until, status, reason, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (certificate_id) DO UPDATE SET \
         level = excluded.level, valid_until = excluded.valid_until, status = excluded.status, \
         reason = excluded.reason, updated_at = excluded.updated_at WHERE certificates.status <> 'revoked'",
    )
    .bind(certificate_id)
    .bind(holder)
    .bind(cert_text(level))
    .bind(valid_until)
    .bind(status)
    .bind(reason)
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Record an `expiring` notice (changes nothing else).
pub async fn note_expiring(
    conn: &mut AnyConnection,
    certificate_id: &str,
    holder: &str,
    level: CertLevel,
    valid_until: i64,
) -> Result<(), sqlx::Error> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO certificates (certificate_id, volunteer_id, level, valid_until, status, expiring_noted_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'valid', $5, $5) ON CONFLICT (certificate_id) DO UPDATE SET \
         expiring_noted_at = excluded.expiring_noted_at",
    )
    .bind(certificate_id)
    .bind(holder)
    .bind(cert_text(level))
    .bind(valid_until)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Put the best valid certificate (highest level, then latest expiry) on the profile.
pub async fn recompute_certification(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(), sqlx::Error> {
    let now = now_micros();
    let rows = sqlx::query(
        "SELECT certificate_id, level, valid_until FROM certificates \
         WHERE volunteer_id = $1 AND status = 'valid' AND valid_until > $2",
    )
    .bind(id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut best: Option<(CertLevel, i64, String)> = None;
    for r in &rows {
        let level: String = r.try_get(1)?;
        let Some(level) = cert_parse(&level) else {
            continue;
        };
        let until: i64 = r.try_get(2)?;
        let cert: String = r.try_get(0)?;
        if best
            .as_ref()
            .is_none_or(|(l, u, _)| (level, until) > (*l, *u))
        {
            best = Some((level, until, cert));
        }
    }
    let (level, until, cert) = match best {
        Some((l, u, c)) => (l, Some(u), Some(c)),
        None => (CertLevel::None, None, None),
    };
    sqlx::query(
        "UPDATE profiles SET cert_level = $2, cert_valid_until = $3, cert_id = $4 WHERE volunteer_id = $1",
    )
    .bind(id)
    .bind(cert_text(level))
    .bind(until)
    .bind(cert)
    .execute(conn)
    .await?;
    Ok(())
}

/// The certificates mirrored for a volunteer, newest expiry first.
pub async fn certificates(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Vec<MirroredCertificate>, sqlx::Error> {
    let now = now_micros();
    sqlx::query(
        "SELECT certificate_id, level, valid_until, status, reason, expiring_noted_at FROM certificates \
         WHERE volunteer_id = $1 ORDER BY valid_until DESC, certificate_id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        let level: String = r.try_get(1)?;
        let until: i64 = r.try_get(2)?;
        let status: String = r.try_get(3)?;
        Ok(MirroredCertificate {
            certificate_id: r.try_get(0)?,
            level: cert_parse(&level).unwrap_or(CertLevel::None),
            valid_until: rfc3339(until),
            status: if status == "valid" && until <= now {
                "expired".into()
            } else {
                status
            },
            revocation_reason: r.try_get(4)?,
            expiring_notice_at: r.try_get::<Option<i64>, _>(5)?.map(rfc3339),
        })
    })
    .collect()
}
