//! Exports the `beta` test provider as a plugin library. Nothing else lives
//! here: a crate that exports cannot be linked next to another exporter.

certinspect_sdk::export_plugin!(static_provider_beta::Beta);
