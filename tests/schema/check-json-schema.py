#!/usr/bin/env python3
"""Check schema/vem-cluster.schema.json with an independent validator: it is
a valid draft 2020-12 schema, it accepts every file the loader accepts
(examples, pass corpus) and rejects the given failing files that a schema can
catch. Prints "ok - ..." / "not ok - ..." lines. Needs python3-jsonschema and
python3-yaml."""
import glob, json, os, sys

import jsonschema
import yaml

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
os.chdir(top)
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

def check(path, want_ok):
    errs = []
    for f in files(path):
        for doc in yaml.safe_load_all(open(f)):
            if doc is not None:
                errs += ["%s: %s" % (f, e.message) for e in v.iter_errors(doc)]
    if bool(errs) != want_ok:
        print("ok - json schema %s %s" % ("accepts" if want_ok else "rejects", path))
    else:
        print("not ok - json schema %s %s" % ("rejects" if want_ok else "accepts", path))
        for e in errs[:5]:
            print("#   " + e)

accept = [p for p in sorted(glob.glob("examples/clusters/*.yaml") + glob.glob("examples/clusters/*/"))
          if p.endswith(".yaml") or glob.glob(p + "*.yaml")]
accept += sorted(p for p in glob.glob("tests/schema/pass/[0-9]*") if not p.endswith(".json"))
for p in accept:
    check(p.rstrip("/"), True)
# failures a schema can see: unknown keys, types, enums, ranges, required keys
for name in sys.argv[1:]:
    check(name, False)
