//! The credentials chain, one test per source: environment keys, a static
//! profile, `AWS_PROFILE` in the config file, `source_profile` + `role_arn`
//! through STS `AssumeRole` (moto), `credential_process`, web identity
//! through STS `AssumeRoleWithWebIdentity` (moto), ECS container
//! credentials and IMDSv2 (both from a loopback server speaking their
//! protocols). And: no secret in `Debug` or in any error.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use certinspect_aws::client::Endpoints;
use certinspect_aws::credentials::{CredentialsProvider, CredentialsSettings, Environment};
use certinspect_sdk::Host;

fn host() -> Host {
    support::host().for_plugin("aws")
}

/// Settings that never fall through to the metadata services unless asked.
fn settings() -> CredentialsSettings {
    let mut settings = CredentialsSettings::default();
    settings.metadata_services = false;
    settings
}

fn resolve(
    settings: CredentialsSettings,
    env: Environment,
) -> Result<(String, String, Option<String>, String), String> {
    let provider = CredentialsProvider::chain(settings, env, Endpoints::Override("http://127.0.0.1:9".into()));
    let resolved = provider.resolve(&host()).map_err(|e| e.to_string())?.expect("credentials");
    let shown = format!("{resolved:?} {provider:?}");
    let credentials = provider.get(&host()).unwrap().unwrap();
    assert!(!shown.contains(&credentials.secret_access_key), "secret in Debug: {shown}");
    if let Some(token) = &credentials.session_token {
        assert!(!shown.contains(token.as_str()), "token in Debug: {shown}");
    }
    Ok((credentials.access_key_id, credentials.secret_access_key, credentials.session_token, resolved.source))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn environment_keys_come_first_with_their_session_token() {
    let env = Environment::new(
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAENVKEY0000000000"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_SESSION_TOKEN", "env-token"),
        ],
        None,
    );
    let (id, secret, token, source) = resolve(settings(), env).unwrap();
    assert_eq!(
        (id.as_str(), secret.as_str(), token.as_deref(), source.as_str()),
        ("AKIAENVKEY0000000000", "env-secret", Some("env-token"), "environment")
    );
    let half = Environment::new(&[("AWS_ACCESS_KEY_ID", "AKIAENVKEY0000000000")], None);
    assert_eq!(resolve(settings(), half).unwrap_err(), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
}

#[test]
fn the_default_profile_of_the_home_credentials_file() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    write(
        &home.path().join(".aws"),
        "credentials",
        "[default]\naws_access_key_id = AKIAHOMEDEFAULT00000\naws_secret_access_key = home-secret\n",
    );
    let (id, _, token, source) = resolve(settings(), Environment::new(&[], Some(home.path()))).unwrap();
    assert_eq!((id.as_str(), token, source.as_str()), ("AKIAHOMEDEFAULT00000", None, "profile default"));
}

#[test]
fn aws_profile_picks_a_profile_of_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "config", "[default]\nregion = eu-west-1\n[profile ops]\naws_access_key_id = AKIACONFIGOPS0000000\naws_secret_access_key = ops-secret\n");
    let env = Environment::new(&[("AWS_PROFILE", "ops"), ("AWS_CONFIG_FILE", config.to_str().unwrap())], None);
    let (id, _, _, source) = resolve(settings(), env).unwrap();
    assert_eq!((id.as_str(), source.as_str()), ("AKIACONFIGOPS0000000", "profile ops"));
    let env = Environment::new(&[("AWS_PROFILE", "missing"), ("AWS_CONFIG_FILE", config.to_str().unwrap())], None);
    assert_eq!(
        resolve(settings(), env).unwrap_err(),
        "profile missing is in neither the AWS credentials file nor the config file"
    );
}

#[test]
fn a_role_profile_assumes_its_role_through_sts_with_the_source_profiles_keys() {
    let (_turn, url) = support::fresh_moto();
    let dir = tempfile::tempdir().unwrap();
    let credentials = write(
        dir.path(),
        "credentials",
        "[base]\naws_access_key_id = AKIABASEPROFILE00000\naws_secret_access_key = base-secret\n",
    );
    let config = write(
        dir.path(),
        "config",
        "[profile reader]\nrole_arn = arn:aws:iam::123456789012:role/certinspect-reader\nsource_profile = base\nrole_session_name = certinspect-test\nregion = us-east-1\n",
    );
    let mut settings = settings();
    settings.profile = Some("reader".into());
    settings.credentials_file = Some(credentials);
    settings.config_file = Some(config);
    settings.sts_endpoint = Some(url.to_owned());
    let (id, _, token, source) = resolve(settings, Environment::new(&[], None)).unwrap();
    assert!(id.starts_with("ASIA"), "temporary keys from STS, got {id}");
    assert!(token.is_some_and(|t| !t.is_empty()));
    assert_eq!(source, "assume-role via profile reader");
}

#[test]
fn web_identity_from_the_environment_goes_through_sts_unsigned() {
    let (_turn, url) = support::fresh_moto();
    let dir = tempfile::tempdir().unwrap();
    let token_file =
        write(dir.path(), "token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln\n");
    let env = Environment::new(
        &[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/eks-certinspect"),
            ("AWS_ROLE_SESSION_NAME", "pod-1"),
        ],
        None,
    );
    let mut settings = settings();
    settings.sts_endpoint = Some(url.to_owned());
    let (id, _, token, source) = resolve(settings, env).unwrap();
    assert!(id.starts_with("ASIA"), "{id}");
    assert!(token.is_some());
    assert_eq!(source, "environment web identity");
}

#[test]
fn credential_process_output_is_used_and_its_failures_stay_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "helper.sh",
        "#!/bin/sh\nif [ \"$1\" = fail ]; then echo 'leaked-secret-on-stderr' >&2; exit 3; fi\necho '{\"Version\": 1, \"AccessKeyId\": \"ASIAPROCESS000000000\", \"SecretAccessKey\": \"process-secret\", \"SessionToken\": \"process-token\", \"Expiration\": \"2999-01-01T00:00:00Z\"}'\n",
    );
    let config = write(
        dir.path(),
        "config",
        &format!(
            "[profile tool]\ncredential_process = sh '{0}' ok\n[profile broken]\ncredential_process = sh '{0}' fail\n",
            script.display()
        ),
    );
    let mut settings = settings();
    settings.config_file = Some(config.clone());
    settings.credentials_file = Some(dir.path().join("none"));
    std::fs::write(dir.path().join("none"), "").unwrap();
    settings.profile = Some("tool".into());
    let (id, secret, token, source) = resolve(settings.clone(), Environment::new(&[], None)).unwrap();
    assert_eq!(
        (id.as_str(), secret.as_str(), token.as_deref()),
        ("ASIAPROCESS000000000", "process-secret", Some("process-token"))
    );
    assert_eq!(source, "credential_process of profile tool");
    settings.profile = Some("broken".into());
    let error = resolve(settings, Environment::new(&[], None)).unwrap_err();
    assert_eq!(error, "profile broken: credential_process: sh exited with exit status: 3");
    assert!(!error.contains("leaked-secret"));
}

/// A loopback server answering each request with `answer(method, path, headers)`, counting requests.
fn serve(
    answer: impl Fn(&str, &str, &[(String, String)]) -> (u16, String) + Send + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        // Bounded: the tests need a handful of requests.
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
            let mut headers = Vec::new();
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                    if name == "content-length" {
                        length = value.parse().unwrap_or(0);
                    }
                    headers.push((name, value));
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push(format!("{method} {path}"));
            let (status, text) = answer(&method, &path, &headers);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, seen)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

const ROLE_ANSWER: &str = r#"{"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAMETADATA00000000", "SecretAccessKey": "metadata-secret", "Token": "metadata-token", "Expiration": "2999-01-01T00:00:00Z"}"#;

#[test]
fn ecs_container_credentials_with_the_authorization_token() {
    let (url, seen) = serve(|method, path, headers| match (method, path, header(headers, "authorization")) {
        ("GET", "/v2/credentials/task-role", Some("ecs-auth-token")) => (200, ROLE_ANSWER.into()),
        _ => (401, "{}".into()),
    });
    let env = Environment::new(
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &format!("{url}/v2/credentials/task-role")),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-token"),
        ],
        None,
    );
    let mut settings = settings();
    settings.metadata_services = true;
    let (id, _, token, source) = resolve(settings.clone(), env).unwrap();
    assert_eq!(
        (id.as_str(), token.as_deref(), source.as_str()),
        ("ASIAMETADATA00000000", Some("metadata-token"), "container credentials")
    );
    // A relative URI goes to the (overridden) ECS host.
    settings.ecs_endpoint = Some(url.clone());
    let env = Environment::new(
        &[
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task-role"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-token"),
        ],
        None,
    );
    resolve(settings, env).unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[test]
fn imdsv2_takes_a_session_token_then_reads_the_instance_role() {
    let (url, seen) = serve(|method, path, headers| {
        let token = header(headers, "x-aws-ec2-metadata-token");
        match (method, path) {
            ("PUT", "/latest/api/token") if header(headers, "x-aws-ec2-metadata-token-ttl-seconds").is_some() => {
                (200, "imds-session".into())
            }
            (_, _) if token != Some("imds-session") => (401, String::new()),
            ("GET", "/latest/meta-data/iam/security-credentials/") => (200, "web-server-role\n".into()),
            ("GET", "/latest/meta-data/iam/security-credentials/web-server-role") => (200, ROLE_ANSWER.into()),
            _ => (404, String::new()),
        }
    });
    let mut settings = settings();
    settings.metadata_services = true;
    settings.imds_endpoint = Some(url);
    let (id, secret, _, source) = resolve(settings, Environment::new(&[], None)).unwrap();
    assert_eq!(
        (id.as_str(), secret.as_str(), source.as_str()),
        ("ASIAMETADATA00000000", "metadata-secret", "instance role web-server-role")
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
            "GET /latest/meta-data/iam/security-credentials/web-server-role"
        ]
    );
}

#[test]
fn nothing_configured_and_no_metadata_services_is_a_clear_error() {
    let error = resolve(settings(), Environment::new(&[], None)).unwrap_err();
    assert!(error.starts_with("no AWS credentials found: set AWS_ACCESS_KEY_ID"), "{error}");
}

#[test]
fn a_named_profile_wins_over_environment_keys_which_win_over_aws_profile() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "credentials",
        "[named]\naws_access_key_id = AKIANAMEDPROFILE0000\naws_secret_access_key = named-secret\n",
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAENVKEY0000000000"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_PROFILE", "named"),
        ("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap()),
    ];
    let (_, _, _, source) = resolve(settings(), Environment::new(&env, None)).unwrap();
    assert_eq!(source, "environment");
    let mut named = settings();
    named.profile = Some("named".into());
    named.credentials_file = Some(file.clone());
    named.config_file = Some(write(dir.path(), "config", ""));
    let (id, _, _, source) = resolve(named, Environment::new(&env, None)).unwrap();
    assert_eq!((id.as_str(), source.as_str()), ("AKIANAMEDPROFILE0000", "profile named"));
}

#[test]
fn a_source_profile_loop_is_refused_before_any_sts_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "config",
        "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n",
    );
    let mut settings = settings();
    settings.profile = Some("a".into());
    settings.config_file = Some(config);
    settings.credentials_file = Some(write(dir.path(), "credentials", ""));
    let error = resolve(settings, Environment::new(&[], None)).unwrap_err();
    assert!(error.contains("source_profile chain longer than 5 (a loop?)"), "{error}");
}

#[test]
fn temporary_credentials_are_reused_until_close_to_expiry_then_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    let soon = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let soon = soon.format(&time::format_description::well_known::Rfc3339).unwrap();
    let script = write(
        dir.path(),
        "helper.sh",
        &format!(
            "#!/bin/sh\necho run >> '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"ASIAREFRESH000000000\", \"SecretAccessKey\": \"s\", \"SessionToken\": \"t\", \"Expiration\": \"'\"$1\"'\"}}'\n",
            counter.display()
        ),
    );
    let config = write(
        dir.path(),
        "config",
        &format!(
            "[profile later]\ncredential_process = sh '{0}' 2999-01-01T00:00:00Z\n[profile soon]\ncredential_process = sh '{0}' {soon}\n",
            script.display()
        ),
    );
    let runs = |profile: &str| {
        let _ = std::fs::remove_file(&counter);
        let mut settings = settings();
        settings.profile = Some(profile.into());
        settings.config_file = Some(config.clone());
        settings.credentials_file = Some(write(dir.path(), "credentials", ""));
        let provider = CredentialsProvider::chain(
            settings,
            Environment::new(&[], None),
            Endpoints::Override("http://127.0.0.1:9".into()),
        );
        for _ in 0..3 {
            provider.get(&host()).unwrap().unwrap();
        }
        std::fs::read_to_string(&counter).unwrap().lines().count()
    };
    assert_eq!(runs("later"), 1, "credentials valid for long are cached");
    assert_eq!(runs("soon"), 3, "credentials expiring within five minutes are fetched again");
}
