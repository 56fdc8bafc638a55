//! Serving a router: plain HTTP or TLS, draining in-flight requests on shutdown.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Certificate and key files (PEM) for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Wait for SIGTERM or Ctrl-C, then cancel `token`.
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested; draining in-flight requests");
    token.cancel();
}

/// Serve until `shutdown` is cancelled, then stop accepting and give in-flight requests
/// up to `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
    tls: Option<TlsFiles>,
) -> anyhow::Result<()> {
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            let server = axum::serve(listener, make)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned());
            let run = tokio::spawn(async move { server.await });
            shutdown.cancelled().await;
            match tokio::time::timeout(grace, run).await {
                Ok(r) => r.context("server task")?.context("server")?,
                Err(_) => tracing::warn!("grace period over; closing remaining connections"),
            }
            Ok(())
        }
        Some(files) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .with_context(|| {
                        format!(
                            "reading TLS files {} / {}",
                            files.cert.display(),
                            files.key.display()
                        )
                    })?;
            let handle = axum_server::Handle::new();
            let h2 = handle.clone();
            tokio::spawn(async move {
                shutdown.cancelled().await;
                h2.graceful_shutdown(Some(grace));
            });
            let std_listener = listener.into_std()?;
            axum_server::from_tcp_rustls(std_listener, config)
                .handle(handle)
                .serve(make)
                .await
                .context("TLS server")?;
            Ok(())
        }
    }
}
