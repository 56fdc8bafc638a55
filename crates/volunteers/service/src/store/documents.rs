//! Documents a volunteer uploads for verification (metadata and content).

use super::*;

/// A new document (metadata and validated content).
pub struct NewDocument<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub content_base64: &'a str,
}

pub async fn add_document(
    conn: &mut AnyConnection,
    volunteer: &str,
    d: &NewDocument<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO documents (id, volunteer_id, kind, filename, content_type, size_bytes, sha256, content, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(d.id)
    .bind(volunteer)
    .bind(d.kind)
    .bind(d.filename)
    .bind(d.content_type)
    .bind(d.size_bytes)
    .bind(d.sha256)
    .bind(d.content_base64)
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

fn document_meta(r: &AnyRow) -> Result<DocumentMeta, sqlx::Error> {
    Ok(DocumentMeta {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        filename: r.try_get(2)?,
        content_type: r.try_get(3)?,
        size_bytes: r.try_get(4)?,
        sha256: r.try_get(5)?,
        created_at: rfc3339(r.try_get(6)?),
    })
}

pub async fn documents(
    conn: &mut AnyConnection,
    volunteer: &str,
) -> Result<Vec<DocumentMeta>, sqlx::Error> {
    sqlx::query(
        "SELECT id, kind, filename, content_type, size_bytes, sha256, created_at FROM documents \
         WHERE volunteer_id = $1 ORDER BY created_at, id",
    )
    .bind(volunteer)
    .fetch_all(conn)
    .await?
    .iter()
    .map(document_meta)
    .collect()
}

pub async fn document(
    conn: &mut AnyConnection,
    volunteer: &str,
    id: &str,
) -> Result<Option<DocumentContent>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "SELECT id, kind, filename, content_type, size_bytes, sha256, created_at, content FROM documents \
         WHERE volunteer_id = $1 AND id = $2",
    )
    .bind(volunteer)
    .bind(id)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(DocumentContent {
        meta: document_meta(&r)?,
        content_base64: r.try_get(7)?,
    }))
}

pub async fn count_documents(
    conn: &mut AnyConnection,
    volunteer: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) FROM documents WHERE volunteer_id = $1")
        .bind(volunteer)
        .fetch_one(conn)
        .await?
        .try_get(0)
}
