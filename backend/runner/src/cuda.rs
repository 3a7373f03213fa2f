//! The CUDA kernel runner: cuBLAS GEMMs (`cublasGemmEx`, cuBLASLt for fp8,
//! strided batched for attention), a device-to-device copy, and the kernels
//! of [`super::ptx`] (bf16 multiply-add, softmax and its gradient, spin, empty
//! kernel; JIT-compiled by the driver), timed with CUDA events. Everything
//! runs on one stream of our own (a CUDA graph cannot be captured on the
//! legacy default stream). CUDA is loaded at run time
//! (cudarc's `dynamic-loading`): the project builds and tests without it, and
//! [`CudaRunner::open`] checks that the libraries exist before any call that
//! would otherwise panic.
//!
//! This is the one module of the crate that needs `unsafe`: cuBLAS calls and
//! kernel launches are FFI on raw device pointers. Each block says why the
//! pointers and sizes are valid.

use super::traits::{Kernel, KernelRunner, RunnerError, SPIN_CYCLES};
use cudarc::cublas::sys::{
    cublasComputeType_t as Compute, cublasGemmAlgo_t, cublasOperation_t as Op, cudaDataType_t as Dt,
};
use cudarc::cublas::CudaBlas;
use cudarc::cublaslt::{result as lt, sys as ltsys, CudaBlasLT, MatmulShared};
use cudarc::driver::sys::{CUdevice_attribute, CUevent_flags};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaGraph, CudaSlice, CudaStream, DevicePtr, LaunchConfig,
    PushKernelArg,
};
use half::{bf16, f16};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use shared::units::{MathMode, Seconds};
use std::sync::Arc;

/// Random normal data is generated on the host in one chunk of this size per
/// element type and tiled over the device buffers.
const CHUNK_BYTES: usize = 16 << 20;

/// cuBLASLt workspace, bytes.
const LT_WORKSPACE: usize = 32 << 20;

fn cuda(e: impl std::fmt::Display) -> RunnerError {
    RunnerError::Cuda(e.to_string())
}

/// Whether the CUDA driver and cuBLAS libraries can be loaded. Every cudarc
/// call panics without them, so this is checked first.
pub fn libraries_present() -> Result<(), RunnerError> {
    // SAFETY: these only try to dlopen the libraries and report success.
    let driver = unsafe { cudarc::driver::sys::is_culib_present() };
    if !driver {
        return Err(RunnerError::Unavailable(
            "the CUDA driver library (libcuda.so) was not found: is the NVIDIA driver installed?"
                .into(),
        ));
    }
    // SAFETY: as above.
    let blas = unsafe { cudarc::cublas::sys::is_culib_present() };
    if !blas {
        return Err(RunnerError::Unavailable(
            "cuBLAS (libcublas.so, libcublasLt.so) was not found: install the CUDA toolkit or point LD_LIBRARY_PATH at its libraries (e.g. those of the nvidia-cublas Python package)"
                .into(),
        ));
    }
    Ok(())
}

pub struct CudaRunner {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    /// cuBLASLt for fp8 GEMMs, when the library loads and the GPU has fp8 (sm_89+).
    blas_lt: Option<CudaBlasLT>,
    /// The fp8 GEMM's descriptors and algorithm, made once per prepared shape.
    fp8: Option<Fp8Plan>,
    /// cuBLASLt workspace (32 MiB, NVIDIA's recommendation for Hopper).
    lt_ws: Option<CudaSlice<u8>>,
    noop: CudaFunction,
    fma: CudaFunction,
    spin: CudaFunction,
    softmax: CudaFunction,
    softmax_bwd: CudaFunction,
    cc: (u32, u32),
    sms: Option<u32>,
    max_threads_per_sm: Option<u32>,
    /// Dynamic shared memory that keeps a second spin block off an SM, when the device allows it.
    one_block_smem: Option<u32>,
    /// The prepared kernel's buffers (roles per kernel: see `prepare`).
    bufs: Option<(Kernel, Vec<CudaSlice<u8>>)>,
    /// The launch graph of the prepared `LaunchGraph`.
    graph: Option<CudaGraph>,
    rng: rand::rngs::StdRng,
    /// One chunk of random normal values per input type, tiled over buffers.
    chunks: std::collections::HashMap<Option<MathMode>, Vec<u8>>,
}

/// Threads per block of the element-wise and row kernels.
const BLOCK: u32 = 256;

impl CudaRunner {
    pub fn open(ordinal: usize) -> Result<Self, RunnerError> {
        libraries_present()?;
        let ctx = CudaContext::new(ordinal).map_err(cuda)?;
        // SAFETY: everything runs in order on the one stream below, so cudarc's
        // cross-stream event tracking has nothing to order; without it no
        // event is recorded between the kernels of a timed loop.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().map_err(cuda)?;
        let blas = CudaBlas::new(stream.clone()).map_err(cuda)?;
        let module = ctx
            .load_module(cudarc::nvrtc::Ptx::from_src(super::ptx::source()))
            .map_err(cuda)?;
        let f = |name: &str| module.load_function(name).map_err(cuda);
        let (noop, fma, spin, softmax, softmax_bwd) = (
            f("noop")?,
            f("fma_bf16")?,
            f("spin")?,
            f("softmax_bf16")?,
            f("softmax_bwd_bf16")?,
        );
        let (major, minor) = ctx.compute_capability().map_err(cuda)?;
        // SAFETY: only tries to dlopen libcublasLt.
        let lt_present = unsafe { ltsys::is_culib_present() };
        let blas_lt = if lt_present && (major, minor) >= (8, 9) {
            CudaBlasLT::new(stream.clone()).ok()
        } else {
            None
        };
        let attr = |a| ctx.attribute(a).ok().map(|v| v as u32);
        let sms = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        let max_threads_per_sm =
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
        let smem_sm =
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
        let smem_optin =
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        // More than half an SM's shared memory: one spin block per SM.
        let one_block_smem = match (smem_sm, smem_optin) {
            (Some(sm), Some(optin)) if sm / 2 + 1024 <= optin => {
                let want = sm / 2 + 1024;
                spin.set_attribute(
                    cudarc::driver::sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    want as i32,
                )
                .ok()
                .map(|_| want)
            }
            _ => None,
        };
        Ok(CudaRunner {
            ctx,
            stream,
            blas,
            blas_lt,
            fp8: None,
            lt_ws: None,
            noop,
            fma,
            spin,
            softmax,
            softmax_bwd,
            cc: (major as u32, minor as u32),
            sms,
            max_threads_per_sm,
            one_block_smem,
            bufs: None,
            graph: None,
            rng: rand::rngs::StdRng::seed_from_u64(0x6a6f756c65),
            chunks: std::collections::HashMap::new(),
        })
    }

    /// The device's UUID as NVML writes it (`GPU-xxxxxxxx-xxxx-...`), to check
    /// that CUDA's ordinal and NVML's index name the same GPU.
    pub fn uuid(&self) -> Option<String> {
        let u = self.ctx.uuid().ok()?;
        let b: Vec<u8> = u.bytes.iter().map(|c| *c as u8).collect();
        Some(nvml_uuid(&b))
    }

    /// A device buffer of `bytes` bytes filled with random normal values of `math`'s input type.
    fn random(
        &mut self,
        math: Option<MathMode>,
        bytes: usize,
    ) -> Result<CudaSlice<u8>, RunnerError> {
        let rng = &mut self.rng;
        let chunk = self
            .chunks
            .entry(math)
            .or_insert_with(|| random_chunk(rng, math, CHUNK_BYTES));
        let mut buf = self.stream.alloc_zeros::<u8>(bytes).map_err(cuda)?;
        let mut off = 0;
        while off < bytes {
            let len = chunk.len().min(bytes - off);
            let mut dst = buf.slice_mut(off..off + len);
            self.stream
                .memcpy_htod(&chunk[..len], &mut dst)
                .map_err(cuda)?;
            off += len;
        }
        Ok(buf)
    }

    fn zeros(&self, bytes: usize) -> Result<CudaSlice<u8>, RunnerError> {
        self.stream.alloc_zeros::<u8>(bytes.max(1)).map_err(cuda)
    }

    fn gemm_types(math: MathMode) -> (Dt, Dt, Compute, usize, usize) {
        // (input type, output type, compute type, input bytes, output bytes)
        match math {
            MathMode::Fp32 => (
                Dt::CUDA_R_32F,
                Dt::CUDA_R_32F,
                Compute::CUBLAS_COMPUTE_32F,
                4,
                4,
            ),
            MathMode::Tf32 => (
                Dt::CUDA_R_32F,
                Dt::CUDA_R_32F,
                Compute::CUBLAS_COMPUTE_32F_FAST_TF32,
                4,
                4,
            ),
            MathMode::Fp16 => (
                Dt::CUDA_R_16F,
                Dt::CUDA_R_16F,
                Compute::CUBLAS_COMPUTE_32F,
                2,
                2,
            ),
            MathMode::Bf16 => (
                Dt::CUDA_R_16BF,
                Dt::CUDA_R_16BF,
                Compute::CUBLAS_COMPUTE_32F,
                2,
                2,
            ),
            MathMode::Int8 => (
                Dt::CUDA_R_8I,
                Dt::CUDA_R_32I,
                Compute::CUBLAS_COMPUTE_32I,
                1,
                4,
            ),
            // Not run (see `supports`): fp8 needs cuBLASLt with scale factors.
            MathMode::Fp8 => (
                Dt::CUDA_R_8F_E4M3,
                Dt::CUDA_R_16BF,
                Compute::CUBLAS_COMPUTE_32F,
                1,
                2,
            ),
        }
    }

    /// One strided batched bf16 GEMM (fp32 accumulate) on raw device pointers.
    #[allow(clippy::too_many_arguments)]
    fn bgemm(
        &self,
        (ta, tb): (bool, bool),
        (m, n, k): (u64, u64, u64),
        alpha: f32,
        (a, lda, sa): (u64, u64, u64),
        (b, ldb, sb): (u64, u64, u64),
        (c, ldc, sc): (u64, u64, u64),
        batch: u64,
    ) -> Result<(), RunnerError> {
        let op = |t: bool| if t { Op::CUBLAS_OP_T } else { Op::CUBLAS_OP_N };
        let i = |x: u64| {
            i32::try_from(x)
                .map_err(|_| RunnerError::Unsupported(format!("{x} exceeds cuBLAS's int")))
        };
        let beta = 0.0f32;
        // SAFETY: `prepare` allocated every operand for `batch` matrices of the
        // given strides and leading dimensions (bf16, column-major as laid out
        // in `enqueue_attention`); alpha and beta are f32 locals that outlive
        // the call (host pointer mode, read at enqueue time).
        unsafe {
            cudarc::cublas::result::gemm_strided_batched_ex(
                *self.blas.handle(),
                op(ta),
                op(tb),
                i(m)?,
                i(n)?,
                i(k)?,
                (&alpha as *const f32).cast(),
                a as *const _,
                Dt::CUDA_R_16BF,
                i(lda)?,
                sa as i64,
                b as *const _,
                Dt::CUDA_R_16BF,
                i(ldb)?,
                sb as i64,
                (&beta as *const f32).cast(),
                c as *mut _,
                Dt::CUDA_R_16BF,
                i(ldc)?,
                sc as i64,
                i(batch)?,
                Compute::CUBLAS_COMPUTE_32F,
                cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(cuda)
    }

    /// A row kernel (softmax or its gradient) over `rows` rows of `len` bf16.
    fn rows(&self, f: &CudaFunction, ptrs: &[u64], rows: u64, len: u64) -> Result<(), RunnerError> {
        let warps = (BLOCK / 32) as u64;
        let blocks = rows
            .div_ceil(warps)
            .min(self.sms.unwrap_or(80) as u64 * 16)
            .max(1) as u32;
        let cfg = LaunchConfig {
            grid_dim: (blocks, 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        let len = len as u32;
        let mut b = self.stream.launch_builder(f);
        for p in ptrs {
            b.arg(p);
        }
        b.arg(&rows).arg(&len);
        // SAFETY: each pointer is a buffer of `rows * len` bf16 (prepare); the
        // kernel reads and writes only rows below `rows` and columns below `len`.
        unsafe { b.launch(cfg) }.map_err(cuda)?;
        Ok(())
    }

    /// One step of attention on the math path (layouts: Q, K, V, O, dO are
    /// row-major [b][s][d], i.e. column-major d x s per batch; scores and
    /// probabilities row-major [b][query][key], column-major key x query).
    fn attention_step(&self, k: &Kernel, p: &[u64]) -> Result<(), RunnerError> {
        let Kernel::Attention {
            batch_heads: bh,
            seq: s,
            head_dim: d,
            backward,
        } = *k
        else {
            return Err(RunnerError::Cuda("not an attention kernel".into()));
        };
        let (sd, ss) = (s * d, s * s);
        if !backward {
            // 0 q, 1 k, 2 v, 3 scores, 4 probabilities, 5 out.
            let scale = 1.0 / (d as f32).sqrt();
            self.bgemm(
                (true, false),
                (s, s, d),
                scale,
                (p[1], d, sd),
                (p[0], d, sd),
                (p[3], s, ss),
                bh,
            )?;
            self.rows(&self.softmax, &[p[3], p[4]], bh * s, s)?;
            self.bgemm(
                (false, false),
                (d, s, s),
                1.0,
                (p[2], d, sd),
                (p[4], s, ss),
                (p[5], d, sd),
                bh,
            )
        } else {
            // 0 q, 1 k, 2 v, 3 dO, 4 P, 5 dP (then dS), 6 dQ, 7 dK, 8 dV.
            self.bgemm(
                (false, true),
                (d, s, s),
                1.0,
                (p[3], d, sd),
                (p[4], s, ss),
                (p[8], d, sd),
                bh,
            )?;
            self.bgemm(
                (true, false),
                (s, s, d),
                1.0,
                (p[2], d, sd),
                (p[3], d, sd),
                (p[5], s, ss),
                bh,
            )?;
            self.rows(&self.softmax_bwd, &[p[4], p[5], p[5]], bh * s, s)?;
            self.bgemm(
                (false, false),
                (d, s, s),
                1.0,
                (p[1], d, sd),
                (p[5], s, ss),
                (p[6], d, sd),
                bh,
            )?;
            self.bgemm(
                (false, true),
                (d, s, s),
                1.0,
                (p[0], d, sd),
                (p[5], s, ss),
                (p[7], d, sd),
                bh,
            )
        }
    }

    fn enqueue(&mut self, k: &Kernel, steps: u64) -> Result<(), RunnerError> {
        let Some((prepared, bufs)) = self.bufs.as_ref() else {
            return Err(RunnerError::Cuda("kernel not prepared".into()));
        };
        if prepared != k {
            return Err(RunnerError::Cuda("a different kernel is prepared".into()));
        }
        let stream = &self.stream;
        // Event tracking is off (open): the guards record nothing.
        let p: Vec<u64> = bufs.iter().map(|b| b.device_ptr(stream).0).collect();
        match *k {
            Kernel::Gemm {
                math: MathMode::Fp8,
                ..
            } => {
                let (Some(blas_lt), Some(plan)) = (self.blas_lt.as_ref(), self.fp8.as_ref()) else {
                    return Err(RunnerError::Unsupported(k.name()));
                };
                let (alpha, beta) = (1.0f32, 0.0f32);
                let ws = self
                    .lt_ws
                    .as_ref()
                    .ok_or_else(|| RunnerError::Unsupported(k.name()))?;
                let ws_size = ws.len();
                let (pw, _rw) = ws.device_ptr(stream);
                for _ in 0..steps {
                    // SAFETY: the plan's layouts describe A (k x m, e4m3, transposed),
                    // B (k x n, e4m3) and C/D (m x n, bf16) exactly as `prepare`
                    // allocated them; the workspace pointer and size are the
                    // handle's own; alpha and beta are f32 locals (the scale type).
                    unsafe {
                        lt::matmul(
                            *blas_lt.handle(),
                            plan.desc,
                            (&alpha as *const f32).cast(),
                            (&beta as *const f32).cast(),
                            p[0] as *const _,
                            plan.a,
                            p[1] as *const _,
                            plan.b,
                            p[2] as *const _,
                            plan.c,
                            p[2] as *mut _,
                            plan.c,
                            &plan.algo as *const _,
                            pw as *mut _,
                            ws_size,
                            stream.cu_stream() as *mut _,
                        )
                    }
                    .map_err(cuda)?;
                }
            }
            Kernel::Gemm { math, m, n, k: kk } => {
                let (dt_in, dt_out, compute, _, _) = Self::gemm_types(math);
                let (m, n, kk) = (m as i32, n as i32, kk as i32);
                // int8 GEMMs must be "TN": A is stored k x m and transposed.
                let (op_a, lda) = if math == MathMode::Int8 {
                    (Op::CUBLAS_OP_T, kk)
                } else {
                    (Op::CUBLAS_OP_N, m)
                };
                let (alpha_f, beta_f) = (1.0f32, 0.0f32);
                let (alpha_i, beta_i) = (1i32, 0i32);
                let (alpha, beta): (*const std::ffi::c_void, *const std::ffi::c_void) =
                    if math == MathMode::Int8 {
                        (
                            (&alpha_i as *const i32).cast(),
                            (&beta_i as *const i32).cast(),
                        )
                    } else {
                        (
                            (&alpha_f as *const f32).cast(),
                            (&beta_f as *const f32).cast(),
                        )
                    };
                for _ in 0..steps {
                    // SAFETY: `prepare` allocated A with m*k, B with k*n and C with
                    // m*n elements of the types passed here; the leading dimensions
                    // match that layout (column-major, A transposed for int8); alpha
                    // and beta point to locals of the compute type that outlive the
                    // call (host pointer mode, read at enqueue time).
                    unsafe {
                        cudarc::cublas::result::gemm_ex(
                            *self.blas.handle(),
                            op_a,
                            Op::CUBLAS_OP_N,
                            m,
                            n,
                            kk,
                            alpha,
                            p[0] as *const _,
                            dt_in,
                            lda,
                            p[1] as *const _,
                            dt_in,
                            kk,
                            beta,
                            p[2] as *mut _,
                            dt_out,
                            m,
                            compute,
                            cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                        )
                    }
                    .map_err(cuda)?;
                }
            }
            Kernel::Attention { .. } => {
                for _ in 0..steps {
                    self.attention_step(k, &p)?;
                }
            }
            Kernel::Copy { bytes } => {
                for _ in 0..steps {
                    // SAFETY: both buffers hold `bytes` bytes (prepare) and do not overlap.
                    unsafe {
                        cudarc::driver::result::memcpy_dtod_async(
                            p[1],
                            p[0],
                            bytes as usize,
                            stream.cu_stream(),
                        )
                    }
                    .map_err(cuda)?;
                }
            }
            Kernel::Fma { elements, passes } => {
                let blocks = self.sms.unwrap_or(80).max(1) * 8;
                let cfg = LaunchConfig {
                    grid_dim: (blocks, 1, 1),
                    block_dim: (BLOCK, 1, 1),
                    shared_mem_bytes: 0,
                };
                let nvec = elements / 8;
                for _ in 0..steps {
                    let mut b = stream.launch_builder(&self.fma);
                    b.arg(&p[3])
                        .arg(&p[0])
                        .arg(&p[1])
                        .arg(&p[2])
                        .arg(&nvec)
                        .arg(&passes);
                    // SAFETY: the four buffers each hold `elements` bf16 values
                    // (prepare; a multiple of 8, so `nvec` whole 16-byte vectors),
                    // and the kernel's grid-stride loop stops at nvec.
                    unsafe { b.launch(cfg) }.map_err(cuda)?;
                }
            }
            Kernel::LaunchGraph { .. } => {
                let g = self
                    .graph
                    .as_ref()
                    .ok_or_else(|| RunnerError::Cuda("launch graph not prepared".into()))?;
                for _ in 0..steps {
                    g.launch().map_err(cuda)?;
                }
            }
            Kernel::LaunchStream => {
                for _ in 0..steps {
                    self.launch_noop()?;
                }
            }
            Kernel::Spin {
                sms,
                threads_per_sm,
            } => {
                let all = self.sms.unwrap_or(0);
                let cfg = if sms >= all {
                    LaunchConfig {
                        grid_dim: (sms * (threads_per_sm / BLOCK).max(1), 1, 1),
                        block_dim: (BLOCK, 1, 1),
                        shared_mem_bytes: 0,
                    }
                } else {
                    LaunchConfig {
                        grid_dim: (sms, 1, 1),
                        block_dim: (threads_per_sm.min(1024), 1, 1),
                        shared_mem_bytes: self
                            .one_block_smem
                            .ok_or_else(|| RunnerError::Unsupported(k.name()))?,
                    }
                };
                let cycles = SPIN_CYCLES;
                for _ in 0..steps {
                    let mut b = stream.launch_builder(&self.spin);
                    b.arg(&cycles);
                    // SAFETY: `spin` reads one u64 parameter and touches no memory;
                    // its dynamic shared memory is allowed by the attribute set in `open`.
                    unsafe { b.launch(cfg) }.map_err(cuda)?;
                }
            }
        }
        Ok(())
    }

    fn launch_noop(&self) -> Result<(), RunnerError> {
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (32, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut b = self.stream.launch_builder(&self.noop);
        // SAFETY: `noop` takes no parameters and touches no memory.
        unsafe { b.launch(cfg) }.map_err(cuda)?;
        Ok(())
    }
}

/// 16 UUID bytes in NVML's text form.
pub fn nvml_uuid(b: &[u8]) -> String {
    let hex = |r: std::ops::Range<usize>| -> String {
        b.get(r)
            .unwrap_or_default()
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    };
    format!(
        "GPU-{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

/// `bytes` bytes of random normal values in `math`'s input representation (f32 for memory kernels).
fn random_chunk(rng: &mut rand::rngs::StdRng, math: Option<MathMode>, bytes: usize) -> Vec<u8> {
    #[allow(clippy::unwrap_used)] // constant, valid parameters
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let mut out = Vec::with_capacity(bytes);
    while out.len() < bytes {
        let x = normal.sample(rng);
        match math {
            None | Some(MathMode::Fp32) | Some(MathMode::Tf32) => {
                out.extend_from_slice(&x.to_le_bytes())
            }
            Some(MathMode::Fp16) => out.extend_from_slice(&f16::from_f32(x).to_le_bytes()),
            Some(MathMode::Bf16) => out.extend_from_slice(&bf16::from_f32(x).to_le_bytes()),
            Some(MathMode::Int8) => out.push(((x * 32.0).clamp(-127.0, 127.0) as i8) as u8),
            Some(MathMode::Fp8) => out.push(e4m3(x)),
        }
    }
    out.truncate(bytes);
    out
}

impl KernelRunner for CudaRunner {
    fn kind(&self) -> &'static str {
        "cuda"
    }
    fn compute_capability(&self) -> Option<(u32, u32)> {
        Some(self.cc)
    }
    fn sm_count(&self) -> Option<u32> {
        self.sms
    }
    fn max_threads_per_sm(&self) -> Option<u32> {
        self.max_threads_per_sm
    }
    fn supports(&self, k: &Kernel) -> bool {
        let int = |d: u64| d <= i32::MAX as u64;
        match *k {
            Kernel::Gemm { math, m, n, k } => {
                let cc = self.cc;
                [m, n, k].into_iter().all(int)
                    && match math {
                        MathMode::Fp32 | MathMode::Fp16 => true,
                        MathMode::Tf32 | MathMode::Bf16 => cc >= (8, 0),
                        MathMode::Int8 => {
                            cc >= (7, 5) && [m, n, k].iter().all(|d| d.is_multiple_of(4))
                        }
                        MathMode::Fp8 => {
                            self.blas_lt.is_some() && [m, n, k].iter().all(|d| d.is_multiple_of(16))
                        }
                    }
            }
            Kernel::Attention {
                batch_heads,
                seq,
                head_dim,
                ..
            } => {
                self.cc >= (8, 0)
                    && seq.is_multiple_of(128)
                    && head_dim.is_multiple_of(8)
                    && int(batch_heads)
                    && int(seq)
                    && seq.checked_mul(seq).is_some_and(int)
            }
            Kernel::Fma { elements, .. } => elements.is_multiple_of(8),
            Kernel::Spin {
                sms,
                threads_per_sm,
            } => {
                let all = self.sms.unwrap_or(0);
                let max = self.max_threads_per_sm.unwrap_or(0);
                sms >= 1
                    && sms <= all
                    && threads_per_sm <= max
                    && if sms == all {
                        threads_per_sm.is_multiple_of(BLOCK)
                    } else {
                        threads_per_sm <= 1024 && self.one_block_smem.is_some()
                    }
            }
            Kernel::Copy { .. } | Kernel::LaunchGraph { .. } | Kernel::LaunchStream => true,
        }
    }
    fn prepare(&mut self, k: &Kernel) -> Result<(), RunnerError> {
        self.release();
        let bf = Some(MathMode::Bf16);
        let bufs = match *k {
            Kernel::Gemm { math, m, n, k: kk } => {
                let (_, _, _, bin, bout) = Self::gemm_types(math);
                let (m, n, kk) = (m as usize, n as usize, kk as usize);
                vec![
                    self.random(Some(math), m * kk * bin)?,
                    self.random(Some(math), kk * n * bin)?,
                    self.zeros(m * n * bout)?,
                ]
            }
            Kernel::Attention {
                batch_heads,
                seq,
                head_dim,
                backward,
            } => {
                let sd = (batch_heads * seq * head_dim * 2) as usize;
                let ss = (batch_heads * seq * seq * 2) as usize;
                let mut v = vec![
                    self.random(bf, sd)?,
                    self.random(bf, sd)?,
                    self.random(bf, sd)?,
                ];
                if backward {
                    v.push(self.random(bf, sd)?); // dO
                    v.push(self.zeros(ss)?); // P
                    v.push(self.zeros(ss)?); // dP, dS
                    for _ in 0..3 {
                        v.push(self.zeros(sd)?); // dQ, dK, dV
                    }
                } else {
                    v.push(self.zeros(ss)?); // scores
                    v.push(self.zeros(ss)?); // probabilities
                    v.push(self.zeros(sd)?); // out
                }
                v
            }
            Kernel::Copy { bytes } => vec![
                self.random(bf, bytes as usize)?,
                self.zeros(bytes as usize)?,
            ],
            Kernel::Fma { elements, .. } => {
                let bytes = elements as usize * 2;
                vec![
                    self.random(bf, bytes)?,
                    self.random(bf, bytes)?,
                    self.random(bf, bytes)?,
                    self.zeros(bytes)?,
                ]
            }
            Kernel::LaunchGraph { .. } | Kernel::LaunchStream | Kernel::Spin { .. } => vec![],
        };
        match *k {
            Kernel::Gemm {
                math: MathMode::Fp8,
                m,
                n,
                k: kk,
            } => {
                let lt = self
                    .blas_lt
                    .as_ref()
                    .ok_or_else(|| RunnerError::Unsupported(k.name()))?;
                if self.lt_ws.is_none() {
                    self.lt_ws = Some(self.stream.alloc_zeros::<u8>(LT_WORKSPACE).map_err(cuda)?);
                }
                self.fp8 = Some(Fp8Plan::new(lt, m, n, kk)?);
            }
            Kernel::LaunchGraph { kernels } => {
                self.stream
                    .begin_capture(
                        cudarc::driver::sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL,
                    )
                    .map_err(cuda)?;
                let captured: Result<(), RunnerError> =
                    (0..kernels).try_for_each(|_| self.launch_noop());
                let graph = self
                    .stream
                    .end_capture(cudarc::driver::sys::CUgraphInstantiate_flags(0))
                    .map_err(cuda)?;
                captured?;
                let graph = graph
                    .ok_or_else(|| RunnerError::Cuda("stream capture made no graph".into()))?;
                graph.upload().map_err(cuda)?;
                self.graph = Some(graph);
            }
            _ => {}
        }
        self.bufs = Some((*k, bufs));
        if let Kernel::Attention {
            batch_heads,
            seq,
            head_dim,
            backward: true,
        } = *k
        {
            // The backward pass needs the forward's probabilities: P = softmax(Q K^T).
            let p: Vec<u64> = self
                .bufs
                .as_ref()
                .map(|(_, b)| b.iter().map(|x| x.device_ptr(&self.stream).0).collect())
                .unwrap_or_default();
            let (sd, ss, s, d) = (seq * head_dim, seq * seq, seq, head_dim);
            let scale = 1.0 / (d as f32).sqrt();
            self.bgemm(
                (true, false),
                (s, s, d),
                scale,
                (p[1], d, sd),
                (p[0], d, sd),
                (p[5], s, ss),
                batch_heads,
            )?;
            self.rows(&self.softmax, &[p[5], p[4]], batch_heads * s, s)?;
        }
        self.synchronize()
    }
    fn run(&mut self, k: &Kernel, steps: u64) -> Result<Seconds, RunnerError> {
        let flags = Some(CUevent_flags::CU_EVENT_DEFAULT);
        let start = self.ctx.new_event(flags).map_err(cuda)?;
        let end = self.ctx.new_event(flags).map_err(cuda)?;
        start.record(&self.stream).map_err(cuda)?;
        self.enqueue(k, steps)?;
        end.record(&self.stream).map_err(cuda)?;
        end.synchronize().map_err(cuda)?;
        let ms = start.elapsed_ms(&end).map_err(cuda)?;
        Ok(Seconds(ms as f64 / 1e3))
    }
    fn synchronize(&mut self) -> Result<(), RunnerError> {
        self.stream.synchronize().map_err(cuda)
    }
    fn idle(&mut self, d: Seconds) -> Result<(), RunnerError> {
        self.synchronize()?;
        std::thread::sleep(std::time::Duration::from_secs_f64(d.0.max(0.0)));
        Ok(())
    }
    fn release(&mut self) {
        self.fp8 = None;
        self.graph = None;
        self.bufs = None;
    }
}

/// Round an f32 to fp8 e4m3 (bias 7, 3 mantissa bits, max 448, no infinities).
pub fn e4m3(x: f32) -> u8 {
    let sign = if x.is_sign_negative() { 0x80u8 } else { 0 };
    let a = x.abs().min(448.0);
    if a.is_nan() {
        return 0x7f;
    }
    if a < 2f32.powi(-6) {
        // Subnormal: m x 2^-9.
        let m = (a / 2f32.powi(-9)).round() as u8;
        return if m >= 8 { sign | 0x08 } else { sign | m };
    }
    let mut e = a.log2().floor() as i32;
    let mut m = ((a / 2f32.powi(e) - 1.0) * 8.0).round() as i32;
    if m == 8 {
        m = 0;
        e += 1;
    }
    if e > 8 || (e == 8 && m > 6) {
        (e, m) = (8, 6); // 448, the largest finite value
    }
    sign | (((e + 7) as u8) << 3) | m as u8
}

/// cuBLASLt descriptors of one fp8 GEMM shape ("TN": A k x m transposed, B k x n,
/// e4m3 inputs, bf16 output, fp32 compute; scales left unset = 1).
struct Fp8Plan {
    desc: ltsys::cublasLtMatmulDesc_t,
    a: ltsys::cublasLtMatrixLayout_t,
    b: ltsys::cublasLtMatrixLayout_t,
    c: ltsys::cublasLtMatrixLayout_t,
    algo: ltsys::cublasLtMatmulAlgo_t,
}

impl Fp8Plan {
    fn new(blas_lt: &CudaBlasLT, m: u64, n: u64, k: u64) -> Result<Self, RunnerError> {
        use ltsys::cudaDataType_t as LtDt;
        let desc = lt::create_matmul_desc(
            ltsys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            LtDt::CUDA_R_32F,
        )
        .map_err(cuda)?;
        let mut plan = Fp8Plan {
            desc,
            a: std::ptr::null_mut(),
            b: std::ptr::null_mut(),
            c: std::ptr::null_mut(),
            // SAFETY: a plain C struct of integers; overwritten by the heuristic below.
            algo: unsafe { std::mem::zeroed() },
        };
        let transpose: i32 = 1; // CUBLAS_OP_T
                                // SAFETY: TRANSA takes a cublasOperation_t (int32); the pointer is to a live local.
        unsafe {
            lt::set_matmul_desc_attribute(
                plan.desc,
                ltsys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_TRANSA,
                (&transpose as *const i32).cast(),
                std::mem::size_of::<i32>(),
            )
        }
        .map_err(cuda)?;
        plan.a = lt::create_matrix_layout(LtDt::CUDA_R_8F_E4M3, k, m, k as i64).map_err(cuda)?;
        plan.b = lt::create_matrix_layout(LtDt::CUDA_R_8F_E4M3, k, n, k as i64).map_err(cuda)?;
        plan.c = lt::create_matrix_layout(LtDt::CUDA_R_16BF, m, n, m as i64).map_err(cuda)?;
        let pref = lt::create_matmul_pref().map_err(cuda)?;
        let ws = LT_WORKSPACE;
        // SAFETY: MAX_WORKSPACE_BYTES takes a u64 (usize here, 64-bit only); then the
        // heuristic reads the live descriptors made above; `pref` is destroyed once.
        let heuristic = unsafe {
            let r = lt::set_matmul_pref_attribute(
                pref,
                ltsys::cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                (&ws as *const usize).cast(),
                std::mem::size_of::<usize>(),
            )
            .and_then(|_| {
                lt::get_matmul_algo_heuristic(
                    *blas_lt.handle(),
                    plan.desc,
                    plan.a,
                    plan.b,
                    plan.c,
                    plan.c,
                    pref,
                )
            });
            let _ = lt::destroy_matmul_pref(pref);
            r
        }
        .map_err(cuda)?;
        plan.algo = heuristic.algo;
        Ok(plan)
    }
}

impl Drop for Fp8Plan {
    fn drop(&mut self) {
        // SAFETY: each handle was created by cuBLASLt above and is destroyed once.
        unsafe {
            for l in [self.a, self.b, self.c] {
                if !l.is_null() {
                    let _ = lt::destroy_matrix_layout(l);
                }
            }
            let _ = lt::destroy_matmul_desc(self.desc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e4m3_rounding() {
        assert_eq!(e4m3(0.0), 0x00);
        assert_eq!(e4m3(1.0), 0x38);
        assert_eq!(e4m3(-2.0), 0xc0);
        assert_eq!(e4m3(1.125), 0x39);
        assert_eq!(e4m3(448.0), 0x7e);
        assert_eq!(e4m3(1e6), 0x7e);
        assert_eq!(e4m3(2f32.powi(-9)), 0x01);
        assert_eq!(e4m3(2f32.powi(-6)), 0x08);
    }

    #[test]
    fn uuid_text_matches_nvml() {
        let b: Vec<u8> = (0u8..16).collect();
        assert_eq!(nvml_uuid(&b), "GPU-00010203-0405-0607-0809-0a0b0c0d0e0f");
    }
}
