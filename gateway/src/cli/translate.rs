//! `ponte translate`: PEC → REM and REM → PEC, one message or a whole corpus.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use ponte::smime::TrustTime;
use ponte::translate::{self, Context, Judge};

use super::{Failure, Outcome};

/// Which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum To {
    /// PEC in, REM out.
    Rem,
    /// REM in, PEC out.
    Pec,
}

/// `ponte translate IN.eml... --to rem|pec --config FILE`.
#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// The input messages (LF or CRLF). Several need `--out-dir`.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The output format.
    #[arg(long, value_enum)]
    to: To,
    /// The gateway configuration (TOML; see `ponte config check`).
    #[arg(long)]
    config: PathBuf,
    /// The instant the input's certificate paths are judged at: `now` (default), an RFC 3339
    /// instant, or `signing-time` (the CMS signingTime of the input).
    #[arg(long, default_value = "now")]
    at: String,
    /// Where to write the output message (one input). Default: standard output, unless
    /// `--json` (then the message is only written with `-o`).
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
    /// With several inputs: write `DIR/<input file name>` for each.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Print a JSON report (one object; one per line with several inputs) on standard output.
    #[arg(long)]
    json: bool,
    /// Translations run at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Believe the PEC platform's per-submission `X-Ponte-Sender-Authentication` header of the
    /// inputs (PEC → REM), as the service does for the addresses of `[holders]
    /// platform_addresses`. Without it the header is ignored (and noted); it is never copied
    /// to the output.
    #[arg(long)]
    trust_authentication_header: bool,
    /// Keep the large parts of an input on disk while it is translated (the streaming path:
    /// memory bounded whatever the size; the output is the same bytes): `auto` above 32 MiB,
    /// `always`, `never`.
    #[arg(long, value_enum, default_value = "auto")]
    stream: Stream,
}

/// `--stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stream {
    /// Above `translate::stream::STREAM_ABOVE` (32 MiB).
    Auto,
    /// Always (when the message has a part of 64 KiB or more in its carried message).
    Always,
    /// Never: the whole input in memory.
    Never,
}

/// Runs the command.
pub fn run(args: TranslateArgs) -> Outcome {
    if args.inputs.len() > 1 && args.out_dir.is_none() {
        return Err(Failure(
            "translate: several inputs need --out-dir DIR".into(),
        ));
    }
    if args.out.is_some() && args.out_dir.is_some() {
        return Err(Failure("translate: give -o or --out-dir, not both".into()));
    }
    let now = time::OffsetDateTime::now_utc();
    let trust_at = TrustTime::parse(&args.at, now)
        .map_err(|e| Failure(format!("translate: --at {}: {e}", args.at)))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("translate: cannot start the runtime: {e}")))?;
    let cx = rt.block_on(load(&args.config))?;
    let cx = Arc::new(cx);
    let judge = Judge { now, trust_at };
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| Failure::at(dir, e))?;
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let to = args.to;
    let mode = match args.stream {
        Stream::Auto => translate::stream::Mode::Auto,
        Stream::Always => translate::stream::Mode::Always,
        Stream::Never => translate::stream::Mode::Never,
    };
    let origin = if args.trust_authentication_header {
        translate::Origin::Platform
    } else {
        translate::Origin::Unknown
    };
    let results = rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut handles = Vec::with_capacity(args.inputs.len());
        for path in args.inputs.clone() {
            let cx = Arc::clone(&cx);
            let sem = Arc::clone(&sem);
            handles.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                // Large inputs are held hollowed (their large parts left in the file).
                let input = match translate::stream::FileInput::read(&path, mode) {
                    Ok(i) => i,
                    Err(e) => return (path, Err(Failure(e.to_string()))),
                };
                // The input is given away: a dispatch is written into its buffer.
                let r = match to {
                    To::Rem => translate::stream::to_rem(&cx, input, &judge, &origin).await,
                    To::Pec => translate::stream::to_pec(&cx, input, &judge).await,
                };
                (path, r.map_err(|e| Failure(e.to_string())))
            }));
        }
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            match h.await {
                Ok(r) => out.push(r),
                Err(e) => out.push((
                    PathBuf::new(),
                    Err(Failure(format!("translate: task failed: {e}"))),
                )),
            }
        }
        out
    });
    let mut worst = 0u8;
    for (path, result) in results {
        let name = path.display().to_string();
        let streamed = match result {
            Ok(s) => s,
            Err(f) => {
                eprintln!("ponte: {f}");
                worst = worst.max(2);
                continue;
            }
        };
        match &streamed.outcome {
            Err(e) => {
                let f = Failure::at(&path, e);
                eprintln!("ponte: {f}");
                worst = worst.max(2);
            }
            Ok(Err(refusal)) => {
                eprintln!("ponte: {name}: refused: {}", refusal.reason());
                if args.json {
                    println!("{}", translate::report::json_refused(&name, refusal));
                }
                worst = worst.max(1);
            }
            Ok(Ok(t)) => {
                let base = match (&args.out_dir, &args.out) {
                    (Some(dir), _) => Some(dir.join(file_name(&path))),
                    (None, Some(o)) => Some(o.clone()),
                    (None, None) => None,
                };
                let mut written = Vec::with_capacity(t.outputs.len());
                let mut failed = false;
                for (i, o) in t.outputs.iter().enumerate() {
                    match &base {
                        Some(b) => {
                            let p = numbered(b, i);
                            if let Err(e) = streamed.write_file(&p, &o.bytes) {
                                eprintln!("ponte: {e}");
                                failed = true;
                                break;
                            }
                            written.push(Some(p.display().to_string()));
                        }
                        None if !args.json => {
                            let mut so = std::io::stdout().lock();
                            if let Err(e) = streamed.write_to(&o.bytes, &mut so) {
                                return Err(Failure(format!("translate: standard output: {e}")));
                            }
                            written.push(Some("-".to_string()));
                        }
                        None => written.push(None),
                    }
                }
                if failed {
                    worst = worst.max(2);
                    continue;
                }
                if args.json {
                    println!("{}", translate::report::json_translated(&name, t, &written));
                }
            }
        }
    }
    Ok(ExitCode::from(worst))
}

/// `OUT` for the first output; `OUT` with `.2`, `.3` ... before its extension for the next
/// ones (a REM evidence about several recipients gives one PEC receipt each).
fn numbered(base: &Path, i: usize) -> PathBuf {
    if i == 0 {
        return base.to_path_buf();
    }
    let n = i + 1;
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match base.extension() {
        Some(ext) => format!("{stem}.{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{n}"),
    };
    base.with_file_name(name)
}

fn file_name(p: &Path) -> PathBuf {
    p.file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("message.eml"))
}

/// Loads the configuration, the tables, the index and the store.
async fn load(path: &Path) -> Result<Context, Failure> {
    let seed = super::random_seed()?;
    let cx = Context::load(path, None, seed).map_err(|e| match e {
        translate::Error::Config(c) => Failure(c.to_string()),
        other => Failure::at(path, other),
    })?;
    // `[trust] lists`: incoming REM signers are judged against them too (the cache first).
    if !cx.config.trust.lists.lists.is_empty() {
        let report = ponte::tl::load(
            &cx.config.trust.lists.sources(),
            &ponte::fetch::Fetcher::default(),
            ponte::tl::LoadMode::PreferCache,
            time::OffsetDateTime::now_utc(),
        )
        .await;
        cx.set_trusted_lists(report.lists);
    }
    Ok(cx)
}
