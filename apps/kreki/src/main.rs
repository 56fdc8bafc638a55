//! `kreki`: the KREKI HELP 119 platform.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use figment::providers::Serialized;
use kreki_platform::{
    config::Config,
    http::server::cancel_on_signal,
    service::{DemoSettings, DemoSim},
    telemetry,
};

#[derive(Parser)]
#[command(
    name = "kreki",
    version,
    about = "KREKI HELP 119: emergency dispatch, identity, training and health-system bridge"
)]
struct Cli {
    /// Configuration file (TOML). Also KREKI_CONFIG. Environment variables KREKI_* override it.
    #[arg(long, global = true, env = "KREKI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum SimArg {
    /// Simulated volunteers stay still and never answer offers.
    Off,
    /// They move around but never answer offers.
    Move,
    /// They move and accept offers.
    AutoAccept,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process on embedded storage (one SQLite file per service).
    Up {
        /// Load demo data (accounts for every role, volunteers around Jakarta, courses, AEDs).
        #[arg(long)]
        demo: bool,
        /// What the demo's simulated volunteers do.
        #[arg(long, value_enum, default_value = "auto-accept")]
        demo_sim: SimArg,
        /// Folder of the databases [default: ./kreki-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// HTTP port [default: 8119]; 0 picks a free one.
        #[arg(long)]
        port: Option<u16>,
        /// Address to listen on [default: 127.0.0.1].
        #[arg(long)]
        bind: Option<std::net::IpAddr>,
        /// TLS certificate (PEM), for phones on a network (geolocation needs HTTPS).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Run one service as its own process on PostgreSQL and NATS JetStream.
    Serve {
        /// identity, emergency, volunteers, lms, bridge or notify.
        service: String,
        /// PostgreSQL URL of the service's own database (or KREKI_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
        /// NATS URL (or KREKI_BUS__URL).
        #[arg(long)]
        bus_url: Option<String>,
        /// HTTP port [default: the service's port, 8201-8206]; 0 picks a free one.
        #[arg(long)]
        port: Option<u16>,
        /// Address to listen on [default: 127.0.0.1].
        #[arg(long)]
        bind: Option<std::net::IpAddr>,
    },
    /// Apply database migrations and exit.
    Migrate {
        /// Only this service (default: all).
        #[arg(long)]
        service: Option<String>,
        /// Embedded databases in this folder (default mode).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// PostgreSQL URL instead (requires --service).
        #[arg(long, requires = "service")]
        database_url: Option<String>,
    },
    /// Create the first System Admin and print a one-time link (valid 24 hours, single use)
    /// where they set a password and enrol TOTP. Refused once a System Admin exists, unless
    /// `--force` (recorded in the audit log). Embedded databases by default (`kreki up`'s data
    /// directory); `--database-url` for KREKI ID's PostgreSQL database (`kreki serve identity`).
    BootstrapAdmin {
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
        /// The admin's phone number (E.164, or national with +62 assumed).
        #[arg(long)]
        phone: Option<String>,
        /// Create another System Admin although one exists (audited).
        #[arg(long)]
        force: bool,
        /// Embedded databases in this folder [default: ./kreki-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// KREKI ID's PostgreSQL URL instead (or KREKI_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Back up a `kreki up` install while it runs: every service's database and the embedded
    /// bus, consistent with each other, into a new or empty folder.
    Backup {
        /// The new or empty folder to write.
        #[arg(long)]
        to: PathBuf,
        /// Folder of the databases [default: ./kreki-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Restore a backup into a `kreki up` data directory (stop `kreki up` first; the files it
    /// replaces are moved into `before-restore-<time>/` there).
    Restore {
        /// The backup folder (written by `kreki backup`).
        #[arg(long)]
        from: PathBuf,
        /// Folder of the databases [default: ./kreki-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Verify a BHD certificate credential (VC-JWT) offline: signature (did:key), validity
    /// period, and revocation when a status list credential is given. Exit code 1 if invalid.
    VerifyCredential {
        /// The credential: a VC-JWT, or the JSON of `GET /api/lms/v1/certificate/{id}/credential`.
        file: PathBuf,
        /// A status list credential saved from `/api/lms/v1/credentials/status/1`.
        #[arg(long)]
        status_list: Option<PathBuf>,
        /// Only accept this issuer (`did:key:z…`, from `/api/lms/v1/issuer`).
        #[arg(long)]
        issuer: Option<String>,
    },
    /// Run a simulator of an external system on its own: satusehat or psc119.
    Sim {
        /// `satusehat` or `psc119`.
        system: String,
        /// HTTP port [default: 8311 for satusehat, 8312 for psc119]; 0 picks a free one.
        #[arg(long)]
        port: Option<u16>,
        /// Address to listen on [default: 127.0.0.1].
        #[arg(long)]
        bind: Option<std::net::IpAddr>,
        /// PSC 119: acknowledge every hand-off at once.
        #[arg(long)]
        auto_ack: bool,
    },
    /// Print which service serves each public path prefix (what nginx and the Kubernetes
    /// Ingress follow).
    Routes {
        /// `table` for people, `json` for tools.
        #[arg(long, value_enum, default_value = "table")]
        format: RoutesFormat,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoutesFormat {
    Table,
    Json,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the configuration and print the effective values (secrets hidden).
    Check,
}

fn load(
    cli_config: Option<&PathBuf>,
    overrides: Vec<(&'static str, figment::value::Value)>,
) -> anyhow::Result<Config> {
    let mut fig = Config::figment(cli_config.map(PathBuf::as_path));
    for (k, v) in overrides {
        fig = fig.merge(Serialized::default(k, v));
    }
    Ok(Config::from_figment(fig)?)
}

fn set<T: serde::Serialize>(
    out: &mut Vec<(&'static str, figment::value::Value)>,
    key: &'static str,
    v: Option<T>,
) {
    if let Some(v) = v
        && let Ok(value) = figment::value::Value::serialize(v)
    {
        out.push((key, value));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every volunteer's live socket is a file descriptor: take all the kernel allows (the
    // soft limit is often 1 024 while the hard one is far higher).
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: cannot raise the open-file limit: {e}");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up {
            demo,
            demo_sim,
            data_dir,
            port,
            bind,
            tls_cert,
            tls_key,
        } => {
            let mut o = Vec::new();
            set(&mut o, "data_dir", data_dir);
            set(&mut o, "http.port", port);
            set(&mut o, "http.bind", bind);
            set(&mut o, "http.tls_cert", tls_cert);
            set(&mut o, "http.tls_key", tls_key);
            let cfg = load(cli.config.as_ref(), o)?;
            telemetry::init(&cfg.log);
            let started = std::time::Instant::now();
            let demo = demo.then_some(DemoSettings {
                sim: match demo_sim {
                    SimArg::Off => DemoSim::Off,
                    SimArg::Move => DemoSim::Move,
                    SimArg::AutoAccept => DemoSim::AutoAccept,
                },
            });
            let data_dir = cfg.data_dir.clone();
            let scheme = if cfg.http.tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            let running = kreki::up(cfg, demo).await?;
            println!(
                "KREKI HELP 119 siap / ready in {} ms — listening on {scheme}://{} (public URL {}, data: {}){}",
                started.elapsed().as_millis(),
                running.addr,
                running.base_url,
                data_dir.display(),
                if demo.is_some() { " [demo]" } else { "" }
            );
            println!("metrics on http://{}/metrics", running.metrics_addr);
            if demo.is_some() {
                println!(
                    "Akun demo / demo accounts (kata sandi / password: {}) — masuk di / sign in at {}/akun/:",
                    kreki_identity::demo::PASSWORD,
                    running.base_url
                );
                for (role, email, phone, _, totp) in kreki_identity::demo::ACCOUNTS {
                    println!(
                        "  {:<15} {:<26} {}{}",
                        role.as_str(),
                        email,
                        phone,
                        totp.map(|s| format!("  TOTP seed {s}")).unwrap_or_default()
                    );
                }
            }
            wait(running).await
        }
        Command::Serve {
            service,
            database_url,
            bus_url,
            port,
            bind,
        } => {
            let mut o = Vec::new();
            set(&mut o, "database_url", database_url);
            set(&mut o, "bus.url", bus_url);
            set(&mut o, "http.port", port);
            set(&mut o, "http.bind", bind);
            let cfg = load(cli.config.as_ref(), o)?;
            telemetry::init(&cfg.log);
            let running = kreki::serve_one(cfg, &service).await?;
            println!("KREKI {service} — listening on http://{}", running.addr);
            println!("metrics on http://{}/metrics", running.metrics_addr);
            wait(running).await
        }
        Command::Migrate {
            service,
            data_dir,
            database_url,
        } => {
            let mut o = Vec::new();
            set(&mut o, "data_dir", data_dir);
            set(&mut o, "database_url", database_url);
            let cfg = load(cli.config.as_ref(), o)?;
            telemetry::init(&cfg.log);
            match (&cfg.database_url, service.as_deref()) {
                (Some(_), Some(name)) => {
                    let desc = kreki::service(name)?;
                    kreki::open_postgres(&cfg, &desc).await?.close().await;
                    println!("migrated {name} (PostgreSQL)");
                }
                _ => {
                    if let Some(name) = service.as_deref() {
                        kreki::service(name)?;
                    }
                    for (desc, db) in kreki::open_embedded(&cfg, service.as_deref()).await? {
                        db.close().await;
                        println!(
                            "migrated {} ({})",
                            desc.name,
                            cfg.data_dir.join(format!("{}.db", desc.name)).display()
                        );
                    }
                }
            }
            Ok(())
        }
        Command::BootstrapAdmin {
            email,
            phone,
            force,
            data_dir,
            database_url,
        } => {
            let mut o = Vec::new();
            set(&mut o, "data_dir", data_dir);
            set(&mut o, "database_url", database_url);
            let cfg = load(cli.config.as_ref(), o)?;
            telemetry::init(&cfg.log);
            let desc = kreki::service("identity")?;
            let (db, port) = if cfg.database_url.is_some() {
                (kreki::open_postgres(&cfg, &desc).await?, desc.default_port)
            } else {
                let (_, db) = kreki::open_embedded(&cfg, Some("identity"))
                    .await?
                    .pop()
                    .ok_or_else(|| anyhow::anyhow!("no identity database"))?;
                (db, 8119)
            };
            let base_url = cfg.base_url(cfg.http.port.unwrap_or(port));
            let res = kreki_identity::admin::bootstrap::bootstrap_admin(
                db.clone(),
                &base_url,
                &email,
                phone.as_deref(),
                force,
            )
            .await;
            db.close().await;
            match res {
                Ok(b) => {
                    println!(
                        "KREKI ID: System Admin dibuat / created (nomor anggota / member number {}){}",
                        b.member_number,
                        if b.forced {
                            " [--force, dicatat di log audit / recorded in the audit log]"
                        } else {
                            ""
                        }
                    );
                    println!(
                        "Tautan sekali pakai, berlaku 24 jam / One-time link, valid 24 hours:"
                    );
                    println!("  {}", b.link);
                    Ok(())
                }
                Err(e) => {
                    let m = e.msg();
                    anyhow::bail!("{}: {} / {}", e.code(), m.id, m.en)
                }
            }
        }
        Command::Backup { to, data_dir } => {
            let mut o = Vec::new();
            set(&mut o, "data_dir", data_dir);
            let cfg = load(cli.config.as_ref(), o)?;
            let r = kreki::backup::backup(&cfg.data_dir, &to).await?;
            for f in &r.files {
                println!("  {:<16} {:>12} bytes", f.name, f.bytes);
            }
            println!(
                "backup of {} written to {} in {} ms",
                cfg.data_dir.display(),
                to.display(),
                r.took.as_millis()
            );
            Ok(())
        }
        Command::Restore { from, data_dir } => {
            let mut o = Vec::new();
            set(&mut o, "data_dir", data_dir);
            let cfg = load(cli.config.as_ref(), o)?;
            let r = kreki::backup::restore(&from, &cfg.data_dir).await?;
            if let Some(aside) = &r.moved_aside {
                println!("the replaced files are in {}", aside.display());
            }
            println!(
                "restored {} files from {} into {} in {} ms; start it with `kreki up --data-dir {}`",
                r.files.len(),
                from.display(),
                cfg.data_dir.display(),
                r.took.as_millis(),
                cfg.data_dir.display()
            );
            Ok(())
        }
        Command::VerifyCredential {
            file,
            status_list,
            issuer,
        } => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
            };
            let credential = read(&file)?;
            let list = status_list.as_ref().map(read).transpose()?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            let (valid, lines) =
                kreki_lms::credential::report(&credential, list.as_deref(), issuer.as_deref(), now);
            for l in lines {
                println!("{l}");
            }
            if valid {
                Ok(())
            } else {
                anyhow::bail!("the credential is not valid")
            }
        }
        Command::Sim {
            system,
            port,
            bind,
            auto_ack,
        } => {
            let default_port = if system == "satusehat" { 8311 } else { 8312 };
            let addr = std::net::SocketAddr::new(
                bind.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
                port.unwrap_or(default_port),
            );
            let token = tokio_util::sync::CancellationToken::new();
            tokio::spawn(cancel_on_signal(token.clone()));
            kreki_bridge::run_simulator(&system, addr, auto_ack, token).await
        }
        Command::Routes { format } => {
            match format {
                RoutesFormat::Table => print!("{}", kreki::routes::table()),
                RoutesFormat::Json => {
                    let segments: Vec<&str> = kreki::services()
                        .iter()
                        .flat_map(|s| s.segments.iter().copied())
                        .collect();
                    let doc = serde_json::json!({
                        "routes": kreki::routes::routes(),
                        "private": kreki::routes::private_paths(&segments),
                    });
                    println!("{}", serde_json::to_string_pretty(&doc)?);
                }
            }
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let cfg = load(cli.config.as_ref(), Vec::new())?;
            kreki::check_config(&cfg)?;
            println!("# configuration is valid; effective values (secrets hidden):");
            print!("{}", cfg.to_toml_redacted());
            Ok(())
        }
    }
}

async fn wait(running: kreki::Running) -> anyhow::Result<()> {
    let token = running.shutdown.clone();
    tokio::spawn(cancel_on_signal(token));
    running.join.await?
}
