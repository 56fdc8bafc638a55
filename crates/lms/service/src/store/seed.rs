//! Start-up: the catalogue's seed and the issuer's key.

use super::*;

pub(super) async fn seed_catalogue(db: &Db) -> anyhow::Result<()> {
    let mut tx = write_tx(db).await?;
    for (ci, c) in CATALOGUE.iter().enumerate() {
        let info: &LevelInfo = c.info;
        let cid = info.course_id;
        sqlx::query(
            "INSERT INTO courses (id, level, position, title_id, title_en, summary_id, summary_en, hours, pass_mark, validity_years, recert_months) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
        )
        .bind(cid)
        .bind(level_str(info.level))
        .bind(i64::try_from(ci)?)
        .bind(c.title.0)
        .bind(c.title.1)
        .bind(c.summary.0)
        .bind(c.summary.1)
        .bind(info.hours)
        .bind(info.pass_mark)
        .bind(info.validity_years)
        .bind(info.recert_months)
        .execute(&mut *tx)
        .await?;
        let mut lesson_pos = 0i64;
        for (mi, m) in c.modules.iter().enumerate() {
            let mid = format!("{cid}-m{}", mi + 1);
            sqlx::query(
                "INSERT INTO modules (id, course_id, position, title_id, title_en) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&mid)
            .bind(cid)
            .bind(i64::try_from(mi)?)
            .bind(m.title.0)
            .bind(m.title.1)
            .execute(&mut *tx)
            .await?;
            for (li, l) in m.lessons.iter().enumerate() {
                lesson_pos += 1;
                sqlx::query(
                    "INSERT INTO lessons (id, module_id, course_id, position, kind, title_id, title_en, body_id, body_en, media_url) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
                )
                .bind(format!("{mid}-l{}", li + 1))
                .bind(&mid)
                .bind(cid)
                .bind(lesson_pos)
                .bind(l.kind)
                .bind(l.title.0)
                .bind(l.title.1)
                .bind(l.body.0)
                .bind(l.body.1)
                .bind(l.media_url)
                .execute(&mut *tx)
                .await?;
            }
        }
        for (qi, q) in c.questions.iter().enumerate() {
            let options: Vec<serde_json::Value> = q
                .options
                .iter()
                .map(|(id, t_id, t_en)| serde_json::json!({"id": id, "text_id": t_id, "text_en": t_en}))
                .collect();
            sqlx::query(
                "INSERT INTO questions (id, course_id, position, text_id, text_en, options, correct) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(format!("{cid}-q{:02}", qi + 1))
            .bind(cid)
            .bind(i64::try_from(qi)?)
            .bind(q.text.0)
            .bind(q.text.1)
            .bind(serde_json::to_string(&options)?)
            .bind(q.correct)
            .execute(&mut *tx)
            .await?;
        }
        for (kind, (count, limit, attempts)) in [("pre", c.pre), ("post", c.post)] {
            sqlx::query(
                "INSERT INTO quizzes (id, course_id, kind, question_count, time_limit_s, max_attempts) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(format!("{cid}-{kind}"))
            .bind(cid)
            .bind(kind)
            .bind(count)
            .bind(limit)
            .bind(attempts)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn load_or_create_issuer(db: &Db) -> anyhow::Result<Issuer> {
    let pkcs8 = Issuer::generate_pkcs8()?;
    // Replicas starting together agree on the first key written.
    sqlx::query("INSERT INTO issuer_keys (id, pkcs8, created_at) VALUES ('primary', $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(credential::b64(&pkcs8))
        .bind(now_micros())
        .execute(db.writer())
        .await?;
    let stored: String = sqlx::query("SELECT pkcs8 FROM issuer_keys WHERE id = 'primary'")
        .fetch_one(db.pool())
        .await?
        .get(0);
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(stored)?;
    Issuer::from_pkcs8(&raw)
}
