//! The seeded course BHD Plus: modules, lessons and question bank.

use super::*;

pub const PLUS: SeedCourse = SeedCourse {
    info: &LEVELS[1],
    title: ("BHD Plus", "BHD Plus"),
    summary: (
        "Lanjutan BHD: RJP anak dan bayi, RJP tim, ventilasi BVM, tersedak pada bayi, serah terima ke PSC 119.",
        "Advanced BLS: child and infant CPR, team CPR, bag-valve-mask ventilation, infant choking, handover to PSC 119.",
    ),
    modules: &[
        SeedModule {
            title: ("RJP anak dan bayi", "Child and infant CPR"),
            lessons: &[
                l(
                    ("RJP anak", "Child CPR"),
                    (
                        "Mulai dengan 5 napas bantuan bila terlatih. Kompresi sepertiga kedalaman dada (±5 cm) dengan satu atau dua tangan, 100–120/menit, rasio 30:2 (15:2 bila dua penolong terlatih).",
                        "Start with 5 rescue breaths if trained. Compress one third of the chest depth (about 5 cm) with one or two hands, 100–120/min, 30:2 (15:2 with two trained rescuers).",
                    ),
                ),
                l(
                    ("RJP bayi", "Infant CPR"),
                    (
                        "Dua jari atau dua ibu jari di tengah dada, kedalaman ±4 cm, 100–120/menit. Tutup mulut dan hidung bayi saat memberi napas.",
                        "Two fingers or two thumbs in the centre of the chest, about 4 cm deep, 100–120/min. Cover the infant's mouth and nose when giving breaths.",
                    ),
                ),
            ],
        },
        SeedModule {
            title: ("RJP tim dan jalan napas", "Team CPR and airway"),
            lessons: &[
                l(
                    ("RJP tim", "Team CPR"),
                    (
                        "Bagi peran: kompresor, jalan napas, AED, pencatat waktu. Ganti kompresor tiap 2 menit atau 5 siklus, saat AED menganalisis.",
                        "Assign roles: compressor, airway, AED, timekeeper. Swap the compressor every 2 minutes or 5 cycles, during AED analysis.",
                    ),
                ),
                l(
                    ("Ventilasi BVM", "Bag-valve-mask ventilation"),
                    (
                        "Teknik E-C untuk menutup masker, pompa perlahan sampai dada terangkat, hindari ventilasi berlebihan.",
                        "E-C grip to seal the mask, squeeze gently until the chest rises, avoid over-ventilation.",
                    ),
                ),
                l(
                    ("Serah terima ke PSC 119", "Handover to PSC 119"),
                    (
                        "Gunakan SBAR: situasi, latar belakang, penilaian, rekomendasi. Sebutkan waktu henti jantung, jumlah kejut AED, dan tindakan.",
                        "Use SBAR: situation, background, assessment, recommendation. Give the time of collapse, AED shocks and interventions.",
                    ),
                ),
            ],
        },
    ],
    questions: &[
        q(
            (
                "Kedalaman kompresi pada bayi",
                "Compression depth in infants",
            ),
            &[
                ("a", "±4 cm", "about 4 cm"),
                ("b", "±8 cm", "about 8 cm"),
                ("c", "1 cm", "1 cm"),
                ("d", "5–6 cm", "5–6 cm"),
            ],
            "a",
        ),
        q(
            (
                "Dalam RJP tim, kompresor diganti setiap",
                "In team CPR, the compressor swaps every",
            ),
            &[
                ("a", "10 menit", "10 minutes"),
                ("b", "2 menit", "2 minutes"),
                ("c", "30 detik", "30 seconds"),
                ("d", "Tidak perlu diganti", "Never"),
            ],
            "b",
        ),
        q(
            (
                "Tersedak pada bayi: tindakan yang benar",
                "Infant choking: the right action",
            ),
            &[
                ("a", "Hentakan perut", "Abdominal thrusts"),
                (
                    "b",
                    "5 tepukan punggung dan 5 tekanan dada",
                    "5 back blows and 5 chest thrusts",
                ),
                (
                    "c",
                    "Membalik bayi dan mengguncang",
                    "Hold upside down and shake",
                ),
                ("d", "Memberi minum", "Give a drink"),
            ],
            "b",
        ),
        q(
            (
                "Format serah terima yang dianjurkan",
                "The recommended handover format",
            ),
            &[
                ("a", "SBAR", "SBAR"),
                ("b", "ABCDE saja", "ABCDE only"),
                ("c", "Tidak ada", "None"),
                ("d", "Cerita bebas", "Free narrative"),
            ],
            "a",
        ),
        q(
            (
                "Letak kompresi dada pada bayi",
                "Where to compress an infant's chest",
            ),
            &[
                (
                    "a",
                    "Di tengah dada, tepat di bawah garis puting",
                    "In the centre of the chest, just below the nipple line",
                ),
                (
                    "b",
                    "Di perut, di atas pusar",
                    "On the belly, above the navel",
                ),
                ("c", "Di dada kiri atas", "On the upper left chest"),
                (
                    "d",
                    "Di ujung bawah tulang dada (xiphoid)",
                    "On the tip of the breastbone (xiphoid)",
                ),
            ],
            "a",
        ),
        q(
            (
                "Kedalaman kompresi pada anak",
                "Compression depth in children",
            ),
            &[
                ("a", "1–2 cm", "1–2 cm"),
                (
                    "b",
                    "Sepertiga kedalaman dada, ±5 cm",
                    "One third of the chest depth, about 5 cm",
                ),
                ("c", "Setengah kedalaman dada", "Half the chest depth"),
                ("d", "Sedalam mungkin", "As deep as possible"),
            ],
            "b",
        ),
        q(
            (
                "Rasio kompresi:napas pada RJP anak dan bayi oleh dua penolong terlatih",
                "Compression-to-breath ratio in child and infant CPR with two trained rescuers",
            ),
            &[
                ("a", "30:2", "30:2"),
                ("b", "5:1", "5:1"),
                ("c", "15:2", "15:2"),
                ("d", "3:1", "3:1"),
            ],
            "c",
        ),
        q(
            (
                "Ventilasi dengan BVM yang benar",
                "Correct bag-valve-mask ventilation",
            ),
            &[
                (
                    "a",
                    "Pompa kantong sekuat-kuatnya secepat mungkin",
                    "Squeeze the bag as hard and fast as possible",
                ),
                (
                    "b",
                    "Pompa sampai perut mengembang",
                    "Squeeze until the belly swells",
                ),
                (
                    "c",
                    "Lepas masker di antara napas",
                    "Take the mask off between breaths",
                ),
                (
                    "d",
                    "Pompa perlahan ±1 detik sampai dada terangkat, hindari ventilasi berlebihan",
                    "Squeeze gently over about 1 second until the chest rises, avoid over-ventilation",
                ),
            ],
            "d",
        ),
        q(
            ("Huruf S pada SBAR berarti", "The S in SBAR stands for"),
            &[
                ("a", "Situasi", "Situation"),
                ("b", "Saturasi", "Saturation"),
                ("c", "Skor", "Score"),
                ("d", "Sirkulasi", "Circulation"),
            ],
            "a",
        ),
        q(
            (
                "AED untuk anak bila pad anak tidak tersedia",
                "Using an AED on a child when no paediatric pads are available",
            ),
            &[
                ("a", "Jangan gunakan AED", "Do not use the AED"),
                (
                    "b",
                    "Gunakan pad dewasa; bila terlalu besar, tempel di dada depan dan punggung",
                    "Use the adult pads; if they are too big, place one on the front and one on the back",
                ),
                (
                    "c",
                    "Gunting pad dewasa menjadi kecil",
                    "Cut the adult pads smaller",
                ),
                (
                    "d",
                    "Tempel kedua pad bersentuhan di tengah dada",
                    "Put both pads touching in the middle of the chest",
                ),
            ],
            "b",
        ),
    ],
    pre: (4, 600, 1),
    post: (4, 900, 3),
};
