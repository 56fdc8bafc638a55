//! The learner's pages: home, course, enrolment, lessons, quizzes, certificates, media.

use super::*;

// ---- learner pages --------------------------------------------------------------------

pub(super) async fn home(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (lang, cookies) = lang_of(&headers, &q);
    let en = lang == Lang::En;
    let s = session(&web, &headers).await;
    let store = &web.app.store;
    let courses = match store.courses(en).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let progress = match &s {
        Some(s) => store
            .progress(&s.principal.subject)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut body = String::from("<ul id=\"courses\">");
    for c in &courses {
        let p = progress.iter().find(|p| p.course_id == c.id);
        let state = match p {
            Some(p) if p.certificate_id.is_some() => {
                t(lang, "Bersertifikat", "Certified").to_string()
            }
            Some(p) => format!(
                "{} {}/{}",
                t(lang, "Materi", "Lessons"),
                p.lessons_done,
                p.lessons_total
            ),
            None => String::new(),
        };
        body.push_str(&format!(
            "<li data-course=\"{id}\"><a href=\"/belajar/kursus/{id}\">{}</a> — {} {} · {} {}% · {}</li>",
            esc(&c.title),
            c.hours,
            t(lang, "jam", "hours"),
            t(lang, "nilai lulus", "pass mark"),
            c.pass_mark,
            esc(&state),
            id = esc(&c.id),
        ));
    }
    body.push_str("</ul>");
    if s.is_none() {
        body.push_str(&format!(
            "<p><a class=\"button\" href=\"/belajar/masuk\">{}</a></p>",
            t(
                lang,
                "Masuk dengan KREKI ID untuk mendaftar",
                "Sign in with KREKI ID to enrol"
            )
        ));
    }
    render(
        lang,
        s.as_ref(),
        t(
            lang,
            "Pelatihan Bantuan Hidup Dasar",
            "Basic Life Support training",
        ),
        &body,
        cookies,
    )
}

pub(super) async fn course_page(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let (lang, cookies) = lang_of(&headers, &q);
    let s = session(&web, &headers).await;
    course_html(&web, lang, s.as_ref(), &id, None, cookies).await
}

pub(super) async fn course_html(
    web: &Web,
    lang: Lang,
    s: Option<&Session>,
    id: &str,
    error: Option<&ApiError>,
    cookies: Vec<HeaderValue>,
) -> Response {
    let store = &web.app.store;
    let c = match store.course(id, lang == Lang::En).await {
        Ok(c) => c,
        Err(LmsError::CourseNotFound) => {
            return render_status(
                StatusCode::NOT_FOUND,
                lang,
                s,
                t(lang, "Kursus tidak ditemukan", "Course not found"),
                "",
                cookies,
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let progress = match s {
        Some(s) => store
            .progress(&s.principal.subject)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.course_id == c.course.id),
        None => None,
    };
    let mut body = error.map(|e| error_text(lang, e)).unwrap_or_default();
    body.push_str(&format!("<p>{}</p>", esc(&c.course.summary)));
    if let (Some(s), None) = (s, &progress) {
        body.push_str(&format!(
            "<form id=\"enroll-form\" method=\"post\" action=\"/belajar/daftar\">{}<input type=\"hidden\" name=\"course_id\" value=\"{}\">\
<label for=\"enroll-name\">{}</label><input id=\"enroll-name\" name=\"name\" required maxlength=\"120\" autocomplete=\"name\">\
<button id=\"enroll-submit\" type=\"submit\">{}</button></form>",
            hidden_csrf(s),
            esc(&c.course.id),
            t(lang, "Nama lengkap (tercetak di sertifikat)", "Full name (printed on the certificate)"),
            t(lang, "Daftar", "Enrol")
        ));
    }
    for m in &c.modules {
        body.push_str(&format!("<h2>{}</h2>", esc(&m.title)));
        for l in &m.lessons {
            let done = progress
                .as_ref()
                .is_some_and(|p| p.completed_lessons.contains(&l.id));
            body.push_str(&format!(
                "<section id=\"lesson-{lid}\" data-done=\"{done}\"><h3>{}</h3><p>{}</p>",
                esc(&l.title),
                esc(&l.body),
                lid = esc(&l.id),
            ));
            if let (Some(u), "image") = (&l.media_url, l.kind.as_str()) {
                body.push_str(&format!(
                    "<p><img src=\"{}\" alt=\"{}\" width=\"320\" height=\"240\"></p>",
                    esc(u),
                    esc(&l.title)
                ));
            } else if let Some(u) = &l.media_url {
                body.push_str(&format!(
                    "<p><a href=\"{}\" rel=\"noopener\">{}</a></p>",
                    esc(u),
                    t(lang, "Buka video", "Open the video")
                ));
            }
            match (s, &progress, done) {
                (Some(s), Some(_), false) => body.push_str(&format!(
                    "<form method=\"post\" action=\"/belajar/materi/{lid}/selesai\">{}<button id=\"complete-{lid}\" type=\"submit\">{}</button></form>",
                    hidden_csrf(s),
                    t(lang, "Tandai selesai", "Mark as done"),
                    lid = esc(&l.id),
                )),
                (_, _, true) => body.push_str(&format!("<p class=\"ok\">✓ {}</p>", t(lang, "Selesai", "Done"))),
                _ => {}
            }
            body.push_str("</section>");
        }
    }
    if let Some(p) = &progress {
        body.push_str(&format!("<h2>{}</h2><ul>", t(lang, "Kuis", "Quizzes")));
        for qz in &c.quizzes {
            body.push_str(&format!(
                "<li><a id=\"quiz-{id}\" href=\"/belajar/kuis/{id}\">{}</a> ({} {}, {} {})</li>",
                if qz.kind == "pre" {
                    "Pre-test"
                } else {
                    "Post-test"
                },
                qz.question_count,
                t(lang, "soal", "questions"),
                qz.time_limit_s / 60,
                t(lang, "menit", "minutes"),
                id = esc(&qz.id),
            ));
        }
        body.push_str("</ul>");
        body.push_str(&format!(
            "<p id=\"course-status\">{}: {} · {}: {}</p>",
            t(lang, "Post-test lulus", "Post-test passed"),
            if p.post_test_passed {
                t(lang, "ya", "yes")
            } else {
                t(lang, "belum", "not yet")
            },
            t(lang, "Praktik ditandatangani", "Practical signed off"),
            if p.practical_signed_off {
                t(lang, "ya", "yes")
            } else {
                t(lang, "belum", "not yet")
            },
        ));
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(status, lang, s, &c.course.title, &body, cookies)
}

pub(super) async fn enroll(State(web): State<Web>, headers: HeaderMap, f: Form) -> Response {
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &None);
    let course = f.text("course_id").to_string();
    let name = f.text("name").trim().to_string();
    let res = if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control)
    {
        Err(ApiError::validation(
            "VALIDATION_FAILED",
            kreki_platform::Msg::new("Nama wajib diisi", "The name is required"),
        ))
    } else {
        web.app
            .store
            .enroll(&s.principal.subject, &course, &name)
            .await
            .map_err(ApiError::from)
    };
    match res {
        Ok(_) => see_other(&format!("/belajar/kursus/{}", url_seg(&course))),
        Err(e) => course_html(&web, lang, Some(&s), &course, Some(&e), cookies).await,
    }
}

pub(super) fn url_seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) async fn complete(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Form,
) -> Response {
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match web
        .app
        .store
        .complete_lesson(&s.principal.subject, &id)
        .await
    {
        Ok(p) => see_other(&format!(
            "/belajar/kursus/{}#lesson-{}",
            url_seg(&p.course_id),
            url_seg(&id)
        )),
        Err(e) => ApiError::from(e).into_response(),
    }
}

pub(super) async fn quiz_page(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let s = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &q);
    // Showing the page starts nothing (a prefetch must not use up an attempt): without an
    // open attempt it offers a start button.
    let a = match web
        .app
        .store
        .open_attempt(&s.principal.subject, &id, lang == Lang::En)
        .await
    {
        Ok(Some(a)) => a,
        Ok(None) => {
            let body = format!(
                "<form id=\"quiz-start-form\" method=\"post\" action=\"/belajar/kuis/{}/mulai\">{}<button id=\"quiz-start\" type=\"submit\">{}</button></form>",
                esc(&id),
                hidden_csrf(&s),
                t(
                    lang,
                    "Mulai kuis (waktu mulai berjalan)",
                    "Start the quiz (the clock starts)"
                )
            );
            return render(lang, Some(&s), "Kuis", &body, cookies);
        }
        Err(e) => {
            let e = ApiError::from(e);
            return render_status(
                e.status,
                lang,
                Some(&s),
                "Kuis",
                &error_text(lang, &e),
                cookies,
            );
        }
    };
    let mut body = format!(
        "<p id=\"quiz-deadline\" data-deadline=\"{}\">{}: {} UTC · {}: {}</p>\
<form id=\"quiz-form\" method=\"post\" action=\"/belajar/kuis/{}\">{}<input type=\"hidden\" name=\"attempt_id\" value=\"{}\">",
        esc(&a.deadline),
        t(lang, "Batas waktu", "Deadline"),
        esc(&a.deadline[..19.min(a.deadline.len())].replace('T', " ")),
        t(lang, "Sisa percobaan", "Attempts left"),
        a.attempts_left,
        esc(&id),
        hidden_csrf(&s),
        esc(&a.attempt_id)
    );
    for (i, qn) in a.questions.iter().enumerate() {
        body.push_str(&format!(
            "<fieldset id=\"q-{qid}\"><legend>{}. {}</legend>",
            i + 1,
            esc(&qn.text),
            qid = esc(&qn.id)
        ));
        for o in &qn.options {
            body.push_str(&format!(
                "<label><input type=\"radio\" name=\"q.{qid}\" value=\"{oid}\" id=\"q-{qid}-{oid}\"> {}</label>",
                esc(&o.text),
                qid = esc(&qn.id),
                oid = esc(&o.id)
            ));
        }
        body.push_str("</fieldset>");
    }
    body.push_str(&format!(
        "<button id=\"quiz-submit\" type=\"submit\">{}</button></form>",
        t(lang, "Kirim jawaban", "Submit answers")
    ));
    render(
        lang,
        Some(&s),
        if a.kind == "pre" {
            "Pre-test"
        } else {
            "Post-test"
        },
        &body,
        cookies,
    )
}

pub(super) async fn quiz_start(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Form,
) -> Response {
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &None);
    match web
        .app
        .store
        .start_attempt(&s.principal.subject, &id, lang == Lang::En)
        .await
    {
        Ok(_) => see_other(&format!("/belajar/kuis/{}", url_seg(&id))),
        Err(e) => {
            let e = ApiError::from(e);
            render_status(
                e.status,
                lang,
                Some(&s),
                "Kuis",
                &error_text(lang, &e),
                cookies,
            )
        }
    }
}

pub(super) async fn quiz_submit(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Form,
) -> Response {
    let s = match require_post(&web, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &None);
    let answers: Vec<Answer> = f
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("q.").map(|q| Answer {
                question_id: q.to_string(),
                option_id: v.clone(),
            })
        })
        .collect();
    let res = web
        .app
        .store
        .submit(
            &s.principal.subject,
            &id,
            f.text("attempt_id"),
            &answers,
            now_micros(),
        )
        .await;
    match res {
        Ok(r) => {
            let mut body = format!(
                "<p id=\"quiz-result\" class=\"status {}\" data-passed=\"{}\" data-percent=\"{}\">{} {}% ({}/{}) — {} {}%</p>",
                if r.passed { "valid" } else { "revoked" },
                r.passed,
                r.percent,
                if r.passed {
                    t(lang, "LULUS", "PASSED")
                } else {
                    t(lang, "BELUM LULUS", "NOT PASSED")
                },
                r.percent,
                r.score,
                r.total,
                t(lang, "nilai lulus", "pass mark"),
                r.pass_mark
            );
            if let Some(c) = &r.certificate_id {
                body.push_str(&format!(
                    "<p class=\"ok\">{} <a id=\"new-certificate\" href=\"/belajar/sertifikat\">{}</a></p>",
                    t(lang, "Sertifikat terbit:", "Certificate issued:"),
                    esc(c)
                ));
            }
            body.push_str(&format!(
                "<p><a href=\"/belajar/kursus/{}\">{}</a></p>",
                esc(&r.course_id),
                t(lang, "Kembali ke kursus", "Back to the course")
            ));
            render(
                lang,
                Some(&s),
                t(lang, "Hasil kuis", "Quiz result"),
                &body,
                cookies,
            )
        }
        Err(e) => {
            let e = ApiError::from(e);
            render_status(
                e.status,
                lang,
                Some(&s),
                t(lang, "Hasil kuis", "Quiz result"),
                &error_text(lang, &e),
                cookies,
            )
        }
    }
}

pub(super) async fn certificates_page(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let s = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (lang, cookies) = lang_of(&headers, &q);
    let list = match web
        .app
        .store
        .certificates_of(&s.principal.subject, lang == Lang::En)
        .await
    {
        Ok(l) => l,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut body = String::new();
    if list.is_empty() {
        body.push_str(&format!(
            "<p id=\"no-certificates\">{}</p>",
            t(lang, "Belum ada sertifikat.", "No certificates yet.")
        ));
    } else {
        body.push_str(&format!(
            "<table id=\"certificates\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
            t(lang, "Nomor", "Number"),
            t(lang, "Kursus", "Course"),
            t(lang, "Berlaku sampai", "Valid until"),
            "Status"
        ));
        for c in &list {
            body.push_str(&format!(
                "<tr data-certificate=\"{id}\"><td>{}</td><td>{}</td><td>{}</td><td data-status=\"{st}\">{st}</td>\
<td><a id=\"pdf-{id}\" href=\"/belajar/sertifikat/{id}/pdf\">PDF</a> · <a href=\"/verify/{id}\">{}</a></td></tr>",
                esc(&c.number),
                esc(&c.course_title),
                esc(&c.valid_until[..10.min(c.valid_until.len())]),
                t(lang, "Verifikasi", "Verify"),
                id = esc(&c.id),
                st = esc(&c.status),
            ));
        }
        body.push_str("</tbody></table>");
    }
    render(
        lang,
        Some(&s),
        t(lang, "Sertifikat saya", "My certificates"),
        &body,
        cookies,
    )
}

pub(super) async fn certificate_pdf(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match web.app.store.certificate_pdf(&id).await {
        Ok((owner, pdf))
            if owner == s.principal.subject
                || s.principal
                    .can(kreki_platform::auth::perm::CERTIFICATE_ISSUE) =>
        {
            crate::http::pdf_response(&id, pdf)
        }
        Ok(_) | Err(LmsError::CertificateNotFound) => {
            ApiError::from(LmsError::CertificateNotFound).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Lesson pictures, shipped in the binary.
pub(super) async fn media(Path(name): Path<String>) -> Response {
    const POSISI_TANGAN: &str = include_str!("../../media/posisi-tangan.svg");
    match name.as_str() {
        "posisi-tangan.svg" => {
            let mut r = POSISI_TANGAN.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            );
            r
        }
        _ => ApiError::from_status(StatusCode::NOT_FOUND).into_response(),
    }
}
