//! The credential chain over a hand-built environment (never the real one),
//! temporary credentials from the emulator's STS and ECS metadata service,
//! caching and refresh, and secrets kept out of every printable form.

mod common;

use alibaba_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use alibaba_openapi::credentials::{default_chain, CredentialSource};
use alibaba_openapi::{
    actions, Client, ClientConfig, CredentialEndpoints, CredentialEnv, CredentialError, CredentialsProvider,
    SignatureVersion,
};
use certinspect_protocol::{HostServices, HttpRequest, HttpResponse, LogLevel, TransportError};
use common::fixtures::{self, ACCOUNT_ID, KEY_ID, ROLE, SECRET};
use common::LoopbackHost;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const CLI_KEY_ID: &str = "LTAI5tCliProfileKey0042";
const CLI_SECRET: &str = "CliSecret/with+special=chars";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn no_network() -> CredentialEndpoints {
    CredentialEndpoints {
        sts_endpoint: Some("http://127.0.0.1:9".into()),
        metadata_endpoint: "http://127.0.0.1:9".into(),
        timeout_ms: 1_000,
    }
}

fn static_key(source: &CredentialSource) -> (String, Option<String>, String) {
    match source {
        CredentialSource::Static { credentials, origin } => {
            (credentials.access_key_id().to_string(), credentials.security_token().map(str::to_string), origin.clone())
        }
        other => panic!("expected static credentials, got {other:?}"),
    }
}

fn cli_config(profiles: &str, current: &str) -> String {
    format!(r#"{{"current": "{current}", "profiles": [{profiles}], "meta_path": ""}}"#)
}

fn ak_profile(name: &str, id: &str, secret: &str) -> String {
    format!(
        r#"{{"name": "{name}", "mode": "AK", "access_key_id": "{id}", "access_key_secret": "{secret}", "region_id": "cn-hangzhou"}}"#
    )
}

#[test]
fn environment_comes_first_and_carries_the_sts_token() {
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join(".aliyun/config.json"),
        &cli_config(&ak_profile("default", CLI_KEY_ID, CLI_SECRET), "default"),
    );
    let env = CredentialEnv::default()
        .with_home(home.path())
        .with_var("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .with_var("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .with_var("ALIBABA_CLOUD_SECURITY_TOKEN", "CAIS+token");
    let plan = default_chain(&env, &no_network()).unwrap();
    let (id, token, origin) = static_key(&plan.candidates[0]);
    assert_eq!((id.as_str(), token.as_deref(), origin.as_str()), (KEY_ID, Some("CAIS+token"), "environment"));
    // The CLI profile is still planned, after the environment.
    assert_eq!(static_key(&plan.candidates[1]).0, CLI_KEY_ID);
}

#[test]
fn a_half_set_environment_is_skipped_with_a_reason() {
    let env = CredentialEnv::default().with_var("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID);
    let plan = default_chain(&env, &no_network()).unwrap();
    assert!(plan.skipped.iter().any(|s| s.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET is empty")), "{:?}", plan.skipped);
}

#[test]
fn cli_profile_follows_alibaba_cloud_profile_then_current() {
    let home = tempfile::tempdir().unwrap();
    let profiles = [
        ak_profile("default", "LTAI5tDefaultProfile01", "s1"),
        ak_profile("prod", CLI_KEY_ID, CLI_SECRET),
        r#"{"name": "sts", "mode": "StsToken", "access_key_id": "STS.key0001", "access_key_secret": "s3", "sts_token": "CAIS/sts"}"#.to_string(),
    ]
    .join(",");
    write(&home.path().join(".aliyun/config.json"), &cli_config(&profiles, "prod"));
    let env = CredentialEnv::default().with_home(home.path());

    let by_current = default_chain(&env, &no_network()).unwrap();
    assert_eq!(static_key(&by_current.candidates[0]).0, CLI_KEY_ID);

    let by_env = default_chain(&env.clone().with_var("ALIBABA_CLOUD_PROFILE", "sts"), &no_network()).unwrap();
    let (id, token, origin) = static_key(&by_env.candidates[0]);
    assert_eq!((id.as_str(), token.as_deref()), ("STS.key0001", Some("CAIS/sts")));
    assert!(origin.contains("config.json") && origin.contains("\"sts\""), "{origin}");

    let missing = default_chain(&env.clone().with_var("ALIBABA_CLOUD_PROFILE", "nope"), &no_network()).unwrap();
    assert!(missing.skipped.iter().any(|s| s.contains("profile \"nope\" not found")), "{:?}", missing.skipped);
}

#[test]
fn unsupported_cli_modes_are_skipped_and_the_cli_file_can_be_disabled() {
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join(".aliyun/config.json"),
        &cli_config(r#"{"name": "default", "mode": "CloudSSO"}"#, "default"),
    );
    write(
        &home.path().join(".alibabacloud/credentials.ini"),
        "[default]\ntype = access_key\naccess_key_id = LTAI5tIniDefaultKey01\naccess_key_secret = ini-secret\n",
    );
    let env = CredentialEnv::default().with_home(home.path()).with_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    let plan = default_chain(&env, &no_network()).unwrap();
    assert!(plan.skipped.iter().any(|s| s.contains("CloudSSO")), "{:?}", plan.skipped);
    assert_eq!(plan.candidates.len(), 1);
    assert_eq!(static_key(&plan.candidates[0]).0, "LTAI5tIniDefaultKey01");

    let disabled = default_chain(&env.with_var("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true"), &no_network()).unwrap();
    assert!(disabled.skipped.iter().any(|s| s.contains("disabled by ALIBABA_CLOUD_CLI_PROFILE_DISABLED")));
    assert_eq!(static_key(&disabled.candidates[0]).0, "LTAI5tIniDefaultKey01");
}

#[test]
fn ini_file_override_and_profile_section() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("creds.ini");
    write(
        &ini,
        "[default]\ntype = access_key\naccess_key_id = LTAI5tIniDefaultKey01\naccess_key_secret = a\n\
         [client1]\nenable = true\ntype = access_key\naccess_key_id = LTAI5tIniClient1Key01\naccess_key_secret = b\n\
         [role]\ntype = ram_role_arn\naccess_key_id = LTAI5tIniRoleKey00001\naccess_key_secret = c\n\
         role_arn = acs:ram::1:role/r\nrole_session_name = sess\n",
    );
    let env = CredentialEnv::default()
        .with_var("ALIBABA_CLOUD_CREDENTIALS_FILE", ini.to_str().unwrap())
        .with_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    let plan = default_chain(&env.clone().with_var("ALIBABA_CLOUD_PROFILE", "client1"), &no_network()).unwrap();
    assert_eq!(static_key(&plan.candidates[0]).0, "LTAI5tIniClient1Key01");

    let role = default_chain(&env.clone().with_var("ALIBABA_CLOUD_PROFILE", "role"), &no_network()).unwrap();
    match &role.candidates[0] {
        CredentialSource::RamRoleArn { role_arn, session_name, sts_endpoint, .. } => {
            assert_eq!((role_arn.as_str(), session_name.as_str()), ("acs:ram::1:role/r", "sess"));
            assert_eq!(sts_endpoint, "http://127.0.0.1:9");
        }
        other => panic!("{other:?}"),
    }

    // An explicitly named file that does not exist is reported, not ignored.
    let gone = CredentialEnv::default()
        .with_var("ALIBABA_CLOUD_CREDENTIALS_FILE", dir.path().join("missing.ini").to_str().unwrap())
        .with_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    let plan = default_chain(&gone, &no_network()).unwrap();
    assert!(plan.candidates.is_empty());
    assert!(plan.skipped.iter().any(|s| s.contains("missing.ini")), "{:?}", plan.skipped);
}

#[test]
fn oidc_configuration_is_refused_rather_than_silently_replaced() {
    let env = CredentialEnv::default()
        .with_var("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/tmp/token")
        .with_var("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r")
        .with_var("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1:oidc-provider/p");
    assert!(matches!(default_chain(&env, &no_network()), Err(CredentialError::Config(_))));
}

#[test]
fn nothing_configured_is_an_error_listing_each_provider_without_secrets() {
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join(".alibabacloud/credentials.ini"),
        "[default]\ntype = access_key\naccess_key_id = LTAI5tIniDefaultKey01\n",
    );
    let env = CredentialEnv::default()
        .with_home(home.path())
        .with_var("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "lonely-secret-value")
        .with_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    let provider = CredentialsProvider::default_chain(&env, &no_network()).unwrap();
    let host = LoopbackHost::new();
    let error = provider.get(&host).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, CredentialError::NotFound { .. }), "{text}");
    assert!(text.contains("environment") && text.contains("lacks access_key_secret"), "{text}");
    assert!(!text.contains("lonely-secret-value"), "{text}");
    assert!(!format!("{env:?}").contains("lonely-secret-value"));
}

fn emulator() -> EmulatorHandle {
    Emulator::start(fixtures::world(3), EmulatorConfig::default()).unwrap()
}

fn emulator_endpoints(emulator: &EmulatorHandle) -> CredentialEndpoints {
    CredentialEndpoints { sts_endpoint: Some(emulator.url()), metadata_endpoint: emulator.url(), timeout_ms: 5_000 }
}

/// The real clock shifted by an adjustable offset (to reach expiry windows).
#[derive(Default)]
struct ShiftedClockHost {
    inner: LoopbackHost,
    offset_ms: AtomicI64,
}

impl HostServices for ShiftedClockHost {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.inner.http(request)
    }
    fn log(&self, level: LogLevel, target: &str, message: &str) {
        self.inner.log(level, target, message)
    }
    fn now_unix_ms(&self) -> i64 {
        self.inner.now_unix_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
    fn is_cancelled(&self) -> bool {
        false
    }
}

fn cas_client(
    host: Arc<dyn HostServices>,
    emulator: &EmulatorHandle,
    provider: Arc<CredentialsProvider>,
    version: SignatureVersion,
) -> Client {
    let config = ClientConfig {
        endpoint_override: Some(emulator.url()),
        region_id: Some("cn-hangzhou".into()),
        signature_version: version,
        ..ClientConfig::default()
    };
    Client::new(host, provider, config)
}

fn list_three(client: &Client) {
    let answer = client
        .call(&actions::CAS_LIST_USER_CERTIFICATE_ORDER, &[("OrderType".into(), "CERT".into())])
        .unwrap_or_else(|e| panic!("call with temporary credentials failed: {e}"));
    assert_eq!(answer["TotalCount"], 3);
}

#[test]
fn ram_role_arn_profile_assumes_the_role_caches_and_refreshes_before_expiry() {
    let emulator = emulator();
    let home = tempfile::tempdir().unwrap();
    let profile = format!(
        r#"{{"name": "default", "mode": "RamRoleArn", "access_key_id": "{KEY_ID}", "access_key_secret": "{SECRET}",
            "ram_role_arn": "acs:ram::{ACCOUNT_ID}:role/{ROLE}", "ram_session_name": "certinspect-test", "expired_seconds": 900}}"#
    );
    write(&home.path().join(".aliyun/config.json"), &cli_config(&profile, "default"));
    let env = CredentialEnv::default().with_home(home.path()).with_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    let provider = Arc::new(CredentialsProvider::default_chain(&env, &emulator_endpoints(&emulator)).unwrap());
    let host = Arc::new(ShiftedClockHost::default());

    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        list_three(&cas_client(host.clone(), &emulator, provider.clone(), version));
    }
    assert_eq!(emulator.stats().ok("AssumeRole"), 1, "the STS credentials are cached");
    let first = provider.get(host.as_ref()).unwrap();
    assert!(first.access_key_id().starts_with("STS."), "{first:?}");
    assert!(first.security_token().is_some());

    // 13 minutes later the 15-minute credentials are inside the refresh
    // margin (and the shifted timestamps still inside the 15-minute window).
    host.offset_ms.store(13 * 60 * 1000, Ordering::SeqCst);
    list_three(&cas_client(host.clone(), &emulator, provider.clone(), SignatureVersion::V3));
    assert_eq!(emulator.stats().ok("AssumeRole"), 2, "refreshed before Expiration");
    assert_ne!(provider.get(host.as_ref()).unwrap().access_key_id(), first.access_key_id());

    let printed = format!("{provider:?} {first:?}");
    assert!(!printed.contains(SECRET) && !printed.contains(first.access_key_secret()), "{printed}");
    assert!(!printed.contains(first.security_token().unwrap()), "{printed}");
    let logs = host.inner.all_logs();
    assert!(!logs.contains(SECRET) && !logs.contains(KEY_ID) && !logs.contains(first.access_key_secret()), "{logs}");
}

#[test]
fn a_missing_role_is_a_clear_non_retried_error() {
    let emulator = emulator();
    let home = tempfile::tempdir().unwrap();
    let profile = format!(
        r#"{{"name": "default", "mode": "RamRoleArn", "access_key_id": "{KEY_ID}", "access_key_secret": "{SECRET}",
            "ram_role_arn": "acs:ram::{ACCOUNT_ID}:role/nobody", "ram_session_name": "certinspect-test"}}"#
    );
    write(&home.path().join(".aliyun/config.json"), &cli_config(&profile, "default"));
    let env = CredentialEnv::default().with_home(home.path()).with_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    let provider = Arc::new(CredentialsProvider::default_chain(&env, &emulator_endpoints(&emulator)).unwrap());
    let host = Arc::new(LoopbackHost::new());
    let client = cas_client(host.clone(), &emulator, provider, SignatureVersion::V3);
    let error = client.call(&actions::CAS_LIST_USER_CERTIFICATE_ORDER, &[]).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("EntityNotExist.Role"), "{text}");
    assert!(!text.contains(KEY_ID) && !text.contains(SECRET), "{text}");
    assert_eq!(emulator.stats().requests("AssumeRole"), 1, "not retried");
    assert_eq!(emulator.stats().requests("ListUserCertificateOrder"), 0);
}

#[test]
fn ecs_ram_role_comes_from_the_metadata_service_with_imdsv2() {
    let emulator = emulator();
    let home = tempfile::tempdir().unwrap();
    // Nothing else configured: the chain ends at the ECS metadata service,
    // which names the role itself.
    let env = CredentialEnv::default().with_home(home.path());
    let provider = Arc::new(CredentialsProvider::default_chain(&env, &emulator_endpoints(&emulator)).unwrap());
    assert_eq!(provider.plan().candidates.len(), 1);
    let host = Arc::new(LoopbackHost::new());
    list_three(&cas_client(host.clone(), &emulator, provider.clone(), SignatureVersion::V3));
    list_three(&cas_client(host.clone(), &emulator, provider.clone(), SignatureVersion::V1));
    let credentials = provider.get(host.as_ref()).unwrap();
    assert!(credentials.access_key_id().starts_with("STS.") && credentials.expiration_unix_ms().is_some());
    // Token, role listing and role credentials: three metadata requests, once.
    assert_eq!(host.request_count(), 3 + 2);
}

#[test]
fn an_unreachable_metadata_service_fails_fast_without_an_imdsv1_retry() {
    // Port 9 on loopback: nothing listens, the connection is refused.
    let home = tempfile::tempdir().unwrap();
    let provider =
        CredentialsProvider::default_chain(&CredentialEnv::default().with_home(home.path()), &no_network()).unwrap();
    let host = LoopbackHost::new();
    let error = provider.get(&host).unwrap_err();
    assert!(error.to_string().contains("ECS metadata"), "{error}");
    assert_eq!(host.request_count(), 1, "no IMDSv1 fallback when the service does not answer");
}
