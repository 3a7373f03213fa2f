//! The hardware seams of the calibration runner: a power meter shaped like a
//! measurement-window API and a kernel runner. Real implementations talk to
//! NVML and CUDA; the fakes in [`super::fake`] simulate a device from a profile.

use shared::units::{Joules, MathMode, Seconds};

/// Why the meter could not measure.
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("NVIDIA driver / NVML not available: {0}")]
    Unavailable(String),
    #[error("NVML: {0}")]
    Nvml(String),
    #[error("window of {got:.3} s is shorter than the {min:.3} s this counter needs (update period {period:.3} s)")]
    WindowTooShort { got: f64, min: f64, period: f64 },
    #[error("the energy counter did not advance within {0:.3} s")]
    CounterStuck(f64),
}

/// Why the runner could not run a kernel.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("CUDA not available: {0}")]
    Unavailable(String),
    #[error("CUDA: {0}")]
    Cuda(String),
    #[error("kernel not supported on this device: {0}")]
    Unsupported(String),
}

/// Static facts about the device, read once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceInfo {
    pub index: u32,
    pub name: String,
    pub uuid: Option<String>,
    pub driver: Option<String>,
    /// Enforced power limit, milliwatts (the record's unit).
    pub power_limit_mw: u64,
    pub max_sm_clock_mhz: Option<u32>,
    pub max_mem_clock_mhz: Option<u32>,
    /// Device memory, MiB.
    pub memory_mib: Option<u64>,
}

shared::named_enum! {
    /// Where the joules come from (the record's `energy_source`).
    pub enum EnergySource {
        /// NVML's total-energy counter (Volta and later).
        Counter = "counter",
        /// Power samples integrated by the runner (GPUs without the counter).
        SampledPower = "sampled_power",
    }
}

/// Conditions at one moment: what may invalidate a measurement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub temperature_c: Option<f64>,
    pub sm_clock_mhz: Option<u32>,
    /// Names of the active throttle (clock event) reasons, e.g. `sw_power_cap`.
    pub throttle_reasons: Vec<String>,
}

/// One reading of the background sampling during a loop.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// Meter clock, s.
    pub t_s: f64,
    pub sm_clock_mhz: Option<u32>,
    /// Power as NVML reports it, W (on recent GPUs a short running average).
    pub power_w: Option<f64>,
    pub temperature_c: Option<f64>,
    pub throttle_reasons: Vec<String>,
}

/// Throttle reasons that make a loop's numbers untrustworthy.
pub const BAD_THROTTLE: &[&str] = &[
    "hw_slowdown",
    "sw_thermal_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
];

/// An open measurement window: the counter as read on an update edge.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a window must be closed with PowerMeter::end"]
pub struct Window {
    pub(crate) start_energy: Joules,
    /// Meter clock at the edge that opened the window.
    pub(crate) start_s: f64,
}

/// What a closed window measured. The window runs from one counter update
/// edge to another: `energy` covers exactly `window`; `active` is the part
/// before `end` was called (the caller's work), the rest (`window - active`)
/// is the wait for the closing edge, during which the device was idle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowMeasurement {
    pub energy: Joules,
    pub window: Seconds,
    pub active: Seconds,
}

impl WindowMeasurement {
    /// Energy of the `busy` part of the window (the device-timed loop): the
    /// rest of the window (launch gap, wait for the closing edge) is charged
    /// at `idle_w`.
    pub fn energy_of(&self, busy: Seconds, idle_w: f64) -> Joules {
        let rest = (self.window.0 - busy.0).max(0.0);
        Joules((self.energy.0 - idle_w * rest).max(0.0))
    }
}

/// A GPU energy meter with a measurement-window API.
///
/// Call [`PowerMeter::begin`] after synchronising the device, run the work,
/// synchronise again, then [`PowerMeter::end`]. Both calls wait for an update
/// edge of the counter, so the counter's granularity does not bias the window;
/// `end` refuses a window shorter than [`PowerMeter::min_window`].
pub trait PowerMeter {
    fn device(&self) -> &DeviceInfo;
    fn energy_source(&self) -> EnergySource;
    /// How often the counter advances, as measured when the meter was opened.
    fn update_period(&self) -> Seconds;
    /// The shortest window `end` accepts: [`MIN_PERIODS_PER_WINDOW`] update periods.
    fn min_window(&self) -> Seconds {
        Seconds(self.update_period().0 * MIN_PERIODS_PER_WINDOW)
    }
    fn begin(&mut self) -> Result<Window, MeterError>;
    fn end(&mut self, w: Window) -> Result<WindowMeasurement, MeterError>;
    fn snapshot(&mut self) -> Result<Snapshot, MeterError>;
    /// Compute processes on the device other than this one (see [`super::procs`]).
    fn other_processes(&mut self) -> Result<Vec<u32>, MeterError>;
    /// Find this process in NVML's list, once our CUDA context exists; says how
    /// it was found (see [`super::procs`]).
    fn identify_own_process(&mut self) -> Result<String, MeterError>;
    /// Start sampling clocks, power, temperature and throttle reasons every
    /// [`PowerMeter::sample_period`] until [`PowerMeter::stop_sampling`].
    fn start_sampling(&mut self) -> Result<(), MeterError>;
    /// Stop sampling; the samples since `start_sampling`.
    fn stop_sampling(&mut self) -> Vec<Sample>;
    fn sample_period(&self) -> Seconds;
}

/// A window must span at least this many counter updates.
pub const MIN_PERIODS_PER_WINDOW: f64 = 10.0;

/// One kernel of the suite, repeated `steps` times in a timed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// C = A * B with A m x k, B k x n, inputs random normal.
    Gemm {
        math: MathMode,
        m: u64,
        n: u64,
        k: u64,
    },
    /// Attention on the math path, bf16 (what PyTorch runs without a fused
    /// kernel): forward = batched Q K^T, a row softmax, batched P V; backward =
    /// dV = P^T dO, dP = dO V^T, the softmax gradient, dQ = dS K, dK = dS^T Q.
    Attention {
        batch_heads: u64,
        seq: u64,
        head_dim: u64,
        backward: bool,
    },
    /// Device-to-device copy of `bytes` bytes.
    Copy { bytes: u64 },
    /// out = a * b + c over `elements` bf16 elements per tensor (the
    /// reference's element-wise loop), swept `passes` times per launch.
    Fma { elements: u64, passes: u64 },
    /// One step = one CUDA-graph replay of `kernels` empty kernels: the device
    /// runs them back to back, so this times the device, not the host.
    LaunchGraph { kernels: u64 },
    /// One empty kernel per step, launched by the host: the host's launch rate.
    LaunchStream,
    /// A kernel that spins on the SM clock for [`SPIN_CYCLES`] cycles on `sms`
    /// SMs with `threads_per_sm` threads each: SMs busy, no FLOPs, no bytes.
    Spin { sms: u32, threads_per_sm: u32 },
}

/// SM cycles one spin step lasts (about 1 ms at 2 GHz).
pub const SPIN_CYCLES: u64 = 2_000_000;

impl Kernel {
    pub fn square(math: MathMode, n: u64) -> Self {
        Kernel::Gemm {
            math,
            m: n,
            n,
            k: n,
        }
    }
    pub fn name(&self) -> String {
        match *self {
            Kernel::Gemm { math, m, n, k } if m == n && n == k => {
                format!("gemm_{}_{n}", math.as_str())
            }
            Kernel::Gemm { math, m, n, k } => format!("gemm_{}_{m}x{n}x{k}", math.as_str()),
            Kernel::Attention {
                batch_heads,
                seq,
                head_dim,
                backward,
            } => format!(
                "attn_{}_bf16_s{seq}_d{head_dim}_b{batch_heads}",
                if backward { "bwd" } else { "fwd" }
            ),
            Kernel::Copy { bytes } => format!("copy_bf16_{}", human_bytes(bytes)),
            Kernel::Fma { elements, .. } => format!("fma_bf16_{}", human_bytes(elements * 2)),
            Kernel::LaunchGraph { kernels } => format!("launch_graph_{kernels}"),
            Kernel::LaunchStream => "launch_stream".into(),
            Kernel::Spin {
                sms,
                threads_per_sm,
            } => format!("spin_{sms}sm_{threads_per_sm}t"),
        }
    }
    pub fn dtype(&self) -> &'static str {
        match self {
            Kernel::Gemm { math, .. } => math.as_str(),
            Kernel::Attention { .. } | Kernel::Copy { .. } | Kernel::Fma { .. } => "bf16",
            _ => "fp32",
        }
    }
    /// FLOPs of one step (2 per multiply-add), as run.
    pub fn flops(&self) -> Option<f64> {
        match *self {
            Kernel::Gemm { m, n, k, .. } => Some(2.0 * m as f64 * n as f64 * k as f64),
            Kernel::Attention {
                batch_heads,
                seq,
                head_dim,
                backward,
            } => {
                // Two S x S x D products forward, four backward.
                let products = if backward { 4.0 } else { 2.0 };
                Some(products * 2.0 * batch_heads as f64 * (seq * seq * head_dim) as f64)
            }
            Kernel::Fma { elements, passes } => Some(2.0 * (elements * passes) as f64),
            _ => None,
        }
    }
    /// Bytes read plus written by one step (memory kernels only), counted as
    /// the reference counts them: a copy reads and writes its buffer, the
    /// multiply-add reads three tensors and writes one.
    pub fn bytes(&self) -> Option<f64> {
        match *self {
            Kernel::Copy { bytes } => Some(2.0 * bytes as f64),
            Kernel::Fma { elements, passes } => Some(8.0 * (elements * passes) as f64),
            _ => None,
        }
    }
    /// Size of each tensor of a memory kernel, bytes.
    pub fn tensor_bytes(&self) -> Option<u64> {
        match *self {
            Kernel::Copy { bytes } => Some(bytes),
            Kernel::Fma { elements, .. } => Some(2 * elements),
            _ => None,
        }
    }
    /// Kernels launched per step.
    pub fn kernels_per_step(&self) -> u64 {
        match *self {
            Kernel::Attention { backward, .. } => {
                if backward {
                    5
                } else {
                    3
                }
            }
            Kernel::LaunchGraph { kernels } => kernels,
            _ => 1,
        }
    }
    pub fn kind(&self) -> shared::calibration::MeasurementKind {
        use shared::calibration::MeasurementKind as K;
        match self {
            Kernel::Gemm { .. } => K::Gemm,
            Kernel::Attention { .. } => K::Attention,
            Kernel::Copy { .. } => K::Memory,
            Kernel::Fma { .. } => K::Elementwise,
            Kernel::LaunchGraph { .. } | Kernel::LaunchStream => K::Launch,
            Kernel::Spin { .. } => K::Spin,
        }
    }
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 30 && b.is_multiple_of(1 << 30) {
        format!("{}GiB", b >> 30)
    } else if b >= 1 << 20 {
        format!("{}MiB", b >> 20)
    } else {
        format!("{}KiB", b >> 10)
    }
}

/// Runs kernels on the device and times them on the device.
pub trait KernelRunner {
    /// `cuda` or `simulated`.
    fn kind(&self) -> &'static str;
    fn compute_capability(&self) -> Option<(u32, u32)>;
    fn sm_count(&self) -> Option<u32>;
    /// Threads one SM holds at once (2048 on sm_80 and sm_90).
    fn max_threads_per_sm(&self) -> Option<u32>;
    /// Whether the device and this runner can run the kernel.
    fn supports(&self, k: &Kernel) -> bool;
    /// Allocate and fill the kernel's buffers (random normal inputs).
    fn prepare(&mut self, k: &Kernel) -> Result<(), RunnerError>;
    /// Enqueue `steps` steps between two device events, wait for them, and
    /// return the device time between the events.
    fn run(&mut self, k: &Kernel, steps: u64) -> Result<Seconds, RunnerError>;
    fn synchronize(&mut self) -> Result<(), RunnerError>;
    /// Keep the context open and the device idle for `d`.
    fn idle(&mut self, d: Seconds) -> Result<(), RunnerError>;
    /// Free the buffers of the last prepared kernel.
    fn release(&mut self);
}
