#!/usr/bin/env python3
"""Fail when modules of one crate depend on each other in a loop.

Usage:
    scripts/check-module-cycles.py [WORKSPACE_ROOT]   # default: the repository root
    scripts/check-module-cycles.py --self-test

Exit 0 with one line ("N crates, M modules, no cycle"), 1 listing every cycle,
2 on a usage error. Python 3 standard library only.

Crates: every Cargo.toml under the root (skipping target/, node_modules/, fuzz/ and
hidden folders) whose package has src/lib.rs, src/main.rs, src/bin/*.rs or the
paths its [lib]/[[bin]] sections name; each such root file is one crate (a package
with a library and a binary is two).

Modules: the tree is built from the files and `mod` declarations: `mod x;` in
a/mod.rs, lib.rs or main.rs is a/x.rs or a/x/mod.rs, in a/b.rs it is a/b/x.rs or
a/b/x/mod.rs, `#[path = "..."]` is followed. An inline `mod x { ... }` block belongs
to the module of the file it is in: its paths count as that module's (this includes
`#[cfg(test)] mod tests { ... }` and file modules named `tests` or marked
`#[cfg(test)]`, which are folded into their parent, so test code counts as the
parent's code; an edge made by test code alone is tagged `[test]`). Only an inline
module that itself declares a file module becomes a node of its own.

References: every path that names a module of the same crate, with comments and
string/char literals blanked first: `crate::a::b`, `super::x`, `super::super::x`,
`self::x`, `$crate::x`, paths inside `use` trees (`use crate::{a::{b, c}, d};`,
`self` inside braces naming the prefix) and inline paths in expressions, types and
attributes (`crate::energy::estimate(..)`). A path that starts with the name of a
child module of the current module (2018 uniform paths, e.g. `use foo::..` in a
crate root) counts too. `pub(in crate::a)` restrictions are not references. A path
names the deepest module its leading segments spell; the rest are items.

Graph: a reference from module X to module Y is an edge between the two sibling
modules just below their deepest common ancestor: from `crate::a::b::c` to
`crate::a::d::e` gives `b -> d` inside `a`. A reference from a module to one of its
ancestors (it uses what the parent defines, re-exports included) or to one of its
descendants (a parent composes its children) is no edge. A cycle is a strongly
connected component of more than one sibling in the graph of one parent module;
each is reported with one example file:line per edge inside it.
"""

import os
import sys
import tempfile

SKIP_DIRS = {"target", "node_modules", "fuzz"}
PUNCT2 = "::"


# ---------------------------------------------------------------- lexing


class Tok:
    __slots__ = ("kind", "text", "line")

    def __init__(self, kind, text, line):
        self.kind = kind  # "id", "p" (punctuation), "str"
        self.text = text
        self.line = line

    def __repr__(self):
        return f"{self.kind}:{self.text}@{self.line}"


def _is_id_start(c):
    return c == "_" or c.isalpha()


def _is_id(c):
    return c == "_" or c.isalnum()


def lex(src):
    """Tokens of Rust source: identifiers/keywords/numbers ("id"), `::` and single
    punctuation ("p"), string literals ("str", raw text). Comments, char literals and
    lifetimes are dropped; string contents never look like paths."""
    toks = []
    i, n, line = 0, len(src), 1

    def string_end(j, hashes):
        # j: index after the opening quote; returns (end index after close, text).
        nonlocal line
        start = j
        while j < n:
            c = src[j]
            if c == "\n":
                line += 1
            if hashes is None and c == "\\":
                if j + 1 < n and src[j + 1] == "\n":
                    line += 1
                j += 2
                continue
            if c == '"':
                if hashes is None:
                    return j + 1, src[start:j]
                if src.startswith("#" * hashes, j + 1):
                    return j + 1 + hashes, src[start:j]
            j += 1
        return n, src[start:n]

    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    if src[i] == "\n":
                        line += 1
                    i += 1
        elif c == '"':
            ln = line
            i, text = string_end(i + 1, None)
            toks.append(Tok("str", text, ln))
        elif c == "'":
            # Char literal ('a', '\n', '\u{..}', '{') or lifetime/label ('a, 'static).
            if i + 1 < n and src[i + 1] == "\\":
                j = i + 2
                while j < n and src[j] != "'":
                    j += 1
                i = j + 1
            elif i + 2 < n and src[i + 2] == "'":
                i += 3
            else:
                i += 1
                while i < n and _is_id(src[i]):
                    i += 1
        elif _is_id_start(c) or c.isdigit():
            j = i
            while j < n and _is_id(src[j]):
                j += 1
            word = src[i:j]
            if word in ("r", "br", "cr") and j < n and src[j] in '#"':
                k = j
                while k < n and src[k] == "#":
                    k += 1
                if k < n and src[k] == '"':  # raw string r#"..."#
                    ln = line
                    i, text = string_end(k + 1, k - j)
                    toks.append(Tok("str", text, ln))
                    continue
                if word == "r" and k == j + 1 and k < n and _is_id_start(src[k]):
                    i = k  # raw identifier r#name: lex the name itself
                    continue
            # b"..", c"..", b'x': the prefix lexes as a word, the literal as usual.
            toks.append(Tok("id", word, line))
            i = j
        elif src.startswith(PUNCT2, i):
            toks.append(Tok("p", PUNCT2, line))
            i += 2
        else:
            toks.append(Tok("p", c, line))
            i += 1
    return toks


# ---------------------------------------------------------------- module tree


class Module:
    def __init__(self, path, file, is_test):
        self.path = path  # tuple of segments below the crate root
        self.file = file  # the file that holds its body (None for inline)
        self.is_test = is_test
        self.children = {}  # name -> Module (file and inline)
        self.inline = file is None
        self.inline_has_files = False  # an inline block that declares `mod x;`


class Crate:
    def __init__(self, label, root_file):
        self.label = label
        self.root_file = root_file
        self.modules = {(): Module((), root_file, False)}
        self.refs = []  # (from module, base module, segments below it, file, line, in test)
        self.warnings = []


def _matching(toks, i, open_, close):
    """Index of the token closing the bracket opened at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t.kind == "p":
            if t.text == open_:
                depth += 1
            elif t.text == close:
                depth -= 1
                if depth == 0:
                    return j
    return len(toks) - 1


def _attrs_before(toks, i):
    """Outer attributes (token lists) before `mod` at toks[i], skipping visibility."""
    j = i - 1
    # visibility: pub, pub(crate), pub(super), pub(in path)
    if j >= 0 and toks[j].text == ")":
        k = j
        while k >= 0 and toks[k].text != "(":
            k -= 1
        if k >= 1 and toks[k - 1].text == "pub":
            j = k - 2
    elif j >= 0 and toks[j].text == "pub":
        j -= 1
    attrs = []
    while j >= 1 and toks[j].text == "]":
        depth, k = 0, j
        while k >= 0:
            if toks[k].text == "]":
                depth += 1
            elif toks[k].text == "[":
                depth -= 1
                if depth == 0:
                    break
            k -= 1
        if k >= 1 and toks[k - 1].text == "#":
            attrs.append(toks[k + 1 : j])
            j = k - 2
        else:
            break
    return attrs


def _is_cfg_test(attr):
    texts = [t.text for t in attr]
    return texts[:1] == ["cfg"] and "test" in texts and "not" not in texts


def _path_attr(attr):
    if len(attr) >= 3 and attr[0].text == "path" and attr[1].text == "=" and attr[2].kind == "str":
        return attr[2].text
    return None


def load_crate(label, root_file):
    """Build the module tree of one crate and collect its references."""
    crate = Crate(label, root_file)
    pending = [((), root_file, os.path.dirname(root_file), False)]
    seen = set()
    while pending:
        logical, file, child_dir, in_test = pending.pop()
        real = os.path.realpath(file)
        if real in seen:
            continue
        seen.add(real)
        with open(file, encoding="utf-8") as f:
            toks = lex(f.read())
        _scan_file(crate, toks, logical, file, child_dir, in_test, pending)
    return crate


def _scan_file(crate, toks, logical, file, child_dir, in_test, pending):
    # Pass 1: mod declarations and the logical module of every token.
    scope = [None] * len(toks)
    stack = [(logical, child_dir, in_test, len(toks))]  # (module, child dir, test, end index)
    i = 0
    while i < len(toks):
        while i > stack[-1][3]:
            stack.pop()
        cur, cdir, ctest, _ = stack[-1]
        scope[i] = (cur, ctest)
        t = toks[i]
        if t.kind == "id" and t.text == "mod" and i + 2 < len(toks) and toks[i + 1].kind == "id":
            name = toks[i + 1].text
            nxt = toks[i + 2].text
            attrs = _attrs_before(toks, i)
            is_test = ctest or name == "tests" or any(_is_cfg_test(a) for a in attrs)
            path = cur + (name,)
            parent = crate.modules.get(cur)
            if nxt == "{":
                end = _matching(toks, i + 2, "{", "}")
                m = crate.modules.setdefault(path, Module(path, None, is_test))
                if parent is not None:
                    parent.children[name] = m
                scope[i + 1] = scope[i + 2] = (cur, ctest)
                stack.append((path, os.path.join(cdir, name), is_test, end))
                i += 3
                continue
            if nxt == ";":
                explicit = next((p for p in map(_path_attr, attrs) if p), None)
                if explicit:
                    base = os.path.dirname(file) if len(stack) == 1 else cdir
                    cands = [os.path.join(base, explicit)]
                else:
                    cands = [os.path.join(cdir, name + ".rs"), os.path.join(cdir, name, "mod.rs")]
                found = next((c for c in cands if os.path.isfile(c)), None)
                if found is None:
                    crate.warnings.append(f"{file}:{t.line}: `mod {name};` has no file ({' or '.join(cands)})")
                    i += 3
                    continue
                m = Module(path, found, is_test)
                crate.modules[path] = m
                if parent is not None:
                    parent.children[name] = m
                # A file module declared inside an inline block makes that block a node.
                if len(stack) > 1:
                    for k in range(len(logical) + 1, len(cur) + 1):
                        crate.modules[cur[:k]].inline_has_files = True
                # Children of mod.rs and of #[path] files sit beside them (as rustc).
                if os.path.basename(found) == "mod.rs" or explicit:
                    sub = os.path.dirname(found)
                else:
                    sub = os.path.join(os.path.dirname(found), name)
                pending.append((path, found, sub, is_test))
                scope[i + 1] = scope[i + 2] = (cur, ctest)
                i += 3
                continue
        i += 1
    for j in range(len(toks)):
        if scope[j] is None:
            scope[j] = scope[j - 1] if j else (logical, in_test)

    # Pass 2: paths.
    used = [False] * len(toks)
    i = 0
    while i < len(toks):
        t = toks[i]
        # (`use<'a>` is a precise-capturing bound, not an import.)
        nxt = toks[i + 1].text if i + 1 < len(toks) else ""
        if t.kind == "id" and t.text == "use" and nxt != "<" and not used[i]:
            end = i + 1
            while end < len(toks) and toks[end].text != ";":
                end += 1
            cur, test = scope[i]
            for segs in _use_tree(toks, i + 1, end):
                _add_ref(crate, cur, segs, file, test)
            for k in range(i, min(end + 1, len(toks))):
                used[k] = True
            i = end + 1
            continue
        i += 1
    for i, t in enumerate(toks):
        if used[i] or t.kind != "id":
            continue
        prev = toks[i - 1].text if i else ""
        if prev in (PUNCT2, ".") or i + 1 >= len(toks) or toks[i + 1].text != PUNCT2:
            continue
        cur, test = scope[i]
        if t.text in ("crate", "super", "self"):
            if prev == "in" and i >= 3 and toks[i - 2].text == "(" and toks[i - 3].text == "pub":
                continue  # pub(in crate::a): a visibility, not a use
        elif not _is_child(crate, cur, t.text):
            continue
        segs = [(t.text, t.line)]
        j = i + 1
        while j + 1 < len(toks) and toks[j].text == PUNCT2 and toks[j + 1].kind == "id":
            segs.append((toks[j + 1].text, toks[j + 1].line))
            j += 2
        _add_ref(crate, cur, segs, file, test)


def _is_child(crate, cur, name):
    m = crate.modules.get(cur)
    return m is not None and name in m.children


def _use_tree(toks, i, end):
    """Expand `use` tokens toks[i:end] into leaves, lists of (segment, line)."""
    out = []

    def tree(i, prefix):
        # Returns the index after this tree.
        segs = list(prefix)
        if i < end and toks[i].text == PUNCT2:
            segs.append(("::", toks[i].line))  # ::extern_crate, never ours
            i += 1
        while i < end:
            t = toks[i]
            if t.text == "{":
                close = _matching(toks, i, "{", "}")
                j = i + 1
                while j < close:
                    j = tree(j, segs)
                    if j < close and toks[j].text == ",":
                        j += 1
                return close + 1
            if t.text == "*":
                out.append(segs)
                return i + 1
            if t.kind == "id":
                # `a::{self}` stays `a::self`: `self` is no module name, so it names a.
                segs.append((t.text, t.line))
                i += 1
                if i < end and toks[i].text == PUNCT2:
                    i += 1
                    continue
                if i < end and toks[i].text == "as":
                    i += 2
                out.append(segs)
                return i
            return i + 1
        if segs:
            out.append(segs)
        return i

    j = i
    while j < end:
        j = tree(j, [])
        if j < end and toks[j].text == ",":
            j += 1
    return out


def _add_ref(crate, cur, segs, file, test):
    """Record a path, segs = [(segment, line)], used in module `cur`."""
    if not segs or segs[0][0] == "::":
        return
    first, line = segs[0]
    if first == "crate":
        base, rest = (), segs[1:]
    elif first in ("super", "self"):
        base, k = cur, 0
        while k < len(segs) and segs[k][0] in ("super", "self"):
            if segs[k][0] == "super":
                if not base:
                    return  # beyond the root: not a valid path
                base = base[:-1]
            line = segs[k][1]
            k += 1
        rest = segs[k:]
    elif _is_child(crate, cur, first):
        base, rest = cur, segs
    else:
        return
    # Resolved once every file is loaded (see resolved_refs).
    crate.refs.append((cur, base, tuple(rest), file, line, test))


def resolved_refs(crate):
    """(from, to, file, line, test): `to` is the deepest module the path spells and
    `line` the line of its last module segment (inside multi-line use trees)."""
    for cur, base, rest, file, line, test in crate.refs:
        target = base
        for s, ln in rest:
            if target + (s,) not in crate.modules:
                break
            target, line = target + (s,), ln
        yield cur, target, file, line, test


# ---------------------------------------------------------------- graph


def node_of(crate, path):
    """The graph node holding a logical module: tests and inline blocks fold up."""
    while path:
        m = crate.modules.get(path)
        if m is not None and not m.is_test and (not m.inline or m.inline_has_files):
            return path
        path = path[:-1]
    return ()


def edges_of(crate):
    """{parent: {(a, b): (file, line, test)}} for sibling edges a -> b inside parent;
    `test` is true when only test code makes the edge."""
    edges = {}
    for cur, target, file, line, test in resolved_refs(crate):
        x, y = node_of(crate, cur), node_of(crate, target)
        k = 0
        while k < min(len(x), len(y)) and x[k] == y[k]:
            k += 1
        if k == len(x) or k == len(y):
            continue  # same module, ancestor or descendant
        parent, a, b = x[:k], x[k], y[k]
        ex = edges.setdefault(parent, {})
        # The example: the first non-test occurrence, else the first test one.
        loc = (file, line, test)
        old = ex.get((a, b))
        if old is None or (test, file, line) < (old[2], old[0], old[1]):
            ex[(a, b)] = loc
    return edges


def sccs(nodes, adj):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(adj.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(adj.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def cycles_of(crate):
    """[(parent path, [members], [(a, b, file, line, test)])] for every cycle."""
    found = []
    for parent, ex in sorted(edges_of(crate).items()):
        adj = {}
        for a, b in ex:
            adj.setdefault(a, set()).add(b)
        nodes = set(adj) | {b for _, b in ex}
        for comp in sccs(nodes, adj):
            if len(comp) < 2:
                continue
            members = set(comp)
            inner = sorted((a, b) + ex[(a, b)] for (a, b) in ex if a in members and b in members)
            found.append((parent, comp, inner))
    return found


# ---------------------------------------------------------------- crates


def _target_roots(pkg_dir):
    """(kind, name, root file) for the lib and bin targets of one package."""
    manifest = os.path.join(pkg_dir, "Cargo.toml")
    data = {}
    try:
        import tomllib  # Python 3.11+

        with open(manifest, "rb") as f:
            data = tomllib.load(f)
    except ImportError:
        pass
    except Exception as e:  # a broken manifest is cargo's error to report
        print(f"warning: {manifest}: {e}", file=sys.stderr)
    pkg = data.get("package", {}).get("name", os.path.basename(pkg_dir))
    roots = []
    lib = data.get("lib", {})
    lib_path = lib.get("path", "src/lib.rs")
    if os.path.isfile(os.path.join(pkg_dir, lib_path)):
        roots.append(("lib", lib.get("name", pkg.replace("-", "_")), os.path.join(pkg_dir, lib_path)))
    bins = {}
    if os.path.isfile(os.path.join(pkg_dir, "src/main.rs")):
        bins["src/main.rs"] = pkg
    bindir = os.path.join(pkg_dir, "src/bin")
    if os.path.isdir(bindir):
        for e in sorted(os.listdir(bindir)):
            if e.endswith(".rs"):
                bins[f"src/bin/{e}"] = e[:-3]
            elif os.path.isfile(os.path.join(bindir, e, "main.rs")):
                bins[f"src/bin/{e}/main.rs"] = e
    for b in data.get("bin", []):
        if "path" in b:
            bins[b["path"]] = b.get("name", pkg)
    for path, name in sorted(bins.items()):
        full = os.path.join(pkg_dir, path)
        if os.path.isfile(full):
            roots.append(("bin", name, full))
    return roots


def find_crates(root):
    crates = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS and not x.startswith("."))
        if "Cargo.toml" in files:
            for kind, name, file in _target_roots(d):
                rel = os.path.relpath(d, root)
                crates.append((f"{rel} ({kind} {name})", file))
    return crates


def check(root):
    """(crates, module count, [(crate label, cycles)], warnings)."""
    crates = [load_crate(label, f) for label, f in find_crates(root)]
    nmods = sum(len({node_of(c, p) for p in c.modules}) for c in crates)
    report = [(c.label, cycles_of(c)) for c in crates]
    warnings = [w for c in crates for w in c.warnings]
    return crates, nmods, [(lbl, cy) for lbl, cy in report if cy], warnings


def _name(path):
    return "crate" + "".join("::" + s for s in path)


def main(argv):
    if argv[1:2] == ["--self-test"]:
        return self_test()
    if len(argv) > 2 or argv[1:2] and argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    root = os.path.normpath(root)
    crates, nmods, bad, warnings = check(root)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not crates:
        print(f"no crate found under {root}", file=sys.stderr)
        return 2
    if not bad:
        print(f"{len(crates)} crates, {nmods} modules, no cycle")
        return 0
    total = 0
    for label, cycles in bad:
        for parent, comp, inner in cycles:
            total += 1
            print(f"cycle in {label}, inside {_name(parent)}: {', '.join(comp)}")
            for a, b, file, line, test in inner:
                tag = " [test]" if test else ""
                print(f"    {a} -> {b}    {os.path.relpath(file, root)}:{line}{tag}")
    print(f"{total} cycle(s) in {len(bad)} of {len(crates)} crates ({nmods} modules)")
    return 1


# ---------------------------------------------------------------- self-test


def _write(root, files):
    for rel, text in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)


def self_test():
    toml = '[package]\nname = "{}"\nversion = "0.0.0"\nedition = "2021"\n'
    with tempfile.TemporaryDirectory() as tmp:
        _write(
            tmp,
            {
                "Cargo.toml": '[workspace]\nmembers = ["loopy", "clean"]\n',
                "target/junk/Cargo.toml": toml.format("junk"),
                "target/junk/src/lib.rs": "mod a;\n",
                # a -> b through an inline path in a function body; b -> a through a
                # braced use tree; outer::x <-> outer::y through super:: and crate::.
                "loopy/Cargo.toml": toml.format("loopy"),
                "loopy/src/lib.rs": (
                    "pub mod _first;\npub mod a;\npub mod b;\npub mod c;\npub mod outer;\n"
                    "pub mod inl {\n    pub mod p;\n    pub mod q;\n}\n"
                ),
                # File modules declared in an inline block live in its folder.
                "loopy/src/inl/p.rs": "use super::q::Q;\npub struct P(pub Q);\n",
                "loopy/src/inl/q.rs": "pub struct Q;\npub fn f(_: crate::inl::p::P) {}\n",
                # Sorts first and is in no cycle: the search must go on past it.
                "loopy/src/_first.rs": "pub fn z() -> u32 { crate::c::k() }\n",
                "loopy/src/a.rs": (
                    "pub fn f() -> u32 {\n"
                    "    let s = \"crate::c::nothing\"; // crate::c::nothing\n"
                    "    crate::b::g() + s.len() as u32\n"
                    "}\n"
                ),
                "loopy/src/b.rs": (
                    "use crate::{\n    a::{self as aa, f},\n    c,\n};\n"
                    "pub fn g() -> u32 { 1 }\n"
                    "pub fn h() -> u32 { f() + aa::f() + c::k() }\n"
                ),
                "loopy/src/c.rs": "pub fn k() -> u32 { 2 }\n",
                "loopy/src/outer/mod.rs": "pub mod x;\npub mod y;\npub struct P;\n",
                "loopy/src/outer/x.rs": "use super::y::Y;\npub struct X(pub Y);\n",
                "loopy/src/outer/y.rs": "pub struct Y;\npub fn make() -> crate::outer::x::X { crate::outer::x::X(Y) }\n",
                # Same shapes, one direction only; the reverse paths appear only in
                # comments, strings, raw strings, to parents, from parents, in a
                # visibility and in a test module folded into its parent.
                "clean/Cargo.toml": toml.format("clean"),
                "clean/src/main.rs": (
                    "mod a;\nmod b;\nmod outer;\n#[path = \"elsewhere/zed.rs\"]\nmod z;\n"
                    "use a::f;\n"
                    "fn main() { let _ = f() + b::g() + outer::x::X::new().0; }\n"
                    "pub struct Root;\n"
                ),
                "clean/src/a.rs": (
                    "/* crate::b::g() /* nested */ crate::b::g */\n"
                    "// crate::b::g()\n"
                    "pub fn f() -> u32 {\n"
                    "    let _r = r#\"crate::b::g \" crate::b::g\"#;\n"
                    "    let _c = ('\"', \"crate::b::g()\", '\\\"', \"crate::b::g()\", '\\\"');\n"
                    "    let _l: &'static str = \"x\";\n"
                    "    let _e = \"q \\\" crate::b::g() \\\" q\";\n"
                    "    crate::c_free() + super::a::helper()\n"
                    "}\n"
                    "fn helper() -> u32 { 0 }\n"
                    "pub(in crate::outer) fn restricted() {}\n"
                    "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn t() { let _ = f(); }\n}\n"
                ),
                "clean/src/b.rs": (
                    "use crate::{a::{self, f}, Root};\n"
                    "pub fn g() -> u32 { a::f() + f() + self::inner::v() }\n"
                    "mod inner { pub fn v() -> u32 { super::super::a::f() } }\n"
                    "#[allow(dead_code)]\nfn _r() -> Option<Root> { None }\n"
                    "#[cfg(test)]\nmod tests { use crate::outer::y::Y; }\n"
                ),
                "clean/src/elsewhere/zed.rs": "pub mod w;\n",
                "clean/src/elsewhere/w.rs": "pub fn w() -> u32 { crate::a::f() }\n",
                "clean/src/outer/mod.rs": (
                    "pub mod x;\npub mod y;\npub fn p() -> y::Y { y::Y }\n#[cfg(test)]\nmod tests;\n"
                ),
                # A file test module folds into its parent: x <-> tests is no cycle.
                "clean/src/outer/tests.rs": "use super::x::X;\npub fn helper() -> X { X(0) }\n",
                "clean/src/outer/x.rs": (
                    "use super::y::Y;\npub struct X(pub u32);\nimpl X { pub fn new() -> Self { let _ = Y; X(super::p().0) } }\n"
                    "#[cfg(test)]\nfn _t() -> X { super::tests::helper() }\n"
                ),
                "clean/src/outer/y.rs": "pub struct Y(pub u32);\nimpl Y { pub const Y: Y = Y(0); }\n#[allow(non_upper_case_globals)]\npub const Y: Y = Y(crate::outer::P);\n",
            },
        )
        # `crate::c_free` in clean/a.rs and outer::P in y.rs name items of the
        # root / parent: no edge. (The files need not compile, only parse.)
        crates, nmods, bad, warnings = check(tmp)
        labels = sorted(c.label for c in crates)
        assert labels == ["clean (bin clean)", "loopy (lib loopy)"], labels
        assert not warnings, warnings
        got = {lbl: [(p, comp) for p, comp, _ in cy] for lbl, cy in bad}
        want = {"loopy (lib loopy)": [((), ["a", "b"]), (("inl",), ["p", "q"]), (("outer",), ["x", "y"])]}
        assert got == want, got
        inner = {(a, b): (os.path.relpath(f, tmp), ln) for _, _, es in bad[0][1] for a, b, f, ln, _ in es}
        assert inner == {
            ("a", "b"): ("loopy/src/a.rs", 3),
            ("b", "a"): ("loopy/src/b.rs", 2),
            ("p", "q"): ("loopy/src/inl/p.rs", 1),
            ("q", "p"): ("loopy/src/inl/q.rs", 2),
            ("x", "y"): ("loopy/src/outer/x.rs", 1),
            ("y", "x"): ("loopy/src/outer/y.rs", 2),
        }, inner
        # loopy: root, _first, a, b, c, outer, x, y, inl, p, q; clean: root, a, b,
        # outer, x, y, z, z::w
        assert nmods == 19, nmods
        clean = next(c for c in crates if c.label.startswith("clean"))
        # Paths from the root through its children (2018 uniform paths) are read, as
        # references to descendants, which are no edges.
        from_root = sorted({(t, ln) for cur, t, f, ln, _ in resolved_refs(clean) if cur == ()})
        assert from_root == [(("a",), 6), (("b",), 7), (("outer", "x"), 7)], from_root
        assert edges_of(clean) == {
            (): {
                ("b", "a"): (os.path.join(tmp, "clean/src/b.rs"), 1, False),
                ("b", "outer"): (os.path.join(tmp, "clean/src/b.rs"), 7, True),
                ("z", "a"): (os.path.join(tmp, "clean/src/elsewhere/w.rs"), 1, False),
            },
            ("outer",): {("x", "y"): (os.path.join(tmp, "clean/src/outer/x.rs"), 1, False)},
        }, edges_of(clean)
    print("self-test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
