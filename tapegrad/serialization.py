"""`save` and `load` in torch's own file format, so `torch.load` reads tapegrad's files and
`tapegrad.load` reads `torch.save`'s (of tensors, parameters, dicts such as state dicts and
optimizer state dicts, lists, tuples, numbers, strings), without importing torch.

The format (torch.serialization, "zip" since torch 1.6): a zip archive `<name>/...` of
  data.pkl         the object, pickled (protocol 2) with each tensor as
                   torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
                   hooks) over a persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)
  data/<key>       each storage's raw bytes (little-endian), its local header padded so the
                   bytes start at a multiple of 64 (.storage_alignment)
  byteorder, version, .format_version, .storage_alignment
A storage here is the memory a tensor's array views (numpy's base array): tensors that view
one array are saved over one storage and load as views of one array again.

Loading maps only the known torch globals (the tensor and parameter rebuilders, the storage
types, dtypes, Size, device, OrderedDict) and a few builtins to tapegrad's own: with
`weights_only=True` (the default, as torch >= 2.6) anything else is refused, as torch's
weights-only unpickler refuses it (`add_safe_globals` allows more); `weights_only=False` loads
arbitrary pickles (never do it with a file you do not trust).  tapegrad has eight dtypes
(float32, float64, int64, int32, int16, int8, uint8, bool): a file holding another (float16,
bfloat16, complex, ...) raises NotImplementedError.  torch's legacy format (before torch 1.6,
or `_use_new_zipfile_serialization=False`) is read and written too (`_load_legacy`,
`_save_legacy`).
`mmap=True` maps the storages from the file copy-on-write, as torch."""
import builtins
import collections
import contextlib
import io
import os
import pickle
import pickletools
import struct
import sys
import types
import warnings
import zipfile

import numpy as np

from . import devices, dtypes as D
from .hooks import warn_if_has_hooks
from .parameter import Parameter
from .tensor import Size, Tensor
from .tracing import _bake

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals", "get_unsafe_globals_in_checkpoint", "SourceChangeWarning"]

DEFAULT_PROTOCOL = 2    # (torch's: the pickle protocol save writes by default)


class SourceChangeWarning(Warning):
    """torch's warning that a whole pickled module's class source changed since it was saved
    (programs filter it by this class; tapegrad's load does not compare sources)."""

_ALIGN = 64
_STORAGE = {d: d.legacy + "Storage" for d in D.ALL}           # tapegrad dtype -> torch name
_BY_STORAGE = {name: d for d, name in _STORAGE.items()}
_BY_NAME = {d.name: d for d in D.ALL} | {"short": D.int16}     # torch's dtype globals
# torch's other storage types and dtypes: named in the refusal
_OTHER_STORAGE = {"HalfStorage": "float16", "BFloat16Storage": "bfloat16",
                  "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
                  "UntypedStorage": "UntypedStorage"}
_OTHER_DTYPES = {"float16", "half", "bfloat16", "complex64",
                 "complex128", "cfloat", "cdouble", "uint16", "uint32", "uint64",
                 "float8_e4m3fn", "float8_e5m2"}


# ---- save ----------------------------------------------------------------------------------
class _Global:
    """A `module.name` written as a pickle GLOBAL without importing the module (torch's
    names, which must not be imported here)."""
    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):      # (pickle's save_reduce asks for a callable)
        raise TypeError(f"{self.module}.{self.name} is a name to pickle, not to call")


class _StorageRef:
    """One storage of the file being written: its key, dtype and element count."""
    __slots__ = ("key", "dtype", "numel")

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, writing tensors, dtypes, Size and device under torch's
    names, and storages as torch's persistent ids."""

    def __init__(self, file, protocol, legacy=False):
        super().__init__(file, protocol)
        self._legacy = legacy   # (the legacy format's persistent ids end with a view: None)
        self._globals = {}      # (module, name) -> _Global (one object: pickle memoizes it)
        self._roots = {}        # (id(root array), dtype) -> (root, _StorageRef)
        self.storages = []      # [(ref, flat array)] in key order

    def _global(self, module, name):
        g = self._globals.get((module, name))
        if g is None:
            g = self._globals[module, name] = _Global(module, name)
        return g

    def save(self, obj, save_persistent_id=True):
        if type(obj) is _Global:
            x = self.memo.get(id(obj))
            if x is not None:
                self.write(self.get(x[0]))
                return
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
            self.memoize(obj)
            return
        if type(obj) is D.dtype:
            return self.save(self._global("torch", obj.name))
        super().save(obj, save_persistent_id)

    def save_global(self, obj, name=None):
        try:
            return super().save_global(obj, name)
        except pickle.PicklingError as e:
            err = e
        # torch pickles with the C pickler, whose errors for a global it cannot find differ
        # (a local class: AttributeError "Can't pickle local object ..."; a lambda: "attribute
        # lookup <lambda> on __main__ failed"): raise the one it raises for this object
        if name is None:
            try:
                pickle.dumps(obj, self.proto)
            except Exception as c_err:  # noqa: BLE001  (re-raised as it is)
                raise c_err from None
        raise err

    dispatch = {**pickle._Pickler.dispatch, types.FunctionType: save_global}

    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            return ("storage", self._global("torch", _STORAGE[obj.dtype]), obj.key, "cpu",
                    obj.numel) + ((None,) if self._legacy else ())
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            if isinstance(obj, Parameter):   # (torch's Parameter drops its hooks silently)
                data = Tensor._share(obj, obj._v)
                return (self._global("torch._utils", "_rebuild_parameter"),
                        (data, obj.requires_grad, collections.OrderedDict()))
            warn_if_has_hooks(obj)
            ref, offset, stride = self._storage(obj)
            return (self._global("torch._utils", "_rebuild_tensor_v2"),
                    (ref, offset, tuple(int(n) for n in obj._shape), stride, obj.requires_grad,
                     collections.OrderedDict()))
        if type(obj) is Size:
            return (self._global("torch", "Size"), (tuple(obj),))
        if type(obj) is devices.device:
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return (self._global("torch", "device"), args)
        return NotImplemented

    def _new_storage(self, dt, flat):
        ref = _StorageRef(str(len(self.storages)), dt, flat.size)
        self.storages.append((ref, flat))
        return ref

    def _storage(self, t):
        """(storage, offset, stride) of tensor t: the root array its array views, when that
        is laid out flat in memory; else a contiguous copy of its own.  (While recording, a
        traced value saved becomes a guard: what is loaded back is a constant of the tape.)"""
        if t._recorded:
            _bake(t, "guard_value")
        dt, v = t._dtype, t._v
        if type(v) is not float and v.size:
            root = v
            while isinstance(root.base, np.ndarray):
                root = root.base
            isz = dt.itemsize
            delta = v.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            if (root.flags.c_contiguous and root.nbytes % isz == 0 and delta % isz == 0
                    and all(s >= 0 and s % isz == 0 for s in v.strides)
                    and v.dtype.isnative):
                key = (id(root), dt)
                got = self._roots.get(key)
                if got is None:
                    flat = root.reshape(-1).view(np.uint8).view(dt.np)
                    got = self._roots[key] = (root, self._new_storage(dt, flat))
                return got[1], delta // isz, tuple(s // isz for s in v.strides)
        arr = np.ascontiguousarray(t._array(), dtype=dt.np)
        stride = tuple(int(np.prod(t._shape[i + 1:])) for i in range(len(t._shape)))
        return self._new_storage(dt, arr.reshape(-1)), 0, stride


def _padded_info(zf, name):
    """A ZipInfo for record `name` whose data will start at a multiple of 64 bytes (torch's
    "FB" padding extra field)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    start = zf.fp.tell() + 30 + len(name.encode("utf-8")) + 4
    pad = -start % _ALIGN
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    return info


def _archive_name(f):
    if isinstance(f, (str, os.PathLike)):
        return os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
    return "archive"


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save `obj` (tensors, parameters, dicts such as state dicts, lists, tuples, numbers,
    strings) to `f` (a path or a writable binary file) in torch's zip format: `torch.load`
    reads it.  Tensors viewing one array are saved over one storage."""
    if pickle_module is not pickle:
        raise NotImplementedError("tapegrad.save writes with the standard pickle module only")
    if isinstance(f, (str, os.PathLike)):
        parent = os.path.dirname(os.fspath(f))
        if parent and not os.path.isdir(parent):   # (torch's file writer checks it first)
            raise RuntimeError(f"Parent directory {parent} does not exist.")
        if os.path.isdir(f):                        # (torch's file writer's error)
            raise RuntimeError("[enforce fail at inline_container.cc:747] . open file failed "
                               "with strerror: Is a directory")
    elif not hasattr(f, "write"):
        raise AttributeError("expected 'f' to be string, path, or a file-like object with a "
                             "'write' attribute")
    if not _use_new_zipfile_serialization:
        with contextlib.ExitStack() as stack:
            if isinstance(f, (str, os.PathLike)):
                f = stack.enter_context(open(f, "wb"))
            _save_legacy(obj, f, pickle_protocol)
        return
    buf = io.BytesIO()
    pickler = _Pickler(buf, pickle_protocol)
    pickler.dump(obj)
    name = _archive_name(f)
    with contextlib.ExitStack() as stack:
        if isinstance(f, (str, os.PathLike)):
            f = stack.enter_context(open(f, "wb"))
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            def record(rel, data):
                zf.writestr(_padded_info(zf, f"{name}/{rel}"), data)
            record("data.pkl", buf.getvalue())
            record(".format_version", b"1")
            record(".storage_alignment", str(_ALIGN).encode())
            if not _disable_byteorder_record:
                record("byteorder", sys.byteorder.encode())
            for ref, flat in pickler.storages:
                record(f"data/{ref.key}", memoryview(np.ascontiguousarray(flat)).cast("B"))
            record("version", b"3\n")


def _save_legacy(obj, f, protocol):
    """torch's legacy format (`_use_new_zipfile_serialization=False`), as torch's _legacy_save
    writes it: the pickles of the magic number, the format's version and the C type sizes,
    the object, the sorted storage keys, then per storage an int64 count and its bytes."""
    for head in (_MAGIC, _LEGACY_VERSION,
                 {"protocol_version": _LEGACY_VERSION, "little_endian": sys.byteorder == "little",
                  "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(head, f, protocol=protocol)
    pickler = _Pickler(f, protocol, legacy=True)
    pickler.dump(obj)
    storages = sorted(pickler.storages, key=lambda s: s[0].key)
    pickle.dump([ref.key for ref, _ in storages], f, protocol=protocol)
    for ref, flat in storages:
        f.write(struct.pack("<q", ref.numel))
        f.write(memoryview(np.ascontiguousarray(flat)).cast("B"))


# ---- load ----------------------------------------------------------------------------------
def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """torch._utils._rebuild_tensor_v2: a tensor viewing `storage` (a 1-d array)."""
    isz = storage.itemsize
    arr = np.ndarray(tuple(size), storage.dtype, buffer=storage, offset=storage_offset * isz,
                     strides=tuple(s * isz for s in stride))
    t = Tensor._wrap(arr, D.BY_NP[storage.dtype], bool(requires_grad))
    t._v = arr        # array-backed even for one float: the memory stays shared
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """torch._utils._rebuild_parameter(_with_state): a Parameter sharing data's memory."""
    if state:
        raise NotImplementedError("tapegrad.load: a Parameter with extra attributes "
                                  f"({', '.join(map(str, state))}) cannot be rebuilt")
    return Parameter(data, requires_grad)


def _encode(s, encoding="latin1"):
    """_codecs.encode, which protocol 2 pickles of bytes call."""
    return s.encode(encoding)


def _safe(module, name):
    """The object a torch file's GLOBAL module.name loads as, or None if it is not known."""
    if module == "torch._utils":
        return {"_rebuild_tensor_v2": _rebuild_tensor_v2,
                "_rebuild_parameter": _rebuild_parameter,
                "_rebuild_parameter_with_state": _rebuild_parameter}.get(name)
    if module == "torch":
        if name in _BY_STORAGE:
            return _StorageType(_BY_STORAGE[name])
        if name in _OTHER_STORAGE or name in _OTHER_DTYPES:
            dt = _OTHER_STORAGE.get(name, name)
            raise NotImplementedError(f"tapegrad.load: the file holds torch.{dt} data, which "
                                      "tapegrad has no dtype for (it has float32, float64, "
                                      "int64, int32, int16, int8, uint8 and bool)")
        dt = _BY_NAME.get(name)
        if dt is not None:
            return dt
        return {"Size": Size, "device": devices.device}.get(name)
    if module == "collections" and name in ("OrderedDict", "Counter"):
        return getattr(collections, name)
    if module in ("builtins", "__builtin__") and name in ("set", "bytearray", "complex"):
        return getattr(builtins, name)      # (torch's weights-only allowlist)
    if module == "_codecs" and name == "encode":
        return _encode
    return None


class _StorageType:
    """A torch storage type of a file (torch.FloatStorage ...): its tapegrad dtype."""
    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype


_safe_globals = []      # add_safe_globals' entries: objects or (object, "module.name")

_WEIGHTS_ONLY_MSG = (
    "Weights only load failed. This file can still be loaded, to do so you have two options, "
    "\x1b[1mdo those steps only if you trust the source of the checkpoint\x1b[0m. \n\t(1) In "
    "PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` "
    "from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will "
    "likely succeed, but it can result in arbitrary code execution. Do it only if you got the "
    "file from a trusted source.\n\t(2) Alternatively, to load with `weights_only=True` please "
    "check the recommended steps in the following error message.\n\tWeightsUnpickler error: "
    "{}\n\nCheck the documentation of torch.load to learn more about types accepted by default "
    "with weights_only https://pytorch.org/docs/stable/generated/torch.load.html.")


def _qualified(obj):
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"


def _allowed(module, name):
    """What global module.name loads as: tapegrad's own for a known torch global, an object
    add_safe_globals allowed; None for others (torch's own unknown ones raise)."""
    obj = _safe(module, name)
    if obj is not None:
        return obj
    full = f"{module}.{name}"
    for entry in _safe_globals:
        o, n = entry if isinstance(entry, tuple) else (entry, _qualified(entry))
        if n == full:
            return o
    if module == "torch" or module.startswith("torch."):
        raise pickle.UnpicklingError(f"tapegrad.load: {full} is a torch object tapegrad "
                                     "cannot rebuild")
    return None


# torch._utils' IMPORT_MAPPING and NAME_MAPPING: the part of _compat_pickle's Python 2 names
# that torch's weights-only unpickler maps back (not the exceptions module's)
_IMPORT_MAPPING = {"__builtin__": "builtins", "copy_reg": "copyreg", "Queue": "queue",
                   "repr": "reprlib", "_abcoll": "collections.abc", "UserDict": "collections",
                   "UserList": "collections", "UserString": "collections", "whichdb": "dbm",
                   "StringIO": "io", "cStringIO": "io"}
_NAME_MAPPING = {
    ("__builtin__", "xrange"): ("builtins", "range"),
    ("__builtin__", "reduce"): ("functools", "reduce"),
    ("__builtin__", "intern"): ("sys", "intern"),
    ("__builtin__", "unichr"): ("builtins", "chr"),
    ("__builtin__", "unicode"): ("builtins", "str"),
    ("__builtin__", "long"): ("builtins", "int"),
    ("itertools", "izip"): ("builtins", "zip"),
    ("itertools", "imap"): ("builtins", "map"),
    ("itertools", "ifilter"): ("builtins", "filter"),
    ("itertools", "ifilterfalse"): ("itertools", "filterfalse"),
    ("itertools", "izip_longest"): ("itertools", "zip_longest"),
    ("UserDict", "IterableUserDict"): ("collections", "UserDict"),
    ("UserList", "UserList"): ("collections", "UserList"),
    ("UserString", "UserString"): ("collections", "UserString"),
    ("__builtin__", "basestring"): ("builtins", "str"),
    ("exceptions", "StandardError"): ("builtins", "Exception"),
    ("UserDict", "UserDict"): ("collections", "UserDict"),
}


def _py3_global(module, name):
    """A pickled global's (module, name) as torch's weights-only unpickler reads it: protocol
    2 (torch.save's) writes `range` as `__builtin__.xrange`, `functools.reduce` as
    `__builtin__.reduce`; torch maps them back before its allowlists and its message."""
    if (module, name) in _NAME_MAPPING:
        return _NAME_MAPPING[module, name]
    return _IMPORT_MAPPING.get(module, module), name


def _refusal(module, name):
    """The weights-only unpickler's error for a global it does not allow."""
    shown = name if module in ("builtins", "__builtin__") else f"{module}.{name}"
    return (f"Unsupported global: GLOBAL {shown} was not an allowed global by default. "
            f"Please use `tapegrad.serialization.add_safe_globals([{shown}])` or the "
            f"`tapegrad.serialization.safe_globals([{shown}])` context manager to allowlist "
            "this global if you trust this class/function.")


class _Unpickler(pickle.Unpickler):
    """Rebuild a torch file's objects with tapegrad's: the known torch globals mapped, other
    globals refused when weights_only, and storages read from the archive."""

    def __init__(self, file, weights_only, load_storage, pid_len=5, **pickle_load_args):
        super().__init__(file, **pickle_load_args)
        self._weights_only = weights_only
        self._load_storage = load_storage
        self._pid_len = pid_len     # (6 in the legacy format: a view's metadata last)

    def find_class(self, module, name):
        module, name = _py3_global(module, name)
        obj = _allowed(module, name)
        if obj is not None:
            return obj
        if self._weights_only:
            raise pickle.UnpicklingError(_WEIGHTS_ONLY_MSG.format(_refusal(module, name)))
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == self._pid_len and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(_WEIGHTS_ONLY_MSG.format(
                f"Unsupported persistent id: {pid!r}") if self._weights_only else
                f"tapegrad.load: unsupported persistent id {pid!r}")
        _, stype, key, location, numel, *view = pid
        return self._load_storage(stype.dtype, str(key), location, int(numel), *view)


def _map_location(map_location, storage, location):
    """Where a storage saved at `location` goes (torch's _get_restore_location): it must end
    on the CPU."""
    if map_location is None:
        target = location
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif isinstance(map_location, (str, devices.device)):
        target = str(map_location)
    else:   # a function (anything else fails calling, as torch's)
        out = map_location(storage, location)
        if out is not None and out is not storage:
            raise NotImplementedError("tapegrad.load: a map_location function may only return "
                                      "the storage it is given (or None): tapegrad's storages "
                                      "are CPU arrays")
        target = location
    return _restore_location(storage, str(target))


def _restore_location(storage, location):
    """torch's default_restore_location in a CPU build: "cpu" stays, "cuda..." raises its
    CUDA error, another device tapegrad names; a tag no device claims ("cpu:0", "foo") raises
    torch's "don't know how to restore"."""
    if location == "cpu":
        return storage
    if location.startswith("cuda"):
        raise RuntimeError("Attempting to deserialize object on a CUDA device but "
                           "torch.cuda.is_available() is False. If you are running on a "
                           "CPU-only machine, please use torch.load with "
                           "map_location=torch.device('cpu') to map your storages to the CPU.")
    try:
        dev = devices.device(location)
    except RuntimeError:
        dev = None
    if dev is not None and dev.type not in ("cpu", "cuda"):
        devices.check(dev)      # (tapegrad's error: no such device here)
    raise RuntimeError(f"don't know how to restore data location of "
                       f"torch.storage.UntypedStorage (tagged with {location})")


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load an object saved by `save` or by `torch.save` (torch's zip format) from `f` (a path
    or a readable binary file).  With `weights_only=True` (the default when no
    pickle_module is given, as torch's) only tensors, parameters, dicts, lists, tuples, sets,
    numbers, strings, dtypes, Size and device load: anything else is refused (see
    `add_safe_globals`).  `map_location` may name the CPU, map saved locations to it (a dict)
    or be a function `(storage, location) -> storage`.  `pickle_load_args` go to the
    unpickler, as torch's: `encoding="latin1"` reads the str objects of Python 2 pickles (with
    weights_only torch warns that they need weights_only=False, but takes the encoding)."""
    if pickle_module is not None and pickle_module is not pickle:
        raise NotImplementedError("tapegrad.load reads with the standard pickle module only")
    if weights_only is None:
        weights_only = pickle_module is None
    elif weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is "
                           "specified")
    if mmap and not isinstance(f, (str, os.PathLike)):
        raise ValueError("f must be a file path in order to use the mmap argument")
    if pickle_load_args and weights_only:   # (torch's warning; its unpickler still takes them)
        warnings.warn("pickle_load_args only works if `weights_only=False`.")
        for k in pickle_load_args:      # (the weights-only unpickler's one keyword)
            if k != "encoding":
                raise TypeError(f"Unpickler.__init__() got an unexpected keyword argument "
                                f"'{k}'")
    # (encoding="latin1" or "bytes": how a Python 2 pickle's str objects load)
    pickle_load_args.setdefault("encoding", "utf-8")
    with contextlib.ExitStack() as stack:
        path = f
        if isinstance(f, (str, os.PathLike)):
            f = stack.enter_context(open(f, "rb"))
        else:
            _check_seekable(f)
        start = f.tell()   # (legacy files written one after another are read in turn)
        if not zipfile.is_zipfile(f):
            f.seek(start)
            if f.read(4) == b"PK\x03\x04":   # a zip archive cut short: torch's reader's error
                short = f.seek(0, 2) < 22        # (no room for miniz's end record)
                raise RuntimeError(
                    "PytorchStreamReader failed reading zip archive: "
                    f"{'not a ZIP archive' if short else 'failed finding central directory'}"
                    ". This is an internal miniz error. If you are seeing this error, "
                    "there is a high likelihood that your checkpoint file is corrupted. This "
                    "can happen if the checkpoint was not saved properly, was transferred "
                    "incorrectly, or the file was modified after saving.")
            if mmap:
                raise RuntimeError(
                    "mmap can only be used with files saved with `torch.save("
                    f"{path}, _use_new_zipfile_serialization=True), please torch.save your "
                    "checkpoint with this option in order to use mmap.")
            f.seek(start)
            if not weights_only:
                return _load_legacy(f, map_location, False, pickle_load_args)
            try:
                return _load_legacy(f, map_location, True, pickle_load_args)
            except _HeaderError as e:    # (torch's wrapping of its unpickler's errors)
                raise pickle.UnpicklingError(_weights_only_message(str(e))) from None
        f.seek(0)
        zf = stack.enter_context(zipfile.ZipFile(f))
        pkl = _data_pkl(zf)
        prefix = pkl[:-len("data.pkl")]
        names = set(zf.namelist())
        big = (prefix + "byteorder" in names
               and zf.read(prefix + "byteorder").decode().strip() == "big")
        loaded = {}

        def load_storage(dt, key, location, numel):
            arr = loaded.get(key)
            if arr is None:
                npdt = dt.np.newbyteorder(">") if big else dt.np
                name = f"{prefix}data/{key}"
                if mmap:     # copy-on-write, as torch's MAP_PRIVATE: writes stay in memory
                    arr = np.memmap(path, npdt, "c", _data_offset(f, zf.getinfo(name)),
                                    (numel,)) if numel else np.empty(0, npdt)
                else:
                    arr = np.frombuffer(bytearray(zf.read(name)), npdt, numel)
                if big:
                    arr = arr.astype(dt.np)
                arr = loaded[key] = _map_location(map_location, arr, location)
            return arr

        unpickler = _Unpickler(io.BytesIO(zf.read(pkl)), weights_only, load_storage,
                               **pickle_load_args)
        return unpickler.load()


def _data_pkl(zf):
    """The name of a torch archive's pickle, `<name>/data.pkl`."""
    pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if not pkl:
        raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")
    return pkl[0]


# ---- torch's legacy format --------------------------------------------------------------------
_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_VERSION = 1001
_UNSAFE = ("In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
           "`torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set "
           "to `False` will likely succeed, but it can result in arbitrary code execution. Do it "
           "only if you got the file from a trusted source.")


class _HeaderError(pickle.UnpicklingError):
    """An error of the weights-only reading of a legacy file's small pickles."""


def _weights_only_message(message):
    """torch.load's message for its weights-only unpickler's error `message` (not a refused
    global: those are _WEIGHTS_ONLY_MSG)."""
    return (f"Weights only load failed. {_UNSAFE}\nPlease file an issue with the following so "
            f"that we can make `weights_only=True` compatible with your use case: "
            f"WeightsUnpickler error: \n\n{message}\n\nCheck the documentation of torch.load "
            f"to learn more about types accepted by default with weights_only "
            f"https://pytorch.org/docs/stable/generated/torch.load.html.")


def _load_legacy(f, map_location, weights_only, pickle_load_args):
    """torch's legacy format (torch.save(..., _use_new_zipfile_serialization=False), the default
    before torch 1.6), as torch's _legacy_load reads it: the pickles of a magic number, the
    format's version (1001) and the writer's type sizes, the object (storages as persistent ids
    ('storage', type, key, location, numel, view)), the list of storage keys, then per key an
    int64 count and the raw bytes.  A file that is no torch file fails where torch's does,
    with its error: the first pickle's, or "Invalid magic number"."""
    read = _read_small_pickle if weights_only else (
        lambda f: pickle.load(f, **pickle_load_args))
    if read(f) != _MAGIC:
        raise RuntimeError("Invalid magic number; corrupt file?")
    version = read(f)
    if version != _LEGACY_VERSION:
        raise RuntimeError(f"Invalid protocol version: {version}")
    read(f)    # (sizes of the writer's C types: tapegrad reads little-endian int64 counts)
    roots = {}

    def load_storage(dt, key, location, numel, view):
        root = roots.get(key)
        if root is None:
            root = roots[key] = _map_location(map_location, np.zeros(numel, dt.np), location)
        if view is None:
            return root
        _, offset, size = view
        return root[int(offset):int(offset) + int(size)]

    out = _Unpickler(f, weights_only, load_storage, pid_len=6, **pickle_load_args).load()
    for key in read(f):   # each storage's bytes, written in place under the tensors viewing it
        root = roots[str(key)]
        count = struct.unpack("<q", _read_exactly(f, 8))[0]
        if count != root.size:
            raise RuntimeError(f"tapegrad.load: storage {key} of this legacy file holds {count} "
                               f"elements where its tensors expect {root.size}")
        root[...] = np.frombuffer(_read_exactly(f, root.nbytes), root.dtype)
    return out


def _read_exactly(f, n):
    data = f.read(n)
    if len(data) < n:    # (torch's reader's error)
        raise RuntimeError(f"unexpected EOF, expected {n - len(data)} more bytes. The file "
                           f"might be corrupted.")
    return data


def _check_seekable(f):
    """torch's check of a file object load reads: seekable, else its error."""
    try:
        f.seek(f.tell())
    except (io.UnsupportedOperation, AttributeError) as e:
        if "seek" in str(e) or "tell" in str(e):
            raise type(e)(f"{e}. You can only torch.load from a file that is seekable. Please "
                          f"pre-load the data into a buffer like io.BytesIO and try to load "
                          f"from it instead.") from None
        raise


def _read_small_pickle(f):
    """pickle.load of a legacy file's magic number, version, type sizes and storage keys as
    torch's weights-only unpickler reads them: its opcodes only, its errors (EOFError at the
    end of the file, "Unsupported operand N" for any other opcode, a KeyError for a memo
    entry never stored; globals as the object's pickle allows them); NEWOBJ and BUILD, which
    no legacy file has there, are refused as unsupported."""
    read = f.read
    stack, marks, memo = [], [], {}
    while True:
        key = read(1)
        if not key:
            raise EOFError
        if not isinstance(key, bytes):
            raise AssertionError(f"Expected bytes, got {type(key).__name__}")
        op = key[0]
        if op == pickle.MARK[0]:
            marks.append(stack)
            stack = []
        elif op in (pickle.TUPLE[0], pickle.APPENDS[0], pickle.SETITEMS[0]):
            items, stack = stack, marks.pop()
            if op == pickle.TUPLE[0]:
                stack.append(tuple(items))
            elif op == pickle.APPENDS[0]:
                if type(stack[-1]) is not list:
                    raise _HeaderError(f"Can only extend lists, but got {type(stack[-1])}")
                stack[-1].extend(items)
            else:
                if type(stack[-1]) not in (dict, collections.OrderedDict, collections.Counter):
                    raise _HeaderError(f"Can only SETITEMS for dict, collections.OrderedDict, "
                                       f"collections.Counter, but got {type(stack[-1])}")
                for i in range(0, len(items), 2):
                    stack[-1][items[i]] = items[i + 1]
        elif op == pickle.APPEND[0]:
            item = stack.pop()
            if type(stack[-1]) is not list:
                raise _HeaderError(f"Can only append to lists, but got {type(stack[-1])}")
            stack[-1].append(item)
        elif op == pickle.SETITEM[0]:
            v, k = stack.pop(), stack.pop()
            if type(stack[-1]) not in (dict, collections.OrderedDict, collections.Counter):
                raise _HeaderError(f"Can only SETITEM for dict, collections.OrderedDict, "
                                   f"collections.Counter, but got {type(stack[-1])}")
            stack[-1][k] = v
        elif op in _SMALL_TUPLES:
            n = _SMALL_TUPLES[op]
            stack[-n:] = [tuple(stack[-n:])]
        elif op in _CONSTANTS:
            stack.append(_CONSTANTS[op]())
        elif op in _NUMBERS:
            fmt, size = _NUMBERS[op]
            stack.append(struct.unpack(fmt, read(size))[0])
        elif op == pickle.BININT1[0]:
            stack.append(read(1)[0])
        elif op == pickle.BINUNICODE[0]:
            n = struct.unpack("<I", read(4))[0]
            if n > sys.maxsize:
                raise _HeaderError("String is too long")
            stack.append(str(read(n), "utf-8", "surrogatepass"))
        elif op == pickle.SHORT_BINSTRING[0]:
            stack.append(read(read(1)[0]).decode("utf-8", "strict"))
        elif op in (pickle.BINGET[0], pickle.LONG_BINGET[0]):
            i = (read(1) if op == pickle.BINGET[0] else struct.unpack("<I", read(4)))[0]
            stack.append(memo[i])
        elif op in (pickle.BINPUT[0], pickle.LONG_BINPUT[0]):
            i = (read(1) if op == pickle.BINPUT[0] else struct.unpack("<I", read(4)))[0]
            memo[i] = stack[-1]
        elif op == pickle.LONG1[0]:
            stack.append(pickle.decode_long(read(read(1)[0])))
        elif op == pickle.PROTO[0]:
            proto = read(1)[0]
            if proto != 2:
                warnings.warn(f"Detected pickle protocol {proto} in the checkpoint, which was "
                              "not the default pickle protocol used by `torch.load` (2). The "
                              "weights_only Unpickler might not support all instructions "
                              "implemented by this protocol, please file an issue for adding "
                              "support if you encounter this.", stacklevel=2)
        elif op == pickle.STOP[0]:
            return stack.pop()
        elif op == pickle.BINPERSID[0]:
            raise _HeaderError("unsupported persistent id encountered")
        elif op == pickle.GLOBAL[0]:
            module, name = _py3_global(*(f.readline()[:-1].decode("utf-8") for _ in range(2)))
            obj = _allowed(module, name)
            if obj is None:
                raise pickle.UnpicklingError(_WEIGHTS_ONLY_MSG.format(_refusal(module, name)))
            stack.append(obj)
        elif op == pickle.REDUCE[0]:     # (of an allowed global only)
            args = stack.pop()
            stack[-1] = stack[-1](*args)
        else:
            raise _HeaderError(f"Unsupported operand {op}")


_SMALL_TUPLES = {pickle.TUPLE1[0]: 1, pickle.TUPLE2[0]: 2, pickle.TUPLE3[0]: 3}
_CONSTANTS = {pickle.NONE[0]: lambda: None, pickle.NEWFALSE[0]: lambda: False,
              pickle.NEWTRUE[0]: lambda: True, pickle.EMPTY_TUPLE[0]: tuple,
              pickle.EMPTY_LIST[0]: list, pickle.EMPTY_DICT[0]: dict, pickle.EMPTY_SET[0]: set}
_NUMBERS = {pickle.BININT[0]: ("<i", 4), pickle.BININT2[0]: ("<H", 2),
            pickle.BINFLOAT[0]: (">d", 8)}


def _data_offset(f, info):
    """Where a stored (uncompressed) zip record's bytes start in the file."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise RuntimeError(f"tapegrad.load(mmap=True): record {info.filename} is compressed")
    f.seek(info.header_offset)
    head = f.read(30)
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    return info.header_offset + 30 + name_len + extra_len


# ---- the weights-only allowlist --------------------------------------------------------------
def add_safe_globals(safe_globals):
    """Allow these globals (objects, or (object, "module.name") pairs) when loading with
    weights_only=True."""
    _safe_globals.extend(safe_globals)


def get_safe_globals():
    """The globals `add_safe_globals` allowed."""
    return list(_safe_globals)


def clear_safe_globals():
    """Forget the globals `add_safe_globals` allowed."""
    _safe_globals.clear()


@contextlib.contextmanager
def safe_globals(safe_globals):
    """Allow these globals (as `add_safe_globals`) inside the `with` block only."""
    before = list(_safe_globals)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _safe_globals[:] = before


# the opcodes torch's scan for globals (get_globals_in_pkl) steps over; it refuses others
_SCANNED_OPS = frozenset(
    "PROTO STOP GLOBAL NEWOBJ REDUCE BUILD APPEND APPENDS SETITEM SETITEMS MARK TUPLE TUPLE1 "
    "TUPLE2 TUPLE3 NONE NEWFALSE NEWTRUE EMPTY_TUPLE EMPTY_LIST EMPTY_DICT EMPTY_SET BINPERSID "
    "BININT BININT1 BININT2 BINFLOAT BINGET LONG_BINGET BINPUT LONG_BINPUT BINUNICODE "
    "SHORT_BINSTRING LONG1".split())


def _safe_global(module, name):
    """Whether load with weights_only takes the global module.name (torch's own that tapegrad
    has no dtype for are torch's safe globals all the same)."""
    try:
        return _allowed(module, name) is not None
    except NotImplementedError:
        return True
    except pickle.UnpicklingError:
        return False


def get_unsafe_globals_in_checkpoint(f):
    """The globals ("module.name") in a checkpoint written by `save` (a path or a readable
    binary file) that load with weights_only=True refuses (neither tapegrad's allowlist nor
    `add_safe_globals`), found by reading its pickle's opcodes, as torch's: a global the
    pickle builds at load time is not seen."""
    with contextlib.ExitStack() as stack:
        if isinstance(f, (str, os.PathLike)):
            f = stack.enter_context(open(f, "rb"))
        start = f.tell()
        zipped = f.read(4) == b"PK\x03\x04"
        f.seek(start)
        if not zipped or not zipfile.is_zipfile(f):
            raise ValueError("Expected input to be a checkpoint returned by torch.save")
        zf = stack.enter_context(zipfile.ZipFile(f))
        found = {}
        for op, arg, _ in pickletools.genops(zf.read(_data_pkl(zf))):
            if op.name not in _SCANNED_OPS:
                raise pickle.UnpicklingError(f"Unsupported operand {op.code.encode('latin1')[0]}")
            if op.name == "GLOBAL":
                module, name = _py3_global(*arg.split(" ", 1))
                found.setdefault(f"{module}.{name}", (module, name))
            elif op.name == "STOP":
                break
    return [full for full, (module, name) in found.items() if not _safe_global(module, name)]
