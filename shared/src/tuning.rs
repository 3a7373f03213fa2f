//! The fitted global constants of the energy model (docs/energy-model.md,
//! "Fitted constants"). They sit at the bottom of the core because the step
//! model and the datasheet profiles of the catalog both read them. The fitter
//! (`validate::fit`) finds them on the reference cases and reports the
//! leave-one-out error; a test checks these values are what it finds.

/// The fitted constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Host time to launch one kernel from Python in eager PyTorch / HF code, us
    /// (PyTorch's performance guides quote 10-20 us per op).
    pub eager_python_us: f64,
    /// Power above idle while the SMs run a full-occupancy kernel, beyond the
    /// energy of its FLOPs and bytes, as a fraction of the power limit; used
    /// where a calibration does not measure it.
    pub active_floor_fraction: f64,
    /// Achieved bandwidth of a model's element-wise kernels (norms, activations,
    /// casts, reductions) relative to the calibration's large streaming kernel.
    pub elementwise_bw_fraction: f64,
}

/// Priors: the values before fitting, used in leave-one-out where the left-out
/// case is the only one that informs a constant.
pub const PRIOR: Tuning = Tuning {
    eager_python_us: 10.0,
    active_floor_fraction: 0.25,
    elementwise_bw_fraction: 0.9,
};

pub const TUNING: Tuning = Tuning {
    eager_python_us: 18.2,
    active_floor_fraction: 0.289,
    elementwise_bw_fraction: 0.56,
};
