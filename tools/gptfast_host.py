"""Host cost of one decoded token of gpt-fast's eager baseline, on CPU.

The PyTorch blog "Accelerating Generative AI with PyTorch II: GPT, Fast"
(2023-11-30) starts from an eager LLaMA-7B at 25.5 tok/s on an A100-80GB,
batch 1, "heavily CPU overhead bound": 39.2 ms of host time per token. Its code
is public (pytorch-labs/gpt-fast). This runs that code's token loop (model.py
and generate.py's decode_n_tokens at commit 3bcaaaf, the blog's date) eagerly
on CPU over a model of the 7B's depth with tiny widths and random weights, and
reports the CPU thread time per token and the kernels per token (a
TorchDispatchMode count of non-view aten ops, as tools/host_stack_compare.py).
The blog's host time over (this CPU time + the documented launch cost per
kernel) is the host scale of a public A100 host, measured independently of
the project's reference cases (docs/host-overhead.md, "The host scale").

    git clone https://github.com/pytorch-labs/gpt-fast && git -C gpt-fast checkout 3bcaaaf
    for i in 1 2 3; do
      /work/venv-torch/bin/python tools/gptfast_host.py --gpt-fast gpt-fast --out run-$i.json
    done
    python3 tools/gptfast_host.py --summarize run-*.json --out shared/data/host-gptfast.json
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time


def run(src, out_path, layers, new, reps):
    import torch
    from kernel_count import kernel_counter

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    sys.path.insert(0, src)
    import model as gf  # gpt-fast's model.py

    # the 7B's structure (32 layers, MHA, SwiGLU) at tiny widths
    args = gf.ModelArgs(n_layer=layers, n_head=16, dim=64, vocab_size=512, block_size=512)
    torch.manual_seed(0)
    model = gf.Transformer(args).to(torch.bfloat16).eval()
    prompt = 5  # generate.py's default prompt "Hello, my name is" is 5 tokens
    model.setup_caches(max_batch_size=1, max_seq_length=prompt + new)

    # generate.py at 3bcaaaf: sample() with temperature 0.8, top_k 200 (its defaults)
    def logits_to_probs(logits, temperature=0.8, top_k=200):
        logits = logits / max(temperature, 1e-5)
        v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
        pivot = v.select(-1, -1).unsqueeze(-1)
        logits = torch.where(logits < pivot, -float("Inf"), logits)
        return torch.nn.functional.softmax(logits, dim=-1)

    def sample(logits):
        probs = logits_to_probs(logits[0, -1])
        q = torch.empty_like(probs).exponential_(1)
        return torch.argmax(probs / q, dim=-1, keepdim=True).to(dtype=torch.int), probs

    from torch.nn.attention import SDPBackend, sdpa_kernel

    def one_run(count=None):
        with torch.no_grad():
            ids = torch.randint(3, 510, (1, prompt))
            pos = torch.arange(0, prompt)
            tok, _ = sample(model(ids, pos))
            input_pos = torch.tensor([prompt], dtype=torch.int)
            cur = tok.view(1, -1)
            new_tokens, new_probs, times = [], [], []
            for i in range(new - 1):
                c0 = time.thread_time_ns()
                if count is not None and i == new // 2:
                    count.__enter__()
                # decode_n_tokens: the math attention path is forced for decoding
                with sdpa_kernel(SDPBackend.MATH):
                    nxt, prob = sample(model(cur, input_pos))
                input_pos += 1
                new_tokens.append(nxt.clone())
                new_probs.append(prob.clone())
                cur = nxt.view(1, -1)
                if count is not None and i == new // 2:
                    count.__exit__(None, None, None)
                times.append(time.thread_time_ns() - c0)
            return times

    counter = kernel_counter()
    one_run(counter)
    medians = []
    for _ in range(reps):
        t = one_run()
        medians.append(statistics.median(t) / 1e3)
    res = {
        "what": "CPU thread time per decoded token of gpt-fast's eager loop (commit 3bcaaaf) over a tiny random 32-layer LLaMA (batch 1)",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "loadavg_1min": os.getloadavg()[0],
        "config": {"layers": layers, "dim": 64, "heads": 16, "vocab": 512, "dtype": "bfloat16", "prompt": prompt, "new_tokens": new},
        "us_per_token_medians": medians,
        "kernels_per_token": counter.kernels,
    }
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summarize(paths, out_path):
    runs = [json.load(open(p)) for p in paths]
    per_run = [min(r["us_per_token_medians"]) for r in runs]
    us = min(per_run)  # contention only adds time
    k = runs[0]["kernels_per_token"]
    assert all(r["kernels_per_token"] == k for r in runs), "kernel counts differ between runs"
    launch_us = 2.0  # cudaLaunchKernel per kernel, as in docs/host-overhead.md
    published_s = 1 / 25.5
    host_us = us + launch_us * k
    out = {
        "what": "host scale implied by the gpt-fast eager baseline (tools/gptfast_host.py; docs/host-overhead.md, 'The host scale')",
        "source": "PyTorch blog, 'Accelerating Generative AI with PyTorch II: GPT, Fast' (2023-11-30), 'Starting Point (25.5 tok/s)', A100-80GB power-limited to 330 W, batch 1, CPU-overhead bound; code: pytorch-labs/gpt-fast commit 3bcaaaf",
        "published_tokens_per_second": 25.5,
        "published_ms_per_token": published_s * 1e3,
        "cpu_us_per_token": us,
        "cpu_us_per_token_all_runs": per_run,
        "kernels_per_token": k,
        "launch_us_per_kernel": launch_us,
        "modelled_host_us_per_token_at_scale_1": host_us,
        "implied_host_scale": published_s * 1e6 / host_us,
        "machine": {"cpu": runs[0]["cpu"], "python": runs[0]["python"], "torch": runs[0]["torch"]},
        "config": runs[0]["config"],
        "runs": runs,
    }
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpt-fast", help="a gpt-fast checkout at commit 3bcaaaf")
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--new", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--summarize", nargs="+")
    a = ap.parse_args()
    if a.summarize:
        summarize(a.summarize, a.out)
    else:
        run(a.gpt_fast, a.out, a.layers, a.new, a.reps)


if __name__ == "__main__":
    main()
