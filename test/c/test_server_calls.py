#!/usr/bin/python3
"""No file-level call circle in the server (issue 25).

From the object files (nm): file A uses file B when A's undefined symbols
include one that B defines (a function, or a table such as a schema). The
graph's strongly connected components of more than one file are circles;
each is listed with the symbols that tie it, and the test fails.

Usage: test_server_calls.py OBJECT_OR_ARCHIVE...  (libfotaserver.a, main.c.o)
"""
import os
import subprocess
import sys


def member_name(where):
    # "lib.a[cli.c.o]" or "dir/main.c.o" -> "cli.c" / "main.c"
    if where.endswith("]") and "[" in where:
        where = where[where.rindex("[") + 1:-1]
    name = os.path.basename(where)
    return name[:-2] if name.endswith(".o") else name


def read_symbols(paths):
    defined, used = {}, {}
    for path in paths:
        out = subprocess.run(["nm", "-A", "-P", path], check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            where, _, rest = line.rpartition(": ")
            fields = rest.split()
            if not where or len(fields) < 2:
                continue
            f, sym, kind = member_name(where), fields[0], fields[1]
            used.setdefault(f, set())
            if kind == "U":
                used[f].add(sym)
            elif kind in "TDRBVWG" and not sym.startswith("."):
                defined[sym] = f
    return defined, used


def circles(edges):
    """Tarjan's strongly connected components with more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    defined, used = read_symbols(sys.argv[1:])
    edges, why = {}, {}
    for f, syms in used.items():
        edges.setdefault(f, set())
        for sym in syms:
            g = defined.get(sym)
            if g and g != f:
                edges[f].add(g)
                why.setdefault((f, g), []).append(sym)
    found = circles(edges)
    for comp in found:
        print("server calls: circle among " + " ".join(comp))
        for f in comp:
            for g in comp:
                if (f, g) in why:
                    print("  %s -> %s: %s" % (f, g, " ".join(sorted(why[(f, g)]))))
    if found:
        return 1
    print("server calls: %d files, no circle" % len(edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
