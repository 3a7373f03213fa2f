#!/usr/bin/env python3
"""Host (Python + dispatcher + autograd) time per op, module, autograd node,
generated token and optimizer tensor in eager PyTorch / Hugging Face, on CPU.

The Python and dispatcher work up to a kernel launch is the same code on any
device, so it is measured here on CPU with tiny tensors (the kernel's own work
is extrapolated to zero from two sizes) and models built from a config with
random weights (nothing is downloaded). What a CPU run cannot see (cudaLaunchKernel,
the CUDA caching allocator, autocast, device syncs) comes from cited sources in
docs/host-overhead.md.

Pinned environment (the numbers in shared/data/host-overhead.json were measured with):
    python3 -m venv /work/venv-torch
    /work/venv-torch/bin/pip install torch==2.11.0 transformers==5.23.0
    (PyPI's linux wheel of torch 2.11.0 is the CUDA 13.0 build, the one the
    reference H100 cases ran; it runs on a CPU-only machine. The CPU-only route,
    `pip install --no-deps torch` plus its pure-Python deps, fails at import:
    the PyPI wheel links libcudart/libcublasLt, which only the nvidia-* wheels bring.)

Usage (how shared/data/host-overhead.json was made: two runs of 3 batches, pooled):
    /work/venv-torch/bin/python tools/host_overhead.py --out run-a.json --batches 3
    /work/venv-torch/bin/python tools/host_overhead.py --out run-b.json --batches 3
    /work/venv-torch/bin/python tools/host_overhead.py --summarize run-a.json run-b.json \
        --out shared/data/host-overhead.json
    Direct per-call costs keep the minimum over batches of each batch's median
    (other processes share the machine; contention only adds time); differences
    and slopes keep the median over batches. --quick: a smoke run of a subset.
    Method, results and sources: docs/host-overhead.md.

Timing: every measurement runs `inner` calls per repetition and `reps`
repetitions; per-call time = repetition time / inner. Both wall time
(perf_counter_ns) and the thread's CPU time (thread_time_ns) are recorded; the
thread time is the host cost we keep (it does not count time the thread waited
for a core held by another process). gc is disabled inside timed loops.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time

PINNED = {"torch": "2.11.0", "transformers": "5.23.0"}

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import transformers  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

transformers.logging.set_verbosity_error()

tt = time.thread_time_ns
pc = time.perf_counter_ns

QUICK = False

# ---------------------------------------------------------------- timing core


def _q(xs):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def summarize(per_call_thread, per_call_wall, inner):
    q1, med, q3 = _q(per_call_thread)
    w1, wmed, w3 = _q(per_call_wall)
    return {
        "thread_us": {"median": med, "iqr": q3 - q1, "q1": q1, "q3": q3},
        "wall_us": {"median": wmed, "iqr": w3 - w1, "q1": w1, "q3": w3},
        "n": len(per_call_thread),
        "inner": inner,
    }


def bench(fn, target_ms=4.0, reps=None, ctx=None, inner=None):
    """Per-call host time of fn(): median/IQR over repetitions of `inner` calls."""
    reps = reps or (7 if QUICK else 21)
    ctx = ctx or contextlib.nullcontext
    with ctx():
        for _ in range(3):
            fn()
        if inner is None:
            t0 = pc()
            k = 0
            while pc() - t0 < target_ms * 1e5 and k < 1000:  # ~1/10 of target
                fn()
                k += 1
            per = (pc() - t0) / k
            inner = max(1, int(target_ms * 1e6 / max(per, 1.0)))
        gc.collect()
        gc.disable()
        try:
            th, wa = [], []
            for _ in range(reps):
                w0 = pc()
                c0 = tt()
                for _ in range(inner):
                    fn()
                c1 = tt()
                w1 = pc()
                th.append((c1 - c0) / inner / 1e3)
                wa.append((w1 - w0) / inner / 1e3)
        finally:
            gc.enable()
    return summarize(th, wa, inner)


def med(m):
    return m["thread_us"]["median"]


# ------------------------------------------------------------ op classification

# Ops that reach the backend without launching a device kernel.
NO_KERNEL = {
    "aten::empty",
    "aten::empty_strided",
    "aten::empty_like",
    "aten::detach",
    "aten::lift_fresh",
    "aten::alias",
    "aten::resize_",
    "aten::set_",
    "aten::_has_compatible_shallow_copy_type",
    "aten::is_same_size",
    "aten::sym_size",
    "aten::sym_stride",
    "aten::sym_numel",
    "aten::sym_storage_offset",
    "aten::is_nonzero",
}
# Views without an alias annotation in their schema (matmul's reshapes): no kernel, counted as views.
VIEW_LIKE = {"aten::_unsafe_view"}
SYNC = {"aten::_local_scalar_dense", "aten::item"}


class OpCounter(TorchDispatchMode):
    """Counts the aten ops that reach the backend (below autograd): kernel-launching
    ops (one kernel each on CUDA, an approximation), views and syncs."""

    def __init__(self):
        super().__init__()
        self.kernels = 0
        self.views = 0
        self.other = 0
        self.syncs = 0
        self.names: dict[str, int] = {}
        self.enabled = True

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if self.enabled:
            name = func._schema.name
            self.names[name] = self.names.get(name, 0) + 1
            if name in SYNC:
                self.syncs += 1
            elif func.is_view or name in VIEW_LIKE:
                self.views += 1
            elif name in NO_KERNEL:
                self.other += 1
            else:
                self.kernels += 1
        return func(*args, **(kwargs or {}))

    def as_dict(self, div=1.0):
        return {
            "kernels": self.kernels / div,
            "views": self.views / div,
            "no_kernel_other": self.other / div,
            "syncs": self.syncs / div,
            "ops": dict(sorted(((k, v / div) for k, v in self.names.items()), key=lambda kv: -kv[1])),
        }


class ModuleCounter:
    """Counts nn.Module.__call__ invocations (global hook, only while counting)."""

    def __init__(self):
        self.n = 0

    def __enter__(self):
        def hook(mod, args):
            self.n += 1

        self.h = torch.nn.modules.module.register_module_forward_pre_hook(hook)
        return self

    def __exit__(self, *a):
        self.h.remove()


# ------------------------------------------------------------------- (a) ops

def _autocast(grad_ctx, cache=True):
    @contextlib.contextmanager
    def ctx():
        with grad_ctx(), torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=cache):
            yield

    return ctx


MODES = {
    "inference": torch.inference_mode,
    "no_grad": torch.no_grad,
    "grad": torch.enable_grad,
}
# Autocast (bf16) runs the same dispatcher key logic on CPU as on CUDA (AutocastCPU
# vs AutocastCUDA; its op lists differ a little). Grad mode with a weight that
# requires grad is the training case, where the cast cache applies.
AUTOCAST_MODES = {
    "autocast_no_grad": _autocast(torch.no_grad),
    "autocast_grad_cached": _autocast(torch.enable_grad, True),
    "autocast_grad_nocache": _autocast(torch.enable_grad, False),
}
AUTOCAST_OPS = ("linear", "matmul", "add", "softmax", "layer_norm", "gelu_tanh", "mul")


def op_cases():
    """(name, gpu_kernels, make(scale, device, grad) -> (fn, work)). Two scales
    per op: 's' tiny, 'l' larger, to extrapolate the op's own work to zero."""
    cases = []

    def t(*shape, dev, grad=False, dtype=torch.float32):
        x = torch.randn(*shape, device=dev, dtype=dtype)
        return x.requires_grad_(grad)

    def linear(scale, dev, grad):
        m, k = (1, 16) if scale == "s" else (64, 256)
        x, w, b = t(m, k, dev=dev), t(k, k, dev=dev, grad=grad), t(k, dev=dev, grad=grad)
        return (lambda: F.linear(x, w, b)), 2 * m * k * k

    def matmul(scale, dev, grad):
        n = 16 if scale == "s" else 192
        a, b = t(n, n, dev=dev, grad=grad), t(n, n, dev=dev)
        return (lambda: a @ b), 2 * n**3

    def matmul4d(scale, dev, grad):
        b_, h, s, d = (1, 2, 4, 8) if scale == "s" else (1, 8, 64, 64)
        q, k = t(b_, h, s, d, dev=dev, grad=grad), t(b_, h, s, d, dev=dev)
        return (lambda: torch.matmul(q, k.transpose(-1, -2))), 2 * b_ * h * s * s * d

    def ew_shape(scale):
        return (1, 16) if scale == "s" else (64, 1024)

    def binary(op):
        def mk(scale, dev, grad):
            sh = ew_shape(scale)
            a, b = t(*sh, dev=dev, grad=grad), t(*sh, dev=dev)
            return (lambda: op(a, b)), sh[0] * sh[1]

        return mk

    def unary(op):
        def mk(scale, dev, grad):
            sh = ew_shape(scale)
            a = t(*sh, dev=dev, grad=grad)
            return (lambda: op(a)), sh[0] * sh[1]

        return mk

    def layer_norm(scale, dev, grad):
        sh = ew_shape(scale)
        x, w, b = t(*sh, dev=dev, grad=grad), t(sh[1], dev=dev, grad=grad), t(sh[1], dev=dev, grad=grad)
        return (lambda: F.layer_norm(x, (sh[1],), w, b)), sh[0] * sh[1]

    def cat(scale, dev, grad):
        sh = ew_shape(scale)
        a, b = t(*sh, dev=dev, grad=grad), t(*sh, dev=dev)
        return (lambda: torch.cat([a, b], dim=-1)), 2 * sh[0] * sh[1]

    def embedding(scale, dev, grad):
        n, v, d = (4, 64, 16) if scale == "s" else (256, 1024, 256)
        idx = torch.randint(0, v, (1, n), device=dev)
        w = t(v, d, dev=dev, grad=grad)
        return (lambda: F.embedding(idx, w)), n * d

    def sdpa(scale, dev, grad):
        b_, h, s, d = (1, 2, 4, 8) if scale == "s" else (1, 8, 64, 64)
        q, k, v = t(b_, h, s, d, dev=dev, grad=grad), t(b_, h, s, d, dev=dev), t(b_, h, s, d, dev=dev)
        return (lambda: F.scaled_dot_product_attention(q, k, v)), 4 * b_ * h * s * s * d

    cases += [
        ("linear", 1, linear),
        ("matmul", 1, matmul),
        ("matmul_4d", 1, matmul4d),
        ("add", 1, binary(torch.add)),
        ("mul", 1, binary(torch.mul)),
        ("add_scalar", 1, unary(lambda a: a + 1.0)),
        ("softmax", 1, unary(lambda a: torch.softmax(a, -1))),
        ("layer_norm", 1, layer_norm),
        ("gelu", 1, unary(F.gelu)),
        ("gelu_tanh", 1, unary(lambda a: F.gelu(a, approximate="tanh"))),
        ("silu", 1, unary(F.silu)),
        ("pow", 1, unary(lambda a: a.pow(2))),
        ("mean_keepdim", 1, unary(lambda a: a.mean(-1, keepdim=True))),
        ("rsqrt", 1, unary(torch.rsqrt)),
        ("to_bf16", 1, unary(lambda a: a.to(torch.bfloat16))),
        ("argmax", 1, unary(lambda a: a.argmax(-1))),
        ("cat", 1, cat),
        ("embedding", 1, embedding),
        ("sdpa", 1, sdpa),
        ("contiguous_of_transpose", 1, unary(lambda a: a.transpose(0, 1).contiguous())),
        ("view", 0, unary(lambda a: a.view(-1))),
        ("reshape_viewable", 0, unary(lambda a: a.reshape(-1))),
        ("transpose", 0, unary(lambda a: a.transpose(0, 1))),
        ("unsqueeze", 0, unary(lambda a: a.unsqueeze(0))),
        ("slice", 0, unary(lambda a: a[:, :8])),
    ]
    return cases


def measure_ops(out):
    res = {}
    base = bench(lambda: None)
    out["python_call_baseline"] = base
    b = med(base)
    kernel_ops = []
    for name, kernels, make in op_cases():
        if QUICK and name not in ("linear", "add", "view", "layer_norm"):
            continue
        r = {"gpu_kernels": kernels}
        for mode, ctx in MODES.items():
            grad = mode == "grad"
            fs, ws = make("s", "cpu", grad)
            ms = bench(fs, ctx=ctx)
            entry = {"small": ms, "small_work": ws}
            if kernels:
                fl, wl = make("l", "cpu", grad)
                ml = bench(fl, ctx=ctx)
                ts, tl = med(ms), med(ml)
                slope = (tl - ts) / (wl - ws)
                entry.update(
                    large=ml,
                    large_work=wl,
                    slope_us_per_work=slope,
                    intercept_us=ts - slope * ws,
                )
            else:
                entry["intercept_us"] = med(ms)
            entry["host_us"] = entry["intercept_us"] - b  # minus the lambda call of the timing loop
            r[mode] = entry
        if name in AUTOCAST_OPS:
            for mode, ctx in AUTOCAST_MODES.items():
                fs, _ = make("s", "cpu", "grad" in mode)
                ms = bench(fs, ctx=ctx)
                with ctx():
                    fs()
                    c = OpCounter()
                    with c:
                        fs()
                r[mode] = {"small": ms, "host_us": med(ms) - b, "counts": c.as_dict()}
        # meta device: Python + dispatcher + shape inference, no allocation, no kernel
        try:
            fm, _ = make("s", "meta", False)
            mm = bench(fm, ctx=torch.inference_mode)
            r["meta_inference"] = mm
            r["meta_inference"]["host_us"] = med(mm) - b
        except Exception as e:  # some ops lack meta kernels
            r["meta_inference"] = {"error": repr(e)[:200]}
        res[name] = r
        if kernels:
            kernel_ops.append(name)
        print(
            f"  op {name:26s} inf {r['inference']['host_us']:6.2f}  no_grad {r['no_grad']['host_us']:6.2f}"
            f"  grad {r['grad']['host_us']:6.2f} us",
            flush=True,
        )
    out["ops"] = res
    return res


def measure_allocation(out):
    """Allocation + free of a small tensor on CPU vs on meta (no storage): what the CPU
    run's ops pay for memory, which the CUDA caching allocator replaces on a GPU."""
    res = {}
    b = med(out["python_call_baseline"])
    with torch.inference_mode():
        for dev in ("cpu", "meta"):
            m = bench(lambda: torch.empty(16, device=dev))
            res[f"empty_16_{dev}"] = {"timing": m, "host_us": med(m) - b}
    res["cpu_minus_meta_us"] = res["empty_16_cpu"]["host_us"] - res["empty_16_meta"]["host_us"]
    print(f"  allocation: empty(16) cpu {res['empty_16_cpu']['host_us']:.2f} us, meta {res['empty_16_meta']['host_us']:.2f} us", flush=True)
    out["allocation"] = res
    return res


def profiler_crosscheck(out):
    """torch.profiler's CPU time of the top-level aten op per call (inference mode,
    tiny tensors) next to the timed per-call cost: the gap is the Python binding
    and argument parsing (the profiler adds its own overhead to the aten side)."""
    from torch.profiler import ProfilerActivity, profile

    res = {}
    top = {"linear": "aten::linear", "add": "aten::add", "layer_norm": "aten::layer_norm",
           "softmax": "aten::softmax", "view": "aten::view", "cat": "aten::cat",
           "embedding": "aten::embedding", "mul": "aten::mul"}
    n = 2000
    for name, kernels, make in op_cases():
        if name not in top:
            continue
        f, _ = make("s", "cpu", False)
        with torch.inference_mode():
            for _ in range(50):
                f()
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(n):
                    f()
        ev = {e.key: e for e in prof.key_averages()}
        e = ev.get(top[name])
        if e is None:
            continue
        res[name] = {
            "aten_op": top[name],
            "calls": e.count,
            "cpu_total_us_per_call": e.cpu_time_total / e.count,
            "self_cpu_us_per_call": e.self_cpu_time_total / e.count,
            "timed_host_us_per_call": out["ops"][name]["inference"]["host_us"] if name in out.get("ops", {}) else None,
            "children": {k: ev[k].cpu_time_total / n for k in ev if k != top[name] and ev[k].count >= n},
        }
        print(f"  profiler {name:12s} aten total {res[name]['cpu_total_us_per_call']:5.2f} us/call,"
              f" self {res[name]['self_cpu_us_per_call']:5.2f}", flush=True)
    out["profiler_crosscheck"] = res
    return res


# ------------------------------------------------------------ (b) modules


class Noop(nn.Module):
    def forward(self, x):
        return x


def tiny_gpt2(layers=2, vocab=512):
    cfg = GPT2Config(
        n_layer=layers, n_embd=32, n_head=4, vocab_size=vocab, n_positions=512,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    )
    return GPT2LMHeadModel(cfg).eval()


def tiny_llama(layers=2, vocab=512, hidden=32, heads=4, inter=64, dtype=torch.float32):
    cfg = LlamaConfig(
        num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
        num_key_value_heads=heads, intermediate_size=inter, vocab_size=vocab,
        max_position_embeddings=1024, tie_word_embeddings=False,
    )
    return LlamaForCausalLM(cfg).to(dtype).eval()


def tiny_bert(layers=2):
    cfg = BertConfig(
        num_hidden_layers=layers, hidden_size=32, num_attention_heads=4,
        intermediate_size=64, vocab_size=512, max_position_embeddings=128,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    return BertModel(cfg).eval()


def capture_calls(model, run, classes):
    """Args and kwargs of the first call of each module class during one forward."""
    got = {}
    hooks = []
    for _, m in model.named_modules():
        cls = type(m).__name__
        if cls in classes:
            def pre(mod, args, kwargs, _c=cls):
                got.setdefault(_c, (mod, args, dict(kwargs)))
            hooks.append(m.register_forward_pre_hook(pre, with_kwargs=True))
    with torch.no_grad():
        run()
    for h in hooks:
        h.remove()
    return got


def module_profile(fn, grad):
    ctx = torch.enable_grad if grad else torch.no_grad
    with ctx():
        with ModuleCounter() as mc:
            c = OpCounter()
            with c:
                fn()
    d = c.as_dict()
    d["module_calls"] = mc.n
    return d


def measure_modules(out, per_kernel_us, per_view_us):
    res = {}
    base = med(out["python_call_baseline"])
    x = torch.randn(1, 16)
    noop = Noop()
    seq10 = nn.Sequential(*[Noop() for _ in range(10)])
    lin = nn.Linear(16, 16)
    with torch.inference_mode():
        res["noop_call"] = bench(lambda: noop(x))
        res["noop_forward_direct"] = bench(lambda: noop.forward(x))
        res["sequential_10_noop"] = bench(lambda: seq10(x))
        res["nn_linear_call"] = bench(lambda: lin(x))
        res["F_linear_same_args"] = bench(lambda: F.linear(x, lin.weight, lin.bias))
    bare = {
        "us_module_call_machinery": med(res["noop_call"]) - med(res["noop_forward_direct"]),
        "us_per_module_in_sequential": (med(res["sequential_10_noop"]) - base) / 11.0,
        "us_nn_linear_minus_F_linear": med(res["nn_linear_call"]) - med(res["F_linear_same_args"]),
    }
    res["bare_module_derived"] = bare
    print(f"  bare module: {bare}", flush=True)

    models = {
        "gpt2": (tiny_gpt2(), ["GPT2Block", "GPT2Attention", "GPT2MLP", "LayerNorm"]),
        "llama": (tiny_llama(), ["LlamaDecoderLayer", "LlamaAttention", "LlamaMLP", "LlamaRMSNorm", "LlamaRotaryEmbedding"]),
        "bert": (tiny_bert(), ["BertLayer", "BertAttention", "BertSelfAttention", "BertIntermediate", "BertOutput", "BertEmbeddings"]),
    }
    hf = {}
    for mname, (model, classes) in models.items():
        if QUICK and mname == "bert":
            continue
        ids = torch.randint(3, 500, (1, 8))
        run_full = lambda: model(ids, use_cache=False) if mname != "bert" else model(ids)
        calls = capture_calls(model, run_full, classes)
        items = [(c, *calls[c]) for c in classes if c in calls]
        items.append((type(model).__name__ + "_full_forward", model, (ids,), {"use_cache": False} if mname != "bert" else {}))
        for cls, mod, args, kwargs in items:
            f = functools.partial(mod, *args, **kwargs)
            entry = {}
            for grad in (False, True):
                for p in model.parameters():
                    p.requires_grad_(grad)
                prof = module_profile(f, grad)
                m = bench(f, ctx=torch.enable_grad if grad else torch.no_grad)
                host = med(m) - base
                k, v = prof["kernels"], prof["views"]
                resid = host - k * per_kernel_us["no_grad" if not grad else "grad"] - v * per_view_us["no_grad" if not grad else "grad"]
                entry["grad" if grad else "no_grad"] = {
                    "timing": m,
                    "host_us": host,
                    "counts": prof,
                    "us_per_kernel_all_in": host / k if k else None,
                    "residual_python_us": resid,
                    "residual_us_per_module_call": resid / prof["module_calls"],
                }
            for p in model.parameters():
                p.requires_grad_(False)
            hf[f"{mname}.{cls}"] = entry
            e = entry["no_grad"]
            print(
                f"  {mname}.{cls:32s} no_grad {e['host_us']:8.1f} us, kernels {e['counts']['kernels']:4.0f},"
                f" views {e['counts']['views']:3.0f}, modules {e['counts']['module_calls']:3d},"
                f" all-in/kernel {e['us_per_kernel_all_in'] or 0:5.2f}, resid/module {e['residual_us_per_module_call']:6.2f}"
                f" | grad {entry['grad']['host_us']:8.1f} us",
                flush=True,
            )
    res["hf"] = hf
    out["modules"] = res
    return res


# ------------------------------------------------------------ (c) autograd


def graph_nodes(t):
    seen, stack = set(), [t.grad_fn]
    names = {}
    while stack:
        n = stack.pop()
        if n is None or n in seen:
            continue
        seen.add(n)
        names[type(n).__name__] = names.get(type(n).__name__, 0) + 1
        for nx, _ in n.next_functions:
            stack.append(nx)
    return len(seen), names


def measure_autograd(out):
    res = {}

    def chain(kind, n, scale):
        sh = (1, 16) if scale == "s" else (64, 1024)
        x = torch.randn(*sh, requires_grad=True)
        params = []
        y = x
        for i in range(n):
            if kind == "mul_scalar":
                y = y * 1.0001
            elif kind == "mul_tensor_const":
                y = y * torch.full(sh, 1.0001)
            elif kind == "add_param":
                b = torch.zeros(sh[-1], requires_grad=True)
                params.append(b)
                y = y + b
            elif kind == "linear_param":
                d = sh[-1] if scale == "s" else 256
                if i == 0 and scale == "l":
                    y = y[:, :256]
                w = (torch.eye(d) * 0.99).requires_grad_(True)
                params.append(w)
                y = F.linear(y, w)
            elif kind == "gelu":
                y = F.gelu(y)
        loss = y.sum()
        return loss, x, params

    kinds = ["mul_scalar", "mul_tensor_const", "add_param", "linear_param", "gelu"]
    if QUICK:
        kinds = ["mul_scalar", "linear_param"]
    n1, n2 = (16, 64) if QUICK else (32, 160)
    for kind in kinds:
        r = {}
        for scale in ("s", "l"):
            pts = {}
            for n in (n1, n2):
                loss, x, params = chain(kind, n, scale)
                loss.backward(retain_graph=True)  # grads exist: later calls accumulate (one add per leaf)
                nodes, names = graph_nodes(loss)
                c = OpCounter()
                with c:
                    loss.backward(retain_graph=True)
                m = bench(lambda: loss.backward(retain_graph=True), target_ms=6.0)
                pts[n] = {"timing": m, "nodes": nodes, "node_types": names, "counts": c.as_dict()}
            d_t = med(pts[n2]["timing"]) - med(pts[n1]["timing"])
            d_nodes = pts[n2]["nodes"] - pts[n1]["nodes"]
            d_k = pts[n2]["counts"]["kernels"] - pts[n1]["counts"]["kernels"]
            d_w = pts[n2]["timing"]["wall_us"]["median"] - pts[n1]["timing"]["wall_us"]["median"]
            r[scale] = {
                "points": {str(k): v for k, v in pts.items()},
                "us_per_node": d_t / d_nodes,
                "us_per_node_wall": d_w / d_nodes,
                "kernels_per_node": d_k / d_nodes,
                "us_per_kernel": d_t / d_k if d_k else None,
            }
        # the per-node work grows with size: extrapolate to zero work
        ws, wl = 16, 64 * 1024
        if kind == "linear_param":
            ws, wl = 16 * 16 * 16 * 2, 64 * 256 * 256 * 2
        s_, l_ = r["s"]["us_per_node"], r["l"]["us_per_node"]
        r["us_per_node_zero_work"] = s_ - (l_ - s_) * ws / (wl - ws)
        r["kernels_per_node"] = r["s"]["kernels_per_node"]
        r["us_per_kernel_zero_work"] = (
            r["us_per_node_zero_work"] / r["kernels_per_node"] if r["kernels_per_node"] else None
        )
        res[kind] = r
        print(
            f"  autograd {kind:18s} {r['us_per_node_zero_work']:6.2f} us/node (thread), "
            f"wall {r['s']['us_per_node_wall']:6.2f}, kernels/node {r['kernels_per_node']:.2f}",
            flush=True,
        )

    # HF models: backward of a tiny LM loss
    for mname, model in (("gpt2", tiny_gpt2()), ("llama", tiny_llama())):
        model.train()
        ids = torch.randint(3, 500, (1, 8))
        loss = model(ids, labels=ids, use_cache=False).loss
        loss.backward(retain_graph=True)
        nodes, names = graph_nodes(loss)
        c = OpCounter()
        with c:
            loss.backward(retain_graph=True)
        m = bench(lambda: loss.backward(retain_graph=True), target_ms=10.0)
        res[f"hf_{mname}_backward"] = {
            "timing": m,
            "nodes": nodes,
            "counts": c.as_dict(),
            "us_per_node": med(m) / nodes,
            "us_per_kernel": med(m) / c.kernels,
            "node_types": names,
        }
        model.eval()
        print(
            f"  autograd hf {mname}: {med(m):8.1f} us, {nodes} nodes ({med(m)/nodes:5.2f} us/node),"
            f" {c.kernels} kernels ({med(m)/c.kernels:5.2f} us/kernel)",
            flush=True,
        )
    out["autograd"] = res
    return res


# ------------------------------------------------------------ (d) generate


class ForwardTimer:
    """Wraps model.forward to accumulate thread/wall time spent inside it."""

    def __init__(self, model):
        self.model = model
        self.orig = model.forward
        self.th = self.wa = self.calls = 0
        self.per_call = []
        self.counter = None

        @functools.wraps(self.orig)
        def fwd(*a, **k):
            if self.counter is not None:
                self.counter.enabled = False
            w0, c0 = pc(), tt()
            r = self.orig(*a, **k)
            d = tt() - c0
            self.th += d
            self.per_call.append(d)
            self.wa += pc() - w0
            self.calls += 1
            if self.counter is not None:
                self.counter.enabled = True
            return r

        model.forward = fwd

    def reset(self):
        self.th = self.wa = self.calls = 0
        self.per_call = []


def pick_eos(model, ids, n):
    """A token greedy decoding never emits (so EOS bookkeeping runs but never stops early)."""
    gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                         do_sample=False, eos_token_id=None, pad_token_id=0)
    used = set(gen.flatten().tolist())
    for t in range(model.config.vocab_size - 1, 0, -1):
        if t not in used:
            return t
    raise RuntimeError("no unused token for eos")


def generate_case(model, batch, prompt, n_a, n_b, reps):
    torch.manual_seed(0)
    ids = torch.randint(3, model.config.vocab_size - 1, (batch, prompt))
    eos = pick_eos(model, ids, n_b)
    kw = dict(attention_mask=torch.ones_like(ids), do_sample=False, eos_token_id=eos, pad_token_id=0)
    ft = ForwardTimer(model)
    pts = {}
    for n in (n_a, n_b):
        tot_th, tot_wa, fw_th, fw_wa = [], [], [], []
        model.generate(ids, max_new_tokens=n, **kw)  # warm-up
        gc.collect()
        gc.disable()
        for _ in range(reps):
            ft.reset()
            w0, c0 = pc(), tt()
            g = model.generate(ids, max_new_tokens=n, **kw)
            c1, w1 = tt(), pc()
            assert g.shape[1] == prompt + n, f"stopped early: {g.shape}"
            tot_th.append((c1 - c0) / 1e3)
            tot_wa.append((w1 - w0) / 1e3)
            fw_th.append(ft.th / 1e3)
            fw_wa.append(ft.wa / 1e3)
        gc.enable()
        loop_th = [a - b for a, b in zip(tot_th, fw_th)]
        # kernels and modules outside the model's forward, per generate call
        c = OpCounter()
        ft.counter = c
        with c:
            model.generate(ids, max_new_tokens=n, **kw)
        ft.counter = None
        pts[n] = {
            "total_thread_us": _q(tot_th)[1],
            "total_wall_us": _q(tot_wa)[1],
            "forward_thread_us": _q(fw_th)[1],
            "forward_wall_us": _q(fw_wa)[1],
            "loop_thread_us": _q(loop_th)[1],
            "loop_thread_iqr": _q(loop_th)[2] - _q(loop_th)[0],
            "forward_calls": ft.calls,
            "loop_counts": c.as_dict(),
            "reps": reps,
        }
    model.forward = ft.orig
    dn = n_b - n_a
    a, b = pts[n_a], pts[n_b]
    r = {
        "batch": batch,
        "prompt": prompt,
        "points": {str(k): v for k, v in pts.items()},
        "eos_token_id": eos,
        "us_per_token_total": (b["total_thread_us"] - a["total_thread_us"]) / dn,
        "us_per_token_total_wall": (b["total_wall_us"] - a["total_wall_us"]) / dn,
        "us_per_token_forward": (b["forward_thread_us"] - a["forward_thread_us"]) / dn,
        "us_per_token_loop": (b["loop_thread_us"] - a["loop_thread_us"]) / dn,
        "loop_kernels_per_token": (b["loop_counts"]["kernels"] - a["loop_counts"]["kernels"]) / dn,
        "loop_views_per_token": (b["loop_counts"]["views"] - a["loop_counts"]["views"]) / dn,
        "loop_syncs_per_token": (b["loop_counts"]["syncs"] - a["loop_counts"]["syncs"]) / dn,
    }
    return r


def measure_generate(out):
    res = {}
    n_a, n_b, reps = (4, 12, 3) if QUICK else (8, 40, 9)
    for mname, mk in (("gpt2", tiny_gpt2), ("llama", tiny_llama)):
        for batch in ((1,) if QUICK else (1, 32)):
            model = mk()
            r = generate_case(model, batch, 8, n_a, n_b, reps)
            # the forward alone for one cached token, counted
            res[f"{mname}_b{batch}"] = r
            print(
                f"  generate {mname} b{batch}: total {r['us_per_token_total']:7.1f} us/token,"
                f" forward {r['us_per_token_forward']:7.1f}, loop {r['us_per_token_loop']:6.1f}"
                f" ({r['loop_kernels_per_token']:.1f} kernels, {r['loop_syncs_per_token']:.1f} syncs per token)",
                flush=True,
            )
    out["generate"] = res
    return res


def measure_reference_decode(out):
    """The reference H100 case's structure (Llama, 16 layers, 16 heads, batch 32,
    prompt 128, 128 new tokens, bf16, HF generate greedy) with tiny widths: the
    same modules and op sequence per token, negligible compute. Variants: batch 32
    (the case; the CPU's own compute shows), batch 1 (the host estimate), a narrower
    batch 1 (compute check) and 2 layers (per-layer split). The batch-1 variants run
    in interleaved rounds so that they see the same machine load."""
    prompt, new = (128, 128) if not QUICK else (128, 16)
    variants = {}
    for batch, hidden, layers in ((32, 64, 16), (1, 64, 16), (1, 32, 16), (1, 64, 2)):
        model = tiny_llama(layers=layers, vocab=512, hidden=hidden, heads=16, inter=176, dtype=torch.bfloat16)
        torch.manual_seed(1)
        ids = torch.randint(3, 510, (batch, prompt))
        eos = pick_eos(model, ids, new)
        kw = dict(attention_mask=torch.ones_like(ids), do_sample=False, eos_token_id=eos, pad_token_id=0)
        ft = ForwardTimer(model)
        model.generate(ids, max_new_tokens=8, **kw)
        variants[(batch, hidden, layers)] = dict(model=model, ids=ids, kw=kw, ft=ft, samples=[])

    def one(v):
        ft = v["ft"]
        ft.reset()
        la = os.getloadavg()[0]
        gc.collect()
        gc.disable()
        w0, c0 = pc(), tt()
        g = v["model"].generate(v["ids"], max_new_tokens=new, **v["kw"])
        c1, w1 = tt(), pc()
        gc.enable()
        assert g.shape[1] == prompt + new
        v["samples"].append({"gen": (c1 - c0) / 1e3, "wall": (w1 - w0) / 1e3, "fw": ft.th / 1e3,
                             "pre": ft.per_call[0] / 1e3, "load": la})

    one(variants[(32, 64, 16)])  # compute-dominated on a CPU: one sample, for information
    rounds = 1 if QUICK else 7
    for _ in range(rounds):
        for key in ((1, 64, 16), (1, 64, 2), (1, 32, 16)):
            one(variants[key])

    res = {}
    for (batch, hidden, layers), v in variants.items():
        model, ids, kw, ft = v["model"], v["ids"], v["kw"], v["ft"]
        # per-token counts outside the forward: difference of 3 and 2 new tokens
        cs = {}
        for n in (2, 3):
            c = OpCounter()
            ft.counter = c
            with ModuleCounter() as mc:
                with c:
                    model.generate(ids, max_new_tokens=n, **kw)
            cs[n] = (c, mc.n)
        ft.counter = None
        model.forward = ft.orig
        # forward-only counts for one cached token
        fc = OpCounter()
        with torch.no_grad():
            past = model(ids, use_cache=True).past_key_values
            nxt = torch.randint(3, 510, (batch, 1))
            with ModuleCounter() as fmc:
                with fc:
                    model(nxt, past_key_values=past, use_cache=True,
                          attention_mask=torch.ones(batch, prompt + 1, dtype=torch.long))
        sm = v["samples"]
        per_tok = [(x["gen"] - x["pre"]) / new for x in sm]
        fw_tok = [(x["fw"] - x["pre"]) / (new - 1) for x in sm]
        loop_tok = [(x["gen"] - x["fw"]) / new for x in sm]
        q = _q(per_tok)
        r = {
            "config": {"layers": layers, "hidden": hidden, "heads": 16, "kv_heads": 16, "intermediate": 176,
                       "vocab": 512, "dtype": "bfloat16", "batch": batch, "prompt": prompt, "new_tokens": new},
            "samples": sm,
            "reps": len(sm),
            "generate_thread_us": _q([x["gen"] for x in sm])[1],
            "generate_wall_us": _q([x["wall"] for x in sm])[1],
            "prefill_forward_thread_us": _q([x["pre"] for x in sm])[1],
            "thread_us_per_token_excl_prefill": q[1],
            "thread_us_per_token_iqr": q[2] - q[0],
            "thread_us_per_token_min": min(per_tok),
            "forward_thread_us_per_token": _q(fw_tok)[1],
            "loop_thread_us_per_token": _q(loop_tok)[1],
            "loadavg_1min_at_reps": [x["load"] for x in sm],
            "loop_per_token_counts": {
                "kernels": cs[3][0].kernels - cs[2][0].kernels,
                "views": cs[3][0].views - cs[2][0].views,
                "syncs": cs[3][0].syncs - cs[2][0].syncs,
                "module_calls": cs[3][1] - cs[2][1],
                "ops": {k: val - cs[2][0].names.get(k, 0) for k, val in cs[3][0].names.items()
                        if val - cs[2][0].names.get(k, 0)},
            },
            "forward_per_token_counts": {**fc.as_dict(), "module_calls": fmc.n},
        }
        res[f"b{batch}_h{hidden}_l{layers}"] = r
        print(
            f"  reference-structure decode b{batch} h{hidden} l{layers}: {len(sm)} x {new} tokens,"
            f" {r['thread_us_per_token_excl_prefill']:.0f} us/token (IQR {r['thread_us_per_token_iqr']:.0f};"
            f" forward {r['forward_thread_us_per_token']:.0f}, loop {r['loop_thread_us_per_token']:.0f}),"
            f" forward kernels/token {fc.kernels}, views {fc.views}, modules {fmc.n}",
            flush=True,
        )
    res["rounds"] = rounds
    out["reference_decode_structure"] = res
    return res


# ------------------------------------------------------------ (e) optimizer


def measure_optimizer(out):
    res = {}
    p1, p2 = (16, 64) if QUICK else (32, 256)
    for label, kw in (
        ("adamw_forloop", {"foreach": False}),
        ("adamw_foreach", {"foreach": True}),
        ("adamw_fused", {"fused": True}),
        ("sgd_momentum_foreach", {"foreach": True}),
    ):
        pts = {}
        for P in (p1, p2):
            params = [torch.zeros(16, requires_grad=True) for _ in range(P)]
            for p in params:
                p.grad = torch.randn(16)
            if label.startswith("sgd"):
                opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9, **kw)
            else:
                opt = torch.optim.AdamW(params, lr=1e-3, **kw)
            opt.step()
            c = OpCounter()
            with c:
                opt.step()
            m = bench(opt.step, target_ms=6.0)
            pts[P] = {"timing": m, "counts": c.as_dict()}
        r = {
            "points": {str(k): v for k, v in pts.items()},
            "us_per_tensor": (med(pts[p2]["timing"]) - med(pts[p1]["timing"])) / (p2 - p1),
            "us_fixed_per_step": med(pts[p1]["timing"])
            - p1 * (med(pts[p2]["timing"]) - med(pts[p1]["timing"])) / (p2 - p1),
            "aten_ops_per_step": {str(k): sum(v["counts"]["ops"].values()) for k, v in pts.items()},
        }
        res[label] = r
        print(f"  optimizer {label:22s} {r['us_per_tensor']:6.2f} us/tensor, fixed {r['us_fixed_per_step']:7.1f} us/step", flush=True)
    out["optimizer"] = res
    return res


# ------------------------------------------------------------ machine


def cpu_speed():
    def s():
        return sum(range(10**7))

    def calls():
        def f():
            pass

        for _ in range(10**6):
            f()

    r = {}
    for name, fn in (("sum_range_1e7_ms", s), ("empty_function_calls_1e6_ms", calls)):
        xs = []
        for _ in range(5):
            c0 = tt()
            fn()
            xs.append((tt() - c0) / 1e6)
        r[name] = {"min": min(xs), "median": statistics.median(xs)}
    return r


def machine():
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        lscpu = ""
    info = {}
    for line in lscpu.splitlines():
        k, _, v = line.partition(":")
        if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Vendor ID", "CPU family", "Model",
                         "Hypervisor vendor", "L2 cache", "L3 cache", "CPU max MHz", "BogoMIPS"):
            info[k.strip()] = v.strip()
    return {
        "lscpu": info,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


# ------------------------------------------------------------ summary


def per_kernel_table(ops):
    """Median host time per kernel-launching op and per view op, per mode."""
    pk, pv = {}, {}
    for mode in ("inference", "no_grad", "grad"):
        ks = [r[mode]["host_us"] for r in ops.values() if r["gpu_kernels"]]
        vs = [r[mode]["host_us"] for r in ops.values() if not r["gpu_kernels"]]
        pk[mode] = statistics.median(ks)
        pv[mode] = statistics.median(vs)
    return pk, pv


# ------------------------------------------------------------ GPU-side costs from sources
# Host costs a CPU run cannot see; each with its source (docs/host-overhead.md quotes them).
SOURCES = {
    "cuda_launch_us": {
        "value": 2.0,
        "range": [1.57, 2.7],
        "how": "median of four documented host-side launch costs of an empty/small kernel",
        "points_us": {
            "cuLaunchKernel from C++, 16 args, RTX 4090 workstation (NVIDIA/cuda-python PR #1959)": 1.57,
            "null kernel, back-to-back launches, V100 host (CSCS reframe kernel_latency 'async' reference)": 1.83,
            "same, P100 host, Piz Daint": 2.2,
            "same, A100 with AMD host": 2.7,
        },
    },
    "sync_round_trip_us": {
        "value": 7.15,
        "range": [6.6, 9.65],
        "how": "launch of a null kernel + cudaDeviceSynchronize per kernel (CSCS reframe kernel_latency 'sync'"
               " references: P100 6.6, V100 7.15, A100 9.65 us); the closest documented analogue of an"
               " .item()/bool(tensor) round trip on an idle device",
    },
    "foreach_tensors_per_launch": {
        "value": 252,
        "how": "PyTorch MultiTensorApply.cuh: with CUDA >= 12.1 (32 KB kernel arguments) one launch covers up to"
               " 770/448/336/252/210 tensors for 1-5 tensor lists and 2240 chunks of 65536 elements; AdamW uses 4 lists",
    },
    "caching_allocator_us": {
        "value": None,
        "how": "no published per-allocation host cost found; the cache hit path replaces the CPU allocator"
               " that the CPU measurement already includes (see allocation.cpu_minus_meta_us), so nothing is added",
    },
}


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def batch_figures(b):
    """Per-batch derived figures (CPU host time, thread CPU time, microseconds)."""
    ops = b["ops"]
    kern = [n for n, r in ops.items() if r["gpu_kernels"]]
    views = [n for n, r in ops.items() if not r["gpu_kernels"]]
    f = {}
    for mode in ("inference", "no_grad", "grad"):
        f[f"kernel_op_{mode}_us"] = _median([ops[n][mode]["host_us"] for n in kern])
        f[f"view_op_{mode}_us"] = _median([ops[n][mode]["host_us"] for n in views])
    f["grad_extra_per_kernel_op_us"] = _median([ops[n]["grad"]["host_us"] - ops[n]["no_grad"]["host_us"] for n in kern])
    f["grad_extra_per_view_op_us"] = _median([ops[n]["grad"]["host_us"] - ops[n]["no_grad"]["host_us"] for n in views])
    # (meta-device timings stay in the raw data only: many meta kernels are Python
    # registrations, tens of us, so they are no proxy for the dispatcher alone)
    per_cast, uncast = [], []
    for n in kern:
        for mode, base in (("autocast_no_grad", "no_grad"), ("autocast_grad_cached", "grad"),
                           ("autocast_grad_nocache", "grad")):
            if mode not in ops[n]:
                continue
            extra = ops[n][mode]["host_us"] - ops[n][base]["host_us"]
            casts = ops[n][mode]["counts"]["ops"].get("aten::_to_copy", 0)
            (per_cast if casts else uncast).append(extra / casts if casts else extra)
    if per_cast:
        f["autocast_extra_per_cast_us"] = _median(per_cast)
        f["autocast_extra_per_uncast_op_us"] = _median(uncast)
    m = b["modules"]
    f["module_call_machinery_us"] = m["bare_module_derived"]["us_module_call_machinery"]
    hf = {k: v for k, v in m["hf"].items() if not k.endswith("_full_forward")}
    f["hf_module_residual_us_per_module_no_grad"] = _median([v["no_grad"]["residual_us_per_module_call"] for v in hf.values()])
    f["hf_module_residual_us_per_module_grad"] = _median([v["grad"]["residual_us_per_module_call"] for v in hf.values()])
    f["hf_all_in_us_per_kernel_no_grad"] = _median([v["no_grad"]["us_per_kernel_all_in"] for v in hf.values()])
    ag = b["autograd"]
    chains = [k for k in ag if not k.startswith("hf_")]
    f["autograd_us_per_node"] = _median([ag[k]["us_per_node_zero_work"] for k in chains])
    f["autograd_kernels_per_node"] = _median([ag[k]["kernels_per_node"] for k in chains])
    f["autograd_hf_us_per_node"] = _median([ag[k]["us_per_node"] for k in ag if k.startswith("hf_")])
    f["autograd_hf_us_per_kernel"] = _median([ag[k]["us_per_kernel"] for k in ag if k.startswith("hf_")])
    g = b["generate"]
    # batch 1: the loop's own CPU compute (argmax, casts over batch x vocab) is negligible there
    f["generate_loop_us_per_token"] = _median([v["us_per_token_loop"] for k, v in g.items() if k.endswith("_b1")])
    f["generate_loop_us_per_token_b32"] = _median([v["us_per_token_loop"] for k, v in g.items() if k.endswith("_b32")])
    f["generate_loop_kernels_per_token"] = _median([v["loop_kernels_per_token"] for v in g.values()])
    f["generate_loop_syncs_per_token"] = _median([v["loop_syncs_per_token"] for v in g.values()])
    o = b["optimizer"]
    for k in o:
        f[f"optimizer_{k}_us_per_tensor"] = o[k]["us_per_tensor"]
    f["loadavg_start"] = b["loadavg_start"]
    f["loadavg_end"] = b.get("loadavg_end")
    f["sum_range_1e7_ms"] = b["cpu_speed"]["sum_range_1e7_ms"]["min"]
    return f


# direct per-call costs: minimum over batches of each batch's median (contention only adds);
# differences and slopes: median over batches
DIFFERENCE_KEYS = ("grad_extra", "autocast_extra", "residual", "autograd", "generate_loop", "optimizer")


def summarize_doc(doc):
    per = [batch_figures(b) for b in doc["batches"]]
    keys = [k for k in per[0] if not k.startswith("loadavg")]
    across = {}
    for k in keys:
        vals = [p[k] for p in per if p.get(k) is not None]
        if not vals:
            continue
        diff = any(t in k for t in DIFFERENCE_KEYS)
        across[k] = {"value": statistics.median(vals) if diff else min(vals),
                     "rule": "median over batches" if diff else "minimum over batches",
                     "per_batch": vals}
    v = {k: across[k]["value"] for k in across}
    L = SOURCES["cuda_launch_us"]["value"]
    S = SOURCES["sync_round_trip_us"]["value"]
    T = SOURCES["foreach_tensors_per_launch"]["value"]
    fused_ops = _median([sum(vv["counts"]["ops"].values()) / int(P)
                         for b in doc["batches"] for P, vv in b["optimizer"]["adamw_forloop"]["points"].items()])
    summary = {
        "units": "microseconds of host (CPU thread) time",
        "cpu_single_thread": {"sum_range_1e7_ms": v["sum_range_1e7_ms"],
                              "note": "this CPU's single-thread speed; scale CPU-measured parts by (host's ms / this ms)"},
        "us_per_kernel_launch": {
            "value": v["kernel_op_no_grad_us"] + L,
            "composed": "median host time of a kernel-launching aten op called from Python under no_grad, zero work"
                        f" (CPU, {v['kernel_op_no_grad_us']:.2f}) + cudaLaunchKernel ({L}, sources)",
            "cpu_part": v["kernel_op_no_grad_us"],
            "cpu_part_inference_mode": v["kernel_op_inference_us"],
        },
        "us_per_view_op": {"value": v["view_op_no_grad_us"], "composed": "median host time of a view op (no kernel), CPU, no_grad"},
        "us_per_kernel_grad_mode_extra": {
            "value": v["grad_extra_per_kernel_op_us"],
            "composed": "median over kernel ops of (grad enabled with a requires-grad input) - (no_grad): autograd node"
                        " creation and saved tensors; host only, nothing added for the GPU",
        },
        "us_per_module_call": {
            "value": v["hf_module_residual_us_per_module_no_grad"],
            "composed": "median over HF modules (GPT2Block/Attention/MLP, LlamaDecoderLayer/Attention/MLP/RMSNorm/Rotary,"
                        " BertLayer/...) of (module host time - kernels x kernel op - views x view op) / module calls,"
                        " no_grad: the Python of a module's forward beyond its ops plus nn.Module.__call__",
            "bare_nn_module_call": v["module_call_machinery_us"],
            "grad_mode": v["hf_module_residual_us_per_module_grad"],
        },
        "us_per_kernel_hf_all_in": {
            "value": v["hf_all_in_us_per_kernel_no_grad"] + L,
            "composed": "median over HF modules of module host time / kernels (CPU, no_grad) + cudaLaunchKernel:"
                        " one number per kernel when modules and views are not counted",
            "cpu_part": v["hf_all_in_us_per_kernel_no_grad"],
        },
        "us_per_autograd_node": {
            "value": v["autograd_us_per_node"] + v["autograd_kernels_per_node"] * L,
            "composed": f"median over op chains of backward time per node at zero work (CPU, {v['autograd_us_per_node']:.2f},"
                        f" includes the engine's dispatch of the node's ~{v['autograd_kernels_per_node']:.1f} kernel)"
                        " + kernels per node x cudaLaunchKernel",
            "cpu_part": v["autograd_us_per_node"],
            "kernels_per_node": v["autograd_kernels_per_node"],
            "hf_backward_cpu_us_per_node": v["autograd_hf_us_per_node"],
            "hf_backward_cpu_us_per_kernel": v["autograd_hf_us_per_kernel"],
        },
        "us_per_generated_token_loop": {
            "value": v["generate_loop_us_per_token"] + v["generate_loop_kernels_per_token"] * L
            + v["generate_loop_syncs_per_token"] * S,
            "composed": f"HF generate (greedy) per token outside the model forward (CPU, {v['generate_loop_us_per_token']:.1f},"
                        " median of tiny GPT-2 and Llama at batch 1)"
                        f" + {v['generate_loop_kernels_per_token']:.0f} loop kernels x cudaLaunchKernel"
                        f" + {v['generate_loop_syncs_per_token']:.0f} sync x round trip ({S})",
            "cpu_part": v["generate_loop_us_per_token"],
            "loop_kernels_per_token": v["generate_loop_kernels_per_token"],
            "loop_syncs_per_token": v["generate_loop_syncs_per_token"],
        },
        "us_per_optimizer_tensor": {
            "value": v["optimizer_adamw_fused_us_per_tensor"] + fused_ops / T * L,
            "composed": "AdamW with foreach/fused kernels (the CUDA default): CPU per-tensor host time of the fused"
                        f" step (Python _init_group + per-tensor checks, {v['optimizer_adamw_fused_us_per_tensor']:.2f})"
                        f" + ~{fused_ops:.0f} multi-tensor ops / {T} tensors per launch x cudaLaunchKernel (negligible)",
            "cpu_adamw_fused": v["optimizer_adamw_fused_us_per_tensor"],
            "cpu_adamw_foreach_cpu_fallback": v["optimizer_adamw_foreach_us_per_tensor"],
            "cpu_sgd_momentum_foreach": v["optimizer_sgd_momentum_foreach_us_per_tensor"],
            "adamw_forloop_gpu": v["optimizer_adamw_forloop_us_per_tensor"] + fused_ops * L,
            "adamw_forloop_note": f"foreach=False: CPU {v['optimizer_adamw_forloop_us_per_tensor']:.2f} + ~{fused_ops:.0f}"
                                  " kernels per tensor x cudaLaunchKernel",
        },
        "us_per_autocast_cast": {
            "value": v.get("autocast_extra_per_cast_us", 0.0) + L,
            "composed": "median over linear/matmul under CPU autocast (bf16; no_grad, grad with cache, grad without"
                        " cache) of (autocast - plain) / casts launched (CPU) + cudaLaunchKernel per cast",
            "cpu_part": v.get("autocast_extra_per_cast_us"),
            "extra_per_op_without_cast": v.get("autocast_extra_per_uncast_op_us"),
            "note": "autocast's own dispatch adds little to ops it does not cast (extra_per_op_without_cast); its host"
                    " cost is the cast kernels (weights once per forward with the cache, activations per op)",
        },
        "sources": SOURCES,
    }
    return {"per_batch": per, "across_batches": across, "summary": summary}


def decode_split(r16, r2, s):
    """Per decoder layer and fixed per-forward host time of a cached decode step, from the
    16- and 2-layer runs of the same structure; the per-module Python this implies."""
    if not r2:
        return None
    dl = 14.0
    f16, f2 = r16["forward_thread_us_per_token"], r2["forward_thread_us_per_token"]
    c16, c2 = r16["forward_per_token_counts"], r2["forward_per_token_counts"]
    per_layer = (f16 - f2) / dl
    k = (c16["kernels"] - c2["kernels"]) / dl
    v = (c16["views"] - c2["views"]) / dl
    m = (c16["module_calls"] - c2["module_calls"]) / dl
    fixed = f2 - 2 * per_layer
    kf, vf, mf = c2["kernels"] - 2 * k, c2["views"] - 2 * v, c2["module_calls"] - 2 * m
    A, V = s["us_per_kernel_launch"]["cpu_part"], s["us_per_view_op"]["value"]
    return {
        "cpu_us_per_decoder_layer": per_layer,
        "per_layer_counts": {"kernels": k, "views": v, "module_calls": m},
        "implied_us_per_module_in_layer": (per_layer - k * A - v * V) / m,
        "cpu_us_fixed_per_forward": fixed,
        "fixed_counts": {"kernels": kf, "views": vf, "module_calls": mf},
        "implied_us_python_fixed_beyond_ops": fixed - kf * A - vf * V,
        "loop_cpu_us_per_token_l2": r2["loop_thread_us_per_token"],
        "loop_cpu_us_per_token_l16": r16["loop_thread_us_per_token"],
    }


def reference_crosscheck(doc, summ):
    """Host time per generated token of the reference case's structure vs the measured H100 case."""
    ref = doc.get("reference_decode_structure")
    if not ref:
        return None
    s = summ["summary"]
    L = SOURCES["cuda_launch_us"]["value"]
    S = SOURCES["sync_round_trip_us"]["value"]
    r = ref["b1_h64_l16"]
    r2 = ref.get("b1_h64_l2")
    kf = r["forward_per_token_counts"]["kernels"]
    vf = r["forward_per_token_counts"]["views"]
    mods = r["forward_per_token_counts"]["module_calls"]
    kl = r["loop_per_token_counts"]["kernels"]
    # the narrower model runs the same op sequence with less CPU compute: the lower of the two
    # batch-1 widths is the host estimate
    narrow = ref.get("b1_h32_l16")
    direct_cpu = min(r["thread_us_per_token_excl_prefill"],
                     narrow["thread_us_per_token_excl_prefill"] if narrow else float("inf"))
    syncs = r["forward_per_token_counts"]["syncs"] + r["loop_per_token_counts"]["syncs"]
    direct_gpu_host = direct_cpu + (kf + kl) * L + syncs * S
    composed_cpu = (kf * s["us_per_kernel_launch"]["cpu_part"] + vf * s["us_per_view_op"]["value"]
                    + mods * s["us_per_module_call"]["value"] + s["us_per_generated_token_loop"]["cpu_part"])
    composed_gpu_host = composed_cpu + (kf + kl) * L + syncs * S
    measured = 1.64624 / 128 * 1e6  # h100-cases.jsonl llama1b_decode_bf16_b32_p128_n128: seconds_per_step / new_tokens
    return {
        "case": "llama1b_decode_bf16_b32_p128_n128 (shared/data/h100-cases.jsonl): 16 LlamaDecoderLayer, batch 32,"
                " prompt 128, 128 new tokens, bf16, HF generate; measured 1.64624 s per step",
        "measured_us_per_token": measured,
        "per_token_counts": {"forward_kernels": kf, "forward_views": vf, "module_calls": mods, "loop_kernels": kl,
                             "syncs": syncs},
        "direct": {
            "cpu_us_per_token": direct_cpu,
            "gpu_host_us_per_token": direct_gpu_host,
            "how": "same structure with tiny widths (hidden 64 or 32, the lower), batch 1, generate timed on this CPU"
                   " (thread time, prefill excluded, median of interleaved rounds) + (forward + loop kernels)"
                   " x cudaLaunchKernel + syncs x round trip (the forward's causal-mask check and the loop's stop check)",
            "ratio_measured_over_estimate": measured / direct_gpu_host,
        },
        "composed": {
            "cpu_us_per_token": composed_cpu,
            "gpu_host_us_per_token": composed_gpu_host,
            "how": "kernels x us_per_kernel_launch(cpu) + views x us_per_view_op + modules x us_per_module_call"
                   " + loop (cpu) + GPU launch and sync as above",
            "ratio_measured_over_estimate": measured / composed_gpu_host,
        },
        "batch32_cpu_us_per_token": ref["b32_h64_l16"]["thread_us_per_token_excl_prefill"],
        "narrow_h32_cpu_us_per_token": ref["b1_h32_l16"]["thread_us_per_token_excl_prefill"],
        "decode_split": decode_split(r, r2, s),
        "batch32_note": "at batch 32 the CPU's own bf16 compute dominates (not host overhead); batch 1 is the host estimate",
        "estimator_now": "18.2 us per Python-launched kernel (fitted on this case)",
    }


def run_batch(i):
    out = {"batch": i, "loadavg_start": os.getloadavg(), "started": _dt.datetime.now().isoformat(timespec="seconds")}
    out["cpu_speed"] = cpu_speed()
    print(f"batch {i}: load {out['loadavg_start']}, cpu speed {out['cpu_speed']}", flush=True)
    ops = measure_ops(out)
    profiler_crosscheck(out)
    measure_allocation(out)
    pk, pv = per_kernel_table(ops)
    out["per_kernel_median_us"] = pk
    out["per_view_median_us"] = pv
    measure_modules(out, pk, pv)
    measure_autograd(out)
    measure_optimizer(out)
    measure_generate(out)
    out["loadavg_end"] = os.getloadavg()
    return out


def main():
    global QUICK
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-reference", action="store_true", help="skip the 16-layer reference-structure decode")
    ap.add_argument("--summarize", metavar="JSON", nargs="+",
                    help="only recompute the summary of existing results files (several runs: their batches are pooled)")
    a = ap.parse_args()
    if a.summarize:
        finish(merge_runs(a.summarize), a.out)
        return
    QUICK = a.quick
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    for k, v in PINNED.items():
        have = {"torch": torch.__version__, "transformers": transformers.__version__}[k]
        if not have.startswith(v):
            print(f"warning: {k} {have} is not the pinned {v}", file=sys.stderr)
    doc = {
        "what": "host (Python + dispatcher + autograd) time per op/module/node/token/tensor of eager PyTorch+HF on CPU; tools/host_overhead.py",
        "date": _dt.date.today().isoformat(),
        "machine": machine(),
        "pinned": PINNED,
        "batches": [],
    }
    for i in range(a.batches):
        doc["batches"].append(run_batch(i))
        if not a.no_reference and i == 0:
            doc["reference_batch_loadavg_start"] = os.getloadavg()
            measure_reference_decode(doc)
            doc["reference_batch_loadavg_end"] = os.getloadavg()
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)
    finish(doc, a.out)


def merge_runs(paths):
    """Pool the batches of several runs; keep the reference-structure decode with the lowest
    per-token time (contention only adds), and every run's copy."""
    docs = []
    for p in paths:
        with open(p) as f:
            docs.append(json.load(f))
    doc = {k: v for k, v in docs[0].items() if k not in ("derived", "summary", "reference_crosscheck")}
    doc["batches"] = [b for d in docs for b in d["batches"]]
    all_refs = [d["reference_decode_structure"] for d in docs if d.get("reference_decode_structure")]
    refs = all_refs
    if any("rounds" in r for r in refs):  # interleaved rounds (the later method) replace single runs
        refs = [r for r in refs if "rounds" in r]
    if refs:
        doc["reference_decode_structure"] = min(
            refs, key=lambda r: r["b1_h64_l16"]["thread_us_per_token_excl_prefill"])
        doc["reference_decode_structure_runs"] = all_refs
    doc["runs"] = [{"file": os.path.basename(p), "date": d["date"], "batches": len(d["batches"]),
                    "reference_loadavg": [d.get("reference_batch_loadavg_start"), d.get("reference_batch_loadavg_end")]}
                   for p, d in zip(paths, docs)]
    return doc


def finish(doc, path):
    summ = summarize_doc(doc)
    doc["derived"] = {"per_batch": summ["per_batch"], "across_batches": summ["across_batches"]}
    doc["summary"] = summ["summary"]
    doc["reference_crosscheck"] = reference_crosscheck(doc, summ)
    ds = (doc["reference_crosscheck"] or {}).get("decode_split")
    if ds:
        doc["summary"]["hf_cached_decode"] = {
            "us_per_module_call": ds["implied_us_per_module_in_layer"],
            "us_python_fixed_per_forward": ds["implied_us_python_fixed_beyond_ops"],
            "cpu_us_per_decoder_layer": ds["cpu_us_per_decoder_layer"],
            "per_layer_counts": ds["per_layer_counts"],
            "fixed_counts": ds["fixed_counts"],
            "composed": "HF Llama (bf16, DynamicCache) single-token forward timed at 16 and 2 layers inside generate:"
                        " per layer = difference / 14; per module = (per layer - kernels x kernel op - views x view op)"
                        " / modules per layer; fixed = 2-layer forward - 2 layers - its kernels and views"
                        " (mask creation, position ids, rotary, embedding, norm, head, output objects). CPU only;"
                        " add cudaLaunchKernel per kernel for a GPU host",
        }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(json.dumps(doc["summary"], indent=1, default=str)[:6000])
    print(json.dumps(doc["reference_crosscheck"], indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
