//! Process isolation: a plugin library loaded in a child process and served
//! over its stdin/stdout, so a segfault, `abort`, `exit`, deadlock or
//! unbounded allocation ends one child, not the scan.
//!
//! The child is any program that calls [`serve`] with the library path
//! (`inspect plugin-host LIBRARY`); [`ProcessHost`] names it. The messages
//! are the v1 calls' own JSON texts (`SourceRequest`/`SourceResponse`,
//! `HttpRequest`/`HttpResponse`) in length-prefixed frames — a transport,
//! not a second contract. Host services (HTTP, log, clock, cancellation)
//! are proxied back to the parent, so network policy, timeouts and
//! redaction stay in one place. Either side may have several requests in
//! flight; each carries an id.
//!
//! A frame is `u32` (big-endian) length + JSON, then `u32` length + raw
//! bytes (an HTTP body; empty otherwise): bodies need no encoding.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certinspect_abi::abi_stable::std_types::{RResult, RStr};
use certinspect_protocol::{
    HostServices, HttpRequest, HttpResponse, LogLevel, PluginError, TransportError, TransportErrorKind,
};
use serde::{Deserialize, Serialize};

/// Where a source's plugin runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// In the host process: fastest; a crash of the plugin is a crash of
    /// the host. For first-party providers and embedders.
    #[default]
    InProcess,
    /// In a child process per source: a crash, hang or runaway allocation
    /// is one source error. For third-party libraries.
    Process,
}

impl Isolation {
    /// The configuration spelling: `in-process` or `process`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProcess => "in-process",
            Self::Process => "process",
        }
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "in-process" => Ok(Self::InProcess),
            "process" => Ok(Self::Process),
            other => Err(format!("unknown isolation '{other}'; expected \"process\" or \"in-process\"")),
        }
    }
}

/// The program that serves a plugin library in a child process, and the
/// limits the child runs under.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProcessHost {
    /// The program; it is run as `program ARGS... [--memory-limit BYTES] LIBRARY`
    /// and must call [`serve`].
    pub program: PathBuf,
    /// Arguments before the library path (`["plugin-host"]`).
    pub args: Vec<OsString>,
    /// Address-space cap of the child (`RLIMIT_AS`), bytes.
    pub memory_limit_bytes: Option<u64>,
    /// Deadline of one call; a child that overruns it is killed.
    pub call_timeout: Duration,
}

impl ProcessHost {
    /// `program args...` with a 2 GiB memory cap and a 120 s call deadline.
    pub fn new(program: impl Into<PathBuf>, args: impl IntoIterator<Item = impl Into<OsString>>) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            memory_limit_bytes: Some(DEFAULT_MEMORY_LIMIT),
            call_timeout: Duration::from_secs(120),
        }
    }
}

/// The child's default address-space cap. Generous: virtual reservations
/// (thread stacks, allocator arenas) count against `RLIMIT_AS` too.
pub const DEFAULT_MEMORY_LIMIT: u64 = 2 << 30;

/// Frames larger than this are not ours: the child wrote something else.
const MAX_FRAME: u32 = 256 << 20;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "m", rename_all = "snake_case")]
enum Message {
    /// Parent to child: open a source with this configuration (JSON text).
    Open { id: u64, config: String },
    /// Parent to child: one `SourceRequest` (JSON text).
    Call { id: u64, request: String },
    /// Parent to child: the library's `PluginInfo` (answered with its JSON
    /// text), so nothing of a library need run in the parent to list it.
    Info { id: u64 },
    /// Child to parent: the answer to `Open` (empty text) or `Call`.
    Reply { id: u64, result: Result<String, PluginError> },
    /// Child to parent: a host service call.
    Host { id: u64, call: HostCall },
    /// Parent to child: its answer.
    HostReply { id: u64, reply: HostReply },
    /// Child to parent: a log record (no answer).
    Log { level: u8, target: String, message: String },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum HostCall {
    /// An `HttpRequest` without its body (JSON text); the body is the frame's bytes.
    Http(String),
    Now,
    IsCancelled,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum HostReply {
    /// An `HttpResponse` without its body (JSON text); the body is the frame's bytes.
    Http(Result<String, TransportError>),
    Now(i64),
    IsCancelled(bool),
}

#[derive(Debug)]
enum FrameError {
    Io,
    /// Bytes that are not a frame of ours.
    Garbage(String),
}

fn write_frame(out: &mut impl Write, message: &Message, bytes: &[u8]) -> std::io::Result<()> {
    let json = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(json.len() + bytes.len() + 8);
    frame.extend_from_slice(&(json.len() as u32).to_be_bytes());
    frame.extend_from_slice(&json);
    frame.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    frame.extend_from_slice(bytes);
    out.write_all(&frame)?;
    out.flush()
}

/// The next frame, or `None` at a clean end of input.
fn read_frame(input: &mut impl Read) -> Result<Option<(Message, Vec<u8>)>, FrameError> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(_) => return Err(FrameError::Io),
    }
    let json = read_part(input, length)?;
    let message = serde_json::from_slice(&json).map_err(|_| FrameError::Garbage(preview(&json)))?;
    input.read_exact(&mut length).map_err(|_| FrameError::Io)?;
    Ok(Some((message, read_part(input, length)?)))
}

fn read_part(input: &mut impl Read, length: [u8; 4]) -> Result<Vec<u8>, FrameError> {
    let len = u32::from_be_bytes(length);
    if len > MAX_FRAME {
        return Err(FrameError::Garbage(preview(&length)));
    }
    let mut buf = vec![0u8; len as usize];
    input.read_exact(&mut buf).map_err(|_| FrameError::Io)?;
    Ok(buf)
}

/// The first bytes of something unreadable, as text a person can read.
fn preview(bytes: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&bytes[..bytes.len().min(32)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("\"{}\"", text.trim())
}

// ---------------------------------------------------------------- child side

/// Serve the plugin library at `library` over stdin/stdout until stdin
/// closes; the body of `inspect plugin-host`. Returns the process exit code.
///
/// Before loading anything it closes every inherited file descriptor but
/// stdio and caps its address space at `memory_limit_bytes`.
pub fn serve(library: &Path, memory_limit_bytes: Option<u64>) -> i32 {
    close_inherited_fds();
    if let Some(limit) = memory_limit_bytes {
        limit_memory(limit);
    }
    let module = super::load::load_library(library).map_err(|failure| failure.reason);
    let link =
        Arc::new(ChildLink { out: Mutex::new(()), pending: Mutex::new(HashMap::new()), next: AtomicU64::new(1) });
    let opened: Arc<Mutex<Option<Arc<certinspect_abi::SourceV1Box>>>> = Arc::new(Mutex::new(None));
    let mut input = std::io::stdin().lock();
    loop {
        let (message, bytes) = match read_frame(&mut input) {
            Ok(Some(frame)) => frame,
            Ok(None) => return 0,
            Err(_) => return 2,
        };
        match message {
            Message::Open { id, config } => {
                let (link, opened, module) = (Arc::clone(&link), Arc::clone(&opened), module.clone());
                // `open` may use host services, whose replies this loop reads.
                std::thread::spawn(move || {
                    let result = match module {
                        Err(reason) => Err(PluginError::other(reason)),
                        Ok(module) => {
                            let host = crate::host::to_abi_host(Arc::new(ParentProxy(Arc::clone(&link))));
                            match (module.open())(RStr::from_str(&config), host) {
                                RResult::ROk(source) => {
                                    *opened.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(source));
                                    Ok(String::new())
                                }
                                RResult::RErr(e) => Err(PluginError::new(e.kind, e.message)),
                            }
                        }
                    };
                    link.send(&Message::Reply { id, result }, &[]);
                });
            }
            Message::Info { id } => {
                let result = match &module {
                    Err(reason) => Err(PluginError::other(reason.clone())),
                    Ok(module) => match (module.info())() {
                        RResult::ROk(json) => Ok(json.into_string()),
                        RResult::RErr(e) => Err(PluginError::new(e.kind, format!("info() failed: {}", e.message))),
                    },
                };
                link.send(&Message::Reply { id, result }, &[]);
            }
            Message::Call { id, request } => {
                let link = Arc::clone(&link);
                let source = opened.lock().unwrap_or_else(|p| p.into_inner()).clone();
                // Calls run on their own threads so this loop keeps reading
                // the host's replies to the calls' own host-service requests.
                std::thread::spawn(move || {
                    let result = match source {
                        None => Err(PluginError::protocol("call before open")),
                        Some(source) => match source.call(RStr::from_str(&request)) {
                            RResult::ROk(reply) => Ok(reply.into_string()),
                            RResult::RErr(e) => Err(PluginError::new(e.kind, e.message)),
                        },
                    };
                    link.send(&Message::Reply { id, result }, &[]);
                });
            }
            Message::HostReply { id, reply } => {
                let waiter = link.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send((reply, bytes));
                }
            }
            Message::Reply { .. } | Message::Host { .. } | Message::Log { .. } => return 2,
        }
    }
}

/// The child's end of the pipe to the parent.
struct ChildLink {
    /// Held while a frame is written (stdout's own lock is reentrant per thread only).
    out: Mutex<()>,
    pending: Mutex<HashMap<u64, SyncSender<HostAnswer>>>,
    next: AtomicU64,
}

/// The parent's answer to a host-service call, with its raw bytes.
type HostAnswer = (HostReply, Vec<u8>);

impl ChildLink {
    fn send(&self, message: &Message, bytes: &[u8]) {
        let _guard = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if write_frame(&mut std::io::stdout().lock(), message, bytes).is_err() {
            // The parent is gone; nothing is left to serve.
            std::process::exit(0);
        }
    }

    fn ask(&self, call: HostCall, bytes: &[u8]) -> Option<HostAnswer> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(id, tx);
        self.send(&Message::Host { id, call }, bytes);
        rx.recv().ok()
    }
}

/// The host's services as the plugin in the child sees them.
struct ParentProxy(Arc<ChildLink>);

impl HostServices for ParentProxy {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let broken = || TransportError { kind: TransportErrorKind::Other, message: "the host did not answer".into() };
        let meta = HttpRequest { body: Vec::new(), ..request.clone() };
        let meta = serde_json::to_string(&meta).map_err(|_| broken())?;
        match self.0.ask(HostCall::Http(meta), &request.body) {
            Some((HostReply::Http(Ok(meta)), body)) => {
                let mut response: HttpResponse = serde_json::from_str(&meta).map_err(|_| broken())?;
                response.body = body;
                Ok(response)
            }
            Some((HostReply::Http(Err(error)), _)) => Err(error),
            _ => Err(broken()),
        }
    }

    fn log(&self, level: LogLevel, target: &str, message: &str) {
        let record = Message::Log { level: level as u8, target: target.to_owned(), message: message.to_owned() };
        self.0.send(&record, &[]);
    }

    fn now_unix_ms(&self) -> i64 {
        match self.0.ask(HostCall::Now, &[]) {
            Some((HostReply::Now(ms), _)) => ms,
            _ => 0,
        }
    }

    fn is_cancelled(&self) -> bool {
        !matches!(self.0.ask(HostCall::IsCancelled, &[]), Some((HostReply::IsCancelled(false), _)))
    }
}

#[cfg(target_os = "linux")]
fn close_inherited_fds() {
    // SAFETY: closes descriptors above stdio; nothing in this process holds
    // them yet (this runs before the library is loaded).
    unsafe {
        libc::close_range(3, libc::c_uint::MAX, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn close_inherited_fds() {}

#[cfg(unix)]
fn limit_memory(bytes: u64) {
    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    unsafe {
        libc::setrlimit(libc::RLIMIT_AS, &limit);
    }
}

#[cfg(not(unix))]
fn limit_memory(_bytes: u64) {}

// --------------------------------------------------------------- parent side

/// A source served by a child process. A child that dies (crash, deadline,
/// garbage on stdout) fails the calls in flight — their scopes are errors —
/// and is restarted once, with the same configuration, for the calls that
/// come after; a second death ends the source.
pub(crate) struct ChildSource {
    launch: Launch,
    /// The child serving calls now, and whether it is already the restart.
    current: Mutex<(Arc<Child>, bool)>,
}

/// Everything needed to start a child for a source, again if it dies.
struct Launch {
    plugin: String,
    library: PathBuf,
    config: String,
    services: Arc<dyn HostServices>,
    host: ProcessHost,
}

impl Launch {
    /// Start the host's program on the library and open the source.
    fn start(&self) -> Result<Child, PluginError> {
        let child = Child::spawn(&self.plugin, &self.library, Arc::clone(&self.services), &self.host)?;
        child.request("open", |id| Message::Open { id, config: self.config.clone() })?;
        Ok(child)
    }
}

impl ChildSource {
    /// Start `host`'s program on `library` and open a source with `config`.
    pub(crate) fn open(
        plugin: &str,
        library: &Path,
        config: &str,
        services: Arc<dyn HostServices>,
        host: &ProcessHost,
    ) -> Result<Self, PluginError> {
        let launch = Launch {
            plugin: plugin.to_owned(),
            library: library.to_owned(),
            config: config.to_owned(),
            services,
            host: host.clone(),
        };
        let child = launch.start()?;
        Ok(Self { launch, current: Mutex::new((Arc::new(child), false)) })
    }

    /// Send one `SourceRequest` (JSON text) and wait for the answer.
    pub(crate) fn call(&self, request_json: &str) -> Result<String, PluginError> {
        self.serving()?.call(request_json)
    }

    /// The live child, starting the one restart if the child died.
    fn serving(&self) -> Result<Arc<Child>, PluginError> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let (child, restarted) = &*current;
        let Some(reason) = child.death() else { return Ok(Arc::clone(child)) };
        if *restarted {
            return Err(PluginError::other(format!(
                "{reason}; the source ends here (its plugin process was restarted once already)"
            )));
        }
        let plugin = &self.launch.plugin;
        tracing::warn!(target: "plugin", plugin = %plugin, "{reason}; starting a new plugin process for the next scope");
        match self.launch.start() {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                *current = (Arc::clone(&fresh), true);
                Ok(fresh)
            }
            Err(error) => {
                *current = (Arc::clone(child), true);
                Err(PluginError::other(format!("{reason}; restarting it failed: {}", error.message)))
            }
        }
    }
}

impl std::fmt::Debug for ChildSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSource").field("plugin", &self.launch.plugin).finish_non_exhaustive()
    }
}

/// One child process serving one opened source.
struct Child {
    shared: Arc<ParentShared>,
    stdin: Arc<Mutex<ChildStdin>>,
    next: AtomicU64,
    call_timeout: Duration,
    memory_limit_bytes: Option<u64>,
}

struct ParentShared {
    child: Mutex<std::process::Child>,
    pending: Mutex<HashMap<u64, SyncSender<Result<String, PluginError>>>>,
    /// Why the child is gone, once it is.
    dead: Mutex<Option<String>>,
    /// The child said on stderr that an allocation failed (Rust's
    /// out-of-memory message, before it aborts).
    out_of_memory: AtomicBool,
    /// Signalled when the child's stderr ends, so its last words are read
    /// before they are used to say why it died.
    stderr_closed: Mutex<Option<mpsc::Receiver<()>>>,
}

impl ParentShared {
    fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Record why the child is gone (the first reason wins) and fail every
    /// call waiting on it.
    fn bury(&self, reason: String) {
        self.dead.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(reason);
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl Child {
    /// Start `host`'s program on `library`; `plugin` names it in the log.
    fn spawn(
        plugin: &str,
        library: &Path,
        services: Arc<dyn HostServices>,
        host: &ProcessHost,
    ) -> Result<Self, PluginError> {
        let mut command = Command::new(&host.program);
        command.args(&host.args);
        if let Some(limit) = host.memory_limit_bytes {
            command.arg("--memory-limit").arg(limit.to_string());
        }
        command.arg(library).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            PluginError::other(format!("cannot start the plugin process {}: {e}", host.program.display()))
        })?;
        let (stdin, stdout, stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(stdin), Some(stdout), Some(stderr)) => (stdin, stdout, stderr),
            _ => return Err(PluginError::other("the plugin process has no stdio pipes")),
        };
        let shared = Arc::new(ParentShared {
            child: Mutex::new(child),
            pending: Mutex::new(HashMap::new()),
            dead: Mutex::new(None),
            out_of_memory: AtomicBool::new(false),
            stderr_closed: Mutex::new(None),
        });
        let stdin = Arc::new(Mutex::new(stdin));
        spawn_stderr_reader(plugin.to_owned(), stderr, Arc::clone(&shared));
        spawn_stdout_reader(plugin.to_owned(), stdout, Arc::clone(&shared), Arc::clone(&stdin), services);
        Ok(Self {
            shared,
            stdin,
            next: AtomicU64::new(1),
            call_timeout: host.call_timeout,
            memory_limit_bytes: host.memory_limit_bytes,
        })
    }

    /// Why the child is gone, once a call saw it go.
    fn death(&self) -> Option<String> {
        self.shared.dead.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Send one `SourceRequest` (JSON text) and wait for the answer.
    fn call(&self, request_json: &str) -> Result<String, PluginError> {
        let operation = serde_json::from_str::<serde_json::Value>(request_json)
            .ok()
            .and_then(|v| v.get("op").and_then(|op| op.as_str().map(str::to_owned)))
            .unwrap_or_else(|| "a call".to_owned());
        self.request(&operation, |id| Message::Call { id, request: request_json.to_owned() })
    }

    fn request(&self, operation: &str, message: impl FnOnce(u64) -> Message) -> Result<String, PluginError> {
        if let Some(reason) = self.death() {
            return Err(PluginError::other(reason));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        self.shared.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(id, tx);
        let written = {
            let mut stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
            write_frame(&mut *stdin, &message(id), &[])
        };
        if written.is_err() {
            self.shared.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        }
        match rx.recv_timeout(self.call_timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                let reason = format!(
                    "the plugin process did not answer {operation} within {}s and was killed",
                    self.call_timeout.as_secs_f64()
                );
                self.shared.bury(reason.clone());
                self.shared.kill();
                Err(PluginError::other(reason))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let reason = self.death_reason(operation);
                Err(PluginError::other(reason))
            }
        }
    }

    /// Why the child went away, once the reader saw it go.
    fn death_reason(&self, operation: &str) -> String {
        if let Some(reason) = self.death() {
            return reason;
        }
        let Some(status) = self.exit_status() else {
            let reason = format!("the plugin process closed its stdout during {operation} and was killed");
            self.shared.bury(reason.clone());
            self.shared.kill();
            return reason;
        };
        if let Some(closed) = self.shared.stderr_closed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = closed.recv_timeout(Duration::from_secs(1));
        }
        let out_of_memory = self.shared.out_of_memory.load(Ordering::SeqCst);
        let reason = describe_exit(operation, status, out_of_memory, self.memory_limit_bytes);
        *self.shared.dead.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
        reason
    }
}

impl Child {
    /// The child's exit status, waiting a moment for it: its stdout just
    /// closed, which normally means it is ending. `None` if it lives on.
    fn exit_status(&self) -> Option<std::process::ExitStatus> {
        for _ in 0..200 {
            let status = self.shared.child.lock().unwrap_or_else(|p| p.into_inner()).try_wait();
            match status {
                Ok(Some(status)) => return Some(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.shared.kill();
    }
}

/// The `PluginInfo` (JSON text) of the library at `library`, asked of a
/// child process started from `host`, so the library runs only there. The
/// error is one sentence: why the library would not load, what its `info()`
/// reported, or how the child ended.
pub(crate) fn info_in_child(library: &Path, host: &ProcessHost) -> Result<String, String> {
    let name = library.file_name().unwrap_or(library.as_os_str()).to_string_lossy();
    let child = Child::spawn(&name, library, Arc::new(NoServicesWhileLoading), host).map_err(|e| e.message)?;
    child.request("info", |id| Message::Info { id }).map_err(|e| e.message)
}

/// The host's services while a library is only being asked for its info:
/// none it could use, and `info()` has no host to call anyway.
struct NoServicesWhileLoading;

impl HostServices for NoServicesWhileLoading {
    fn http(&self, _request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let message = "no HTTP while a plugin library is loaded for its info".to_owned();
        Err(TransportError { kind: TransportErrorKind::Refused, message })
    }

    fn log(&self, _level: LogLevel, target: &str, message: &str) {
        tracing::debug!(target: "plugin", module = target, "{message}");
    }

    fn now_unix_ms(&self) -> i64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }

    fn is_cancelled(&self) -> bool {
        false
    }
}

/// One sentence on how a child ended during `operation`.
fn describe_exit(
    operation: &str,
    status: std::process::ExitStatus,
    out_of_memory: bool,
    memory_limit_bytes: Option<u64>,
) -> String {
    if let (true, Some(limit)) = (out_of_memory, memory_limit_bytes) {
        return format!(
            "the plugin process ran out of memory during {operation} (its cap is {} MiB) and was stopped",
            limit >> 20
        );
    }
    let how = match (status.code(), signal_of(status)) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}{}", signal_name(signal)),
        (None, None) => "ended".to_owned(),
    };
    format!("the plugin process {how} during {operation}")
}

#[cfg(unix)]
fn signal_of(status: std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[cfg(not(unix))]
fn signal_of(_status: std::process::ExitStatus) -> Option<i32> {
    None
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// The child's stderr goes to the log with the plugin's name, and is
/// watched for Rust's out-of-memory message to tell why it died.
fn spawn_stderr_reader(plugin: String, stderr: std::process::ChildStderr, shared: Arc<ParentShared>) {
    let (closed_tx, closed_rx) = mpsc::channel();
    *shared.stderr_closed.lock().unwrap_or_else(|p| p.into_inner()) = Some(closed_rx);
    std::thread::spawn(move || {
        let _closed = closed_tx;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            tracing::warn!(target: "plugin", plugin = %plugin, "plugin process stderr: {line}");
            if line.starts_with("memory allocation of ") {
                shared.out_of_memory.store(true, Ordering::SeqCst);
            }
        }
    });
}

/// Reads the child's frames: replies go to their callers, host-service
/// calls are served (each on its own thread: an HTTP request takes time)
/// and answered. Anything else, or the end of the pipe, ends the child.
fn spawn_stdout_reader(
    plugin: String,
    stdout: std::process::ChildStdout,
    shared: Arc<ParentShared>,
    stdin: Arc<Mutex<ChildStdin>>,
    services: Arc<dyn HostServices>,
) {
    std::thread::spawn(move || {
        let mut input = BufReader::new(stdout);
        let garbage = loop {
            match read_frame(&mut input) {
                Ok(Some((Message::Reply { id, result }, _))) => {
                    let waiter = shared.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(result);
                    }
                }
                Ok(Some((Message::Host { id, call }, bytes))) => {
                    let (services, stdin) = (Arc::clone(&services), Arc::clone(&stdin));
                    std::thread::spawn(move || {
                        let (reply, body) = serve_host_call(&*services, call, bytes);
                        let mut stdin = stdin.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = write_frame(&mut *stdin, &Message::HostReply { id, reply }, &body);
                    });
                }
                Ok(Some((Message::Log { level, target, message }, _))) => {
                    services.log(LogLevel::from_u8(level), &target, &message)
                }
                Ok(Some((other, _))) => break Some(format!("an unexpected message ({other:?})")),
                Ok(None) | Err(FrameError::Io) => break None,
                Err(FrameError::Garbage(text)) => break Some(format!("output that is not a protocol message: {text}")),
            }
        };
        match garbage {
            Some(what) => {
                let reason = format!("the plugin process wrote {what} to its stdout and was stopped");
                tracing::warn!(target: "plugin", plugin = %plugin, "{reason}");
                shared.bury(reason);
                shared.kill();
            }
            // The end of the pipe: the caller asks the exit status.
            None => shared.pending.lock().unwrap_or_else(|p| p.into_inner()).clear(),
        }
    });
}

fn serve_host_call(services: &dyn HostServices, call: HostCall, body: Vec<u8>) -> HostAnswer {
    match call {
        HostCall::Http(meta) => {
            let request = serde_json::from_str::<HttpRequest>(&meta).map_err(|e| TransportError {
                kind: TransportErrorKind::Refused,
                message: format!("unreadable request from the plugin process: {e}"),
            });
            match request.and_then(|request| services.http(&HttpRequest { body, ..request })) {
                Ok(response) => {
                    let meta = HttpResponse { body: Vec::new(), ..response.clone() };
                    let meta = serde_json::to_string(&meta).unwrap_or_default();
                    (HostReply::Http(Ok(meta)), response.body)
                }
                Err(error) => (HostReply::Http(Err(error)), Vec::new()),
            }
        }
        HostCall::Now => (HostReply::Now(services.now_unix_ms()), Vec::new()),
        HostCall::IsCancelled => (HostReply::IsCancelled(services.is_cancelled()), Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_raw_bytes() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &Message::Call { id: 7, request: "{\"op\":\"scopes\"}".into() }, b"\x00\xffbody")
            .unwrap();
        let (message, bytes) = read_frame(&mut wire.as_slice()).unwrap().unwrap();
        assert!(matches!(message, Message::Call { id: 7, ref request } if request == "{\"op\":\"scopes\"}"));
        assert_eq!(bytes, b"\x00\xffbody");
        assert!(read_frame(&mut &wire[..0]).unwrap().is_none());
    }

    #[test]
    fn text_on_stdout_is_garbage_not_a_huge_allocation() {
        let err = read_frame(&mut &b"hello, world\n"[..]).unwrap_err();
        assert!(matches!(err, FrameError::Garbage(ref text) if text == "\"hell\""), "{err:?}");
    }

    #[test]
    fn exits_are_described_in_words() {
        use std::os::unix::process::ExitStatusExt;
        let cases = [
            (
                ExitStatusExt::from_raw(11),
                false,
                "the plugin process was killed by signal 11 (SIGSEGV) during list_page",
            ),
            (ExitStatusExt::from_raw(0), false, "the plugin process exited with status 0 during list_page"),
            (
                ExitStatusExt::from_raw(6),
                true,
                "the plugin process ran out of memory during list_page (its cap is 256 MiB) and was stopped",
            ),
        ];
        for (status, out_of_memory, expected) in cases {
            assert_eq!(describe_exit("list_page", status, out_of_memory, Some(256 << 20)), expected);
        }
    }

    #[test]
    fn isolation_spellings() {
        for isolation in [Isolation::InProcess, Isolation::Process] {
            assert_eq!(isolation.as_str().parse::<Isolation>(), Ok(isolation));
        }
        assert!("sandbox".parse::<Isolation>().unwrap_err().contains("expected \"process\" or \"in-process\""));
    }
}
