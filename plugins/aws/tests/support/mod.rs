//! Test support for the AWS plugin: the real `moto_server` from the
//! testbed (`certinspect_testbed::moto`: the pinned venv under the target
//! directory, shared with the demo; one server per test process on a free
//! loopback port; seeding with boto3), certificates generated here, and the
//! host the way `inspect` builds it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::{Arc, MutexGuard, OnceLock};
use std::time::Duration;

use certinspect_aws::{AwsProvider, PLUGIN_NAME};
use certinspect_core::collect::{collect, CollectOptions, Collected};
use certinspect_core::host::{CancelFlag, Host, HttpTransport, TransportConfig};
use certinspect_core::plugins::{OpenedSource, PluginRegistry};
use certinspect_sdk::static_module;
use certinspect_testbed::moto::Moto;
use serde_json::{json, Value};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python (moto, boto3), created on first use.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("certinspect-aws");
            certinspect_testbed::moto::python(&work).unwrap_or_else(|e| panic!("{e}"))
        })
        .clone()
}

/// The test process's moto_server (stopped when the process exits).
fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(&python()).unwrap_or_else(|e| panic!("{e}")))
}

/// The shared moto_server, reset, and held exclusively: tests of one
/// process take turns, each starting from an empty moto.
pub fn fresh_moto() -> (MutexGuard<'static, ()>, &'static str) {
    static TURN: Mutex<()> = Mutex::new(());
    let guard = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let moto = moto();
    moto.reset().unwrap_or_else(|e| panic!("{e}"));
    // A previous test may have switched request authentication on.
    moto.set_authentication(false).unwrap_or_else(|e| panic!("{e}"));
    (guard, moto.url())
}

/// Switches moto's request authentication (signature check against its
/// IAM access keys, and IAM policy evaluation) on or off.
pub fn set_authentication(on: bool) {
    moto().set_authentication(on).unwrap_or_else(|e| panic!("{e}"));
}

/// The least-privilege policy documented in docs/AWS.md (the JSON block
/// after its heading), so the tested policy is the published one.
pub fn documented_policy() -> String {
    let docs = std::fs::read_to_string(crate_dir().join("../../docs/AWS.md")).unwrap();
    let section = &docs[docs.find("## Least-privilege IAM policy").expect("policy section")..];
    let start = section.find("```json\n").expect("a JSON block") + "```json\n".len();
    let end = start + section[start..].find("```").expect("block end");
    let policy = section[start..end].to_owned();
    serde_json::from_str::<Value>(&policy).expect("the documented policy is JSON");
    policy
}

/// A credentials file with one static profile, `name`.
pub fn credentials_for(dir: &Path, name: &str, access_key_id: &str, secret: &str) -> PathBuf {
    std::fs::write(dir.join("config"), "").unwrap();
    let path = dir.join("credentials");
    std::fs::write(&path, format!("[{name}]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n"))
        .unwrap();
    path
}

/// Seeds moto with `plan` (see the testbed's python/seed.py); returns what moto assigned.
pub fn seed(plan: &Value) -> Value {
    moto().seed(plan).unwrap_or_else(|e| panic!("{e}"))
}

/// A generated certificate: PEM, key, and its DER's SHA-256.
#[derive(Debug, Clone)]
pub struct Generated {
    pub pem: String,
    pub key: String,
    pub sha256: String,
}

/// A self-signed certificate for `names` (the first is the CN), valid
/// `days` from yesterday, with an ECDSA P-256 key when `ecdsa`, else RSA 2048.
pub fn certificate(names: &[&str], days: i64, ecdsa: bool) -> Generated {
    use sha2::Digest;
    let mut params = rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
    let key = if ecdsa { rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap() } else { rsa_key() };
    let cert = params.self_signed(&key).unwrap();
    Generated { pem: cert.pem(), key: key.serialize_pem(), sha256: hex::encode(sha2::Sha256::digest(cert.der())) }
}

/// moto's ACM reads the key type from the certificate; ring cannot generate
/// RSA keys, so the RSA key comes from the venv's `cryptography`.
fn rsa_key() -> rcgen::KeyPair {
    let output = certinspect_test_support::run_ok(Command::new(python()).args([
        "-c",
        "from cryptography.hazmat.primitives.asymmetric import rsa; from cryptography.hazmat.primitives import serialization as s; \
         print(rsa.generate_private_key(65537, 2048).private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode())",
    ]));
    rcgen::KeyPair::from_pem(&String::from_utf8(output.stdout).unwrap()).unwrap()
}

/// The host's services, as `inspect` builds them.
pub fn host() -> Host {
    let transport =
        HttpTransport::new(TransportConfig { timeout: Duration::from_secs(30), ..TransportConfig::default() })
            .expect("transport");
    Host::new(transport, CancelFlag::default())
}

/// A credentials file with one static profile `moto`, and an empty config
/// file next to it, in `dir`.
pub fn credentials_file(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("config"), "").unwrap();
    let path = dir.join("credentials");
    std::fs::write(&path, "[moto]\naws_access_key_id = AKIAMOTOTEST00000000\naws_secret_access_key = moto-secret\n")
        .unwrap();
    path
}

/// The plugin configuration for moto at `url`, with `extra` merged in.
pub fn config(url: &str, credentials: &Path, extra: Value) -> Value {
    let mut config = json!({
        "account": "moto",
        "endpoint": url,
        "credentials": {
            "profile": "moto",
            "credentials_file": credentials.to_string_lossy(),
            "config_file": credentials.with_file_name("config").to_string_lossy(),
            "metadata_services": false,
        },
    });
    if let (Some(all), Value::Object(extra)) = (config.as_object_mut(), extra) {
        all.extend(extra);
    }
    config
}

/// Opens the statically linked provider with `config`, validating the
/// config against its published schema first (as the CLI does).
pub fn open(config: &Value) -> Arc<OpenedSource> {
    let mut registry = PluginRegistry::new();
    registry.add_static(static_module::<AwsProvider>());
    open_from(&registry, config)
}

/// The plugin library (its cdylib package), built with a nested cargo
/// once per test process, loaded from its file.
pub fn dynamic_registry() -> PluginRegistry {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    let library = LIBRARY.get_or_init(|| {
        let plugin = certinspect_test_support::plugin(PLUGIN_NAME);
        certinspect_test_support::build_packages([plugin.package]).join(plugin.file_name())
    });
    let mut registry = PluginRegistry::new();
    registry.load_file(library);
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    registry
}

/// Opens the plugin from `registry` with `config`, validating the config
/// against the plugin's published schema first.
pub fn open_from(registry: &PluginRegistry, config: &Value) -> Arc<OpenedSource> {
    let loaded = registry.get(PLUGIN_NAME).expect("registered");
    let errors = certinspect_core::schema::validate(&loaded.info().config_schema, config);
    assert!(errors.is_empty(), "config refused by the plugin's own schema: {errors:?}");
    Arc::new(loaded.open(config, host().for_plugin(PLUGIN_NAME)).unwrap_or_else(|e| panic!("open: {e}")))
}

/// Collects the way the host does: scopes, then pages until no cursor.
pub fn collect_all(source: Arc<OpenedSource>) -> Collected {
    collect(
        &[source],
        &CollectOptions { call_timeout: Duration::from_secs(120), parallelism: 4, max_pages_per_scope: 1000 },
    )
}
