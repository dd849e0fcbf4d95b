"""Checks of HW3P1's tensor operations: cat, slicing, unsqueeze (mytorch/tensor.py, mytorch/nn/functional.py)."""
import numpy as np

from .common import (Check, CheckFailure, build_key, data_of, expect_grad, expect_tensor, matches,
                     observe_tensor, shape_of)

CAT_HINT = ("Look at cat(seq, dim) in mytorch/tensor.py and the Cat Function in mytorch/nn/functional.py: "
            "the forward joins the tensors' data along dim (np.concatenate), a negative dim counting from the end")
CAT_GRAD_HINT = ("Cat's backward must split the output's gradient back along dim: input i gets the slab it filled "
                 "(np.split at the cumulative sizes along dim), one gradient per input, in order")


# ---------------------------------------------------------------- cat
def cat_inputs(rng):
    cases = []
    for dim, shapes in ((0, [(2, 3), (4, 3), (1, 3)]), (1, [(2, 1, 4), (2, 3, 4)]), (-1, [(3, 2), (3, 5), (3, 1)]),
                        (-2, [(2, 2, 3), (2, 4, 3)])):
        cases.append({"dim": dim, "arrays": [rng.normal(size=s) for s in shapes]})
    for case in cases:
        out_shape = np.concatenate(case["arrays"], axis=case["dim"]).shape
        case["weights"] = rng.normal(size=out_shape)
    return {"cases": cases}


def _cat_run(inp, student, backward):
    T = student("mytorch.tensor")
    results = []
    for case in inp["cases"]:
        xs = [T.Tensor(a.copy(), requires_grad=True) for a in case["arrays"]]
        out = T.cat(xs, case["dim"])
        if backward:
            (out * T.Tensor(case["weights"].copy())).backward()
            results.append([observe_tensor(x) for x in xs])
        else:
            results.append(observe_tensor(out))
    return {"results": results}


def cat_forward_probe(inp, student):
    return _cat_run(inp, student, backward=False)


def cat_backward_probe(inp, student):
    return _cat_run(inp, student, backward=True)


def _results(obs, count):
    results = obs.get("results") if isinstance(obs, dict) else None
    if not isinstance(results, list) or len(results) != count:
        raise CheckFailure(f"the probe returned {obs!r:.200}; expected {count} results")
    return results


def cat_forward_judge(inp, obs):
    for case, got in zip(inp["cases"], _results(obs, len(inp["cases"]))):
        shapes = [a.shape for a in case["arrays"]]
        expected = np.concatenate(case["arrays"], axis=case["dim"])
        wrong = _cat_positive(case)
        if case["dim"] < 0 and not matches(data_of(got), expected) and wrong is not None and \
                matches(data_of(got), wrong):
            raise CheckFailure(f"cat of shapes {shapes} along dim {case['dim']}: a negative dim counts from the "
                               f"end (dim {case['dim']} is axis {case['dim'] % len(shapes[0])}). {CAT_HINT}")
        expect_tensor(f"cat of shapes {shapes} along dim {case['dim']}", got, expected, CAT_HINT)


def _cat_positive(case):
    """What cat gives if it reads a negative dim -k as axis k - 1 (a mistake to name), or None."""
    axis = -case["dim"] - 1
    try:
        return np.concatenate(case["arrays"], axis=axis)
    except ValueError:
        return None


def cat_backward_judge(inp, obs):
    for case, got in zip(inp["cases"], _results(obs, len(inp["cases"]))):
        shapes = [a.shape for a in case["arrays"]]
        if not isinstance(got, list) or len(got) != len(shapes):
            raise CheckFailure(f"cat backward: the probe returned {got!r:.200}")
        bounds = np.cumsum([s[case["dim"]] for s in shapes])[:-1]
        pieces = np.split(case["weights"], bounds, axis=case["dim"])
        for i, (piece, x) in enumerate(zip(pieces, got)):
            expect_grad(f"cat of shapes {shapes} along dim {case['dim']}, the gradient of input {i} "
                        f"(shape {shapes[i]})", x, piece, CAT_GRAD_HINT)


# ---------------------------------------------------------------- slicing
SLICE_KEYS = [[1], [-1], [[1, 3, None]], [[None, None, 2]], [0, [1, None, None]], [[None, None, None], 2],
              [[1, 3, None], [None, -1, None]], [-2, -1], [[-3, None, None], 0]]
SLICE_HINT = ("Indexing is Tensor.__getitem__ (mytorch/tensor.py) and its Function (GetItem in "
              "mytorch/nn/functional.py): the forward is a[key] on the data, for an int, a slice or a tuple of them")
SLICE_GRAD_HINT = ("The backward of indexing puts the output's gradient where the elements were read "
                   "(zeros of the input's shape, then grad[key] = grad_output), zero elsewhere")


def _key_text(parts):
    def one(p):
        if isinstance(p, list):
            return ":".join("" if v is None else str(v) for v in p).rstrip(":") or ":"
        return str(p)
    return "[" + ", ".join(one(p) for p in parts) + "]"


def slice_inputs(rng):
    array = rng.normal(size=(4, 5))
    return {"array": array, "keys": SLICE_KEYS, "weights": [rng.normal(size=array[build_key(k)].shape)
                                                            for k in SLICE_KEYS]}


def _slice_run(inp, student, backward):
    T = student("mytorch.tensor")
    results = []
    for parts, weights in zip(inp["keys"], inp["weights"]):
        x = T.Tensor(inp["array"].copy(), requires_grad=True)
        out = x[build_key(parts)]
        if backward:
            (out * T.Tensor(np.array(weights))).backward()
            results.append({"x": observe_tensor(x), "out": observe_tensor(out)})
        else:
            results.append(observe_tensor(out))
    return {"results": results}


def slice_forward_probe(inp, student):
    return _slice_run(inp, student, backward=False)


def slice_backward_probe(inp, student):
    return _slice_run(inp, student, backward=True)


def slice_forward_judge(inp, obs):
    for parts, got in zip(inp["keys"], _results(obs, len(inp["keys"]))):
        expected = inp["array"][build_key(parts)]
        expect_tensor(f"x{_key_text(parts)} of x with shape {inp['array'].shape}", got, expected, SLICE_HINT)


def slice_backward_judge(inp, obs):
    for parts, weights, got in zip(inp["keys"], inp["weights"], _results(obs, len(inp["keys"]))):
        if not isinstance(got, dict):
            raise CheckFailure(f"slicing backward: the probe returned {got!r:.200}")
        expected = np.zeros(inp["array"].shape)
        expected[build_key(parts)] = weights
        expect_grad(f"the gradient of x (shape {inp['array'].shape}) after y = x{_key_text(parts)}",
                    got.get("x"), expected, SLICE_GRAD_HINT)
        out = got.get("out")
        if isinstance(out, dict) and out.get("has_grad") is True:
            raise CheckFailure(f"x{_key_text(parts)}: the result is not a leaf, so its .grad must stay None "
                               "after backward (only leaves keep gradients)")


# ---------------------------------------------------------------- unsqueeze
UNSQUEEZE_HINT = ("Look at Tensor.unsqueeze(self, dim=0) in mytorch/tensor.py and its Function: a new axis of length 1 "
                  "at dim (np.expand_dims), a negative dim counting from the end of the result; "
                  "the backward removes that axis again (np.squeeze(grad, dim))")


def unsqueeze_inputs(rng):
    cases = [{"shape": (3,), "dim": None}, {"shape": (2, 3), "dim": 1}, {"shape": (2, 3), "dim": -1},
             {"shape": (2, 3), "dim": 2}, {"shape": (4,), "dim": -2}]
    for case in cases:
        case["array"] = rng.normal(size=case["shape"])
        dim = 0 if case["dim"] is None else case["dim"]
        case["weights"] = rng.normal(size=np.expand_dims(case["array"], dim).shape)
    return {"cases": cases}


def unsqueeze_probe(inp, student):
    T = student("mytorch.tensor")
    results = []
    for case in inp["cases"]:
        x = T.Tensor(case["array"].copy(), requires_grad=True)
        out = x.unsqueeze() if case["dim"] is None else x.unsqueeze(case["dim"])
        first = observe_tensor(out)
        if shape_of(out) != case["weights"].shape:  # the judge reports the shape; no backward to run
            results.append({"out": first, "x": None})
            continue
        (out * T.Tensor(case["weights"].copy())).backward()
        results.append({"out": first, "x": observe_tensor(x)})
    return {"results": results}


def unsqueeze_judge(inp, obs):
    for case, got in zip(inp["cases"], _results(obs, len(inp["cases"]))):
        if not isinstance(got, dict):
            raise CheckFailure(f"unsqueeze: the probe returned {got!r:.200}")
        dim = 0 if case["dim"] is None else case["dim"]
        call = "x.unsqueeze()" if case["dim"] is None else f"x.unsqueeze({dim})"
        what = f"{call} of x with shape {case['shape']}"
        expect_tensor(what, got.get("out"), np.expand_dims(case["array"], dim),
                      UNSQUEEZE_HINT + ("; the default dim is 0" if case["dim"] is None else ""))
        expect_grad(f"the gradient of x after {call}", got.get("x"),
                    np.squeeze(case["weights"], dim), UNSQUEEZE_HINT)


CAT_FORWARD = [Check("cat along dims 0, 1, -1, -2: values and graph flags", cat_inputs, cat_forward_probe,
                     cat_forward_judge)]
CAT_BACKWARD = [Check("cat: each input's gradient", cat_inputs, cat_backward_probe, cat_backward_judge)]
SLICE_FORWARD = [Check("indexing with ints, slices and tuples: values and graph flags", slice_inputs,
                       slice_forward_probe, slice_forward_judge)]
SLICE_BACKWARD = [Check("indexing: the gradient of the indexed tensor", slice_inputs, slice_backward_probe,
                        slice_backward_judge)]
UNSQUEEZE = [Check("unsqueeze (default dim 0, positive and negative dims): values and gradient", unsqueeze_inputs,
                   unsqueeze_probe, unsqueeze_judge)]
