"""The oracle's runs and comparisons, self-contained so that reproducer scripts carry them.

``fuzz/oracle.py`` runs these checks and names the clause each difference breaks;
``fuzz/reproducer.py`` copies this file's text (from the marker below, and only the
checks a script needs) after the graph's source, which defines ``make_links``,
``make_inputs`` and ``forward``. So a reproducer checks exactly what the fuzzer
checked, without the harness. Hence the rules for this file: standard library,
NumPy and Chainer only, and no import that ``graph.to_source`` does not print.

Tolerances are ``forget_conformance.policy``'s (``same_kernels``, ``cross_device``
and ``mismatch``; the reasons are given there), inlined; ``tests/test_fuzz_oracle.py``
checks that both agree. One use goes beyond the reasons given there: the gradients
(and updated values) of the leaves in ``loose`` (inputs, weights and links that a
captured value depends on) are compared within the dtype's precision
(``cross_device``), not ``same_kernels``. When ``func`` closes over a non-leaf
variable, the forgetting path backpropagates the gradient of that use inside its
recomputation, through the caller's graph down to the leaves, apart from the other
uses' gradients (as Chainer's own backward does); the plain path sums them where
they meet first. That is distributivity, not a reassociated sum: the rounding of
each contribution shows, magnified where contributions cancel. A lost or doubled
contribution is still far outside that tolerance.

A gradient that passed through a lower precision than its leaf's dtype (a float32
input cast to float16) was summed in that precision, in another order on the two
paths: it is compared at the lowest precision on its path (``precision``, from the
graph model), and no looser.
"""

import collections
import gc
import types
import weakref

import chainer
import numpy as np

# ---- reproducer scripts copy from here ----

LOSS_SCALE = 8.0
ULPS = 16  # plain vs forget, one device: sums may be reassociated (policy.REASSOCIATION_ULPS)
#: Bytes a forget call may keep beyond the memory model (D2): a fixed overhead per call,
#: such as a 0-d float64 or two 0-d float32 of bookkeeping. D2 is about intermediate
#: results, which grow with the data; this does not.
PER_CALL_BYTES = 16
#: Bytes of bookkeeping arrays a forget call may keep besides (policy.MEMORY_BOOKKEEPING_BYTES):
#: arrays whose element count is that of no value of the graph (an RNG state, a table of
#: the implementation's own), so no intermediate result, nor a flattened copy of one.
BOOKKEEPING_BYTES = 4096
CROSS_DEVICE = {"float16": 1e-2, "float32": 1e-4, "float64": 1e-9}  # CPU vs GPU, per dtype

Difference = collections.namedtuple("Difference", "check what key message error")


class HarnessBug(Exception):
    """The harness is wrong, not ``forget``: the fuzzer drew a graph the plain path rejects,
    or the plain path broke its own model. ``symptom`` is what the harness's reports read
    (``forget_conformance.symptoms``): no verdict on the implementation."""

    symptom = "harness-error"


def mismatch(actual, expected, cross_device=False, through=None):
    """None when ``actual`` matches ``expected``, else why: same shape and dtype; integers
    exact; floats: the same NaNs and the same infinities (an overflow must show on both
    paths), the finite rest within tol * |expected| + tol * max|expected|. ``through``:
    the lowest precision the value was summed in, when lower than its dtype's (a
    gradient cast down and back): reassociation is allowed at that precision."""
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
    tol = CROSS_DEVICE.get(e.dtype.name, 0.0) if cross_device else ULPS * max(
        float(np.finfo(e.dtype).eps), float(np.finfo(through or e.dtype).eps))
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


def compare(check, what, label, expected, actual, cross_device=False, loose=(),
            precision=None):
    """A Difference for each key of ``expected`` whose array ``actual`` does not match
    (within the dtype's precision for keys of the leaves in ``loose``, see the module
    docstring; ``precision``: leaf -> the lowest precision its gradient passes through,
    see ``mismatch``). A missing gradient (None) matches an all-zero one."""
    for key, e in expected.items():
        a = actual.get(key)
        if a is None or e is None:
            if all(x is None or (x.dtype.kind == "f" and not x.any()) for x in (a, e)):
                continue
            reason = (f"{'no gradient' if a is None else 'a gradient'} where the plain graph "
                      f"has {'none' if e is None else 'one'}")
        else:
            reason = mismatch(a, e, cross_device or leaf(key) in loose,
                              (precision or {}).get(leaf(key)))
        if reason:
            yield Difference(check, what, key, f"{label.format(key)}: {reason}", None)


class Run:
    """What one step left behind, as host arrays; ``error`` and ``phase`` if it raised."""

    def __init__(self):
        self.values, self.grads, self.params, self.state, self.calls = {}, {}, {}, {}, {}
        self.error, self.phase, self.leaked = None, "", []
        self.retained = self.held = 0  # bytes the graph holds after forward, after backward
        self.kept = []  # (shape, dtype, what made or holds it) after forward, if described


def host(a):
    a = a.array if isinstance(a, chainer.Variable) else a
    if a is None or type(a) is np.ndarray:
        return a
    return np.asarray(chainer.backend.CpuDevice().send(a))


def run_step(graph, forget, device, train=True, loss_scale=None, update=False,
             describe=False):
    """One step of ``graph`` (``make_links``, ``make_inputs``, ``forward``), plain when
    ``forget`` is None: forward under ``train``, backward outside it, then SGD if ``update``.
    Records the bytes the loss's graph holds after forward and after backward
    (``describe``: and the arrays it holds after forward, ``Run.kept``)."""
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
            if describe:
                run.kept = held_arrays(loss, existing)
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


def held_arrays(root, existing):
    """The arrays :func:`held_bytes` counts, as (shape, dtype, where): ``made by`` the
    function node that created the variable it is the data of, or ``kept by`` the
    function node that holds it itself (an attribute, retained outputs)."""
    seen, found, stack = set(existing), {}, [(root, "held by the loss")]
    while stack:
        obj, where = stack.pop()
        if type(obj) in _LEAVES or id(obj) in seen:
            continue
        seen.add(id(obj))
        if type(obj) is np.ndarray:
            while isinstance(obj.base, np.ndarray):
                obj = obj.base
            if id(obj) not in existing:
                found.setdefault(id(obj), (obj.shape, obj.dtype.name, where))
            continue
        if isinstance(obj, chainer.variable.VariableNode):
            creator = obj.creator_node
            where = f"made by {_name(creator)}" if creator is not None else "a leaf"
        elif isinstance(obj, chainer.FunctionNode):
            where = f"kept by {_name(obj)}"
        if isinstance(obj, (list, tuple)):
            inner = list(obj)
        elif isinstance(obj, dict):
            inner = list(obj.values()) + list(obj)
        elif isinstance(obj, types.FunctionType):
            inner = [c.cell_contents for c in obj.__closure__ or ()] + [obj.__defaults__,
                                                                          obj.__dict__]
        elif isinstance(obj, _OPAQUE):
            inner = []
        else:
            inner = gc.get_referents(obj)
        stack += [(x, where) for x in inner]
    return list(found.values())


def _name(node):
    """A function node's class name; ``forget's`` for the implementation's own nodes (not
    Chainer's, nor the loss's)."""
    name = type(node).__name__
    ours = type(node).__module__.split(".")[0] == "chainer" or name == "WeightedSum"
    return name if ours else f"forget's {name}"


def beyond_model(kept, model):
    """The arrays of ``kept`` (shape, dtype, where) that the model's list (shape, dtype,
    what) does not account for, matched by shape and dtype: the loss's arrays first,
    forget's own nodes' last."""
    left = [(tuple(shape), dtype) for shape, dtype, _ in model]
    extra = []
    def order(item):  # the loss's arrays first, forget's own last
        where = item[2]
        return 0 if "WeightedSum" in where or "loss" in where else 2 if "forget's" in where else 1

    for shape, dtype, where in sorted(kept, key=order):
        if (tuple(shape), dtype) in left:
            left.remove((tuple(shape), dtype))
        else:
            extra.append((tuple(shape), dtype, where))
    return extra


def bookkeeping_bytes(extra, sizes):
    """Bytes of the arrays of ``extra`` whose element count is in no value of the graph
    (``sizes``): not an intermediate result of func, whatever its shape."""
    return sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype, _ in extra
               if int(np.prod(shape)) not in sizes)


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


#: What rejecting double backprop raises (D8: rejecting it meets the contract).
REJECTIONS = (RuntimeError, NotImplementedError)


def run_penalty(graph, forget, device, route):
    """A gradient penalty on ``graph`` (plain when ``forget`` is None): forward, then
    first-order gradients with their graph (phase ``gradient``), then backward of the
    sum of those gradients squared (phase ``penalty``). ``route`` ``grad``:
    ``chainer.grad`` of the loss with respect to the float inputs, the penalty's
    backward adding to whatever ``.grad`` that left; ``backward``: the loss's
    ``backward(enable_double_backprop=True)``, the penalty over the gradients of the
    inputs and parameters, cleared before its backward. Records the first-order
    gradients (``values``) and the penalty's gradients of the inputs and parameters
    (``grads``), as host arrays."""
    device = chainer.get_device(device)
    run, calls = Run(), collections.Counter()
    links, xs = graph.make_links(device), graph.make_inputs(device)
    links.cleargrads()  # a new parameter's gradient is NaN: every sum into it would be
    inputs = {key: x for key, x in xs.items() if isinstance(x, chainer.Variable)
              and x.requires_grad and x.dtype.kind == "f"}
    leaves = dict(inputs, **{f"param {name}": p for name, p in links.namedparams()})
    with chainer.using_config("type_check", False), np.errstate(all="ignore"):
        before = global_state()
        try:
            run.phase = "forward"
            loss = graph.forward(forget, links, xs, calls)[1]
            run.phase = "gradient"
            if route == "grad":
                names = list(inputs)
                firsts = chainer.grad([loss], [inputs[k] for k in names],
                                      enable_double_backprop=True)
            else:
                names = list(leaves)
                loss.backward(enable_double_backprop=True)
                firsts = [leaves[k].grad_var for k in names]
                for x in leaves.values():
                    x.cleargrad()
            run.values = {key: host(g) for key, g in zip(names, firsts, strict=True)}
            terms = [chainer.functions.sum(g * g) for g in firsts if g is not None]
            run.phase = "penalty"
            if terms:
                penalty = terms[0]
                for term in terms[1:]:
                    penalty = penalty + term
                penalty.backward()
            run.phase = "done"
        except Exception as exc:  # noqa: BLE001 - the implementation's failure is data here
            run.error = exc
            return run
        finally:
            run.leaked = restore_global_state(before)
    run.grads = {key: host(x.grad) for key, x in leaves.items()}
    return run


# ---- the checks: each yields every Difference it finds (none: forget agrees) ----


def check_differential(graph, forget, device, expected_calls, loose=(), limit=None,
                       precision=None):
    """One training step: outputs, then (unless forget raised) gradients of the arguments
    and parameters, segment calls, global configuration left changed, link state, and
    memory: the graph holds at most ``limit["bytes"]`` after forward (the memory model's
    figure, when it covers the graph; ``limit["arrays"]`` its arrays) plus PER_CALL_BYTES
    per forget call (``limit["calls"]``), and grows in backward no more than the plain one.
    Gradients of the leaves in ``loose`` within the dtype's precision (module docstring)."""
    plain, forg = run_pair(graph, forget, device)
    if forg.phase != "forward":  # outputs exist: compare them before any later error
        yield from compare("differential", "value", "value {}", plain.values, forg.values)
    if forg.error is not None:
        yield raised("differential", forg)
        return
    yield from compare("differential", "grad", "{}", plain.grads, forg.grads, loose=loose,
                       precision=precision)
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
    if isinstance(limit, int):
        limit = {"bytes": limit, "calls": 0, "arrays": []}
    allowed = None if limit is None else limit["bytes"] + PER_CALL_BYTES * limit["calls"]
    if allowed is not None and forg.retained > allowed:
        kept = run_step(graph, forget, device, describe=True).kept
        extra = beyond_model(kept, limit["arrays"])
        own = bookkeeping_bytes(extra, limit.get("sizes", ()))
        if own > BOOKKEEPING_BYTES * limit["calls"] or forg.retained - own > allowed:
            named = ", ".join(f"{s} {d} ({w})" for s, d, w in extra)
            message = (f"after forward the graph holds {forg.retained} bytes, the memory model "
                       f"{limit['bytes']} (inputs and outputs of forget only) + "
                       f"{PER_CALL_BYTES} per forget call ({limit['calls']}); kept beyond the "
                       f"model: {named or 'arrays of the same shapes, more bytes'}")
            yield Difference("differential", "memory", "forward", message, None)
    if forg.held - forg.retained > plain.held - plain.retained:
        message = (f"backward left {forg.held - forg.retained} more bytes held by the graph, "
                   f"the plain graph {plain.held - plain.retained}")
        yield Difference("differential", "memory", "backward", message, None)


def check_loss_scale(graph, forget, device, expected_calls, loose=(), limit=None,
                     precision=None):
    """If the differential check passes: backward with loss_scale, then an SGD step: the
    same parameters as the plain graph."""
    found = list(check_differential(graph, forget, device, expected_calls, loose, limit,
                                    precision))
    yield from found
    if found:
        return
    plain, forg = run_pair(graph, forget, device, loss_scale=LOSS_SCALE, update=True)
    if forg.error is not None:
        yield raised("loss_scale", forg)
        return
    label = f"parameter {{}} after SGD with loss_scale={LOSS_SCALE}"
    yield from compare("loss_scale", "param", label, plain.params, forg.params, loose=loose,
                       precision=precision)


def check_eval_forward(graph, forget, device, expected_calls, loose=(), limit=None,
                       precision=None):
    """If the differential check passes: forward under train=False, backward outside it:
    the recomputation must use the forward's config (same gradients and link state)."""
    found = list(check_differential(graph, forget, device, expected_calls, loose, limit,
                                    precision))
    yield from found
    if found:
        return
    plain, forg = run_pair(graph, forget, device, train=False)
    if forg.error is not None:
        yield raised("eval_forward", forg)
        return
    yield from compare("eval_forward", "grad", "{}", plain.grads, forg.grads, loose=loose,
                       precision=precision)
    yield from compare("eval_forward", "state", "link state {}", plain.state, forg.state)


def check_cross_device(graph, forget, device, expected_calls, loose=(), limit=None,
                       precision=None):
    """Through forget on ``device`` vs plain on the CPU: values and gradients, within the
    dtype's precision (``loose``, ``limit`` and ``precision`` change nothing here)."""
    cpu, other = run_pair(graph, forget, device, plain_device="@numpy")
    if other.error is not None:
        yield raised("cross_device", other)
        return
    where = f"on {device} vs CPU: "
    yield from compare("cross_device", "value", where + "value {}", cpu.values, other.values,
                       cross_device=True)
    yield from compare("cross_device", "grad", where + "{}", cpu.grads, other.grads,
                       cross_device=True)


def check_double_backprop(graph, forget, device, expected_calls, loose=(), limit=None,
                          precision=None):
    """Gradient penalties (:func:`run_penalty`, through ``chainer.grad`` and through
    ``backward``): ``forget`` rejects double backprop (RuntimeError or
    NotImplementedError once a gradient is asked for), or gives the plain graph's
    first-order gradients and the penalty's gradients of every input and parameter. A
    route the plain graph cannot take (an op without double backprop) judges nothing."""
    for route in ("backward", "grad"):
        plain = run_penalty(graph, None, device, route)
        if plain.error is not None and plain.phase == "forward":
            raise HarnessBug(f"plain graph failed in forward: {type(plain.error).__name__}: "
                             f"{plain.error}") from plain.error
        if plain.error is not None:
            continue  # outside D8: nothing to compare
        forg = run_penalty(graph, forget, device, route)
        if forg.error is not None:
            if forg.phase == "forward" or not isinstance(forg.error, REJECTIONS):
                yield raised("double_backprop", forg)
            return  # rejected: meets D8
        label = f"via {'chainer.grad' if route == 'grad' else 'backward'}: "
        yield from compare("double_backprop", "value", label + "first-order gradient {}",
                           plain.values, forg.values, loose=loose, precision=precision)
        yield from compare("double_backprop", "grad", label + "penalty's gradient of {}",
                           plain.grads, forg.grads, loose=loose, precision=precision)


#: check name -> the functions a reproducer needs, the one to call last.
CHECKS = {
    "differential": (check_differential,),
    "loss_scale": (check_differential, check_loss_scale),
    "eval_forward": (check_differential, check_eval_forward),
    "cross_device": (check_cross_device,),
    "double_backprop": (check_double_backprop,),
}
