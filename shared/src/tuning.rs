//! The global constants of the energy model that no microbenchmark gives
//! (docs/energy-model.md, "Fitted constants"). They sit at the bottom of the
//! core because the step model and the datasheet profiles of the catalog both
//! read them. The fitter (`validate::fit`) finds [`TUNING`] on the reference
//! cases and reports the leave-one-out error; a test checks these values are
//! what it finds. [`HOST_SCALE`] is measured apart from them.

/// The GPU host's eager PyTorch host costs relative to those measured on this
/// project's CPU (`tools/host_overhead.py`): its CPU speed and the CUDA-side
/// work a CPU run cannot show (allocator, device guards, library handles).
/// Measured, not fitted: the gpt-fast eager baseline's published host time per
/// token (25.5 tok/s on an A100 host) over its CPU time here plus the launch
/// cost (`tools/gptfast_host.py`, shared/data/host-gptfast.json).
pub const HOST_SCALE: f64 = 2.105;

/// The fitted constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Power above idle while the SMs run a full-occupancy kernel, beyond the
    /// energy of its FLOPs and bytes, as a fraction of the power limit; used
    /// where a calibration does not measure it.
    pub active_floor_fraction: f64,
    /// Achieved bandwidth of a model's element-wise kernels (norms, activations,
    /// casts, reductions) relative to the calibration's large streaming kernel
    /// on the reference H100. Eager PyTorch's carry to other devices per SM
    /// ([`REFERENCE_STREAM_GBS_PER_SM`]); fused ones as this fraction of the
    /// device's streaming bandwidth (`step::elementwise_gbs`).
    pub elementwise_bw_fraction: f64,
}

/// The reference H100 SXM's streaming rate per SM, GB/s: its calibration's
/// large bf16 element-wise kernel (`fma_bf16_2GiB`: 3124.81 GB/s, the `mem_gbs`
/// of shared/data/h100-sxm-profile.json) over its 132 SMs.
pub const REFERENCE_STREAM_GBS_PER_SM: f64 = 3124.8137248956664 / 132.0;

/// Priors: the values before fitting, used in leave-one-out where the left-out
/// case is the only one that informs a constant.
pub const PRIOR: Tuning = Tuning {
    active_floor_fraction: 0.25,
    elementwise_bw_fraction: 0.9,
};

pub const TUNING: Tuning = Tuning {
    active_floor_fraction: 0.290,
    elementwise_bw_fraction: 0.565,
};

/// Share of a multi-node training campaign's device time spent in productive
/// steps; the rest (failures and restarts, checkpoint writes, evaluation,
/// stalls) lengthens the campaign at idle-plus-floor power. Not fitted: the
/// goodput large runs report ([`GOODPUT_PRIOR`]). `validate::fit::fit_goodput`
/// reports what the public pre-training runs would fit (`--example fit`): about
/// 0.68, below every goodput large runs report, so what it would absorb is
/// slower steps than a tuned Megatron's, not lost time; it stays cited. A stage's `goodput`
/// overrides it.
pub const CAMPAIGN_GOODPUT: f64 = GOODPUT_PRIOR;

/// Goodput reported by large runs themselves: Llama 3 (Dubey et al. 2024,
/// "The Llama 3 Herd of Models", section 3.3.4) "higher than 90% effective
/// training time" on up to 16k H100s; MegaScale (Jiang et al., NSDI 2024)
/// reports an effective training time rate over 90% on 10k+ GPUs.
pub const GOODPUT_PRIOR: f64 = 0.9;
