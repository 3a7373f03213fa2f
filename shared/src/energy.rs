//! The energy model: time and energy of each op on a device profile, and the totals.

use crate::device::DeviceProfile;
use crate::estimate::Estimate;
use crate::scenario::Scenario;
use crate::InputError;

pub fn estimate_scenario(
    _s: &Scenario,
    _measured: &[DeviceProfile],
) -> Result<Estimate, InputError> {
    Err(InputError::new("scenario", "estimator not built yet"))
}
