//! The certificate PDF: one A4 landscape page, the PDF's standard Helvetica fonts (nothing
//! embedded, so a few kilobytes), and a QR code to the public verification page drawn as
//! vector squares.

use std::io::Write;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

pub struct CertificatePdf<'a> {
    pub certificate_id: &'a str,
    pub holder_name: &'a str,
    pub course_name: &'a str,
    pub level_label: &'a str,
    pub issued_on: &'a str,
    pub valid_until: &'a str,
    pub instructor: &'a str,
    pub verify_url: &'a str,
}

/// Text in WinAnsi (Latin-1 range); other characters become `?`.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '–' | '—' => b'-',
            c if (c as u32) < 256 => c as u8,
            _ => b'?',
        })
        .collect()
}

/// Approximate width of Helvetica text (average glyph 0.5 em), to centre lines.
fn centred_x(text: &[u8], size: f32, page_w: f32) -> f32 {
    let w = text.len() as f32 * size * 0.5;
    ((page_w - w) / 2.0).max(36.0)
}

pub fn render(c: &CertificatePdf<'_>) -> anyhow::Result<Vec<u8>> {
    let (w, h) = (842.0f32, 595.0f32);
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let page = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let content_id = Ref::new(6);
    let info = Ref::new(7);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    {
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, w, h));
        p.parent(tree);
        p.contents(content_id);
        let mut res = p.resources();
        let mut fonts = res.fonts();
        fonts.pair(Name(b"F1"), regular);
        fonts.pair(Name(b"F2"), bold);
        fonts.finish();
        res.finish();
        p.finish();
    }
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(&format!("Sertifikat {}", c.certificate_id)))
        .subject(TextStr(&format!("{} - {}", c.course_name, c.holder_name)))
        .producer(TextStr("KREKI HELP 119"));

    let mut k = Content::new();
    // Frame.
    k.set_stroke_rgb(0.70, 0.15, 0.12);
    k.set_line_width(4.0);
    k.rect(20.0, 20.0, w - 40.0, h - 40.0);
    k.stroke();
    let line = |k: &mut Content, font: &[u8], size: f32, y: f32, text: &str| {
        let t = latin1(text);
        k.begin_text();
        k.set_font(Name(font), size);
        k.next_line(centred_x(&t, size, w), y);
        k.show(Str(&t));
        k.end_text();
    };
    k.set_fill_rgb(0.70, 0.15, 0.12);
    line(&mut k, b"F2", 30.0, 505.0, "SERTIFIKAT / CERTIFICATE");
    k.set_fill_gray(0.1);
    line(
        &mut k,
        b"F1",
        14.0,
        470.0,
        "Bantuan Hidup Dasar (BHD) - KREKI HELP 119",
    );
    line(&mut k, b"F1", 12.0, 430.0, "Diberikan kepada / Awarded to");
    line(&mut k, b"F2", 26.0, 395.0, c.holder_name);
    line(
        &mut k,
        b"F1",
        13.0,
        355.0,
        &format!("{} ({})", c.course_name, c.level_label),
    );
    let rows = [
        ("Nomor / Number", c.certificate_id),
        ("Tanggal terbit / Issued", c.issued_on),
        ("Berlaku sampai / Valid until", c.valid_until),
        ("Instruktur / Instructor", c.instructor),
    ];
    let mut y = 300.0;
    for (label, value) in rows {
        k.begin_text();
        k.set_font(Name(b"F1"), 11.0);
        k.next_line(90.0, y);
        k.show(Str(&latin1(label)));
        k.end_text();
        k.begin_text();
        k.set_font(Name(b"F2"), 11.0);
        k.next_line(270.0, y);
        k.show(Str(&latin1(value)));
        k.end_text();
        y -= 22.0;
    }
    k.begin_text();
    k.set_font(Name(b"F1"), 9.0);
    k.next_line(90.0, 70.0);
    k.show(Str(&latin1(&format!(
        "Verifikasi / Verify: {}",
        c.verify_url
    ))));
    k.end_text();
    // QR code to the verification page, lower right.
    let code = qrcode::QrCode::with_error_correction_level(c.verify_url, qrcode::EcLevel::M)?;
    let n = code.width();
    let size = 150.0f32;
    let module = size / (n as f32 + 8.0);
    let (x0, y0) = (w - 60.0 - size, 60.0);
    k.set_fill_gray(1.0);
    k.rect(x0, y0, size, size);
    k.fill_nonzero();
    k.set_fill_gray(0.0);
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (cx, cy) = (i % n, i / n);
            k.rect(
                x0 + (cx as f32 + 4.0) * module,
                y0 + size - (cy as f32 + 5.0) * module,
                module,
                module,
            );
        }
    }
    k.fill_nonzero();
    // The page's drawing, zlib-compressed (the QR code is hundreds of small squares).
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&k.finish())?;
    pdf.stream(content_id, &z.finish()?)
        .filter(Filter::FlateDecode);
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn renders_a_small_pdf_quickly() {
        let c = CertificatePdf {
            certificate_id: "BHD-BASIC-2026-0001",
            holder_name: "Siti Rahma Putri",
            course_name: "BHD Dasar",
            level_label: "Basic",
            issued_on: "2026-12-01",
            valid_until: "2028-12-01",
            instructor: "dr. Andi Wijaya",
            verify_url: "https://kreki.example/verify/BHD-BASIC-2026-0001",
        };
        let start = std::time::Instant::now();
        let n = 20;
        let mut bytes = Vec::new();
        for _ in 0..n {
            bytes = render(&c).unwrap();
        }
        let per = start.elapsed() / n;
        eprintln!(
            "PDF: {} bytes, {:?} per document (debug build)",
            bytes.len(),
            per
        );
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.len() < 16 * 1024, "{}", bytes.len());
        // The drawing (inflated) has every line of the certificate.
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("Siti Rahma Putri") && text.contains("BHD-BASIC-2026-0001"));
        let start = bytes.windows(7).position(|w| w == b"stream\n").unwrap() + 7;
        let end = bytes.windows(10).position(|w| w == b"\nendstream").unwrap();
        let mut drawing = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::ZlibDecoder::new(&bytes[start..end]),
            &mut drawing,
        )
        .unwrap();
        for needle in [
            "Siti Rahma Putri",
            "BHD Dasar (Basic)",
            "2028-12-01",
            "dr. Andi Wijaya",
            "/verify/BHD-BASIC-2026-0001",
        ] {
            assert!(drawing.contains(needle), "{needle}");
        }
        assert!(
            drawing.matches(" re").count() > 200,
            "QR code modules drawn"
        );
    }
}
