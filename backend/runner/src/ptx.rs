//! The runner's own kernels, in PTX: the driver compiles PTX at load time, so
//! they need neither the CUDA toolkit nor NVRTC on the GPU host. Target sm_50,
//! PTX ISA 6.0 (warp shuffles with `.sync`), so any GPU since Maxwell runs them.
//!
//! - `noop()`: nothing (launch latency).
//! - `fma_bf16(out, a, b, c, nvec, passes)`: out = a * b + c over bf16 tensors
//!   of `nvec` 16-byte vectors (8 elements each), fp32 math, round to nearest
//!   even; `passes` sweeps in one launch (L2-resident sizes). Loads bypass L1
//!   (`.cg`): data another kernel wrote is in L2, never in this SM's L1.
//! - `spin(cycles)`: every thread spins on the SM clock for `cycles` cycles.
//! - `softmax_bf16(in, out, rows, len)`: row softmax, one warp per row (len a
//!   multiple of 4), fp32 math: max, sum of exp, normalise.
//! - `softmax_bwd_bf16(p, dp, ds, rows, len)`: ds = p * (dp - sum(p * dp)) per
//!   row (ds may be dp).

/// The module's source.
pub fn source() -> String {
    let mut s = String::from(HEADER);
    s.push_str(NOOP);
    s.push_str(SPIN);
    s.push_str(&fma_bf16());
    s.push_str(&softmax_fwd());
    s.push_str(&softmax_bwd());
    s
}

const HEADER: &str = ".version 6.0\n.target sm_50\n.address_size 64\n\n";

const NOOP: &str = ".visible .entry noop()\n{\n    ret;\n}\n\n";

const SPIN: &str = r#".visible .entry spin(
    .param .u64 p_cycles
)
{
    .reg .pred %p;
    .reg .b64 %rd<5>;
    ld.param.u64 %rd1, [p_cycles];
    mov.u64 %rd2, %clock64;
SPIN_LOOP:
    mov.u64 %rd3, %clock64;
    sub.s64 %rd4, %rd3, %rd2;
    setp.lt.u64 %p, %rd4, %rd1;
    @%p bra SPIN_LOOP;
    ret;
}

"#;

/// Two bf16 in a word -> two f32 (element 0 in the low half).
fn unpack(w: &str, lo: &str, hi: &str, t: &str) -> String {
    format!(
        "    shl.b32 {t}, {w}, 16;\n    mov.b32 {lo}, {t};\n    and.b32 {t}, {w}, -65536;\n    mov.b32 {hi}, {t};\n"
    )
}

/// f32 -> bf16 bits in the high half of `out` (round to nearest even; no NaN inputs).
fn round(f: &str, out: &str, t: &str) -> String {
    format!(
        "    mov.b32 {out}, {f};\n    shr.u32 {t}, {out}, 16;\n    and.b32 {t}, {t}, 1;\n    add.u32 {out}, {out}, {t};\n    add.u32 {out}, {out}, 32767;\n    and.b32 {out}, {out}, -65536;\n"
    )
}

/// Two f32 -> one word of two bf16.
fn pack(lo: &str, hi: &str, out: &str, t1: &str, t2: &str) -> String {
    let mut s = round(lo, t1, t2);
    s.push_str(&format!("    shr.u32 {t1}, {t1}, 16;\n"));
    s.push_str(&round(hi, out, t2));
    s.push_str(&format!("    or.b32 {out}, {out}, {t1};\n"));
    s
}

fn fma_bf16() -> String {
    let mut body = String::new();
    // Words: a in %r10..13, b in %r14..17, c in %r18..21, out in %r22..25.
    for i in 0..4 {
        let (a, b, c, o) = (
            format!("%r{}", 10 + i),
            format!("%r{}", 14 + i),
            format!("%r{}", 18 + i),
            format!("%r{}", 22 + i),
        );
        body.push_str(&unpack(&a, "%f1", "%f2", "%r30"));
        body.push_str(&unpack(&b, "%f3", "%f4", "%r30"));
        body.push_str(&unpack(&c, "%f5", "%f6", "%r30"));
        body.push_str("    fma.rn.f32 %f7, %f1, %f3, %f5;\n");
        body.push_str("    fma.rn.f32 %f8, %f2, %f4, %f6;\n");
        body.push_str(&pack("%f7", "%f8", &o, "%r31", "%r32"));
    }
    format!(
        r#".visible .entry fma_bf16(
    .param .u64 p_out,
    .param .u64 p_a,
    .param .u64 p_b,
    .param .u64 p_c,
    .param .u64 p_nvec,
    .param .u64 p_passes
)
{{
    .reg .pred %p<3>;
    .reg .b32 %r<40>;
    .reg .b64 %rd<20>;
    .reg .f32 %f<10>;

    ld.param.u64 %rd1, [p_out];
    ld.param.u64 %rd2, [p_a];
    ld.param.u64 %rd3, [p_b];
    ld.param.u64 %rd4, [p_c];
    ld.param.u64 %rd5, [p_nvec];
    ld.param.u64 %rd6, [p_passes];
    cvta.to.global.u64 %rd1, %rd1;
    cvta.to.global.u64 %rd2, %rd2;
    cvta.to.global.u64 %rd3, %rd3;
    cvta.to.global.u64 %rd4, %rd4;
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %ntid.x;
    mov.u32 %r3, %tid.x;
    mov.u32 %r4, %nctaid.x;
    cvt.u64.u32 %rd7, %r3;
    mad.wide.u32 %rd8, %r1, %r2, %rd7;
    mul.wide.u32 %rd9, %r4, %r2;
    mov.u64 %rd10, 0;
FMA_PASS:
    setp.ge.u64 %p1, %rd10, %rd6;
    @%p1 bra FMA_DONE;
    mov.u64 %rd11, %rd8;
FMA_LOOP:
    setp.ge.u64 %p2, %rd11, %rd5;
    @%p2 bra FMA_NEXT;
    shl.b64 %rd12, %rd11, 4;
    add.s64 %rd13, %rd2, %rd12;
    ld.global.cg.v4.u32 {{%r10, %r11, %r12, %r13}}, [%rd13];
    add.s64 %rd14, %rd3, %rd12;
    ld.global.cg.v4.u32 {{%r14, %r15, %r16, %r17}}, [%rd14];
    add.s64 %rd15, %rd4, %rd12;
    ld.global.cg.v4.u32 {{%r18, %r19, %r20, %r21}}, [%rd15];
{body}    add.s64 %rd16, %rd1, %rd12;
    st.global.v4.u32 [%rd16], {{%r22, %r23, %r24, %r25}};
    add.s64 %rd11, %rd11, %rd9;
    bra FMA_LOOP;
FMA_NEXT:
    add.s64 %rd10, %rd10, 1;
    bra FMA_PASS;
FMA_DONE:
    ret;
}}

"#
    )
}

/// Warp-wide reduction of `%f{v}` with `op` (max or add), every lane gets the result.
fn warp_reduce(v: &str, op: &str) -> String {
    let mut s = String::new();
    for off in [16, 8, 4, 2, 1] {
        s.push_str(&format!(
            "    mov.b32 %r20, {v};\n    shfl.sync.bfly.b32 %r21, %r20, {off}, 31, -1;\n    mov.b32 %f20, %r21;\n    {op}.f32 {v}, {v}, %f20;\n"
        ));
    }
    s
}

/// Shared prologue of the row kernels: lane, first row, row stride; `nptr`
/// pointer parameters into %rd1.. and rows/len into %rd8 and %r8.
fn row_prologue(name: &str, ptrs: &[&str]) -> String {
    let params: Vec<String> = ptrs
        .iter()
        .map(|p| format!("    .param .u64 {p},\n"))
        .collect();
    let mut s = format!(
        ".visible .entry {name}(\n{}    .param .u64 p_rows,\n    .param .u32 p_len\n)\n{{\n    .reg .pred %p<4>;\n    .reg .b32 %r<40>;\n    .reg .b64 %rd<24>;\n    .reg .f32 %f<40>;\n\n",
        params.concat()
    );
    for (i, p) in ptrs.iter().enumerate() {
        s.push_str(&format!(
            "    ld.param.u64 %rd{n}, [{p}];\n    cvta.to.global.u64 %rd{n}, %rd{n};\n",
            n = i + 1
        ));
    }
    s.push_str(
        r#"    ld.param.u64 %rd8, [p_rows];
    ld.param.u32 %r8, [p_len];
    mov.u32 %r1, %tid.x;
    and.b32 %r2, %r1, 31;
    shr.u32 %r3, %r1, 5;
    mov.u32 %r4, %ntid.x;
    shr.u32 %r5, %r4, 5;
    mov.u32 %r6, %ctaid.x;
    mad.lo.u32 %r7, %r6, %r5, %r3;
    cvt.u64.u32 %rd9, %r7;
    mov.u32 %r9, %nctaid.x;
    mul.wide.u32 %rd10, %r9, %r5;
    shl.b32 %r10, %r2, 2;
    cvt.u64.u32 %rd11, %r8;
    shl.b64 %rd11, %rd11, 1;
"#,
    );
    s
}

/// Byte offset of the row %rd9 (rows of %rd11 bytes) into %rd12, and of this
/// lane's first 4-element group (%r10 elements) into %rd13.
const ROW_START: &str = r#"    mul.lo.u64 %rd12, %rd9, %rd11;
    mov.u32 %r11, %r10;
"#;

/// Address of the 4 elements at column %r11 of the row in buffer %rd{b} into %rd{d}.
fn addr(b: usize, d: usize) -> String {
    format!(
        "    cvt.u64.u32 %rd13, %r11;\n    shl.b64 %rd13, %rd13, 1;\n    add.s64 %rd{d}, %rd{b}, %rd12;\n    add.s64 %rd{d}, %rd{d}, %rd13;\n"
    )
}

fn softmax_fwd() -> String {
    let mut s = row_prologue("softmax_bf16", &["p_in", "p_out"]);
    s.push_str("SMF_ROW:\n    setp.ge.u64 %p1, %rd9, %rd8;\n    @%p1 bra SMF_DONE;\n");
    // Pass 1: max.
    s.push_str(ROW_START);
    s.push_str("    mov.f32 %f1, 0fFF800000;\nSMF_MAX:\n    setp.ge.u32 %p2, %r11, %r8;\n    @%p2 bra SMF_MAX_END;\n");
    s.push_str(&addr(1, 14));
    s.push_str("    ld.global.v2.u32 {%r12, %r13}, [%rd14];\n");
    s.push_str(&unpack("%r12", "%f2", "%f3", "%r14"));
    s.push_str(&unpack("%r13", "%f4", "%f5", "%r14"));
    s.push_str("    max.f32 %f1, %f1, %f2;\n    max.f32 %f1, %f1, %f3;\n    max.f32 %f1, %f1, %f4;\n    max.f32 %f1, %f1, %f5;\n");
    s.push_str("    add.u32 %r11, %r11, 128;\n    bra SMF_MAX;\nSMF_MAX_END:\n");
    s.push_str(&warp_reduce("%f1", "max"));
    // Pass 2: sum of exp2((x - max) * log2 e).
    s.push_str("    mov.u32 %r11, %r10;\n    mov.f32 %f6, 0f00000000;\nSMF_SUM:\n    setp.ge.u32 %p2, %r11, %r8;\n    @%p2 bra SMF_SUM_END;\n");
    s.push_str(&addr(1, 14));
    s.push_str("    ld.global.v2.u32 {%r12, %r13}, [%rd14];\n");
    s.push_str(&unpack("%r12", "%f2", "%f3", "%r14"));
    s.push_str(&unpack("%r13", "%f4", "%f5", "%r14"));
    for f in ["%f2", "%f3", "%f4", "%f5"] {
        s.push_str(&format!(
            "    sub.f32 {f}, {f}, %f1;\n    mul.f32 {f}, {f}, 0f3FB8AA3B;\n    ex2.approx.ftz.f32 {f}, {f};\n    add.f32 %f6, %f6, {f};\n"
        ));
    }
    s.push_str("    add.u32 %r11, %r11, 128;\n    bra SMF_SUM;\nSMF_SUM_END:\n");
    s.push_str(&warp_reduce("%f6", "add"));
    s.push_str("    rcp.approx.ftz.f32 %f7, %f6;\n");
    // Pass 3: write exp(...) / sum.
    s.push_str("    mov.u32 %r11, %r10;\nSMF_OUT:\n    setp.ge.u32 %p2, %r11, %r8;\n    @%p2 bra SMF_OUT_END;\n");
    s.push_str(&addr(1, 14));
    s.push_str(&addr(2, 15));
    s.push_str("    ld.global.v2.u32 {%r12, %r13}, [%rd14];\n");
    s.push_str(&unpack("%r12", "%f2", "%f3", "%r14"));
    s.push_str(&unpack("%r13", "%f4", "%f5", "%r14"));
    for f in ["%f2", "%f3", "%f4", "%f5"] {
        s.push_str(&format!(
            "    sub.f32 {f}, {f}, %f1;\n    mul.f32 {f}, {f}, 0f3FB8AA3B;\n    ex2.approx.ftz.f32 {f}, {f};\n    mul.f32 {f}, {f}, %f7;\n"
        ));
    }
    s.push_str(&pack("%f2", "%f3", "%r15", "%r16", "%r17"));
    s.push_str(&pack("%f4", "%f5", "%r18", "%r16", "%r17"));
    s.push_str("    st.global.v2.u32 [%rd15], {%r15, %r18};\n");
    s.push_str("    add.u32 %r11, %r11, 128;\n    bra SMF_OUT;\nSMF_OUT_END:\n");
    s.push_str("    add.s64 %rd9, %rd9, %rd10;\n    bra SMF_ROW;\nSMF_DONE:\n    ret;\n}\n\n");
    s
}

fn softmax_bwd() -> String {
    let mut s = row_prologue("softmax_bwd_bf16", &["p_p", "p_dp", "p_ds"]);
    s.push_str("SMB_ROW:\n    setp.ge.u64 %p1, %rd9, %rd8;\n    @%p1 bra SMB_DONE;\n");
    s.push_str(ROW_START);
    // Pass 1: sum of p * dp.
    s.push_str("    mov.f32 %f1, 0f00000000;\nSMB_SUM:\n    setp.ge.u32 %p2, %r11, %r8;\n    @%p2 bra SMB_SUM_END;\n");
    s.push_str(&addr(1, 14));
    s.push_str(&addr(2, 15));
    s.push_str("    ld.global.v2.u32 {%r12, %r13}, [%rd14];\n    ld.global.v2.u32 {%r15, %r16}, [%rd15];\n");
    s.push_str(&unpack("%r12", "%f2", "%f3", "%r14"));
    s.push_str(&unpack("%r13", "%f4", "%f5", "%r14"));
    s.push_str(&unpack("%r15", "%f6", "%f7", "%r14"));
    s.push_str(&unpack("%r16", "%f8", "%f9", "%r14"));
    for (p, d) in [
        ("%f2", "%f6"),
        ("%f3", "%f7"),
        ("%f4", "%f8"),
        ("%f5", "%f9"),
    ] {
        s.push_str(&format!("    fma.rn.f32 %f1, {p}, {d}, %f1;\n"));
    }
    s.push_str("    add.u32 %r11, %r11, 128;\n    bra SMB_SUM;\nSMB_SUM_END:\n");
    s.push_str(&warp_reduce("%f1", "add"));
    // Pass 2: ds = p * (dp - sum).
    s.push_str("    mov.u32 %r11, %r10;\nSMB_OUT:\n    setp.ge.u32 %p2, %r11, %r8;\n    @%p2 bra SMB_OUT_END;\n");
    s.push_str(&addr(1, 14));
    s.push_str(&addr(2, 15));
    s.push_str(&addr(3, 16));
    s.push_str("    ld.global.v2.u32 {%r12, %r13}, [%rd14];\n    ld.global.v2.u32 {%r15, %r16}, [%rd15];\n");
    s.push_str(&unpack("%r12", "%f2", "%f3", "%r14"));
    s.push_str(&unpack("%r13", "%f4", "%f5", "%r14"));
    s.push_str(&unpack("%r15", "%f6", "%f7", "%r14"));
    s.push_str(&unpack("%r16", "%f8", "%f9", "%r14"));
    for (p, d) in [
        ("%f2", "%f6"),
        ("%f3", "%f7"),
        ("%f4", "%f8"),
        ("%f5", "%f9"),
    ] {
        s.push_str(&format!(
            "    sub.f32 {d}, {d}, %f1;\n    mul.f32 {p}, {p}, {d};\n"
        ));
    }
    s.push_str(&pack("%f2", "%f3", "%r17", "%r18", "%r19"));
    s.push_str(&pack("%f4", "%f5", "%r22", "%r18", "%r19"));
    s.push_str("    st.global.v2.u32 [%rd16], {%r17, %r22};\n");
    s.push_str("    add.u32 %r11, %r11, 128;\n    bra SMB_OUT;\nSMB_OUT_END:\n");
    s.push_str("    add.s64 %rd9, %rd9, %rd10;\n    bra SMB_ROW;\nSMB_DONE:\n    ret;\n}\n\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bf16 rounding as the PTX does it, on the host: the same integer steps.
    fn round_bits(x: f32) -> u16 {
        let b = x.to_bits();
        ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
    }

    #[test]
    fn rounding_matches_the_half_crate() {
        // Ties (low 16 bits 0x8000) round to even: down from 0x3f80, up from 0x3f81.
        for x in [
            1.0f32,
            -2.5,
            std::f32::consts::PI,
            1e-3,
            65504.0,
            f32::from_bits(0x3f80_8000),
            f32::from_bits(0x3f81_8000),
        ] {
            assert_eq!(round_bits(x), half::bf16::from_f32(x).to_bits(), "{x}");
        }
    }

    #[test]
    fn every_entry_is_in_the_module_and_labels_are_unique() {
        let s = source();
        for e in [
            "noop",
            "spin",
            "fma_bf16",
            "softmax_bf16",
            "softmax_bwd_bf16",
        ] {
            assert!(s.contains(&format!(".visible .entry {e}(")), "{e}");
        }
        let labels: Vec<&str> = s
            .lines()
            .filter(|l| l.ends_with(':') && !l.starts_with(' '))
            .collect();
        let mut sorted = labels.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), labels.len(), "{labels:?}");
        // With JOULEPRINT_PTX_OUT set, write the module for `ptxas` to check.
        if let Ok(p) = std::env::var("JOULEPRINT_PTX_OUT") {
            std::fs::write(p, &s).expect("write PTX");
        }
    }
}
