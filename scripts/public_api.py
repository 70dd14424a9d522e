#!/usr/bin/env python3
"""The public API of a crate, one item per line, from rustdoc's JSON output.

Usage: public_api.py <crate.json>              print the surface
       public_api.py <crate.json> --crates     print the external crates it names

Items hidden with #[doc(hidden)] are not in rustdoc's output and so not part of the surface.
Each line is an item at one public path (a re-exported item appears at every path), with its
signature; trait impls are listed with the auto traits each type has or has not (`Send`,
`Sync`, `Unpin`, `UnwindSafe`, ... as rustdoc works them out), blanket impls are not. The
output is sorted so that a diff against a checked-in baseline shows exactly what changed.
"""
import json
import sys

AUTO_TRAITS = {"Send", "Sync", "Unpin", "UnwindSafe", "RefUnwindSafe"}


class Api:
    def __init__(self, doc):
        self.doc = doc
        self.index = doc["index"]
        self.paths = doc["paths"]
        self.crates = {int(k): v["name"] for k, v in doc["external_crates"].items()}
        self.named = set()  # external crates named in signatures
        self.lines = set()

    # ---- types -------------------------------------------------------------------------

    def path_of(self, p):
        """A resolved path: the canonical path where rustdoc knows it."""
        pid = str(p.get("id"))
        name = p.get("path") or p.get("name")
        if pid in self.paths:
            info = self.paths[pid]
            if info["crate_id"] != 0:
                self.named.add(self.crates.get(info["crate_id"], "?"))
            name = "::".join(info["path"])
        return name + self.args(p.get("args"))

    def args(self, a):
        if not a:
            return ""
        if "angle_bracketed" in a:
            ab = a["angle_bracketed"]
            parts = []
            for arg in ab.get("args", []):
                if "type" in arg:
                    parts.append(self.ty(arg["type"]))
                elif "lifetime" in arg:
                    parts.append(arg["lifetime"])
                elif "const" in arg:
                    parts.append(str(arg["const"].get("expr", "_")))
                else:
                    parts.append("_")
            for c in ab.get("constraints", []):
                b = c.get("binding", {})
                if "equality" in b:
                    eq = b["equality"]
                    val = self.ty(eq["type"]) if "type" in eq else str(eq)
                    parts.append(f"{c['name']} = {val}")
                elif "constraint" in b:
                    parts.append(f"{c['name']}: {self.bounds(b['constraint'])}")
            return f"<{', '.join(parts)}>" if parts else ""
        if "parenthesized" in a:
            p = a["parenthesized"]
            out = f"({', '.join(self.ty(t) for t in p['inputs'])})"
            if p.get("output"):
                out += f" -> {self.ty(p['output'])}"
            return out
        return ""

    def bounds(self, bs):
        out = []
        for b in bs:
            if "trait_bound" in b:
                tb = b["trait_bound"]
                m = "?" if tb.get("modifier") == "maybe" else ""
                out.append(m + self.path_of(tb["trait"]))
            elif "outlives" in b:
                out.append(b["outlives"])
            else:
                out.append("use<..>")
        return " + ".join(out)

    def ty(self, t):
        if t is None:
            return "()"
        k, v = next(iter(t.items()))
        if k == "resolved_path":
            return self.path_of(v)
        if k == "primitive":
            return v
        if k == "generic":
            return v
        if k == "borrowed_ref":
            lt = (v["lifetime"] + " ") if v.get("lifetime") else ""
            return f"&{lt}{'mut ' if v['is_mutable'] else ''}{self.ty(v['type'])}"
        if k == "raw_pointer":
            return f"*{'mut' if v['is_mutable'] else 'const'} {self.ty(v['type'])}"
        if k == "slice":
            return f"[{self.ty(v)}]"
        if k == "array":
            return f"[{self.ty(v['type'])}; {v['len']}]"
        if k == "tuple":
            return f"({', '.join(self.ty(x) for x in v)})"
        if k == "impl_trait":
            return f"impl {self.bounds(v)}"
        if k == "dyn_trait":
            traits = " + ".join(self.path_of(x["trait"]) for x in v["traits"])
            lt = f" + {v['lifetime']}" if v.get("lifetime") else ""
            return f"dyn {traits}{lt}"
        if k == "qualified_path":
            tr = f" as {self.path_of(v['trait'])}" if v.get("trait") else ""
            return f"<{self.ty(v['self_type'])}{tr}>::{v['name']}"
        if k == "function_pointer":
            sig = v["sig"]
            ins = ", ".join(self.ty(x[1]) for x in sig["inputs"])
            out = f" -> {self.ty(sig['output'])}" if sig.get("output") else ""
            return f"fn({ins}){out}"
        if k == "infer":
            return "_"
        return k

    def generics(self, g):
        params = []
        for p in g.get("params", []):
            kind = p["kind"]
            if "lifetime" in kind:
                params.append(p["name"])
            elif "type" in kind:
                if kind["type"].get("is_synthetic"):
                    continue
                b = self.bounds(kind["type"].get("bounds", []))
                params.append(p["name"] + (f": {b}" if b else ""))
            elif "const" in kind:
                params.append(f"const {p['name']}: {self.ty(kind['const']['type'])}")
        preds = []
        for w in g.get("where_predicates", []):
            if "bound_predicate" in w:
                bp = w["bound_predicate"]
                preds.append(f"{self.ty(bp['type'])}: {self.bounds(bp['bounds'])}")
        out = f"<{', '.join(params)}>" if params else ""
        where = f" where {', '.join(preds)}" if preds else ""
        return out, where

    def fn_sig(self, name, f):
        h = f.get("header", {})
        quals = ("const " if h.get("is_const") else "") + ("async " if h.get("is_async") else "")
        quals += "unsafe " if h.get("is_unsafe") else ""
        g, where = self.generics(f.get("generics", {}))
        ins = []
        for arg_name, t in f["sig"]["inputs"]:
            if arg_name == "self":
                ins.append(self.ty(t).replace("Self", "self") if t != {"generic": "Self"} else "self")
            else:
                ins.append(f"{arg_name}: {self.ty(t)}")
        out = f" -> {self.ty(f['sig']['output'])}" if f["sig"].get("output") else ""
        return f"pub {quals}fn {name}{g}({', '.join(ins)}){out}{where}"

    # ---- items -------------------------------------------------------------------------

    def emit(self, line):
        self.lines.add(line)

    def walk_module(self, path, module, seen):
        for iid in module["items"]:
            item = self.index.get(str(iid))
            if item is None or item.get("visibility") != "public":
                continue
            self.item(path, item, seen)

    def item(self, path, item, seen, name=None):
        inner_kind, inner = next(iter(item["inner"].items()))
        name = name or item.get("name")
        if inner_kind == "use":
            target = self.index.get(str(inner.get("id")))
            if inner.get("is_glob"):
                if target and "module" in target["inner"]:
                    self.walk_module(path, target["inner"]["module"], seen)
                return
            if target is not None:
                self.item(path, target, seen, inner["name"])
            else:
                ext = self.paths.get(str(inner.get("id")))
                src = "::".join(ext["path"]) if ext else inner["source"]
                if ext and ext["crate_id"] != 0:
                    self.named.add(self.crates.get(ext["crate_id"], "?"))
                self.emit(f"pub use {'::'.join(path + [inner['name']])} = {src}")
            return
        full = "::".join(path + [name])
        key = (full, item["id"])
        if key in seen:
            return
        seen.add(key)
        if inner_kind == "module":
            self.emit(f"pub mod {full}")
            self.walk_module(path + [name], inner, seen)
        elif inner_kind == "struct":
            g, where = self.generics(inner.get("generics", {}))
            self.emit(f"pub struct {full}{g}{where}")
            kind = inner["kind"]
            fields = []
            if isinstance(kind, dict) and "plain" in kind:
                fields = kind["plain"]["fields"]
            elif isinstance(kind, dict) and "tuple" in kind:
                fields = [f for f in kind["tuple"] if f is not None]
            for fid in fields:
                f = self.index.get(str(fid))
                if f and f.get("visibility") == "public":
                    self.emit(f"pub {full}::{f['name']}: {self.ty(f['inner']['struct_field'])}")
            self.impls(full, inner.get("impls", []))
        elif inner_kind == "enum":
            g, where = self.generics(inner.get("generics", {}))
            attrs = " #[non_exhaustive]" if "non_exhaustive" in item.get("attrs", []) else ""
            self.emit(f"pub enum {full}{g}{where}{attrs}")
            for vid in inner["variants"]:
                v = self.index[str(vid)]
                self.emit(f"pub {full}::{v['name']}{self.variant(v['inner']['variant'])}")
            self.impls(full, inner.get("impls", []))
        elif inner_kind == "trait":
            g, where = self.generics(inner.get("generics", {}))
            self.emit(f"pub trait {full}{g}{where}")
            for mid in inner["items"]:
                m = self.index.get(str(mid))
                if m and "function" in m["inner"]:
                    self.emit(self.fn_sig(f"{full}::{m['name']}", m["inner"]["function"]))
                elif m and "assoc_type" in m["inner"]:
                    self.emit(f"{full}::type {m['name']}")
        elif inner_kind == "function":
            self.emit(self.fn_sig(full, inner))
        elif inner_kind == "constant":
            self.emit(f"pub const {full}: {self.ty(inner['type'])}")
        elif inner_kind == "static":
            self.emit(f"pub static {full}: {self.ty(inner['type'])}")
        elif inner_kind == "type_alias":
            g, _ = self.generics(inner.get("generics", {}))
            self.emit(f"pub type {full}{g} = {self.ty(inner['type'])}")
        elif inner_kind in ("macro", "proc_macro"):
            self.emit(f"pub macro {full}")
        else:
            self.emit(f"pub {inner_kind} {full}")

    def variant(self, v):
        kind = v["kind"]
        if kind == "plain":
            return ""
        if "tuple" in kind:
            tys = [self.ty(self.index[str(f)]["inner"]["struct_field"]) for f in kind["tuple"] if f is not None]
            return f"({', '.join(tys)})"
        if "struct" in kind:
            fs = []
            for f in kind["struct"]["fields"]:
                fi = self.index[str(f)]
                fs.append(f"{fi['name']}: {self.ty(fi['inner']['struct_field'])}")
            return " { " + ", ".join(fs) + " }"
        return ""

    def impls(self, full, impl_ids):
        for iid in impl_ids:
            imp = self.index.get(str(iid))
            if imp is None:
                continue
            i = imp["inner"]["impl"]
            if i.get("blanket_impl"):
                continue
            # Auto traits: the stable ones only (rustdoc also lists unstable markers such as
            # Freeze, which would make the baseline depend on the toolchain).
            if i.get("is_synthetic") and i.get("trait", {}).get("path", "").split("::")[-1] not in AUTO_TRAITS:
                continue
            if i.get("trait") is None:
                for mid in i["items"]:
                    m = self.index.get(str(mid))
                    if m is None or m.get("visibility") != "public":
                        continue
                    if "function" in m["inner"]:
                        self.emit(self.fn_sig(f"{full}::{m['name']}", m["inner"]["function"]))
                    elif "assoc_const" in m["inner"]:
                        self.emit(f"pub const {full}::{m['name']}: {self.ty(m['inner']['assoc_const']['type'])}")
            else:
                g, where = self.generics(i.get("generics", {}))
                neg = "!" if i.get("is_negative") else ""
                self.emit(f"impl{g} {neg}{self.path_of(i['trait'])} for {self.ty(i['for'])}{where}")


def main():
    doc = json.load(open(sys.argv[1]))
    api = Api(doc)
    root = api.index[str(doc["root"])]
    api.walk_module([root["name"]], root["inner"]["module"], set())
    if "--crates" in sys.argv:
        for c in sorted(api.named):
            print(c)
    else:
        for line in sorted(api.lines):
            print(line)


if __name__ == "__main__":
    main()
