#!/usr/bin/env python3
# Reproducer written by the forget-conformance fuzzer.
#
# clause:          T2 (recompute under forward's config)
# failure:         [T2] forget raised in backward: AttributeError: 'BatchRenormalization' object has no attribute '_prev_avg_mean'
# implementation:  chainer.functions:forget
# check:           eval_forward on @numpy
# hypothesis replay: profile=ci (derandomized); You can reproduce this test case by temporarily adding @reproduce_failure('6.170.27', b'AXicc2KKcGQEQxZHRgYwxQCGjI4MDAA96AO3') as a decorator on your test function
#
# Run: python eval_forward_chainer_functions_forget_T2-001.py [MODULE:ATTR]
#   Runs the graph below plainly and through forget (the implementation above, or
#   MODULE:ATTR; importable from the current directory or PYTHONPATH) and compares:
#   exit status 1 while the failure reproduces, 0 once fixed. Needs NumPy and Chainer.
import importlib
import os
import sys
import traceback

# ---- Chainer 7.8.1 on NumPy 2 and Python 3.12+ (forget_conformance/chainer_compat.py) ----

def apply() -> tuple[str, ...]:
    """Apply the shims this interpreter needs; return their names (empty when none)."""
    import importlib.metadata
    import importlib.util
    import re
    import sys
    import types

    import numpy

    applied = []
    if not hasattr(numpy, "sctypes"):
        numpy.sctypes = {
            "int": [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
            "uint": [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
            "float": [numpy.float16, numpy.float32, numpy.float64, numpy.longdouble],
            "complex": [numpy.complex64, numpy.complex128, numpy.clongdouble],
            "others": [bool, object, bytes, str, numpy.void]}
        applied.append("numpy.sctypes")
    stubs = {}
    if importlib.util.find_spec("numpy.distutils") is None:
        system_info = types.ModuleType("numpy.distutils.system_info")
        system_info.get_info = lambda name, notfound_action=0: {}
        distutils = types.ModuleType("numpy.distutils")
        distutils.system_info = system_info
        stubs.update({"numpy.distutils": distutils, "numpy.distutils.system_info": system_info})
    if importlib.util.find_spec("pkg_resources") is None:
        resources = types.ModuleType("pkg_resources")
        resources.ResolutionError = type("ResolutionError", (Exception,), {})
        resources.DistributionNotFound = type(
            "DistributionNotFound", (resources.ResolutionError,), {})
        resources.VersionConflict = type("VersionConflict", (resources.ResolutionError,), {})

        def require(requirement):
            name = re.split(r"[<>=!~;\[ ]", str(requirement), maxsplit=1)[0]
            try:
                return [importlib.metadata.distribution(name)]
            except importlib.metadata.PackageNotFoundError:
                raise resources.DistributionNotFound(requirement) from None

        resources.require = require
        resources.WorkingSet = type("WorkingSet", (), {"require": staticmethod(require)})
        stubs["pkg_resources"] = resources
    if stubs and "chainer" not in sys.modules:
        sys.modules.update(stubs)  # none of these names was importable: nothing to save
        if "numpy.distutils" in stubs:
            numpy.distutils = stubs["numpy.distutils"]  # read as an attribute on macOS
        try:
            import chainer.testing  # noqa: F401 - imports chainer, then its pkg_resources user
        finally:
            for name in stubs:
                del sys.modules[name]
            if "numpy.distutils" in stubs:
                del numpy.distutils
        applied += sorted(stubs)
    return tuple(applied)

apply()

# ---- the graph, as plain Chainer code (forward(None, ...) runs it without forget) ----
import collections
import gc
import types
import weakref
import zlib

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

_RNG = np.random.RandomState(0)  # reseeded per draw: cheaper than a new RandomState


class ResultTypeError(TypeError):
    """forget returned a tuple where func returned a Variable, or the reverse (D6)."""


def values(key, shape, dtype, high=0, fill="uniform"):
    """Deterministic test data for ``key``: uniform in [-1, 1), or indices below ``high``;
    ``fill="large"`` scales the data to 1/64 of the dtype's largest value,
    ``fill="nonfinite"`` puts an inf, a -inf and a NaN in (numeric extremes)."""
    rng = _RNG
    rng.seed(zlib.crc32(f"{SEED}/{key}".encode()))
    if high:
        return rng.randint(0, high, size=shape).astype(dtype)
    data = rng.uniform(-1, 1, size=shape)
    if fill == "large":
        data *= float(np.finfo(dtype).max) / 64
    elif fill == "nonfinite" and data.size:
        data.reshape(-1)[rng.randint(0, data.size, 3)] = (np.inf, -np.inf, np.nan)
    return data.astype(dtype)


#: Link kind -> constructor, called with the link's sizes (``LINKS``).
LINK_CONSTRUCTORS = {
    "linear": lambda n_in, n_out: L.Linear(n_in, n_out),
    "conv2d": lambda c_in, c_out, k, pad: L.Convolution2D(c_in, c_out, ksize=k, pad=pad),
    "batch_norm": lambda size: L.BatchNormalization(size),
    "batch_renorm": lambda size: L.BatchRenormalization(size, rmax=1.5, dmax=0.5),
    "embed_id": lambda n, size: L.EmbedID(n, size),
}


def make_links(device):
    """The links of ``LINKS`` (name -> (kind, sizes, dtype); kind ``weight`` is a bare
    parameter) in one Chain, with reproducible values, on ``device``."""
    links = chainer.Chain()
    with links.init_scope():
        for name, (kind, sizes, dtype) in LINKS.items():
            if kind == "weight":
                setattr(links, name, chainer.Parameter(np.zeros(sizes, dtype)))
            else:
                with chainer.using_config("dtype", np.dtype(dtype)):
                    setattr(links, name, LINK_CONSTRUCTORS[kind](*sizes))
    fill(links)
    links.cleargrads()
    return links.to_device(device)


def make_inputs(device):
    """The inputs of ``INPUTS`` (name -> (shape, dtype, index_high, fill, wrap)) on
    ``device``: index arrays as Variables that need no gradient, the others as Variables
    or, where ``wrap`` is False, as raw arrays."""
    xs = {}
    for name, (shape, dtype, high, fill, wrap) in INPUTS.items():
        array = device.send(values(name, shape, dtype, high, fill))
        if high:
            array = chainer.Variable(array, requires_grad=False)
        elif wrap:
            array = chainer.Variable(array)
        xs[name] = array
    return xs


def fill(links):
    """Give every parameter and running statistic reproducible values."""
    for name, param in sorted(links.namedparams()):
        fan_in = int(np.prod(param.shape[1:])) if param.ndim > 1 else 1
        v = values(name, param.shape, param.dtype)
        param.array[...] = 1 + 0.5 * v if name.endswith("gamma") else v / np.sqrt(fan_in)
    for name, link in sorted(links.namedlinks()):
        if hasattr(link, "avg_mean"):
            link.avg_mean[...] = 0.2 * values(name + "/avg_mean", link.avg_mean.shape,
                                              link.avg_mean.dtype)
            link.avg_var[...] = 1 + 0.5 * values(name + "/avg_var", link.avg_var.shape,
                                                 link.avg_var.dtype)


class WeightedSum(chainer.FunctionNode):
    """The loss in one node: the float64 sum of ``F.sum(F.cast(y * w, 'float64'))``
    over its inputs ``y`` (same values and gradients); keeps only the weights ``w``."""

    def __init__(self, weights):
        self.weights = weights

    def forward(self, ys):
        total = None
        for y, w in zip(ys, self.weights):
            term = (y * w).astype(np.float64).sum()
            total = term if total is None else total + term
        return chainer.backend.get_array_module(*ys).asarray(total, np.float64),

    def backward(self, indexes, grad_outputs):
        gy = grad_outputs[0].array
        return tuple(chainer.Variable(chainer.utils.force_array(
            gy.astype(self.weights[i].dtype) * self.weights[i])) for i in indexes)


def weighted_sum(device, ys):
    """The loss over ``ys`` (ref -> value), with test weights ``values('loss/<ref>')``."""
    weights = [device.send(values("loss/" + ref, y.shape, y.dtype)) for ref, y in ys.items()]
    return WeightedSum(weights).apply(tuple(ys.values()))[0]


def call(forget, func, n_out, *args):
    """Run a segment plainly (``forget is None``) or through ``forget``."""
    if forget is None:
        return func(*args)
    out = forget(func, *args)
    if (n_out == 1) != isinstance(out, chainer.Variable):
        raise ResultTypeError(f"{func.__name__} returns {n_out} value(s); forget gave "
                              f"{type(out).__name__}")
    return out

SEED = 600
LINKS = {
    'l0': ('batch_renorm', (3,), 'float32'),
}
INPUTS = {
    'x0': ((0,), 'float64', 0, 'uniform', True),
    'x1': ((3, 3), 'float32', 0, 'uniform', True),
}

def forward(forget, links, xs, calls):
    """Run the graph (plain when ``forget`` is None); returns (values, loss)."""
    x0, x1 = (xs[name] for name in INPUTS)
    v0 = F.tanh(x0)
    def f0(f0_a0):
        calls['f0'] += 1
        v1 = links.l0(f0_a0)
        return v1
    v2 = call(forget, f0, 1, x1)
    loss = weighted_sum(links.device, {'x1': x1, 'v2': v2})
    return {'x0': x0, 'x1': x1, 'v0': v0, 'v2': v2}, loss


# ---- the check (as the fuzzer's oracle) ----

LOSS_SCALE = 8.0
ULPS = 16  # plain vs forget, one device: sums may be reassociated (policy.REASSOCIATION_ULPS)
CROSS_DEVICE = {"float16": 1e-2, "float32": 1e-4, "float64": 1e-9}  # CPU vs GPU, per dtype

Difference = collections.namedtuple("Difference", "check what key message error")


class HarnessBug(Exception):
    """The harness is wrong, not ``forget``: the fuzzer drew a graph the plain path rejects,
    or the plain path broke its own model. ``symptom`` is what the harness's reports read
    (``forget_conformance.symptoms``): no verdict on the implementation."""

    symptom = "harness-error"


def mismatch(actual, expected, cross_device=False):
    """None when ``actual`` matches ``expected``, else why: same shape and dtype; integers
    exact; floats: the same NaNs and the same infinities (an overflow must show on both
    paths), the finite rest within tol * |expected| + tol * max|expected|."""
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape:
        return f"shape {a.shape} != expected {e.shape}"
    if a.dtype != e.dtype:
        return f"dtype {a.dtype} != expected {e.dtype}"
    if e.dtype.kind != "f":
        bad = int(np.count_nonzero(a != e))
        return f"{bad} of {a.size} elements differ (exact comparison)" if bad else None
    if np.array_equal(a, e, equal_nan=True):  # the common case, bit for bit: no arithmetic
        return None
    tol = CROSS_DEVICE.get(e.dtype.name, 0.0) if cross_device else ULPS * float(
        np.finfo(e.dtype).eps)
    a, e = a.astype(np.float64), e.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(e)):
        return "NaN pattern differs"
    finite = np.isfinite(e)
    if not np.array_equal(np.isfinite(a), finite) or not np.array_equal(a[np.isinf(e)],
                                                                         e[np.isinf(e)]):
        i = int(np.argmax(np.isfinite(a) != finite)) if not np.array_equal(
            np.isfinite(a), finite) else int(np.argmax(np.isinf(e) & (a != e)))
        return (f"infinity pattern differs at flat index {i} (got {a.flat[i]:.6g}, expected "
                f"{e.flat[i]:.6g})")
    scale = np.max(np.abs(e[finite]), initial=0.0)
    allowed = np.where(finite, tol * np.abs(e) + tol * scale, np.inf)
    err = np.where(finite, np.abs(a - e), 0.0)
    if np.all(err <= allowed):
        return None
    i = int(np.argmax(err - allowed))
    return (f"max abs error {err.flat[i]:.3g} at flat index {i} (got {a.flat[i]:.6g}, "
            f"expected {e.flat[i]:.6g}; rtol={tol:.3g}, atol={tol:.3g}*max|expected|)")


def leaf(key):
    """The input, weight or link a gradient or parameter key belongs to:
    ``x0`` -> ``x0``, ``param /l0/W`` -> ``l0``, ``l0/W`` -> ``l0``, ``param /w0`` -> ``w0``."""
    return key.split()[-1].lstrip("/").split("/")[0]


def compare(check, what, label, expected, actual, cross_device=False, loose=()):
    """A Difference for each key of ``expected`` whose array ``actual`` does not match
    (within the dtype's precision for keys of the leaves in ``loose``, see the module
    docstring). A missing gradient (None) matches an all-zero one."""
    for key, e in expected.items():
        a = actual.get(key)
        if a is None or e is None:
            if all(x is None or (x.dtype.kind == "f" and not x.any()) for x in (a, e)):
                continue
            reason = (f"{'no gradient' if a is None else 'a gradient'} where the plain graph "
                      f"has {'none' if e is None else 'one'}")
        else:
            reason = mismatch(a, e, cross_device or leaf(key) in loose)
        if reason:
            yield Difference(check, what, key, f"{label.format(key)}: {reason}", None)


class Run:
    """What one step left behind, as host arrays; ``error`` and ``phase`` if it raised."""

    def __init__(self):
        self.values, self.grads, self.params, self.state, self.calls = {}, {}, {}, {}, {}
        self.error, self.phase, self.leaked = None, "", []
        self.retained = self.held = 0  # bytes the graph holds after forward, after backward


def host(a):
    a = a.array if isinstance(a, chainer.Variable) else a
    if a is None or type(a) is np.ndarray:
        return a
    return np.asarray(chainer.backend.CpuDevice().send(a))


def run_step(graph, forget, device, train=True, loss_scale=None, update=False):
    """One step of ``graph`` (``make_links``, ``make_inputs``, ``forward``), plain when
    ``forget`` is None: forward under ``train``, backward outside it, then SGD if ``update``.
    Records the bytes the loss's graph holds after forward and after backward."""
    device = chainer.get_device(device)
    run, calls = Run(), collections.Counter()
    links, xs = graph.make_links(device), graph.make_inputs(device)
    existing = {id(p.array) for p in links.params()} | {
        id(x.array if isinstance(x, chainer.Variable) else x) for x in xs.values()} | {
        id(v) for link in links.links() for v in vars(link).values()}  # running statistics
    # Chainer's per-op input checks are off on both paths alike: what they check is not
    # what is compared here, and they cost more than the ops on these small arrays.
    # Entered before the global state is recorded, so it is no change by the step.
    with chainer.using_config("type_check", False), np.errstate(all="ignore"):
        # numeric extremes overflow on both paths alike
        before = global_state()
        try:
            run.phase = "forward"
            with chainer.using_config("train", train):
                outs, loss = graph.forward(forget, links, xs, calls)
            run.values = {key: host(v) for key, v in outs.items()}
            run.retained = held_bytes(loss, existing)
            run.phase = "backward"
            loss.backward(loss_scale=loss_scale)
            leaf_grads = [x.grad for x in xs.values() if isinstance(x, chainer.Variable)]
            run.held = held_bytes(loss, existing | {id(g) for g in leaf_grads + [
                p.grad for p in links.params()] if g is not None})
            run.phase = "update"
            if update:
                optimizer = chainer.optimizers.SGD(lr=0.5)
                optimizer.setup(links)
                optimizer.update()
            run.phase = "done"
        except Exception as exc:  # noqa: BLE001 - the implementation's failure is data here
            run.error = exc
            return run
        finally:
            run.leaked = restore_global_state(before)
    run.grads = {key: host(x.grad) for key, x in xs.items()
                 if isinstance(x, chainer.Variable) and x.requires_grad}
    for name, param in links.namedparams():
        run.grads[f"param {name}"] = host(param.grad)
        run.params[name] = host(param.array)
    for name, link in links.namedlinks(skipself=True):
        for attr in ("avg_mean", "avg_var", "N"):
            if hasattr(link, attr):
                run.state[f"{name}.{attr}"] = np.asarray(host(getattr(link, attr)))
    run.calls = dict(calls)
    return run


#: Objects that hold no arrays of the graph: scalars, strings, code, dtypes, and weak
#: references (they keep nothing alive).
_LEAVES = {type(None), bool, int, float, complex, str, bytes, type, types.ModuleType,
           types.CodeType, types.BuiltinFunctionType, weakref.ReferenceType,
           *{type(np.dtype(c)) for c in "?bhilqBHILQefdFD"}}
_OPAQUE = (chainer.Link, type, types.FrameType, np.dtype)  # hold no arrays of the graph


def held_bytes(root, existing):
    """Bytes of the arrays reachable from ``root`` (the loss: its graph, and all its
    nodes hold: saved arrays, attributes, the closures of functions), each buffer once;
    not the arrays whose ids are in ``existing`` (inputs, parameters and their
    gradients, links' running statistics), nor links (they exist anyway), nor a
    function's globals."""
    seen, buffers, stack, total = set(existing), set(existing), [root], 0
    leaves, referents = _LEAVES, gc.get_referents
    while stack:
        obj = stack.pop()
        kind = type(obj)
        if kind in leaves or id(obj) in seen:
            continue
        seen.add(id(obj))
        if kind is np.ndarray:
            while isinstance(obj.base, np.ndarray):
                obj = obj.base
            if id(obj) not in buffers:
                buffers.add(id(obj))
                total += obj.nbytes
        elif kind is tuple or kind is list:
            stack += [x for x in obj if type(x) not in leaves]
        elif kind is dict:  # keys too: a dict may be keyed by a Variable
            stack += [x for x in obj.values() if type(x) not in leaves]
            stack += [x for x in obj if type(x) not in leaves]
        elif kind is types.FunctionType:
            stack += [cell.cell_contents for cell in obj.__closure__ or ()]
            stack += [obj.__defaults__, obj.__dict__]
        elif not isinstance(obj, _OPAQUE):
            stack += referents(obj)
    return total


def global_state():
    """Chainer's configuration (this thread's and the global one) and function hooks."""
    return {"chainer.config": dict(vars(chainer.config._local)),
            "chainer.global_config": dict(vars(chainer.global_config)),
            "function hooks": tuple(chainer.get_function_hooks())}


def restore_global_state(before):
    """Put back :func:`global_state`; returns a line for each thing the step changed."""
    after, changed = global_state(), []
    for where in ("chainer.config", "chainer.global_config"):
        old, new = before[where], after[where]
        for key in sorted(set(old) | set(new)):
            b, a = old.get(key, "<unset>"), new.get(key, "<unset>")
            try:
                same = bool(a is b or a == b)
            except Exception:  # noqa: BLE001 - arrays and odd objects: identity only
                same = a is b
            if not same:
                changed.append(f"{where}.{key}: {b!r} -> {a!r}")
    hooks = before["function hooks"]
    if hooks != after["function hooks"]:
        changed.append(f"function hooks: {hooks} -> {after['function hooks']}")
    for namespace, where in ((chainer.config._local, "chainer.config"),
                             (chainer.global_config, "chainer.global_config")):
        vars(namespace).clear()
        vars(namespace).update(before[where])
    for name in [n for n in chainer.get_function_hooks() if n not in hooks]:
        del chainer.get_function_hooks()[name]
    return changed


def run_pair(graph, forget, device, plain_device=None, **step):
    """The plain step (on ``plain_device``, default ``device``), then the one through forget."""
    plain = run_step(graph, None, plain_device or device, **step)
    if plain.error is not None:  # the fuzzer made a graph Chainer rejects: a harness bug
        raise HarnessBug(f"plain graph failed in {plain.phase}: "
                         f"{type(plain.error).__name__}: {plain.error}") from plain.error
    return plain, run_step(graph, forget, device, **step)


def raised(check, run):
    message = f"forget raised in {run.phase}: {type(run.error).__name__}: {run.error}"
    return Difference(check, "error", run.phase, message, run.error)


def check_differential(graph, forget, device, expected_calls, loose=(), limit=None):
    """One training step: outputs, then (unless forget raised) gradients of the arguments
    and parameters, segment calls, global configuration left changed, link state, and
    memory: the graph holds at most ``limit`` bytes after forward (the memory model's
    figure, when it covers the graph) and grows in backward no more than the plain one.
    Gradients of the leaves in ``loose`` within the dtype's precision (module docstring)."""
    plain, forg = run_pair(graph, forget, device)
    if forg.phase != "forward":  # outputs exist: compare them before any later error
        yield from compare("differential", "value", "value {}", plain.values, forg.values)
    if forg.error is not None:
        yield raised("differential", forg)
        return
    yield from compare("differential", "grad", "{}", plain.grads, forg.grads, loose=loose)
    if plain.calls != {name: 1 for name in expected_calls}:
        raise HarnessBug(f"plain calls {plain.calls}, expected one of each of "
                         f"{sorted(expected_calls)}")
    if forg.calls != expected_calls:
        message = f"segment calls {forg.calls}, expected {expected_calls}"
        yield Difference("differential", "calls", "", message, None)
    if forg.leaked:
        message = "global state changed by the step: " + "; ".join(forg.leaked)
        yield Difference("differential", "leak", "", message, None)
    yield from compare("differential", "state", "link state {}", plain.state, forg.state)
    if limit is not None and forg.retained > limit:
        message = (f"after forward the graph holds {forg.retained} bytes, the memory model "
                   f"{limit} (inputs and outputs of forget only)")
        yield Difference("differential", "memory", "forward", message, None)
    if forg.held - forg.retained > plain.held - plain.retained:
        message = (f"backward left {forg.held - forg.retained} more bytes held by the graph, "
                   f"the plain graph {plain.held - plain.retained}")
        yield Difference("differential", "memory", "backward", message, None)


def check_eval_forward(graph, forget, device, expected_calls, loose=(), limit=None):
    """If the differential check passes: forward under train=False, backward outside it:
    the recomputation must use the forward's config (same gradients and link state)."""
    found = list(check_differential(graph, forget, device, expected_calls, loose, limit))
    yield from found
    if found:
        return
    plain, forg = run_pair(graph, forget, device, train=False)
    if forg.error is not None:
        yield raised("eval_forward", forg)
        return
    yield from compare("eval_forward", "grad", "{}", plain.grads, forg.grads, loose=loose)
    yield from compare("eval_forward", "state", "link state {}", plain.state, forg.state)


# ---- what the fuzzer ran ----

TARGET = 'chainer.functions:forget'
DEVICE = '@numpy'
EXPECTED_CALLS = {'f0': 2}  # calls of each segment function with forget (D4)
LOOSE = ()  # leaves of captured values: gradients within the dtype's precision
LIMIT = None  # bytes the graph may hold after forward (the memory model; None: not covered)
GRAPH = sys.modules[__name__]  # make_links, make_inputs and forward, above


def load(target):
    """``MODULE:ATTR`` (ATTR may be dotted), importable from the current directory."""
    sys.path.insert(0, os.getcwd())
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def main(argv):
    target = argv[0] if argv else TARGET
    if ":" not in target:
        print("usage: python " + sys.argv[0] + " [MODULE:ATTR]", file=sys.stderr)
        return 2
    found = list(check_eval_forward(GRAPH, load(target), DEVICE, EXPECTED_CALLS, LOOSE, LIMIT))
    if not found:
        print(f"passes: {target} agrees with the plain graph (eval_forward check)")
        return 0
    print(f"FAILS {target} (eval_forward check): {len(found)} difference(s) from the plain graph")
    for diff in found:
        print("  " + diff.message)
        if diff.error is not None:
            traceback.print_exception(type(diff.error), diff.error, diff.error.__traceback__)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
