"""Mark the steps `jouleprint measure` should measure (docs/measuring.md).

`jouleprint measure -- python train.py` reads the command's standard output
line by line. A line `jouleprint:begin` opens the energy window, a line
`jouleprint:end steps=N` closes it; N is the number of steps run inside it.
Imports, model loading, compilation and warm-up stay outside the window, so
only the steady state is scored. This file prints those lines, flushed, so they
arrive when they happen. No dependencies: copy it next to your script.

Usage, with a context manager:

    from jouleprint_markers import window, sync

    for step in range(20):          # warm-up: not measured
        train_step()
    sync()                          # let the GPU finish the warm-up first
    with window(steps=200):         # measured: 200 steps
        for step in range(200):
            train_step()
        sync()                      # the GPU's queue drains inside the window

or with a pair of calls:

    from jouleprint_markers import mark_begin, mark_end

    mark_begin()
    for step in range(200):
        train_step()
    torch.cuda.synchronize()
    mark_end(steps=200)

then:

    jouleprint measure --model gpt2 --phase train --precision bf16-amp \\
        --batch 8 --seq 1024 --optimizer adamw --name "gpt2 on my box" \\
        -- python train.py

Several windows (for example one per epoch, with evaluation outside) are
summed: their steps, seconds and energy. A window must last at least one
second and 50 updates of the GPU's energy counter: run more steps if
`jouleprint measure` says it is too short. If your script prints through a
logger that buffers, these functions still flush standard output themselves.
"""

import sys
from contextlib import contextmanager

BEGIN = "jouleprint:begin"
END = "jouleprint:end"

__all__ = ["BEGIN", "END", "mark_begin", "mark_end", "window", "sync"]


def _say(line, out=None):
    out = sys.stdout if out is None else out
    out.write(line + "\n")
    out.flush()


def mark_begin(out=None):
    """Open the measurement window (print `jouleprint:begin`)."""
    _say(BEGIN, out)


def mark_end(steps, out=None):
    """Close the window after `steps` steps (print `jouleprint:end steps=N`)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError("steps must be a whole number of at least 1, got %r" % (steps,))
    _say("%s steps=%d" % (END, steps), out)


@contextmanager
def window(steps, out=None):
    """Measure the steps run inside the `with` block; `steps` is how many.

    The end marker is not printed if the block raises: a failed run is not
    scored (`jouleprint measure` then reports the window as never closed).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError("steps must be a whole number of at least 1, got %r" % (steps,))
    mark_begin(out)
    yield
    mark_end(steps, out)


def sync():
    """Wait for the GPU's queued work (torch.cuda.synchronize when torch is
    loaded and sees a GPU; nothing otherwise). Call it before the window opens
    and before it closes: kernels are queued, so without it the window would
    close while the GPU is still busy with its steps."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


if __name__ == "__main__":
    # A self-check and a demonstration without a GPU: three windows of
    # sleeping "steps". `jouleprint measure --fake-meter 300 -- python3 tools/jouleprint_markers.py`.
    import time

    print("loading (not measured)", flush=True)
    time.sleep(0.2)
    for _ in range(2):
        with window(steps=10):
            for _ in range(10):
                time.sleep(0.06)
        print("evaluation (not measured)", flush=True)
    mark_begin()
    time.sleep(0.2)
    mark_end(steps=2)
