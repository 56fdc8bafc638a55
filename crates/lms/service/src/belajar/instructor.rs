//! The instructor's page: participants and the practical sign-off form.

use super::*;

// ---- instructor pages -------------------------------------------------------------------

pub(super) async fn instructor_page(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let s = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &q);
    instructor_html(&web, lang, &s, None, None, cookies).await
}

pub(super) async fn instructor_html(
    web: &Web,
    lang: Lang,
    s: &Session,
    error: Option<&ApiError>,
    notice: Option<&str>,
    cookies: Vec<HeaderValue>,
) -> Response {
    let title = t(lang, "Dasbor instruktur", "Instructor dashboard");
    if let Err(e) = crate::http::require_instructor(&web.app.store, &s.principal).await {
        return render_status(
            e.status,
            lang,
            Some(s),
            title,
            &error_text(lang, &e),
            cookies,
        );
    }
    let store = &web.app.store;
    let parts = match store.participants(None, false, 1, 1_000).await {
        Ok((p, _)) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let courses = store.courses(lang == Lang::En).await.unwrap_or_default();
    let mut body = error.map(|e| error_text(lang, e)).unwrap_or_default();
    if let Some(n) = notice {
        body.push_str(&format!(
            "<p id=\"signoff-done\" class=\"ok\" role=\"status\">{}</p>",
            esc(n)
        ));
    }
    for c in &courses {
        let list: Vec<_> = parts.iter().filter(|p| p.course_id == c.id).collect();
        body.push_str(&format!(
            "<h2 id=\"class-{}\">{} ({} {})</h2>",
            esc(&c.id),
            esc(&c.title),
            list.len(),
            t(lang, "peserta", "participants")
        ));
        if list.is_empty() {
            continue;
        }
        body.push_str(&format!(
            "<table><thead><tr><th>{}</th><th>{}</th><th>Pre</th><th>Post</th><th>{}</th></tr></thead><tbody>",
            t(lang, "Nama", "Name"),
            t(lang, "Materi", "Lessons"),
            t(lang, "Praktik", "Practical")
        ));
        let detail = store.course(&c.id, lang == Lang::En).await.ok();
        for p in list {
            let pct = |v: Option<i64>| v.map(|v| format!("{v}%")).unwrap_or_else(|| "—".into());
            let practical = if p.practical_signed_off {
                format!("✓ {}", esc(p.certificate_id.as_deref().unwrap_or("")))
            } else {
                let items: String = detail
                    .as_ref()
                    .map(|d| {
                        d.practical_checklist
                            .iter()
                            .map(|k| {
                                format!(
                                    "<label><input type=\"checkbox\" name=\"item\" value=\"{id}\" id=\"skill-{acc}-{id}\"> {}</label>",
                                    esc(&k.label),
                                    id = esc(&k.id),
                                    acc = esc(&p.account_id)
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "<details{}><summary>{}</summary><form class=\"signoff\" method=\"post\" action=\"/belajar/instruktur/tandatangan\">{}\
<input type=\"hidden\" name=\"account_id\" value=\"{}\"><input type=\"hidden\" name=\"course_id\" value=\"{}\">{items}\
<label>{}<input name=\"holder_name\" required maxlength=\"120\" value=\"{}\"></label>\
<label>{}<input name=\"instructor_name\" required maxlength=\"120\"></label><label>{}<input name=\"location\" required maxlength=\"200\"></label>\
<button type=\"submit\">{}</button></form></details>",
                    if p.pending_signoff {
                        " open data-pending=\"true\""
                    } else {
                        ""
                    },
                    if p.pending_signoff {
                        t(lang, "Menunggu tanda tangan", "Awaiting sign-off")
                    } else {
                        t(lang, "Belum", "Not yet")
                    },
                    hidden_csrf(s),
                    esc(&p.account_id),
                    esc(&p.course_id),
                    t(
                        lang,
                        "Nama peserta sesuai kartu identitas yang diperiksa (tercetak di sertifikat)",
                        "Participant's name as on the identity card you checked (printed on the certificate)"
                    ),
                    esc(&p.name),
                    t(lang, "Nama instruktur", "Instructor's name"),
                    t(lang, "Lokasi", "Location"),
                    t(lang, "Tandatangani ujian praktik", "Sign off the practical"),
                )
            };
            body.push_str(&format!(
                "<tr data-participant=\"{}\"><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{practical}</td></tr>",
                esc(&p.account_id),
                esc(&p.name),
                p.lessons_done,
                p.lessons_total,
                pct(p.pre_test_percent),
                pct(p.post_test_best_percent),
            ));
        }
        body.push_str("</tbody></table>");
    }
    let status = error.map(|e| e.status).unwrap_or(StatusCode::OK);
    render_status(status, lang, Some(s), title, &body, cookies)
}

pub(super) async fn instructor_sign(
    State(web): State<Web>,
    headers: HeaderMap,
    f: Form,
) -> Response {
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &None);
    if let Err(e) = crate::http::require_instructor(&web.app.store, &s.principal).await {
        return instructor_html(&web, lang, &s, Some(&e), None, cookies).await;
    }
    let items: Vec<String> = f
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.clone())
        .collect();
    let (holder, name, location) = (
        f.text("holder_name").trim(),
        f.text("instructor_name").trim(),
        f.text("location").trim(),
    );
    let bad = |v: &str, max: usize| {
        v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control)
    };
    if bad(holder, 120) || bad(name, 120) || bad(location, 200) {
        let e = ApiError::validation(
            "VALIDATION_FAILED",
            kreki_platform::Msg::new(
                "Nama peserta (diperiksa), nama instruktur dan lokasi wajib diisi",
                "The participant's checked name, the instructor's name and the location are required",
            ),
        );
        return instructor_html(&web, lang, &s, Some(&e), None, cookies).await;
    }
    match web
        .app
        .store
        .sign_off(
            &s.principal.subject,
            name,
            holder,
            f.text("account_id"),
            f.text("course_id"),
            location,
            &items,
        )
        .await
    {
        Ok(so) => {
            let notice = match &so.certificate_id {
                Some(c) => format!(
                    "{} {c}",
                    t(
                        lang,
                        "Ditandatangani; sertifikat terbit:",
                        "Signed off; certificate issued:"
                    )
                ),
                None => t(lang, "Ditandatangani.", "Signed off.").to_string(),
            };
            instructor_html(&web, lang, &s, None, Some(&notice), cookies).await
        }
        Err(e) => instructor_html(&web, lang, &s, Some(&ApiError::from(e)), None, cookies).await,
    }
}
