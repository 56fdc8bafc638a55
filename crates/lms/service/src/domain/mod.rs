//! The three BHD levels (MISSION.md §3), their practical checklists, and the seeded
//! catalogue: real BHD content outlines in Bahasa Indonesia (with English), question banks,
//! pre- and post-tests.

use kreki_lms_contracts::Level;

mod bhd_basic;
mod bhd_instructor;
mod bhd_plus;

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

pub const CATALOGUE: &[SeedCourse] =
    &[bhd_basic::BASIC, bhd_plus::PLUS, bhd_instructor::INSTRUCTOR];
