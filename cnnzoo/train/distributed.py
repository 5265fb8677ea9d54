"""Data-parallel training with ``torchrun`` (DDP: gloo on CPU, NCCL on GPU).

``torchrun --nproc_per_node=N -m cnnzoo train MODEL ...`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``;
:func:`init_distributed` joins the group and starts :func:`watch_launcher`, so that the ranks end when
``torchrun`` dies (``kill -9`` of the launcher would otherwise leave them training as orphans, beside a
``--resume`` started right after). Training shards with :class:`ResumableSampler` (a
``DistributedSampler`` that can start mid-epoch); evaluation shards *without padding*
(:func:`shard_indices`) and all-reduces integer counts, so each sample is counted exactly once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler

from .. import env
from ..errors import CnnzooError

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``, and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str | None) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N`` or ``None`` (cuda when available); a missing GPU is a clear error."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise CnnzooError(f"unknown device {name!r}; use cpu or cuda.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CnnzooError(
            "device 'cuda' was asked for but no CUDA GPU is available; use device 'cpu'.", names=("device",)
        )
    return dev


def init_distributed(device: str | None = None) -> DistContext:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1), else a one-process context."""
    world = env.integer("WORLD_SIZE", 1, 1)
    dev = resolve_device(device)
    if world <= 1:
        return DistContext(device=dev)
    env.check_all()  # RANK below WORLD_SIZE, every value a number: one sentence, not a traceback
    rank, local = env.integer("RANK", 0), env.integer("LOCAL_RANK", 0)
    watch_launcher()
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistContext(rank, world, local, dev)


#: Seconds between two looks at the launcher, and the grace a rank has to save and leave after it died.
WATCH_INTERVAL = 0.5
GRACE = 20.0
_WATCHING: list[int] = []
LAUNCHER_GONE = threading.Event()
"""Set once :func:`watch_launcher` saw the launcher die: what this rank does next is winding down, and the
errors its collectives raise on the way (a peer already gone) are no one's to read."""


def _orphaned(parent: int) -> bool:
    """True when this process has already lost its launcher: re-parented to PID 1, unless PID 1 is the
    launcher itself (a container whose entry point is ``torchrun``)."""
    if parent != 1:
        return False
    try:
        with open("/proc/1/cmdline", "rb") as f:
            init = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False  # cannot tell: keep running rather than end a healthy run
    return not any(w in init for w in ("torchrun", "torch.distributed", "cnnzoo"))


def watch_launcher(interval: float = WATCH_INTERVAL, grace: float = GRACE) -> bool:
    """End this process when the process that launched it (``torchrun``'s agent) dies.

    A daemon thread looks at the parent PID every ``interval`` seconds; once the launcher is gone (the
    process is re-parented; or already was when the watch started), this rank gets SIGTERM, which the
    trainer turns into "save ``last.pt`` at the end of this step and stop" (a checkpoint the next
    ``--resume`` continues from) and the command line into an exit, and if it has not ended ``grace``
    seconds later (a collective or a rendezvous with the dead launcher's store that never completes, where
    no Python signal handler gets to run) it exits at once. Started once per process; returns whether a
    watch was started."""
    if _WATCHING:
        return False
    parent = os.getppid()
    _WATCHING.append(parent)
    gone = _orphaned(parent)

    def watch() -> None:
        if not gone:
            while os.getppid() == parent:
                time.sleep(interval)
        LAUNCHER_GONE.set()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(143)  # 128 + SIGTERM: what a shell reports for a process ended by it

    threading.Thread(target=watch, name="cnnzoo-watch-launcher", daemon=True).start()
    return True


def on_main_rank(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and give every rank its result; a :class:`CnnzooError` it raises is
    raised on every rank (the command line prints it once, from rank 0). Without a process group, just
    ``fn()``."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return fn()
    box: list[object] = [None, None]
    error: CnnzooError | None = None
    if dist.get_rank() == 0:
        try:
            box[0] = fn()
        except CnnzooError as e:
            error, box[1] = e, str(e)
    dist.broadcast_object_list(box, src=0)
    if error is not None:
        raise error
    if box[1] is not None:
        raise CnnzooError(str(box[1]))
    return box[0]  # type: ignore[return-value]


def context_from_group(device: torch.device | None = None) -> DistContext:
    """The context of an already initialised default group (e.g. set up by ``mp.spawn``)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistContext(device=device or torch.device("cpu"))
    return DistContext(
        dist.get_rank(),
        dist.get_world_size(),
        env.integer("LOCAL_RANK", dist.get_rank()),
        device or torch.device("cpu"),
    )


def cleanup() -> None:
    """Leave the process group (if any)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` (shuffled by ``seed + epoch``, sharded ``rank::world_size``) that can start at
    a position inside the epoch: :meth:`set_position` skips the samples this rank already trained on,
    which makes a resumed run see exactly the batches the interrupted one would have seen."""

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        """Begin ``epoch`` at this rank's ``start``-th sample (0 = the whole epoch)."""
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[int]:
        idx = list(super().__iter__())
        start, self.start = self.start, 0
        return iter(idx[start:])

    def __len__(self) -> int:
        return self.num_samples - self.start


def shard_indices(n: int, rank: int, world_size: int) -> list[int]:
    """This rank's share of ``range(n)``: ``rank, rank + world, ...``, no padding (shares differ by at most
    1).
    """
    return list(range(rank, n, world_size))


def all_reduce_mean(value: float, device: torch.device | None = None) -> float:
    """Mean of ``value`` over all processes (the value itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device or torch.device("cpu"))
    dist.all_reduce(t)
    return float(t) / dist.get_world_size()
