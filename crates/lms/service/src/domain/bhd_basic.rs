//! The seeded course BHD Basic (Bantuan Hidup Dasar untuk awam): modules, lessons and question bank.

use super::*;

pub const BASIC: SeedCourse = SeedCourse {
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
};
