//! From configuration file and flags to engine options. Flags override the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certinspect_analysis::{LegacyCn, Policy, TrustStore};
use certinspect_core::report::Detail;
use certinspect_core::trust_store::{load_trust_store, TrustBase, TrustStoreInfo};
use certinspect_core::verify::{ConnectTo, VerifyOptions};
use certinspect_probe::AddressSelection;

use crate::config::{LegacyCnSetting, TrustSetting, VerifySettings};

/// Verification flags shared by `scan` and `probe`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VerifyArgs {
    /// Route HOST:PORT to ADDRESS:PORT2 instead (like curl's --connect-to); repeatable.
    #[arg(long = "connect-to", value_name = "HOST:PORT:ADDRESS:PORT2")]
    pub connect_to: Vec<String>,
    /// Trust roots: mozilla (built in), system, or none (only --ca-file).
    #[arg(long, value_enum)]
    pub trust: Option<TrustSetting>,
    /// Trusted roots (PEM file). Given alone it is the whole trust store, as curl's --cacert; with --trust
    /// mozilla or system its roots are added to those.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Warn when fewer days remain.
    #[arg(long, value_name = "DAYS")]
    pub warn_days: Option<u32>,
    /// Critical when fewer days remain.
    #[arg(long, value_name = "DAYS")]
    pub critical_days: Option<u32>,
    /// TCP connect timeout in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<f64>,
    /// TLS handshake timeout in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub handshake_timeout: Option<f64>,
    /// Endpoints probed at once.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Connections to one IP address at once (8 by default, so one server or load balancer is not flooded;
    /// raise it for many listeners on one address).
    #[arg(long, value_name = "N")]
    pub per_address_concurrency: Option<usize>,
    /// Probe every A/AAAA address of a name, not just the first that answers.
    #[arg(long)]
    pub all_addresses: bool,
    /// Fetch nothing the certificates point at (no AIA issuer download); an
    /// unknown issuer then stays unknown and the report says it was not fetched.
    #[arg(long)]
    pub no_fetch: bool,
    /// How much of each served chain the report keeps: summary (the served leaf in brief) or full (also
    /// the whole analysis of each distinct chain, stored once in the report's `chains`).
    #[arg(long, value_enum, default_value_t = DetailChoice::Summary)]
    pub detail: DetailChoice,
    /// Evaluate expiry at this UNIX time instead of now (reproducible reports).
    #[arg(long, value_name = "UNIX_SECONDS", hide = true)]
    pub now_unix: Option<i64>,
}

/// `--detail`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DetailChoice {
    /// The served leaf in brief, verdicts, findings, revocation.
    #[default]
    Summary,
    /// Also the full analysis of every distinct served chain.
    Full,
}

/// Engine options from `[verify]` and the flags.
pub fn verify_options(file: &VerifySettings, args: &VerifyArgs) -> Result<VerifyOptions, String> {
    let mut options = VerifyOptions::default();
    options.policy = Policy {
        warn_days: args.warn_days.unwrap_or(file.warn_days),
        critical_days: args.critical_days.unwrap_or(file.critical_days),
        warn_fraction_remaining: file.warn_fraction,
    };
    let setting = trust_setting(args.trust, args.ca_file.is_some(), file.trust);
    let (trust, described) = trust_store(setting, args.ca_file.as_ref().or(file.ca_file.as_ref()))?;
    options.trust = Arc::new(trust);
    options.trust_store = described;
    options.detail = match args.detail {
        DetailChoice::Summary => Detail::Summary,
        DetailChoice::Full => Detail::Full,
    };
    options.now_unix = args.now_unix;
    options.fetch.enabled = file.fetch && !args.no_fetch;
    options.legacy_cn = match file.legacy_cn {
        LegacyCnSetting::Reject => LegacyCn::Reject,
        LegacyCnSetting::Accept => LegacyCn::Accept,
    };
    let probe = &mut options.probe;
    probe.connect_timeout = seconds(args.connect_timeout.unwrap_or(file.connect_timeout_secs), "--connect-timeout")?;
    probe.handshake_timeout =
        seconds(args.handshake_timeout.unwrap_or(file.handshake_timeout_secs), "--handshake-timeout")?;
    probe.overall_deadline = (file.deadline_secs > 0.0).then(|| Duration::from_secs_f64(file.deadline_secs));
    probe.max_concurrency = args.concurrency.unwrap_or(file.concurrency).max(1);
    probe.per_address_concurrency = args.per_address_concurrency.unwrap_or(file.per_address_concurrency).max(1);
    if args.all_addresses || file.all_addresses {
        probe.addresses = AddressSelection::All;
    }
    for route in file.connect_to.iter().chain(&args.connect_to) {
        options.connect_to.push(route.parse::<ConnectTo>()?);
    }
    Ok(options)
}

/// The trust base: `--trust` when given; else `--ca-file` on the command
/// line alone means only its roots (curl's `--cacert`); else the file's
/// `[verify] trust` (whose `ca_file` adds to it).
fn trust_setting(flag: Option<TrustSetting>, flag_ca_file: bool, file: TrustSetting) -> TrustSetting {
    match (flag, flag_ca_file) {
        (Some(setting), _) => setting,
        (None, true) => TrustSetting::None,
        (None, false) => file,
    }
}

fn seconds(value: f64, name: &str) -> Result<Duration, String> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!("{name}: expected a positive number of seconds, got {value}"))
    }
}

fn trust_store(setting: TrustSetting, ca_file: Option<&PathBuf>) -> Result<(TrustStore, TrustStoreInfo), String> {
    let base = match setting {
        TrustSetting::Mozilla => TrustBase::Mozilla,
        TrustSetting::System => TrustBase::System,
        TrustSetting::None => TrustBase::None,
    };
    let files: Vec<&Path> = ca_file.map(PathBuf::as_path).into_iter().collect();
    load_trust_store(base, &files).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_alone_is_the_whole_trust_store_and_trust_adds_to_it() {
        use TrustSetting::{Mozilla, None as Only, System};
        let cases = [
            // (--trust, --ca-file given, [verify] trust) -> base
            (None, false, Mozilla, Mozilla),
            (None, false, System, System),
            (None, true, Mozilla, Only),
            (None, true, System, Only),
            (Some(Mozilla), true, Only, Mozilla),
            (Some(System), false, Mozilla, System),
            (Some(Only), false, Mozilla, Only),
        ];
        for (flag, ca_file, file, expected) in cases {
            assert_eq!(trust_setting(flag, ca_file, file), expected, "{flag:?} {ca_file} {file:?}");
        }
    }

    #[test]
    fn concurrency_flags_override_the_file_and_zero_means_one() {
        let file = VerifySettings { concurrency: 32, per_address_concurrency: 4, ..VerifySettings::default() };
        let cases = [
            // (--concurrency, --per-address-concurrency) -> (endpoints at once, per address)
            ((None, None), (32, 4)),
            ((Some(256), Some(256)), (256, 256)),
            ((None, Some(0)), (32, 1)),
        ];
        for ((concurrency, per_address_concurrency), expected) in cases {
            let args = VerifyArgs { concurrency, per_address_concurrency, ..VerifyArgs::default() };
            let probe = verify_options(&file, &args).unwrap().probe;
            assert_eq!((probe.max_concurrency, probe.per_address_concurrency), expected, "{args:?}");
        }
    }
}
