//! The leads' and Ops' search of volunteers.

use super::*;

/// Filters of the leads' and Ops' search (all validated by the handler).
#[derive(Debug, Default, Clone)]
pub struct Search {
    pub province: Option<String>,
    pub city: Option<String>,
    pub skill: Option<String>,
    pub cert_level: Option<CertLevel>,
    pub state: Option<VerificationState>,
    pub page: u32,
    pub limit: u32,
}

enum Bind {
    Text(String),
    Int(i64),
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

pub async fn search(db: &Db, s: &Search) -> Result<(Vec<VolunteerSummary>, u64), sqlx::Error> {
    let now = now_micros();
    let mut cond: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    let next = |b: Bind, binds: &mut Vec<Bind>| {
        binds.push(b);
        format!("${}", binds.len())
    };
    if let Some(p) = &s.province {
        let n = next(Bind::Text(p.clone()), &mut binds);
        cond.push(format!("province_code = {n}"));
    }
    if let Some(c) = &s.city {
        let n = next(Bind::Text(c.clone()), &mut binds);
        cond.push(format!("city_code = {n}"));
    }
    if let Some(k) = &s.skill {
        // Skills are slugs ([a-z0-9_]); `_` is escaped so it matches only itself.
        let pattern = format!("%\"{}\"%", k.replace('_', "\\_"));
        let n = next(Bind::Text(pattern), &mut binds);
        cond.push(format!("skills LIKE {n} ESCAPE '\\'"));
    }
    match s.cert_level {
        None => {}
        Some(CertLevel::None) => {
            let n = next(Bind::Int(now), &mut binds);
            cond.push(format!(
                "(cert_level = 'none' OR cert_valid_until IS NULL OR cert_valid_until <= {n})"
            ));
        }
        Some(l) => {
            let a = next(Bind::Text(cert_text(l).into()), &mut binds);
            let b = next(Bind::Int(now), &mut binds);
            cond.push(format!("cert_level = {a} AND cert_valid_until > {b}"));
        }
    }
    if let Some(st) = s.state {
        let n = next(Bind::Text(st.as_str().into()), &mut binds);
        cond.push(format!("state = {n}"));
    }
    let filter = if cond.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", cond.join(" AND "))
    };
    let count_sql = format!("SELECT COUNT(*) FROM profiles{filter}");
    let total: i64 = bind_all(sqlx::query(&count_sql), &binds)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let offset = i64::from(s.page.saturating_sub(1)) * i64::from(s.limit);
    let page_sql = format!(
        "SELECT {PROFILE_COLS} FROM profiles{filter} ORDER BY display_name, volunteer_id LIMIT {} OFFSET {offset}",
        s.limit
    );
    let rows = bind_all(sqlx::query(&page_sql), &binds)
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let p = profile_row(r)?;
        let valid = p.cert_valid_until.is_some_and(|u| u > now);
        out.push(VolunteerSummary {
            health_professional: p.health_professional(),
            volunteer_id: p.volunteer_id,
            display_name: p.profile.display_name,
            province_code: p.profile.province_code,
            city_code: p.profile.city_code,
            skills: p.profile.skills,
            background: p.profile.background,
            verification_state: p.state,
            cert_level: if valid { p.cert_level } else { CertLevel::None },
            cert_valid_until: if valid {
                p.cert_valid_until.map(rfc3339)
            } else {
                None
            },
        });
    }
    Ok((out, u64::try_from(total).unwrap_or(0)))
}
