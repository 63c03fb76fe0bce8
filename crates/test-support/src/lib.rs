//! Dev-only support shared by the workspace's tests and `xtask`: the one
//! list of provider plugin packages and the one builder of workspace
//! packages tests need as artifacts ([`plugins`]), the one snapshot
//! comparison ([`snapshot`]), and running a program or failing the test
//! with its output ([`command`]); with feature `alibaba`, the Alibaba plugin
//! tests' emulator worlds and host ([`alibaba`]).
//!
//! Never a dependency of product code: only dev-dependencies, test crates
//! (`tests/e2e`) and `xtask` use it.

#[cfg(feature = "alibaba")]
pub mod alibaba;
pub mod command;
pub mod plugins;
pub mod snapshot;

pub use command::{run, run_ok};
pub use plugins::{
    build_packages, inspect_binary, library_file_name, nested_cargo, plugin, target_dir, test_artifacts,
    workspace_root, PluginPackage, PLUGINS,
};
pub use snapshot::{assert_snapshot, check_snapshot};
