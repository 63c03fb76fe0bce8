//! `inspect serve`: the continuous exporter, as glue. Scans on a schedule,
//! keeps the state in `core::watch`, answers `/metrics`, `/healthz` and
//! `/report.json` from a small HTTP/1.1 responder, reloads the
//! configuration on SIGHUP and stops on SIGTERM/SIGINT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certinspect_core::verify::NoObserver;
use certinspect_core::watch::{next_delay, parse_interval, Watch};

use crate::commands::{load, scan_options};
use crate::exit;
use crate::settings::VerifyArgs;

/// `inspect serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The configuration file (reread on SIGHUP).
    #[arg(short, long, value_name = "FILE", default_value = "inspect.toml")]
    config: PathBuf,
    /// Time between scans: a whole number and a unit (s, m, h, d); each
    /// interval is moved by up to a tenth at random so exporters do not scan in step.
    #[arg(long, value_name = "INTERVAL", default_value = "15m", value_parser = parse_every)]
    every: Duration,
    /// Address to serve /metrics, /healthz and /report.json on.
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:9314")]
    listen: SocketAddr,
    #[command(flatten)]
    verify: VerifyArgs,
}

fn parse_every(text: &str) -> Result<Duration, String> {
    parse_interval(text).map_err(|e| e.to_string())
}

/// Set from signal handlers, read by the scheduling loop.
static RELOAD: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_reload(_: libc::c_int) {
    RELOAD.store(true, Ordering::SeqCst);
}

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    // SAFETY: the handlers only store to atomics, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGHUP, on_reload as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_stop as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_stop as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}

/// How long a scan may go on after SIGTERM before the process leaves anyway.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often the loop looks at the signals and the clock.
const TICK: Duration = Duration::from_millis(100);

pub fn serve(args: &ServeArgs, plugin_dirs: &[PathBuf]) -> u8 {
    // A configuration that is wrong at start is a usage error, as for `scan`.
    let (mut config, mut registry) = match load(&args.config, plugin_dirs) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let listener = match TcpListener::bind(args.listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("inspect: cannot listen on {}: {e}", args.listen);
            return exit::OPERATIONAL;
        }
    };
    let address = listener.local_addr().unwrap_or(args.listen);
    install_signal_handlers();
    let watch = Arc::new(Mutex::new(Watch::new()));
    let tag_labels = Arc::new(Mutex::new(config.file.output.labels_from_tags.clone()));
    {
        let (watch, tag_labels) = (Arc::clone(&watch), Arc::clone(&tag_labels));
        std::thread::spawn(move || serve_http(&listener, &watch, &tag_labels));
    }
    eprintln!("inspect: serving http://{address}/metrics, scanning every {}s", args.every.as_secs());

    // Jitter differs between exporters started together.
    let seed = u64::from(std::process::id()) ^ now_nanos();
    let mut next_scan = Instant::now();
    let mut scans = 0u64;
    loop {
        if STOP.load(Ordering::SeqCst) {
            eprintln!("inspect: stopping");
            return exit::CLEAN;
        }
        if RELOAD.swap(false, Ordering::SeqCst) {
            let result = match load(&args.config, plugin_dirs) {
                Ok((new_config, new_registry)) => {
                    (config, registry) = (new_config, new_registry);
                    *tag_labels.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        config.file.output.labels_from_tags.clone();
                    eprintln!("inspect: reloaded {}", args.config.display());
                    None
                }
                Err(_) => {
                    let message = format!(
                        "the new configuration in {} cannot be used (see the lines above); the previous one stays in use",
                        args.config.display()
                    );
                    eprintln!("inspect: {message}");
                    Some(message)
                }
            };
            lock(&watch).reloaded(result);
        }
        if Instant::now() < next_scan {
            std::thread::sleep(TICK);
            continue;
        }
        let started = Instant::now();
        scans += 1;
        next_scan = started + next_delay(args.every, seed, scans);
        let options = match scan_options(&config, &args.verify) {
            Ok(options) => options,
            Err(_) => {
                lock(&watch).failed("the verification settings cannot be used".to_owned(), started.elapsed());
                continue;
            }
        };
        let cancel = options.cancel.clone();
        let specs = config.source_specs();
        let scanned = std::thread::scope(|scope| {
            let running = scope.spawn(|| certinspect_core::scan::scan(&registry, &specs, &options, &mut NoObserver));
            while !running.is_finished() {
                if STOP.load(Ordering::SeqCst) {
                    // Stop plugin calls; a scan cut short is never served.
                    cancel.cancel();
                    let deadline = Instant::now() + STOP_GRACE;
                    while !running.is_finished() && Instant::now() < deadline {
                        std::thread::sleep(TICK);
                    }
                    eprintln!("inspect: stopping");
                    std::process::exit(i32::from(exit::CLEAN));
                }
                std::thread::sleep(TICK);
            }
            running.join()
        });
        let duration = started.elapsed();
        match scanned {
            Ok(Ok(report)) => {
                eprintln!(
                    "inspect: scan {scans} complete in {:.1}s: {} bindings, {} findings, {} source errors",
                    duration.as_secs_f64(),
                    report.summary.bindings,
                    report.findings.len(),
                    report.source_errors.len()
                );
                lock(&watch).completed(report, duration);
            }
            Ok(Err(error)) => {
                let _ = crate::commands::open_error(&config, &error);
                lock(&watch).failed(error.to_string(), duration);
            }
            Err(_) => {
                eprintln!("inspect: scan {scans} failed: the engine panicked; the last complete scan stays served");
                lock(&watch).failed("the engine panicked".to_owned(), duration);
            }
        }
    }
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The state, even if a thread panicked holding it (it is replaced whole).
fn lock(watch: &Mutex<Watch>) -> std::sync::MutexGuard<'_, Watch> {
    watch.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Connections handled at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 16;
/// Request line and headers together, at most.
const MAX_REQUEST_HEAD: u64 = 16 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn serve_http(listener: &TcpListener, watch: &Arc<Mutex<Watch>>, tag_labels: &Arc<Mutex<Vec<String>>>) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = respond(&mut stream, false, 503, "text/plain", b"busy; try again\n");
            continue;
        }
        let watch = Arc::clone(watch);
        let tags = tag_labels.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let active = Arc::clone(&active);
        std::thread::spawn(move || {
            handle(stream, &watch, &tags);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

fn handle(mut stream: TcpStream, watch: &Mutex<Watch>, tag_labels: &[String]) {
    let mut reader = BufReader::new((&stream).take(MAX_REQUEST_HEAD));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Headers are read and ignored; the request has no body we use.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let head = method == "HEAD";
    if method != "GET" && !head {
        let _ = respond(&mut stream, false, 405, "text/plain", b"only GET and HEAD\n");
        return;
    }
    let path = target.split('?').next().unwrap_or("");
    let snapshot = match path {
        "/metrics" | "/report.json" => lock(watch).snapshot(),
        _ => Default::default(),
    };
    let _ = match path {
        "/metrics" => {
            let mut body = Vec::new();
            let _ = certinspect_render::render_prometheus_snapshot(&snapshot, tag_labels, &mut body);
            respond(&mut stream, head, 200, "text/plain; version=0.0.4; charset=utf-8", &body)
        }
        "/report.json" => match &snapshot.report {
            Some(report) => {
                let mut body = Vec::new();
                let _ = certinspect_render::render_json(report, &mut body);
                respond(&mut stream, head, 200, "application/json", &body)
            }
            None => respond(&mut stream, head, 503, "text/plain", b"no scan has completed yet\n"),
        },
        "/healthz" => respond(&mut stream, head, 200, "text/plain", b"ok\n"),
        _ => respond(&mut stream, head, 404, "text/plain", b"not found: try /metrics, /healthz or /report.json\n"),
    };
}

fn respond(stream: &mut TcpStream, head: bool, status: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let allow = if status == 405 { "Allow: GET, HEAD\r\n" } else { "" };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    )?;
    if !head {
        stream.write_all(body)?;
    }
    stream.flush()
}
