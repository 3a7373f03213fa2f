//! The chooser's strategy for a scenario's first stage, for the tests that
//! check which strategy a device count gets.

use shared::device::DeviceProfile;
use shared::model::Architecture;
use shared::scenario::{HostCosts, Scenario};
use shared::schedule::{choose, StageStep};

/// The strategy the chooser takes for the first stage on `count` devices.
pub fn chosen(sc: &Scenario, arch: &Architecture, dev: &DeviceProfile, count: u64) -> StageStep {
    choose(
        arch,
        &sc.stages[0].workload,
        sc.software,
        "stages[0]",
        count,
        dev,
        &HostCosts::default(),
    )
    .unwrap()
}
