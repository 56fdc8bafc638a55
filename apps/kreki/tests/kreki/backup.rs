//! `kreki backup` / `kreki restore` for `kreki up`: a backup taken while it runs, more data
//! after it, a restore refused while it runs, then restored: the backed-up state is there,
//! the later one is not, and the platform starts and works on it.

use std::{process::Command, time::Instant};

use serde_json::{Value, json};

use crate::up::{UpApp, start_up};

async fn panic(app: &UpApp, phone: &str) -> (String, String) {
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(
            &json!({"latitude": -6.2, "longitude": 106.8, "severity": "urgent",
                      "type": "bleeding", "caller_phone": phone}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    (
        v["data"]["id"].as_str().unwrap().to_string(),
        v["data"]["caller_token"].as_str().unwrap().to_string(),
    )
}

async fn case_status(app: &UpApp, id: &str, token: &str) -> u16 {
    app.client
        .get(format!("{}/api/emergency/v1/{id}", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_running_then_restore() {
    let app = start_up(None).await;
    let data = app.dir.path().join("data");
    let (kept, kept_token) = panic(&app, "081211110001").await;

    let to = app.dir.path().join("backup-1");
    let r = kreki::backup::backup(&data, &to).await.unwrap();
    assert!(r.files.iter().any(|f| f.name == "bus.db"));
    assert!(r.files.iter().any(|f| f.name == "emergency.db"));
    // Not into a folder with something in it.
    let err = kreki::backup::backup(&data, &to).await.unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");

    let (later, later_token) = panic(&app, "081211110002").await;
    assert_eq!(case_status(&app, &later, &later_token).await, 200);

    // Refused while it runs, with the reason.
    let err = kreki::backup::restore(&to, &data).await.unwrap_err();
    assert!(err.to_string().contains("is running"), "{err}");
    // Not a backup: said so.
    let err = kreki::backup::restore(&data, &app.dir.path().join("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a kreki backup"), "{err}");

    let UpApp {
        dir, mut running, ..
    } = app;
    running.take().unwrap().stop().await.unwrap();
    assert!(
        !data.join(kreki::backup::PID_FILE).exists(),
        "a stopped install leaves no pid file"
    );
    let began = Instant::now();
    let r = kreki::backup::restore(&to, &data).await.unwrap();
    assert!(r.moved_aside.as_ref().is_some_and(|p| p.is_dir()));
    let app = start_up(Some(dir)).await;
    let rto = began.elapsed();
    assert_eq!(case_status(&app, &kept, &kept_token).await, 200);
    assert_eq!(
        case_status(&app, &later, &later_token).await,
        404,
        "the case after the backup is not there"
    );
    // And it works on: a new panic is taken.
    panic(&app, "081211110003").await;
    let r = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    eprintln!("restore + start: {} ms", rto.as_millis());
    app.stop().await;
}

/// The command line says what is wrong, in a sentence.
#[test]
fn backup_and_restore_commands_explain_failures() {
    let dir = kreki_platform::testkit::TempDir::new();
    let out = Command::new(env!("CARGO_BIN_EXE_kreki"))
        .args(["backup", "--to"])
        .arg(dir.path().join("b"))
        .arg("--data-dir")
        .arg(dir.path().join("nothing"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a `kreki up` data directory"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_kreki"))
        .args(["restore", "--from"])
        .arg(dir.path().join("nothing"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a kreki backup"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_kreki_up_on_the_same_folder_is_refused() {
    let app = start_up(None).await;
    let data = app.dir.path().join("data");
    let mut cfg = kreki_platform::config::Config {
        data_dir: data.clone(),
        ..Default::default()
    };
    cfg.http.port = Some(0);
    cfg.http.metrics_port = Some(0);
    let Err(err) = kreki::up(cfg.clone(), None).await else {
        panic!("a second kreki up started on the same data directory");
    };
    assert!(err.to_string().contains("already running"), "{err}");
    // The first one is untouched and still takes panics.
    panic(&app, "081211110003").await;
    app.stop().await;
    // Once it has stopped, the folder can be served again.
    let again = kreki::up(cfg, None)
        .await
        .expect("starts after the first stopped");
    again.stop().await.unwrap();
}
