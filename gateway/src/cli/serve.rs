//! `ponte serve`: the gateway service, on a configuration file or on its embedded
//! development defaults (`--dev`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use ponte::service::{self, Gateway, dev};
use ponte::translate::Context;

use super::{Failure, Outcome};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `ponte serve --config FILE` or `ponte serve --dev [--data DIR]`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["config", "dev"])))]
pub struct ServeArgs {
    /// The gateway configuration (TOML; see `ponte config check`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run on the embedded development defaults (NOT FOR PRODUCTION): a development PKI, TSA
    /// and index made in --data, delivery into DATA/outbox.
    #[arg(long)]
    dev: bool,
    /// With --dev: the data folder (made once, kept). Default: `ponte-dev` in the system's
    /// temporary folder.
    #[arg(long)]
    data: Option<PathBuf>,
    /// With --dev: deliver the recipients of DOMAIN (a domain, `*.domain` or `*`) to
    /// HOST:PORT over SMTP without TLS instead of the outbox (repeatable; for a harness's
    /// sink, e.g. `ponte conformance run --collect`).
    #[arg(long, value_name = "DOMAIN=HOST:PORT", value_parser = parse_route)]
    route: Vec<(String, String)>,
    /// With --dev: also trust the anchors of this PEM file for PEC and REM signers
    /// (repeatable; e.g. the test PKI's tests/pki/root-ca.pem).
    #[arg(long, value_name = "PEM")]
    trust: Vec<PathBuf>,
    /// With --dev: also list the providers of this LDIF index snapshot (repeatable; e.g.
    /// gateway/src/index/default.ldif, the test providers of tests/pki).
    #[arg(long, value_name = "LDIF")]
    index: Vec<PathBuf>,
    /// The SMTP listener (overrides `[smtp] listen`; --dev default 127.0.0.1:2525).
    #[arg(long)]
    smtp: Option<SocketAddr>,
    /// The ops API listener (overrides `[ops] listen`; --dev default 127.0.0.1:9025).
    #[arg(long)]
    ops: Option<SocketAddr>,
    /// Log lines as text or JSON (filter with PONTE_LOG, default `info` for serve).
    #[arg(long, value_enum, default_value_t)]
    log_format: LogFormat,
}

/// `DOMAIN=HOST:PORT`.
fn parse_route(s: &str) -> Result<(String, String), String> {
    let (domain, relay) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected DOMAIN=HOST:PORT"))?;
    let (domain, relay) = (domain.trim(), relay.trim());
    if domain.is_empty() {
        return Err(format!("{s:?}: no domain before '='"));
    }
    let port = relay
        .rsplit_once(':')
        .and_then(|(h, p)| (!h.is_empty()).then_some(p))
        .ok_or_else(|| format!("{s:?}: expected HOST:PORT after '='"))?;
    port.parse::<u16>()
        .map_err(|_| format!("{s:?}: {port:?} is not a port"))?;
    Ok((domain.to_owned(), relay.to_owned()))
}

impl ServeArgs {
    /// The log format asked for.
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }
}

/// Runs the gateway until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("serve: cannot start the runtime: {e}")))?;
    rt.block_on(serve(args))
}

async fn bind(addr: SocketAddr, what: &str) -> Result<tokio::net::TcpListener, Failure> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure(format!("serve: {what} listener {addr}: {e}")))
}

async fn serve(args: ServeArgs) -> Outcome {
    // Not clap's `requires = "dev"`: the --dev flag's default value (false) satisfies it.
    if !args.dev {
        for (given, flag) in [
            (args.data.is_some(), "--data"),
            (!args.route.is_empty(), "--route"),
            (!args.trust.is_empty(), "--trust"),
            (!args.index.is_empty(), "--index"),
        ] {
            if given {
                return Err(Failure(format!(
                    "serve: {flag} goes with --dev only (a configuration file says its routes, anchors and index)"
                )));
            }
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let mut dev_tsa = None;
    let (config_path, dev_setup, smtp_addr, ops_addr) = if args.dev {
        let dir = args
            .data
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("ponte-dev"));
        std::fs::create_dir_all(&dir).map_err(|e| Failure::at(&dir, e))?;
        let smtp = args
            .smtp
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 2525)));
        let ops = args
            .ops
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9025)));
        // The development TSA, in this process, on a loopback port of its own.
        let tsa_dir = dir.join("tsa");
        let tsa = Arc::new(
            ponte::tsp::server::DevTsa::open(&tsa_dir, now)
                .map_err(|e| Failure::at(&tsa_dir, e))?,
        );
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)), "TSA").await?;
        let tsa_addr = listener
            .local_addr()
            .map_err(|e| Failure(format!("serve: TSA listener: {e}")))?;
        let tsa_url = format!("http://{tsa_addr}/");
        let cert = tsa.cert_path();
        dev_tsa = Some(tokio::spawn(service::tsa::serve(
            listener,
            tsa,
            Arc::new(time::OffsetDateTime::now_utc),
            Arc::new(|line| tracing::debug!(target: "ponte::tsa", "{line}")),
        )));
        let exe = std::env::current_exe()
            .map_err(|e| Failure(format!("serve: where is this program? {e}")))?;
        let extras = dev::Extras {
            routes: args.route.clone(),
            trust: args.trust.clone(),
            index: args.index.clone(),
        };
        let setup = dev::prepare(&dir, smtp, ops, &tsa_url, &cert, &exe, now, &extras)
            .map_err(|e| Failure(format!("serve --dev: {e}")))?;
        (setup.config.clone(), Some((setup, tsa_url)), smtp, ops)
    } else {
        let Some(path) = args.config.clone() else {
            return Err(Failure("serve: give --config FILE or --dev".into()));
        };
        (
            path,
            None,
            SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::from(([0, 0, 0, 0], 0)),
        )
    };
    let config = ponte::config::Config::load(&config_path).map_err(|e| Failure(e.to_string()))?;
    config.log_warnings();
    let smtp_addr = if args.dev {
        smtp_addr
    } else {
        args.smtp.unwrap_or(config.service.smtp.listen)
    };
    let ops_addr = if args.dev {
        ops_addr
    } else {
        args.ops.unwrap_or(config.service.ops.listen)
    };
    let opened = service::spool::Opened::open(&config.service.spool, true)
        .await
        .map_err(|e| Failure(format!("serve: spool: {e}")))?;
    let spool_shown = opened.describe();
    let spool = opened.spool();
    let seed = super::random_seed()?;
    let records = Box::new(service::spool::SpoolRecords(Arc::clone(&spool)));
    let cx = Context::from_config(config, Some(records), seed)
        .map_err(|e| Failure::at(&config_path, e))?;
    let tls = match &cx.config.service.smtp.tls {
        Some(files) => Some(service::smtp::tls_config(files).map_err(|e| Failure(e.to_string()))?),
        None => None,
    };
    let trust_line = if cx.config.trust.lists.lists.is_empty() {
        None
    } else {
        let (store, report) = ponte::discovery::TrustStore::open(
            cx.config.trust.lists.sources(),
            ponte::fetch::Fetcher::default(),
            time::OffsetDateTime::now_utc(),
        )
        .await;
        service::log_lists(&report, "loaded");
        // Incoming REM signers are judged against the same lists.
        cx.set_trusted_lists(report.lists.clone());
        let n = report.lists.lists().len();
        let unverified = report.lists.has_unverified();
        Some((
            Arc::new(store),
            format!(
                "{n} trusted list(s) loaded, MX delivery follows them{}",
                if unverified {
                    " (UNSIGNED lists allowed: tests only)"
                } else {
                    ""
                }
            ),
        ))
    };
    let mut gateway = Gateway::new(Arc::new(cx), spool);
    if let Some((store, _)) = &trust_line {
        gateway = gateway.with_trust(Arc::clone(store));
        gateway.metrics.list_load("start");
    }
    let gw = Arc::new(gateway);
    let smtp = bind(smtp_addr, "SMTP").await?;
    let ops = bind(ops_addr, "ops").await?;
    let smtp_local = smtp.local_addr().unwrap_or(smtp_addr);
    let ops_local = ops.local_addr().unwrap_or(ops_addr);
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if let Some((setup, tsa_url)) = &dev_setup {
            let _ = writeln!(
                out,
                "ponte serve --dev: DEVELOPMENT GATEWAY, NOT FOR PRODUCTION (its PKI, TSA and index are made here and trusted by nobody else)"
            );
            let _ = writeln!(out, "data:   {}", setup.dir.display());
            for m in &setup.made {
                let _ = writeln!(out, "made:   {m}");
            }
            let _ = writeln!(out, "config: {}", setup.config.display());
            let _ = writeln!(out, "tsa:    {tsa_url} (development TSA, not qualified)");
            let _ = writeln!(out, "outbox: {}", setup.outbox.display());
            for (domain, relay) in &args.route {
                let _ = writeln!(out, "route:  {domain} -> {relay} (no TLS)");
            }
            for t in &args.trust {
                let _ = writeln!(
                    out,
                    "anchor: {} (added for PEC and REM signers)",
                    t.display()
                );
            }
            for i in &args.index {
                let _ = writeln!(out, "index:  {} (providers added)", i.display());
            }
        }
        let _ = writeln!(
            out,
            "smtp:   {smtp_local}{}",
            if tls.is_some() { " (STARTTLS)" } else { "" }
        );
        let _ = writeln!(
            out,
            "ops:    http://{ops_local}/ (metrics at /metrics, API at /api/)"
        );
        if let Some((_, line)) = &trust_line {
            let _ = writeln!(out, "trust:  {line}");
        }
        let _ = writeln!(out, "spool:  {spool_shown}");
        if let Some((setup, _)) = &dev_setup {
            let _ = writeln!(
                out,
                "try: sh '{}'",
                setup
                    .try_script
                    .display()
                    .to_string()
                    .replace('\'', "'\\''")
            );
        }
        let _ = out.flush();
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signals = tokio::spawn(signals(Arc::clone(&gw), config_path.clone(), stop_tx));
    let r = service::run(Arc::clone(&gw), smtp, ops, tls, stop_rx).await;
    if let Err(e) = gw.spool.close().await {
        tracing::warn!(error = %e, "cannot give back the spool's claims; they run out after [spool] lease");
    }
    signals.abort();
    if let Some(t) = dev_tsa {
        t.abort();
    }
    r.map_err(|e| Failure(format!("serve: {e}")))?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM / SIGINT stop the service (it finishes what is in flight); SIGHUP reloads routes,
/// limits, timers, delivery settings, the trusted lists and the index from the configuration
/// file ([`service::reload`]).
async fn signals(gw: Arc<Gateway>, config: PathBuf, stop: tokio::sync::watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                match service::reload(&gw, &config).await {
                    Ok(what) => tracing::info!(%what, "configuration reloaded (SIGHUP)"),
                    Err(e) => tracing::error!(error = %e, "reload refused; the running configuration stays"),
                }
            }
        }
    }
    tracing::info!("stopping: no new connections, finishing what is in flight");
    let _ = stop.send(true);
}
