//! The seeded course BHD Instructor: modules, lessons and question bank.

use super::*;

pub const INSTRUCTOR: SeedCourse = SeedCourse {
    info: &LEVELS[2],
    title: ("Instruktur BHD", "BHD Instructor"),
    summary: (
        "Menjadi instruktur BHD: metode mengajar, demonstrasi, umpan balik, penilaian praktik dan debriefing.",
        "Becoming a BHD instructor: teaching methods, demonstration, feedback, practical assessment and debriefing.",
    ),
    modules: &[SeedModule {
        title: ("Mengajar dan menilai", "Teaching and assessing"),
        lessons: &[
            l(
                ("Metode empat langkah", "The four-step method"),
                (
                    "Demonstrasi waktu nyata, demonstrasi dengan penjelasan, peserta menjelaskan, peserta melakukan.",
                    "Real-time demonstration, demonstration with explanation, learner explains, learner performs.",
                ),
            ),
            l(
                (
                    "Penilaian praktik dan debriefing",
                    "Practical assessment and debriefing",
                ),
                (
                    "Gunakan daftar periksa keterampilan, beri umpan balik spesifik, dan pimpin debriefing: apa yang berjalan baik, apa yang diperbaiki.",
                    "Use the skills checklist, give specific feedback, and lead the debrief: what went well, what to improve.",
                ),
            ),
        ],
    }],
    questions: &[
        q(
            (
                "Langkah pertama metode empat langkah",
                "The first step of the four-step method",
            ),
            &[
                ("a", "Peserta melakukan", "Learner performs"),
                ("b", "Demonstrasi waktu nyata", "Real-time demonstration"),
                ("c", "Ujian tertulis", "Written test"),
                ("d", "Debriefing", "Debrief"),
            ],
            "b",
        ),
        q(
            ("Umpan balik yang baik bersifat", "Good feedback is"),
            &[
                ("a", "Umum dan menghakimi", "General and judging"),
                (
                    "b",
                    "Spesifik dan dapat ditindaklanjuti",
                    "Specific and actionable",
                ),
                (
                    "c",
                    "Ditunda sampai akhir tahun",
                    "Kept for the end of the year",
                ),
                ("d", "Tidak perlu", "Not needed"),
            ],
            "b",
        ),
        q(
            (
                "Sertifikat praktik hanya ditandatangani bila",
                "The practical is signed off only when",
            ),
            &[
                ("a", "Peserta membayar", "The learner paid"),
                (
                    "b",
                    "Semua keterampilan daftar periksa dikuasai",
                    "Every checklist skill is mastered",
                ),
                (
                    "c",
                    "Peserta hadir setengah hari",
                    "The learner attended half a day",
                ),
                ("d", "Instruktur sibuk", "The instructor is busy"),
            ],
            "b",
        ),
        q(
            (
                "Langkah ketiga metode empat langkah",
                "The third step of the four-step method",
            ),
            &[
                ("a", "Ujian tertulis", "Written test"),
                (
                    "b",
                    "Instruktur mendemonstrasikan tanpa bicara",
                    "The instructor demonstrates silently",
                ),
                (
                    "c",
                    "Peserta menjelaskan langkah-langkah sementara instruktur melakukannya",
                    "The learner talks the instructor through the steps while the instructor performs them",
                ),
                (
                    "d",
                    "Peserta melakukan sendiri tanpa pengawasan",
                    "The learner performs alone, unsupervised",
                ),
            ],
            "c",
        ),
        q(
            (
                "Tujuan debriefing setelah skenario",
                "The purpose of a debrief after a scenario",
            ),
            &[
                ("a", "Mencari siapa yang salah", "Finding who is to blame"),
                (
                    "b",
                    "Merefleksikan apa yang berjalan baik dan apa yang diperbaiki, dalam suasana aman",
                    "Reflecting on what went well and what to improve, in a safe setting",
                ),
                ("c", "Mengumumkan nilai akhir", "Announcing final marks"),
                (
                    "d",
                    "Mengulang materi dari awal",
                    "Repeating the course from the start",
                ),
            ],
            "b",
        ),
        q(
            (
                "Cara paling objektif menilai kualitas kompresi saat latihan",
                "The most objective way to judge compression quality in training",
            ),
            &[
                (
                    "a",
                    "Manekin atau alat umpan balik (kecepatan, kedalaman, rekoil)",
                    "A feedback manikin or device (rate, depth, recoil)",
                ),
                (
                    "b",
                    "Perkiraan instruktur dari jauh",
                    "The instructor's guess from a distance",
                ),
                (
                    "c",
                    "Tanya peserta apakah sudah benar",
                    "Asking the learner whether it was right",
                ),
                (
                    "d",
                    "Lama peserta berlatih",
                    "How long the learner practised",
                ),
            ],
            "a",
        ),
        q(
            (
                "Kebersihan manekin antarpeserta",
                "Manikin hygiene between learners",
            ),
            &[
                ("a", "Tidak perlu dibersihkan", "No cleaning needed"),
                ("b", "Cukup dilap dengan tangan", "Wipe it with the hand"),
                ("c", "Dibersihkan sekali setahun", "Clean it once a year"),
                (
                    "d",
                    "Wajah dan jalan napas didesinfeksi atau pelindung wajah diganti tiap peserta",
                    "Disinfect the face and airway or change the face shield for every learner",
                ),
            ],
            "d",
        ),
    ],
    pre: (3, 600, 1),
    post: (3, 900, 3),
};
