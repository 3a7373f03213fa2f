"""A TorchDispatchMode that counts the CUDA kernels an eager step would launch:
one per non-view, non-allocation aten op (docs/host-overhead.md, "Caveats").
Shared by tools/host_stack_compare.py and tools/gptfast_host.py."""


def kernel_counter():
    """A fresh counting mode (imported lazily: each tool pins its own torch)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Counter(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.kernels = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = str(func.overloadpacket)
            view = getattr(func, "is_view", False) or name in ("aten::_unsafe_view",)
            alloc = name in ("aten::empty", "aten::empty_strided", "aten::detach", "aten::lift_fresh")
            if not view and not alloc:
                self.kernels += 1
            return func(*args, **(kwargs or {}))

    return Counter()
