//! The three BHD levels (MISSION.md §3), their practical checklists, and the seeded
//! catalogue: real BHD content outlines in Bahasa Indonesia (with English), question banks,
//! pre- and post-tests.

use kreki_lms_contracts::Level;

/// Fixed facts of a level.
#[derive(Debug, Clone, Copy)]
pub struct LevelInfo {
    pub level: Level,
    pub course_id: &'static str,
    /// Certificate id prefix: `BHD-BASIC`.
    pub prefix: &'static str,
    pub hours: i64,
    /// Written pass mark in percent.
    pub pass_mark: i64,
    pub validity_years: i64,
    /// The recertification window opens this many months before expiry.
    pub recert_months: i64,
    /// A valid certificate of this level is needed to enrol.
    pub requires: Option<Level>,
}

pub const LEVELS: [LevelInfo; 3] = [
    LevelInfo {
        level: Level::Basic,
        course_id: "bhd-basic",
        prefix: "BHD-BASIC",
        hours: 16,
        pass_mark: 70,
        validity_years: 2,
        recert_months: 3,
        requires: None,
    },
    LevelInfo {
        level: Level::Plus,
        course_id: "bhd-plus",
        prefix: "BHD-PLUS",
        hours: 24,
        pass_mark: 75,
        validity_years: 2,
        recert_months: 3,
        requires: Some(Level::Basic),
    },
    LevelInfo {
        level: Level::Instructor,
        course_id: "bhd-instructor",
        prefix: "BHD-INST",
        hours: 40,
        pass_mark: 80,
        validity_years: 3,
        recert_months: 6,
        requires: Some(Level::Plus),
    },
];

pub fn level_info(level: Level) -> &'static LevelInfo {
    match level {
        Level::Basic => &LEVELS[0],
        Level::Plus => &LEVELS[1],
        Level::Instructor => &LEVELS[2],
    }
}

pub fn level_str(level: Level) -> &'static str {
    match level {
        Level::Basic => "basic",
        Level::Plus => "plus",
        Level::Instructor => "instructor",
    }
}

pub fn parse_level(s: &str) -> Option<Level> {
    match s {
        "basic" => Some(Level::Basic),
        "plus" => Some(Level::Plus),
        "instructor" => Some(Level::Instructor),
        _ => None,
    }
}

/// Rank for "this level or higher" (a Plus certificate also proves Basic).
pub fn rank(level: Level) -> u8 {
    match level {
        Level::Basic => 1,
        Level::Plus => 2,
        Level::Instructor => 3,
    }
}

/// One skill of the practical checklist.
#[derive(Debug, Clone, Copy)]
pub struct Skill {
    pub id: &'static str,
    pub label_id: &'static str,
    pub label_en: &'static str,
}

const fn s(id: &'static str, label_id: &'static str, label_en: &'static str) -> Skill {
    Skill {
        id,
        label_id,
        label_en,
    }
}

const BASIC_SKILLS: &[Skill] = &[
    s(
        "scene_safety",
        "Memastikan keamanan lokasi (aman diri, lingkungan, korban)",
        "Makes the scene safe (self, surroundings, casualty)",
    ),
    s(
        "responsiveness",
        "Memeriksa respons: tepuk bahu dan panggil dengan keras",
        "Checks responsiveness: taps shoulders and shouts",
    ),
    s(
        "call_119",
        "Menelepon 119 (pengeras suara aktif) dan meminta AED",
        "Calls 119 (speaker on) and asks for an AED",
    ),
    s(
        "breathing_check",
        "Memeriksa napas tidak lebih dari 10 detik",
        "Checks breathing for no more than 10 seconds",
    ),
    s(
        "compressions",
        "Kompresi dada 100–120/menit, kedalaman 5–6 cm, rekoil penuh",
        "Chest compressions 100–120/min, 5–6 cm deep, full recoil",
    ),
    s(
        "ratio_30_2",
        "Siklus 30 kompresi : 2 napas bantuan",
        "Cycles of 30 compressions : 2 rescue breaths",
    ),
    s(
        "aed",
        "Menggunakan AED: nyalakan, tempel pad, jauhi korban saat analisis dan kejut",
        "Uses the AED: switch on, attach pads, stand clear for analysis and shock",
    ),
    s(
        "recovery_position",
        "Posisi pemulihan (miring stabil) untuk korban bernapas",
        "Recovery position for a breathing casualty",
    ),
    s(
        "choking",
        "Tersedak: 5 tepukan punggung dan 5 hentakan perut",
        "Choking: 5 back blows and 5 abdominal thrusts",
    ),
];

const PLUS_SKILLS: &[Skill] = &[
    s(
        "child_infant_cpr",
        "RJP anak dan bayi (kedalaman ±5 cm anak, ±4 cm bayi)",
        "Child and infant CPR (about 5 cm child, 4 cm infant)",
    ),
    s(
        "team_cpr",
        "RJP tim: bergantian kompresor tiap 2 menit",
        "Team CPR: compressor swaps every 2 minutes",
    ),
    s(
        "bag_mask",
        "Ventilasi dengan masker dan kantong (BVM)",
        "Bag-valve-mask ventilation",
    ),
    s(
        "infant_choking",
        "Tersedak pada bayi: 5 tepukan punggung dan 5 tekanan dada",
        "Infant choking: 5 back blows and 5 chest thrusts",
    ),
    s(
        "handover",
        "Serah terima ke petugas PSC 119 (format SBAR)",
        "Handover to PSC 119 crew (SBAR)",
    ),
];

const INSTRUCTOR_SKILLS: &[Skill] = &[
    s(
        "teach_demo",
        "Mendemonstrasikan RJP dan AED sesuai standar",
        "Demonstrates CPR and AED to the standard",
    ),
    s(
        "coach_feedback",
        "Memberi umpan balik korektif pada peserta",
        "Gives corrective feedback to learners",
    ),
    s(
        "assess_learner",
        "Menilai keterampilan praktik peserta dengan daftar periksa",
        "Assesses learners' skills with the checklist",
    ),
    s(
        "scenario_debrief",
        "Memimpin skenario dan debriefing",
        "Runs a scenario and its debrief",
    ),
];

pub fn checklist(level: Level) -> &'static [Skill] {
    match level {
        Level::Basic => BASIC_SKILLS,
        Level::Plus => PLUS_SKILLS,
        Level::Instructor => INSTRUCTOR_SKILLS,
    }
}

// ---- seeded catalogue --------------------------------------------------------------

pub struct SeedLesson {
    pub kind: &'static str,
    pub title: (&'static str, &'static str),
    pub body: (&'static str, &'static str),
    pub media_url: Option<&'static str>,
}

pub struct SeedModule {
    pub title: (&'static str, &'static str),
    pub lessons: &'static [SeedLesson],
}

pub struct SeedQuestion {
    pub text: (&'static str, &'static str),
    /// (id, text_id, text_en)
    pub options: &'static [(&'static str, &'static str, &'static str)],
    pub correct: &'static str,
}

pub struct SeedCourse {
    pub info: &'static LevelInfo,
    pub title: (&'static str, &'static str),
    pub summary: (&'static str, &'static str),
    pub modules: &'static [SeedModule],
    pub questions: &'static [SeedQuestion],
    /// (questions, time limit seconds, attempts) of the pre-test and the post-test.
    pub pre: (i64, i64, i64),
    pub post: (i64, i64, i64),
}

const fn l(title: (&'static str, &'static str), body: (&'static str, &'static str)) -> SeedLesson {
    SeedLesson {
        kind: "text",
        title,
        body,
        media_url: None,
    }
}

const fn q(
    text: (&'static str, &'static str),
    options: &'static [(&'static str, &'static str, &'static str)],
    correct: &'static str,
) -> SeedQuestion {
    SeedQuestion {
        text,
        options,
        correct,
    }
}

pub const CATALOGUE: &[SeedCourse] = &[
    SeedCourse {
        info: &LEVELS[0],
        title: ("BHD Dasar", "BHD Basic"),
        summary: (
            "Bantuan Hidup Dasar untuk awam: mengenali henti jantung, menelepon 119, RJP berkualitas, AED, posisi pemulihan dan tersedak.",
            "Basic Life Support for lay responders: recognising cardiac arrest, calling 119, high-quality CPR, AED, recovery position and choking.",
        ),
        modules: &[
            SeedModule {
                title: (
                    "Rantai kelangsungan hidup dan keamanan",
                    "Chain of survival and safety",
                ),
                lessons: &[
                    l(
                        ("Rantai kelangsungan hidup", "The chain of survival"),
                        (
                            "Kenali henti jantung, panggil 119, segera RJP, kejut dengan AED, bantuan lanjut dari PSC 119. Setiap menit tanpa RJP menurunkan peluang hidup 7–10 %.",
                            "Recognise cardiac arrest, call 119, start CPR at once, shock with an AED, advanced care from PSC 119. Every minute without CPR lowers survival by 7–10 %.",
                        ),
                    ),
                    l(
                        ("Keamanan lokasi (3A)", "Scene safety"),
                        (
                            "Aman diri, aman lingkungan, aman korban: periksa lalu lintas, listrik, api, gas sebelum mendekat. Gunakan sarung tangan bila ada.",
                            "Safe for you, the surroundings and the casualty: check traffic, electricity, fire, gas before approaching. Wear gloves if available.",
                        ),
                    ),
                ],
            },
            SeedModule {
                title: (
                    "Penilaian awal dan memanggil bantuan",
                    "First assessment and calling for help",
                ),
                lessons: &[
                    l(
                        ("Cek respons", "Check responsiveness"),
                        (
                            "Tepuk kedua bahu dan panggil dengan keras: \"Pak/Bu, bangun!\". Tidak ada respons: minta tolong orang di sekitar.",
                            "Tap both shoulders and shout: \"Sir/Madam, wake up!\". No response: shout for help from bystanders.",
                        ),
                    ),
                    l(
                        ("Menelepon 119", "Calling 119"),
                        (
                            "Telepon 119 (gratis), aktifkan pengeras suara, sebutkan lokasi, kondisi korban, dan minta AED terdekat. Ikuti arahan petugas; jangan tutup telepon.",
                            "Call 119 (free), switch the speaker on, give the location and the casualty's condition, and ask for the nearest AED. Follow the call-taker; do not hang up.",
                        ),
                    ),
                    l(
                        ("Cek napas", "Check breathing"),
                        (
                            "Lihat gerakan dada tidak lebih dari 10 detik. Tidak bernapas atau hanya megap-megap (gasping) = henti jantung: mulai RJP.",
                            "Look for chest movement for no more than 10 seconds. Not breathing or only gasping = cardiac arrest: start CPR.",
                        ),
                    ),
                ],
            },
            SeedModule {
                title: (
                    "Resusitasi jantung paru (RJP)",
                    "Cardiopulmonary resuscitation (CPR)",
                ),
                lessons: &[
                    l(
                        (
                            "Kompresi dada berkualitas",
                            "High-quality chest compressions",
                        ),
                        (
                            "Pangkal telapak tangan di tengah dada (separuh bawah tulang dada), lengan lurus. Tekan 5–6 cm dengan kecepatan 100–120 kali per menit, biarkan dada mengembang penuh, minimalkan jeda.",
                            "Heel of the hand in the centre of the chest (lower half of the breastbone), arms straight. Push 5–6 cm deep at 100–120 per minute, allow full recoil, minimise pauses.",
                        ),
                    ),
                    l(
                        ("Rasio 30:2", "The 30:2 ratio"),
                        (
                            "30 kompresi lalu 2 napas bantuan (buka jalan napas: tengadah kepala angkat dagu, tiap napas ±1 detik sampai dada terangkat). Jika tidak mau/mampu memberi napas: kompresi saja tanpa henti.",
                            "30 compressions then 2 rescue breaths (open the airway: head tilt, chin lift; each breath about 1 second until the chest rises). If unwilling or unable to give breaths: continuous compressions only.",
                        ),
                    ),
                    SeedLesson {
                        kind: "image",
                        title: ("Gambar: posisi tangan", "Picture: hand position"),
                        body: (
                            "Pangkal telapak tangan di tengah dada, tangan lain di atasnya, jari saling mengunci, bahu tegak lurus di atas tangan.",
                            "Heel of one hand in the centre of the chest, the other hand on top, fingers interlocked, shoulders straight above the hands.",
                        ),
                        media_url: Some("/belajar/media/posisi-tangan.svg"),
                    },
                    SeedLesson {
                        kind: "video",
                        title: ("Video: RJP langkah demi langkah", "Video: CPR step by step"),
                        body: (
                            "Tonton demonstrasi RJP lalu latih ritme 100–120/menit dengan manekin.",
                            "Watch a CPR demonstration, then practise the 100–120/min rhythm on a manikin.",
                        ),
                        media_url: Some("https://www.youtube.com/watch?v=cosVBV96E2g"),
                    },
                ],
            },
            SeedModule {
                title: (
                    "Defibrilator eksternal otomatis (AED)",
                    "Automated external defibrillator (AED)",
                ),
                lessons: &[l(
                    ("Menggunakan AED", "Using an AED"),
                    (
                        "Nyalakan AED dan ikuti suaranya. Tempel pad di kanan atas dada dan kiri bawah ketiak pada kulit kering. Semua menjauh saat analisis dan saat kejut; lanjutkan RJP segera setelah kejut.",
                        "Switch the AED on and follow its voice. Attach the pads upper right chest and lower left side on dry skin. Everyone stands clear during analysis and shock; resume CPR straight after the shock.",
                    ),
                )],
            },
            SeedModule {
                title: (
                    "Posisi pemulihan dan tersedak",
                    "Recovery position and choking",
                ),
                lessons: &[
                    l(
                        ("Posisi pemulihan", "Recovery position"),
                        (
                            "Korban tidak sadar tetapi bernapas normal: miringkan (posisi miring stabil), kepala sedikit tengadah agar jalan napas terbuka, periksa napas tiap menit sampai bantuan datang.",
                            "Unresponsive but breathing normally: roll onto the side (recovery position), head slightly tilted to keep the airway open, recheck breathing every minute until help arrives.",
                        ),
                    ),
                    l(
                        ("Tersedak pada dewasa", "Choking in adults"),
                        (
                            "Minta korban batuk. Bila tidak bisa batuk/bicara: 5 tepukan di antara tulang belikat lalu 5 hentakan perut (manuver Heimlich), ulangi. Bila tidak sadar: telepon 119 dan mulai RJP.",
                            "Encourage coughing. If they cannot cough or speak: 5 back blows between the shoulder blades then 5 abdominal thrusts (Heimlich), repeat. If they become unresponsive: call 119 and start CPR.",
                        ),
                    ),
                ],
            },
        ],
        questions: &[
            q(
                (
                    "Apa yang dilakukan pertama kali saat menemukan orang tergeletak?",
                    "What do you do first when you find someone collapsed?",
                ),
                &[
                    (
                        "a",
                        "Langsung memberi napas bantuan",
                        "Give rescue breaths at once",
                    ),
                    ("b", "Memastikan lokasi aman", "Make sure the scene is safe"),
                    ("c", "Memberi minum", "Give them a drink"),
                    ("d", "Mengangkat kaki korban", "Raise the legs"),
                ],
                "b",
            ),
            q(
                (
                    "Bagaimana memeriksa respons korban?",
                    "How do you check responsiveness?",
                ),
                &[
                    (
                        "a",
                        "Tepuk kedua bahu dan panggil dengan keras",
                        "Tap both shoulders and shout",
                    ),
                    ("b", "Menyiram air ke wajah", "Splash water on the face"),
                    ("c", "Mencubit keras lengan", "Pinch the arm hard"),
                    (
                        "d",
                        "Menunggu korban bangun sendiri",
                        "Wait until they wake up",
                    ),
                ],
                "a",
            ),
            q(
                (
                    "Nomor darurat medis di Indonesia adalah",
                    "The medical emergency number in Indonesia is",
                ),
                &[
                    ("a", "110", "110"),
                    ("b", "113", "113"),
                    ("c", "119", "119"),
                    ("d", "112 saja", "112 only"),
                ],
                "c",
            ),
            q(
                (
                    "Berapa lama maksimal memeriksa napas?",
                    "At most how long do you check breathing?",
                ),
                &[
                    ("a", "30 detik", "30 seconds"),
                    ("b", "10 detik", "10 seconds"),
                    ("c", "1 menit", "1 minute"),
                    ("d", "Sampai ambulans datang", "Until the ambulance arrives"),
                ],
                "b",
            ),
            q(
                (
                    "Kecepatan kompresi dada pada dewasa",
                    "Chest compression rate for adults",
                ),
                &[
                    ("a", "60–80 per menit", "60–80 per minute"),
                    ("b", "80–100 per menit", "80–100 per minute"),
                    ("c", "100–120 per menit", "100–120 per minute"),
                    ("d", "140–160 per menit", "140–160 per minute"),
                ],
                "c",
            ),
            q(
                (
                    "Kedalaman kompresi dada pada dewasa",
                    "Chest compression depth for adults",
                ),
                &[
                    ("a", "1–2 cm", "1–2 cm"),
                    ("b", "3–4 cm", "3–4 cm"),
                    ("c", "5–6 cm", "5–6 cm"),
                    ("d", "8–10 cm", "8–10 cm"),
                ],
                "c",
            ),
            q(
                (
                    "Rasio kompresi dan napas bantuan untuk penolong tunggal",
                    "Compression-to-breath ratio for a single rescuer",
                ),
                &[
                    ("a", "15:2", "15:2"),
                    ("b", "30:2", "30:2"),
                    ("c", "5:1", "5:1"),
                    ("d", "30:5", "30:5"),
                ],
                "b",
            ),
            q(
                (
                    "Saat AED menganalisis irama jantung, penolong harus",
                    "While the AED analyses the rhythm, rescuers must",
                ),
                &[
                    ("a", "Terus kompresi", "Keep compressing"),
                    ("b", "Memegang tangan korban", "Hold the casualty's hand"),
                    (
                        "c",
                        "Menjauh dan tidak menyentuh korban",
                        "Stand clear and not touch the casualty",
                    ),
                    ("d", "Melepas pad", "Remove the pads"),
                ],
                "c",
            ),
            q(
                (
                    "Korban tidak sadar tetapi bernapas normal sebaiknya",
                    "An unresponsive casualty who breathes normally should be",
                ),
                &[
                    ("a", "Diberi RJP", "Given CPR"),
                    (
                        "b",
                        "Diletakkan pada posisi pemulihan",
                        "Placed in the recovery position",
                    ),
                    ("c", "Didudukkan", "Sat up"),
                    (
                        "d",
                        "Ditinggal mencari bantuan tanpa dipantau",
                        "Left alone unmonitored",
                    ),
                ],
                "b",
            ),
            q(
                (
                    "Dewasa tersedak dan tidak bisa bicara: tindakan yang benar",
                    "An adult choking and unable to speak: the right action",
                ),
                &[
                    ("a", "Memberi minum air", "Give water"),
                    (
                        "b",
                        "5 tepukan punggung lalu 5 hentakan perut",
                        "5 back blows then 5 abdominal thrusts",
                    ),
                    ("c", "Menunggu sampai pingsan", "Wait until they faint"),
                    (
                        "d",
                        "Memasukkan jari ke tenggorokan tanpa melihat",
                        "Blind finger sweep",
                    ),
                ],
                "b",
            ),
            // The bank holds at least twice the post-test (each attempt draws another set).
            q(
                (
                    "Letak tangan untuk kompresi dada pada dewasa",
                    "Where the hands go for adult chest compressions",
                ),
                &[
                    ("a", "Di perut bagian atas", "On the upper abdomen"),
                    (
                        "b",
                        "Di dada kiri, di atas jantung",
                        "On the left chest, over the heart",
                    ),
                    ("c", "Di pangkal leher", "At the base of the neck"),
                    (
                        "d",
                        "Di tengah dada, separuh bawah tulang dada",
                        "In the centre of the chest, lower half of the breastbone",
                    ),
                ],
                "d",
            ),
            q(
                (
                    "Setelah setiap kompresi, penolong harus",
                    "After each compression the rescuer must",
                ),
                &[
                    (
                        "a",
                        "Membiarkan dada mengembang penuh tanpa bertumpu padanya",
                        "Let the chest recoil fully without leaning on it",
                    ),
                    (
                        "b",
                        "Menahan tekanan selama 2 detik",
                        "Hold the pressure for 2 seconds",
                    ),
                    ("c", "Memeriksa nadi", "Check the pulse"),
                    (
                        "d",
                        "Mengangkat tangan dari dada setinggi mungkin",
                        "Lift the hands as high as possible off the chest",
                    ),
                ],
                "a",
            ),
            q(
                (
                    "Korban tidak sadar dan hanya bernapas megap-megap (gasping). Artinya",
                    "An unresponsive casualty is only gasping. This means",
                ),
                &[
                    (
                        "a",
                        "Korban bernapas normal: posisi pemulihan",
                        "They are breathing normally: recovery position",
                    ),
                    (
                        "b",
                        "Tunggu 1 menit lalu periksa lagi",
                        "Wait a minute and check again",
                    ),
                    (
                        "c",
                        "Bukan napas normal: henti jantung, segera RJP",
                        "Not normal breathing: cardiac arrest, start CPR at once",
                    ),
                    ("d", "Korban hanya pingsan biasa", "They have only fainted"),
                ],
                "c",
            ),
            q(
                (
                    "AED tiba saat Anda sedang melakukan RJP. Yang dilakukan",
                    "An AED arrives while you are giving CPR. What do you do?",
                ),
                &[
                    (
                        "a",
                        "Selesaikan 5 siklus dulu baru pasang AED",
                        "Finish 5 cycles first, then attach the AED",
                    ),
                    (
                        "b",
                        "Segera nyalakan AED dan ikuti perintahnya; kompresi terus sampai pad terpasang",
                        "Switch it on at once and follow its prompts; keep compressing until the pads are on",
                    ),
                    (
                        "c",
                        "Simpan AED untuk petugas ambulans",
                        "Keep it for the ambulance crew",
                    ),
                    (
                        "d",
                        "Hentikan RJP dan tunggu petugas",
                        "Stop CPR and wait for the crew",
                    ),
                ],
                "b",
            ),
            q(
                (
                    "Letak pad AED pada dewasa",
                    "Where the AED pads go on an adult",
                ),
                &[
                    (
                        "a",
                        "Di bawah tulang selangka kanan dan di sisi kiri dada di bawah ketiak",
                        "Below the right collarbone and on the left side of the chest below the armpit",
                    ),
                    ("b", "Keduanya di dada kiri", "Both on the left chest"),
                    (
                        "c",
                        "Di punggung dan di perut",
                        "On the back and on the belly",
                    ),
                    ("d", "Di kedua lengan atas", "On both upper arms"),
                ],
                "a",
            ),
            q(
                (
                    "Segera setelah AED memberikan kejut, penolong",
                    "Straight after the AED delivers a shock, the rescuer",
                ),
                &[
                    (
                        "a",
                        "Memeriksa nadi selama 1 menit",
                        "Checks the pulse for a minute",
                    ),
                    ("b", "Melepas pad AED", "Removes the pads"),
                    (
                        "c",
                        "Menunggu AED menganalisis lagi tanpa RJP",
                        "Waits for the next analysis without CPR",
                    ),
                    (
                        "d",
                        "Langsung melanjutkan RJP dimulai dengan kompresi",
                        "Resumes CPR at once, starting with compressions",
                    ),
                ],
                "d",
            ),
            q(
                (
                    "Penolong awam yang tidak mampu atau tidak mau memberi napas bantuan sebaiknya",
                    "A lay rescuer unable or unwilling to give rescue breaths should",
                ),
                &[
                    ("a", "Tidak melakukan apa pun", "Do nothing"),
                    (
                        "b",
                        "Melakukan kompresi dada saja terus-menerus 100–120/menit",
                        "Give continuous chest compressions only, 100–120/min",
                    ),
                    (
                        "c",
                        "Kompresi 30 kali lalu berhenti 1 menit",
                        "Give 30 compressions, then pause a minute",
                    ),
                    (
                        "d",
                        "Hanya memanggil 119 dan menunggu",
                        "Only call 119 and wait",
                    ),
                ],
                "b",
            ),
            q(
                (
                    "Cara membuka jalan napas korban dewasa tidak sadar",
                    "How to open the airway of an unresponsive adult",
                ),
                &[
                    (
                        "a",
                        "Meninggikan kepala dengan bantal",
                        "Raise the head on a pillow",
                    ),
                    (
                        "b",
                        "Menekuk kepala ke dada",
                        "Bend the head onto the chest",
                    ),
                    ("c", "Tengadah kepala, angkat dagu", "Head tilt, chin lift"),
                    (
                        "d",
                        "Memiringkan kepala ke samping tanpa mengangkat dagu",
                        "Turn the head sideways without lifting the chin",
                    ),
                ],
                "c",
            ),
            q(
                (
                    "Satu napas bantuan diberikan",
                    "Each rescue breath is given",
                ),
                &[
                    (
                        "a",
                        "Sekuat dan secepat mungkin",
                        "As hard and fast as possible",
                    ),
                    (
                        "b",
                        "Selama ±1 detik sampai dada terlihat terangkat",
                        "Over about 1 second until the chest visibly rises",
                    ),
                    ("c", "Selama 5 detik", "Over 5 seconds"),
                    (
                        "d",
                        "Sampai perut korban mengembang",
                        "Until the belly swells",
                    ),
                ],
                "b",
            ),
            q(
                ("RJP boleh dihentikan bila", "CPR may be stopped when"),
                &[
                    (
                        "a",
                        "Sudah berjalan 5 menit",
                        "It has gone on for 5 minutes",
                    ),
                    (
                        "b",
                        "AED menyatakan kejut tidak dianjurkan",
                        "The AED says no shock is advised",
                    ),
                    (
                        "c",
                        "Petugas mengambil alih, atau korban sadar dan bernapas normal",
                        "Professionals take over, or the casualty wakes and breathes normally",
                    ),
                    (
                        "d",
                        "Penolong mulai merasa ragu",
                        "The rescuer starts to doubt",
                    ),
                ],
                "c",
            ),
            q(
                (
                    "Dewasa tersedak menjadi tidak sadar. Tindakan berikutnya",
                    "A choking adult becomes unresponsive. What next?",
                ),
                &[
                    (
                        "a",
                        "Baringkan, telepon 119, dan mulai RJP",
                        "Lay them down, call 119 and start CPR",
                    ),
                    (
                        "b",
                        "Lanjutkan hentakan perut sambil berdiri",
                        "Keep giving abdominal thrusts standing",
                    ),
                    (
                        "c",
                        "Beri minum agar benda tertelan",
                        "Give a drink to wash it down",
                    ),
                    (
                        "d",
                        "Posisi pemulihan dan tunggu",
                        "Recovery position and wait",
                    ),
                ],
                "a",
            ),
            q(
                (
                    "Orang dewasa tersedak tetapi masih bisa batuk kuat. Tindakan yang benar",
                    "An adult is choking but can still cough forcefully. The right action",
                ),
                &[
                    (
                        "a",
                        "Segera 5 hentakan perut",
                        "Give 5 abdominal thrusts at once",
                    ),
                    (
                        "b",
                        "Mengambil benda dengan jari tanpa melihat",
                        "Blind finger sweep",
                    ),
                    (
                        "c",
                        "Menepuk punggung sekeras mungkin",
                        "Slap the back as hard as possible",
                    ),
                    (
                        "d",
                        "Anjurkan terus batuk dan awasi",
                        "Encourage them to keep coughing and watch them",
                    ),
                ],
                "d",
            ),
        ],
        pre: (10, 900, 1),
        post: (10, 1200, 3),
    },
    SeedCourse {
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
    },
    SeedCourse {
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
    },
];
