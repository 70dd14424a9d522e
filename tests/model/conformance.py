"""Reads the pinned botocore service models and writes, as JSON on stdout, what the model
conformance suite (tests/tests/model_conformance.rs) checks the SDK against:

- operations: method, URI template and the location of every input member;
- instances: for each root shape named on the command line (SERVICE:SHAPE), maximal JSON
  instances built from the model (every member set, at every depth; one more instance per
  other member of each union), each with the (shape, member) pairs it covers;
- limits: every min / max / pattern of the members of the named request shapes.

Nothing of the model is stored in the repository: it is read from the installed botocore.
Usage: conformance.py SERVICE:SHAPE... [--ops SERVICE:OP...]
"""

import json
import sys

try:  # Python 3.11+: the regex parser's modules moved.
    import re._constants as C
    import re._parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as C
    import sre_parse

import botocore
from botocore.loaders import Loader

LOADER = Loader()
MODELS = {}


def model(service):
    if service not in MODELS:
        MODELS[service] = LOADER.load_service_model(service, "service-2")
    return MODELS[service]


def regex_sample(pattern, lo, hi):
    """A short string matching `pattern` (anchored), within [lo, hi] characters if it can."""

    def walk(items):
        out = []
        for op, av in items:
            if op == C.LITERAL:
                out.append(chr(av))
            elif op == C.NOT_LITERAL:
                out.append("a" if chr(av) != "a" else "b")
            elif op == C.ANY:
                out.append("a")
            elif op == C.IN:
                out.append(first_in(av))
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
                mn, mx, sub = av
                n = max(mn, 1) if mx != 0 else 0
                out.append(walk(sub) * n)
            elif op == C.SUBPATTERN:
                out.append(walk(av[-1]))
            elif op == C.BRANCH:
                out.append(walk(av[1][0]))
            elif op in (C.AT,):
                pass
            elif op == C.CATEGORY:
                out.append(category(av))
            else:
                out.append("a")
        return "".join(out)

    def category(cat):
        if cat == C.CATEGORY_DIGIT:
            return "1"
        if cat == C.CATEGORY_SPACE:
            return " "
        return "a"

    def first_in(items):
        negate = any(op == C.NEGATE for op, _ in items)
        for op, av in items:
            if op == C.NEGATE:
                continue
            if negate:
                break
            if op == C.LITERAL:
                return chr(av)
            if op == C.RANGE:
                # Prefer a letter or digit inside the range.
                for c in "a1A":
                    if av[0] <= ord(c) <= av[1]:
                        return c
                return chr(av[0])
            if op == C.CATEGORY:
                return category(av)
        return "a"

    s = walk(sre_parse.parse(pattern))
    if lo is not None and len(s) < lo:
        # Lengthen the first run of a repeated class: pad with its own character while it
        # still matches.
        import re

        for pad in (s[-1:] if s else "a", "a", "1"):
            t = s + pad * (lo - len(s))
            if re.fullmatch(pattern, t):
                return t
            t = s[:1] + pad * (lo - len(s)) + s[1:]
            if re.fullmatch(pattern, t):
                return t
    return s


def string_sample(shape):
    if "enum" in shape:
        return shape["enum"][0]
    lo, hi = shape.get("min"), shape.get("max")
    if "pattern" in shape:
        s = regex_sample(shape["pattern"], lo, hi)
    else:
        s = "x" * max(lo or 1, 1)
    return s


class Builder:
    def __init__(self, service, choices):
        self.m = model(service)
        self.choices = choices  # union shape -> member index
        self.covers = set()

    def shape(self, name):
        return self.m["shapes"][name]

    def sample(self, name, depth=0):
        s = self.shape(name)
        t = s["type"]
        if t == "structure":
            if depth > 12:
                return {}
            # Members bound to the URI, query string or headers are not in the JSON body.
            members = [(k, v) for k, v in s.get("members", {}).items() if "location" not in v]
            if s.get("union"):
                i = self.choices.get(name, 0) % max(len(members), 1)
                members = members[i : i + 1]
            out = {}
            for k, v in members:
                self.covers.add((name, k))
                out[v.get("locationName", k)] = self.sample(v["shape"], depth + 1)
            return out
        if t == "list":
            n = max(s.get("min", 1), 1)
            items = [self.sample(s["member"]["shape"], depth + 1) for _ in range(n)]
            if n > 1 and all(isinstance(x, str) for x in items):
                items = [x if i == 0 else x[:-1] + chr(ord("a") + i) for i, x in enumerate(items)]
            return items
        if t == "map":
            k = self.sample(s["key"]["shape"], depth + 1)
            return {k: self.sample(s["value"]["shape"], depth + 1)}
        if t == "string":
            if name == "MountPath":
                # Mount paths must be unique within a request.
                self.mounts = getattr(self, "mounts", 0) + 1
                return f"/mnt/d{self.mounts}"
            return string_sample(s)
        if t in ("integer", "long"):
            lo = s.get("min")
            return lo if lo is not None and lo > 0 else 1
        if t in ("double", "float"):
            return 1.5
        if t == "boolean":
            return True
        if t == "timestamp":
            return "2026-01-02T03:04:05Z"
        if t == "blob":
            return "YmxvYg=="
        return None


def unions_under(service, root, seen=None):
    m = model(service)
    seen = seen if seen is not None else set()
    if root in seen:
        return []
    seen.add(root)
    s = m["shapes"][root]
    found = []
    if s["type"] == "structure":
        if s.get("union"):
            found.append((root, len(s.get("members", {}))))
        for v in s.get("members", {}).values():
            found += unions_under(service, v["shape"], seen)
    elif s["type"] == "list":
        found += unions_under(service, s["member"]["shape"], seen)
    elif s["type"] == "map":
        found += unions_under(service, s["value"]["shape"], seen)
    return found


def instances(service, root):
    out = []
    variants = [{}]
    for union, n in unions_under(service, root):
        for i in range(1, n):
            variants.append({union: i})
    for choices in variants:
        b = Builder(service, choices)
        j = b.sample(root)
        out.append({"json": j, "covers": sorted(b.covers)})
    return out


def operations(service, names):
    m = model(service)
    ops = {}
    for name in names:
        op = m["operations"][name]
        members = {}
        if "input" in op:
            s = m["shapes"][op["input"]["shape"]]
            payload = s.get("payload")
            for k, v in s.get("members", {}).items():
                if k == payload:
                    # The body is this member: a structure's members are the JSON body's,
                    # anything else (a blob) is sent as is.
                    ps = m["shapes"][v["shape"]]
                    members[k] = {"location": "payload", "locationName": k, "required": False}
                    for pk, pv in ps.get("members", {}).items():
                        members[pk] = {
                            "location": "body",
                            "locationName": pv.get("locationName", pk),
                            "required": pk in ps.get("required", []),
                        }
                    continue
                members[k] = {
                    "location": v.get("location", "body"),
                    "locationName": v.get("locationName", k),
                    "required": k in s.get("required", []),
                }
        ops[name] = {
            "service": service,
            "method": op["http"]["method"],
            "uri": op["http"]["requestUri"],
            "members": members,
        }
    return ops


def violating_string(pattern, lo, hi):
    """A string within [lo, hi] characters that does not match `pattern`, or None."""
    import re

    n = max(lo or 1, 1)
    if hi is not None:
        n = min(n, hi)
    for c in (" ", "!", "\n", "#", "\u00e9", "a", "1", "-", "/"):
        cand = c * n
        if not re.fullmatch(pattern, cand):
            return cand
    return None


def bound_values(m, shape_name, bound):
    """(inside, outside) values of a member of shape `shape_name` at `bound`."""
    t = m["shapes"][shape_name]
    kind = t["type"]
    lo, hi = t.get("min"), t.get("max")
    pattern = t.get("pattern")
    if kind == "string":
        import re

        def sized(n, strict=True):
            """A string of exactly n characters that matches the pattern (None if this
            generator cannot make one)."""
            if pattern:
                s = regex_sample(pattern, n, n)
                if len(s) < n:
                    s = s + s[-1:] * (n - len(s)) if s else "a" * n
                s = s[:n]
                if strict and not re.fullmatch(pattern, s):
                    return None
                return s
            return "a" * n
        if bound == "min":
            if lo == 0:
                # Nothing is shorter; where the pattern refuses "", any valid value shows
                # the bound does not refuse what it allows.
                empty = sized(0)
                return (empty if empty is not None else string_sample(t)), None
            return sized(lo), ("" if lo == 1 else sized(lo - 1, strict=False))
        if bound == "max":
            inside = sized(hi)
            base = inside if inside is not None else sized(hi, strict=False)
            return inside, base + (base[-1:] or "a")
        inside = string_sample(t)
        return inside, violating_string(pattern, lo, hi)
    if kind in ("integer", "long"):
        if bound == "min":
            return lo, lo - 1
        return hi, hi + 1
    if kind in ("list", "map"):
        b = Builder_for(m)
        if kind == "list":
            item = lambda i: b.sample(t["member"]["shape"])
            make = lambda n: [item(i) for i in range(n)]
        else:
            def make(n):
                out = {}
                for i in range(n):
                    k = b.sample(t["key"]["shape"])
                    k = (k + str(i)) if isinstance(k, str) and n > 1 else k
                    out[k] = b.sample(t["value"]["shape"])
                return out
        if bound == "min":
            return make(lo), (make(lo - 1) if lo > 0 else None)
        return make(hi), make(hi + 1)
    if kind == "blob":
        # Sizes, not bytes: the test makes the bytes.
        if bound == "min":
            return {"$blobSize": lo}, ({"$blobSize": lo - 1} if lo > 0 else None)
        return {"$blobSize": hi}, {"$blobSize": hi + 1}
    return None, None


def Builder_for(m):
    b = Builder.__new__(Builder)
    b.m = m
    b.choices = {}
    b.covers = set()
    return b


def limits(service, op_name):
    m = model(service)
    op = m["operations"][op_name]
    root = op["input"]["shape"]
    s = m["shapes"][root]
    members = []
    for k, v in s.get("members", {}).items():
        if k == s.get("payload") and m["shapes"][v["shape"]]["type"] == "structure":
            ps = m["shapes"][v["shape"]]
            members += [(pk, pv, "body") for pk, pv in ps.get("members", {}).items()]
        else:
            members.append((k, v, v.get("location", "body")))
    out = []
    for k, v, location in members:
        t = m["shapes"][v["shape"]]
        for bound in ("min", "max", "pattern"):
            if bound not in t:
                continue
            inside, outside = bound_values(m, v["shape"], bound)
            out.append(
                {
                    "service": service,
                    "operation": op_name,
                    "member": k,
                    "location": location,
                    "type": t["type"],
                    "bound": bound,
                    "value": t[bound],
                    "inside": inside,
                    "outside": outside,
                }
            )
    return out


def nested_paths(m, shape_name, seen):
    """(path, shape) of every member below `shape_name`: a path is a list of steps, a member
    name, "[]" (a list item) or "{}" (a map value)."""
    if shape_name in seen:
        return
    seen = seen | {shape_name}
    t = m["shapes"][shape_name]
    if t["type"] == "structure":
        for k, v in t.get("members", {}).items():
            if "location" in v:
                continue
            yield [k], v["shape"]
            for p, sh in nested_paths(m, v["shape"], seen):
                yield [k] + p, sh
    elif t["type"] == "list":
        for p, sh in nested_paths(m, t["member"]["shape"], seen):
            yield ["[]"] + p, sh
    elif t["type"] == "map":
        for p, sh in nested_paths(m, t["value"]["shape"], seen):
            yield ["{}"] + p, sh


def build_along(b, shape_name, path, leaf):
    """A valid sample of `shape_name` with the value at `path` replaced by `leaf`."""
    if not path:
        return leaf
    t = b.shape(shape_name)
    step, rest = path[0], path[1:]
    if t["type"] == "structure":
        if t.get("union"):
            members = {}
        else:
            members = b.sample(shape_name)
        v = t["members"][step]
        members[v.get("locationName", step)] = build_along(b, v["shape"], rest, leaf)
        if not rest and isinstance(leaf, int):
            # Numeric siblings of the same shape (a range's from / to) take the same value,
            # so the sample stays consistent.
            for k2, v2 in t["members"].items():
                if k2 != step and v2["shape"] == v["shape"] and v2.get("locationName", k2) in members:
                    members[v2.get("locationName", k2)] = leaf
        return members
    if t["type"] == "list":
        n = max(t.get("min", 1), 1)
        items = [build_along(b, t["member"]["shape"], rest, leaf)]
        items += [b.sample(t["member"]["shape"]) for _ in range(n - 1)]
        return items
    k = b.sample(t["key"]["shape"])
    return {k: build_along(b, t["value"]["shape"], rest, leaf)}


def nested_limits(service, op_name):
    """Limits of members below the request's top-level body members: the value tested is the
    whole top-level member with the nested one set to each side of the bound."""
    m = model(service)
    s = m["shapes"][m["operations"][op_name]["input"]["shape"]]
    out = []
    for k, v in s.get("members", {}).items():
        if "location" in v or k == s.get("payload"):
            continue
        for path, shape_name in nested_paths(m, v["shape"], set()):
            t = m["shapes"][shape_name]
            for bound in ("min", "max", "pattern"):
                if bound not in t:
                    continue
                inside, outside = bound_values(m, shape_name, bound)
                b = Builder_for(m)
                wrap = lambda leaf: None if leaf is None else build_along(b, v["shape"], path, leaf)
                out.append(
                    {
                        "service": service,
                        "operation": op_name,
                        "member": k,
                        "path": k + "." + ".".join(path).replace(".[]", "[]").replace(".{}", "{}"),
                        "location": "body",
                        "type": t["type"],
                        "bound": bound,
                        "value": t[bound],
                        "inside": wrap(inside),
                        "outside": wrap(outside),
                    }
                )
    return out


def main(argv):
    roots, ops, in_ops = [], [], False
    for a in argv:
        if a == "--ops":
            in_ops = True
        elif in_ops:
            ops.append(a.split(":", 1))
        else:
            roots.append(a.split(":", 1))
    out = {"botocore": botocore.__version__, "instances": {}, "operations": {}, "limits": []}
    for service, root in roots:
        out["instances"][root] = instances(service, root)
    for service, name in ops:
        out["operations"].update(operations(service, [name]))
        if "input" in model(service)["operations"][name]:
            out["limits"] += limits(service, name)
            out["limits"] += nested_limits(service, name)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
