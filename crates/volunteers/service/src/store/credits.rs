//! Case credits, points, badges, stats and the leaderboard.

use super::*;

/// Points per kind of case credit.
pub fn points_for(kind: &str) -> i64 {
    match kind {
        "accepted" => 10,
        "arrived" => 20,
        "resolved" => 30,
        "completed" => 20,
        "lead" => 10,
        _ => 0,
    }
}

/// Credit a volunteer once per case and kind, and award the badges it earns.
pub async fn credit(
    conn: &mut AnyConnection,
    volunteer: &str,
    case_id: &str,
    kind: &str,
) -> Result<bool, sqlx::Error> {
    let now = now_micros();
    let added = sqlx::query(
        "INSERT INTO case_credits (volunteer_id, case_id, kind, points, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (volunteer_id, case_id, kind) DO NOTHING",
    )
    .bind(volunteer)
    .bind(case_id)
    .bind(kind)
    .bind(points_for(kind))
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !added {
        return Ok(false);
    }
    let badge = match kind {
        "accepted" => Some("first_response"),
        "arrived" => Some("first_arrival"),
        "resolved" => Some("first_resolved"),
        "lead" => Some("team_lead"),
        "completed" => {
            let n: i64 = sqlx::query(
                "SELECT COUNT(*) FROM case_credits WHERE volunteer_id = $1 AND kind = 'completed'",
            )
            .bind(volunteer)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
            (n >= 10).then_some("ten_completed")
        }
        _ => None,
    };
    if let Some(code) = badge {
        sqlx::query(
            "INSERT INTO badges (volunteer_id, code, awarded_at) VALUES ($1, $2, $3) \
             ON CONFLICT (volunteer_id, code) DO NOTHING",
        )
        .bind(volunteer)
        .bind(code)
        .bind(now)
        .execute(conn)
        .await?;
    }
    Ok(true)
}

pub async fn stats(db: &Db, volunteer: &str) -> Result<Stats, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind, COUNT(*), CAST(SUM(points) AS BIGINT) FROM case_credits WHERE volunteer_id = $1 GROUP BY kind",
    )
    .bind(volunteer)
    .fetch_all(db.pool())
    .await?;
    let mut cases = CaseCounts::default();
    let mut points = 0i64;
    for r in &rows {
        let kind: String = r.try_get(0)?;
        let n: i64 = r.try_get(1)?;
        let p: i64 = r.try_get(2)?;
        points += p;
        match kind.as_str() {
            "accepted" => cases.accepted = n,
            "arrived" => cases.arrived = n,
            "resolved" => cases.resolved = n,
            "completed" => cases.completed = n,
            _ => {}
        }
    }
    let badges = sqlx::query(
        "SELECT code, awarded_at FROM badges WHERE volunteer_id = $1 ORDER BY awarded_at, code",
    )
    .bind(volunteer)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(Badge {
            code: r.try_get(0)?,
            awarded_at: rfc3339(r.try_get(1)?),
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Stats {
        points,
        badges,
        cases,
    })
}

pub async fn leaderboard(
    db: &Db,
    city: &str,
    page: u32,
    limit: u32,
) -> Result<(Vec<LeaderRow>, u64), sqlx::Error> {
    let total: i64 = sqlx::query(
        "SELECT COUNT(DISTINCT p.volunteer_id) FROM profiles p JOIN case_credits c ON c.volunteer_id = p.volunteer_id \
         WHERE p.city_code = $1",
    )
    .bind(city)
    .fetch_one(db.pool())
    .await?
    .try_get(0)?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(limit);
    let rows = sqlx::query(&format!(
        "SELECT p.display_name, CAST(SUM(c.points) AS BIGINT) AS pts, \
         (SELECT COUNT(*) FROM badges b WHERE b.volunteer_id = p.volunteer_id) AS nb \
         FROM profiles p JOIN case_credits c ON c.volunteer_id = p.volunteer_id WHERE p.city_code = $1 \
         GROUP BY p.volunteer_id, p.display_name ORDER BY pts DESC, p.display_name, p.volunteer_id \
         LIMIT {limit} OFFSET {offset}"
    ))
    .bind(city)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        out.push(LeaderRow {
            rank: u64::try_from(offset).unwrap_or(0) + i as u64 + 1,
            display_name: r.try_get(0)?,
            points: r.try_get(1)?,
            badges: r.try_get(2)?,
        });
    }
    Ok((out, u64::try_from(total).unwrap_or(0)))
}
