#!/usr/bin/env python3
"""Check schema/vem-cluster.schema.json with an independent validator
(python3-jsonschema) against the loader, over the whole corpus:

  - it is a valid draft 2020-12 schema;
  - it accepts every file the loader accepts (examples, tests/schema/pass);
  - it rejects every file the loader rejects (tests/schema/fail), except
    those listed in tests/schema/schema-blind.txt, each with the reason a
    JSON Schema cannot see the problem (a cross-reference, a rule between
    two keys, duplicates across files, YAML the validator cannot read...).
    A listed file that the schema does reject is reported too, so the list
    cannot go stale.

YAML is read with the types of YAML 1.2's core schema, as the loader and
editors read it (PyYAML's default is YAML 1.1, where "yes" is a boolean).
Prints "ok - ..." / "not ok - ..." lines."""
import glob, json, os, re, sys

import jsonschema
import yaml

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
os.chdir(top)


class Core12Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader with YAML 1.2 core schema resolvers."""


Core12Loader.yaml_implicit_resolvers = {}
for tag, regexp, first in [
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+.0123456789")),
]:
    Core12Loader.add_implicit_resolver(tag, re.compile(regexp), first)


def construct_int(loader, node):
    v = loader.construct_scalar(node)
    if v.startswith("0o"):
        return int(v[2:], 8)
    if v.startswith("0x"):
        return int(v[2:], 16)
    return int(v)


Core12Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
Core12Loader.add_constructor("tag:yaml.org,2002:bool",
                             lambda l, n: l.construct_scalar(n).lower() == "true")

schema = json.load(open("schema/vem-cluster.schema.json"))
cls = jsonschema.validators.validator_for(schema)
try:
    cls.check_schema(schema)
    print("ok - json schema: valid %s" % schema["$schema"])
except jsonschema.SchemaError as e:
    print("not ok - json schema is not valid: %s" % e.message)
    sys.exit(0)
v = cls(schema)


def files(path):
    if os.path.isdir(path):
        return sorted(glob.glob(path + "/*.yaml") + glob.glob(path + "/*.yml"))
    return [path]


MAX_EXPANDED = 200000   # the loader's CFG_MAX_NODES: more is an alias bomb


def expanded_size(node, memo):
    """Nodes in node once aliases are expanded (memoised: linear time)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1           # a cycle counts once: the loader refuses it anyway
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(expanded_size(c, memo) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(expanded_size(k, memo) + expanded_size(v, memo) for k, v in node.value)
    memo[key] = n
    return n


def schema_errors(path):
    """Errors the schema finds in path (a file or a directory), or None
    when the validator cannot read it as YAML (a syntax error, an alias
    bomb)."""
    errs = []
    for f in files(path):
        try:
            nodes = list(yaml.compose_all(open(f), Loader=Core12Loader))
            if sum(expanded_size(n, {}) for n in nodes if n is not None) > MAX_EXPANDED:
                return None
            docs = list(yaml.load_all(open(f), Loader=Core12Loader))
        except (yaml.YAMLError, RecursionError, ValueError):
            return None
        for doc in docs:
            if doc is not None:
                errs += ["%s: %s" % (f, e.message) for e in v.iter_errors(doc)]
    return errs


def corpus(pattern):
    out = []
    for p in sorted(glob.glob(pattern)):
        if p.endswith((".json", ".err", ".warn", ".txt")):
            continue
        if os.path.isdir(p) and not files(p):
            continue
        out.append(p.rstrip("/"))
    return out


blind = {}
for line in open("tests/schema/schema-blind.txt"):
    line = line.split("#", 1)[0].strip()
    if line:
        name, _, why = line.partition(" ")
        blind[name] = why.strip()

accept = [p for p in corpus("examples/clusters/*") if p.endswith(".yaml") or os.path.isdir(p)]
accept = [p for p in accept if not p.endswith("seed")]
accept += corpus("tests/schema/pass/[0-9]*")
for p in accept:
    errs = schema_errors(p)
    if errs == []:
        print("ok - json schema accepts %s" % p)
    else:
        print("not ok - json schema rejects %s, which vem accepts" % p)
        for e in (errs or ["(the validator cannot read it as YAML)"])[:5]:
            print("#   " + e)

for p in corpus("tests/schema/fail/[0-9]*"):
    name = os.path.basename(p).rsplit(".", 1)[0] if p.endswith((".yaml", ".yml")) else os.path.basename(p)
    errs = schema_errors(p)
    caught = errs is None or bool(errs)     # None: not even YAML to a validator
    if name in blind:
        if caught:
            print("not ok - json schema now rejects %s: drop it from schema-blind.txt" % p)
        else:
            print("ok - json schema cannot see %s (%s)" % (p, blind[name]))
    elif caught:
        print("ok - json schema rejects %s, as vem does" % p)
    else:
        print("not ok - json schema accepts %s, which vem rejects; make the schema "
              "catch it or list it in schema-blind.txt with the reason" % p)
