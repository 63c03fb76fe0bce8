//! Exports the `alibaba-alb` provider as a plugin library. Nothing else lives
//! here: a crate that exports cannot be linked next to another exporter, so
//! the provider itself is the ordinary library `certinspect-alibaba-alb`.

certinspect_sdk::export_plugin!(certinspect_alibaba_alb::AlibabaAlbProvider);
