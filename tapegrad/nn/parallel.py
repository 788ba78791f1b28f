"""`nn.parallel`: DataParallel and data_parallel as torch runs them on a machine without an
accelerator (tapegrad's only kind): DataParallel keeps the module and calls it (torch leaves
device_ids empty then, so the state dict still has the `module.` prefix), and data_parallel has
no device to scatter to and raises torch's error.  Programs written for GPUs (pytorch/examples'
dcgan, imagenet) wrap their models this way and run unchanged.  DistributedDataParallel is
there to import (scripts import it at the top and wrap their model only when a process group
is up); tapegrad has no process groups (tapegrad.distributed), so making one raises torch's
error for a program that did not call init_process_group."""
from .modules import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        # torch's path for "no available device type": no replicas, no dim/output_device
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    raise RuntimeError("device type could not be determined")


class DistributedDataParallel(Module):
    def __init__(self, module, *args, **kwargs):
        super().__init__()
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
