//! The CUDA kernel runner: cuBLAS GEMMs (`cublasGemmEx`), a device-to-device
//! copy, an element-wise multiply-add and an empty kernel (PTX, JIT-compiled
//! by the driver), timed with CUDA events. CUDA is loaded at run time
//! (cudarc's `dynamic-loading`): the project builds and tests without it, and
//! [`CudaRunner::open`] checks that the libraries exist before any call that
//! would otherwise panic.
//!
//! This is the one module of the crate that needs `unsafe`: cuBLAS calls and
//! kernel launches are FFI on raw device pointers. Each block says why the
//! pointers and sizes are valid.
#![allow(unsafe_code)]

use super::traits::{Kernel, KernelRunner, RunnerError};
use cudarc::cublas::sys::{
    cublasComputeType_t as Compute, cublasGemmAlgo_t, cublasOperation_t as Op, cudaDataType_t as Dt,
};
use cudarc::cublas::CudaBlas;
use cudarc::cublaslt::{result as lt, sys as ltsys, CudaBlasLT, MatmulShared};
use cudarc::driver::sys::{CUdevice_attribute, CUevent_flags};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, LaunchConfig,
    PushKernelArg,
};
use half::{bf16, f16};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use shared::units::{MathMode, Seconds};
use std::sync::Arc;

/// Elementwise kernels: `fma_f32(out, a, b, c, n)` computes out = a*b + c over
/// a grid-stride loop; `noop()` does nothing (launch overhead).
const PTX: &str = r#"
.version 6.0
.target sm_50
.address_size 64

.visible .entry noop()
{
    ret;
}

.visible .entry fma_f32(
    .param .u64 p_out,
    .param .u64 p_a,
    .param .u64 p_b,
    .param .u64 p_c,
    .param .u64 p_n
)
{
    .reg .pred %p;
    .reg .b32 %r<5>;
    .reg .b64 %rd<16>;
    .reg .f32 %f<5>;

    ld.param.u64 %rd1, [p_out];
    ld.param.u64 %rd2, [p_a];
    ld.param.u64 %rd3, [p_b];
    ld.param.u64 %rd4, [p_c];
    ld.param.u64 %rd5, [p_n];
    cvta.to.global.u64 %rd1, %rd1;
    cvta.to.global.u64 %rd2, %rd2;
    cvta.to.global.u64 %rd3, %rd3;
    cvta.to.global.u64 %rd4, %rd4;
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %ntid.x;
    mov.u32 %r3, %tid.x;
    mov.u32 %r4, %nctaid.x;
    cvt.u64.u32 %rd6, %r3;
    mad.wide.u32 %rd7, %r1, %r2, %rd6;
    mul.wide.u32 %rd8, %r4, %r2;
LOOP:
    setp.ge.u64 %p, %rd7, %rd5;
    @%p bra DONE;
    shl.b64 %rd9, %rd7, 2;
    add.s64 %rd10, %rd2, %rd9;
    ld.global.f32 %f1, [%rd10];
    add.s64 %rd11, %rd3, %rd9;
    ld.global.f32 %f2, [%rd11];
    add.s64 %rd12, %rd4, %rd9;
    ld.global.f32 %f3, [%rd12];
    fma.rn.f32 %f4, %f1, %f2, %f3;
    add.s64 %rd13, %rd1, %rd9;
    st.global.f32 [%rd13], %f4;
    add.s64 %rd7, %rd7, %rd8;
    bra LOOP;
DONE:
    ret;
}
"#;

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

struct Buffers {
    a: CudaSlice<u8>,
    b: CudaSlice<u8>,
    c: CudaSlice<u8>,
    d: Option<CudaSlice<u8>>,
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
    cc: (u32, u32),
    sms: Option<u32>,
    bufs: Option<(Kernel, Buffers)>,
    rng: rand::rngs::StdRng,
    /// One chunk of random normal values per input type, tiled over buffers.
    chunks: std::collections::HashMap<Option<MathMode>, Vec<u8>>,
}

impl CudaRunner {
    pub fn open(ordinal: usize) -> Result<Self, RunnerError> {
        libraries_present()?;
        let ctx = CudaContext::new(ordinal).map_err(cuda)?;
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(cuda)?;
        let module = ctx
            .load_module(cudarc::nvrtc::Ptx::from_src(PTX))
            .map_err(cuda)?;
        let noop = module.load_function("noop").map_err(cuda)?;
        let fma = module.load_function("fma_f32").map_err(cuda)?;
        let (major, minor) = ctx.compute_capability().map_err(cuda)?;
        // SAFETY: only tries to dlopen libcublasLt.
        let lt_present = unsafe { ltsys::is_culib_present() };
        let blas_lt = if lt_present && (major, minor) >= (8, 9) {
            CudaBlasLT::new(stream.clone()).ok()
        } else {
            None
        };
        let sms = ctx
            .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .ok()
            .map(|v| v as u32);
        Ok(CudaRunner {
            ctx,
            stream,
            blas,
            blas_lt,
            fp8: None,
            lt_ws: None,
            noop,
            fma,
            cc: (major as u32, minor as u32),
            sms,
            bufs: None,
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

    fn enqueue(&mut self, k: &Kernel, steps: u64) -> Result<(), RunnerError> {
        let Some((prepared, bufs)) = self.bufs.as_mut() else {
            return Err(RunnerError::Cuda("kernel not prepared".into()));
        };
        if prepared != k {
            return Err(RunnerError::Cuda("a different kernel is prepared".into()));
        }
        let stream = &self.stream;
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
                let (pa, _ra) = bufs.a.device_ptr(stream);
                let (pb, _rb) = bufs.b.device_ptr(stream);
                let (pc, _rc) = bufs.c.device_ptr_mut(stream);
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
                            pa as *const _,
                            plan.a,
                            pb as *const _,
                            plan.b,
                            pc as *const _,
                            plan.c,
                            pc as *mut _,
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
                let (pa, _ra) = bufs.a.device_ptr(stream);
                let (pb, _rb) = bufs.b.device_ptr(stream);
                let (pc, _rc) = bufs.c.device_ptr_mut(stream);
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
                            pa as *const _,
                            dt_in,
                            lda,
                            pb as *const _,
                            dt_in,
                            kk,
                            beta,
                            pc as *mut _,
                            dt_out,
                            m,
                            compute,
                            cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                        )
                    }
                    .map_err(cuda)?;
                }
            }
            Kernel::Copy { .. } => {
                for _ in 0..steps {
                    stream.memcpy_dtod(&bufs.a, &mut bufs.b).map_err(cuda)?;
                }
            }
            Kernel::Fma { elements } => {
                let out = bufs
                    .d
                    .as_mut()
                    .ok_or_else(|| RunnerError::Cuda("fma output missing".into()))?;
                let blocks = self.sms.unwrap_or(80).max(1) * 8;
                let cfg = LaunchConfig {
                    grid_dim: (blocks, 1, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                };
                let n = elements;
                for _ in 0..steps {
                    let mut b = stream.launch_builder(&self.fma);
                    b.arg(&mut *out)
                        .arg(&bufs.a)
                        .arg(&bufs.b)
                        .arg(&bufs.c)
                        .arg(&n);
                    // SAFETY: the four buffers each hold `elements` f32 values
                    // (prepare), and the kernel's grid-stride loop stops at n.
                    unsafe { b.launch(cfg) }.map_err(cuda)?;
                }
            }
            Kernel::Launch => {
                let cfg = LaunchConfig {
                    grid_dim: (1, 1, 1),
                    block_dim: (32, 1, 1),
                    shared_mem_bytes: 0,
                };
                for _ in 0..steps {
                    let mut b = stream.launch_builder(&self.noop);
                    // SAFETY: `noop` takes no parameters and touches no memory.
                    unsafe { b.launch(cfg) }.map_err(cuda)?;
                }
            }
        }
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
    fn supports(&self, k: &Kernel) -> bool {
        match k {
            Kernel::Gemm { math, m, n, k } => {
                let cc = self.cc;
                let dims_ok = [m, n, k].iter().all(|d| **d <= i32::MAX as u64);
                dims_ok
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
            _ => true,
        }
    }
    fn prepare(&mut self, k: &Kernel) -> Result<(), RunnerError> {
        self.release();
        let bufs = match *k {
            Kernel::Gemm { math, m, n, k: kk } => {
                let (_, _, _, bin, bout) = Self::gemm_types(math);
                let (m, n, kk) = (m as usize, n as usize, kk as usize);
                Buffers {
                    a: self.random(Some(math), m * kk * bin)?,
                    b: self.random(Some(math), kk * n * bin)?,
                    c: self.stream.alloc_zeros::<u8>(m * n * bout).map_err(cuda)?,
                    d: None,
                }
            }
            Kernel::Copy { bytes } => Buffers {
                a: self.random(None, bytes as usize)?,
                b: self
                    .stream
                    .alloc_zeros::<u8>(bytes as usize)
                    .map_err(cuda)?,
                c: self.stream.alloc_zeros::<u8>(1).map_err(cuda)?,
                d: None,
            },
            Kernel::Fma { elements } => {
                let bytes = elements as usize * 4;
                Buffers {
                    a: self.random(None, bytes)?,
                    b: self.random(None, bytes)?,
                    c: self.random(None, bytes)?,
                    d: Some(self.stream.alloc_zeros::<u8>(bytes).map_err(cuda)?),
                }
            }
            Kernel::Launch => Buffers {
                a: self.stream.alloc_zeros::<u8>(1).map_err(cuda)?,
                b: self.stream.alloc_zeros::<u8>(1).map_err(cuda)?,
                c: self.stream.alloc_zeros::<u8>(1).map_err(cuda)?,
                d: None,
            },
        };
        if let Kernel::Gemm {
            math: MathMode::Fp8,
            m,
            n,
            k: kk,
        } = *k
        {
            let lt = self
                .blas_lt
                .as_ref()
                .ok_or_else(|| RunnerError::Unsupported(k.name()))?;
            if self.lt_ws.is_none() {
                self.lt_ws = Some(self.stream.alloc_zeros::<u8>(LT_WORKSPACE).map_err(cuda)?);
            }
            self.fp8 = Some(Fp8Plan::new(lt, m, n, kk)?);
        }
        self.bufs = Some((*k, bufs));
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
