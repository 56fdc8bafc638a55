#!/usr/bin/env python3
"""Make deploy/kubernetes/base/prometheus-rules.yaml (a PrometheusRule for the Prometheus
Operator) from deploy/observability/rules/*.yml, the rules promtool tests.

    scripts/gen-prometheus-rules.py          # write it
    scripts/gen-prometheus-rules.py --check  # fail if it is out of date
"""
import glob
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "deploy/kubernetes/base/prometheus-rules.yaml")
HEAD = """# Generated from deploy/observability/rules/*.yml (the source; tested with promtool) for the
# Prometheus Operator by scripts/gen-prometheus-rules.py; a test fails while the two differ.
"""


class Dumper(yaml.SafeDumper):
    pass


def text(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, text)

groups = []
for path in sorted(glob.glob(os.path.join(ROOT, "deploy/observability/rules/*.yml"))):
    with open(path) as f:
        groups += yaml.safe_load(f)["groups"]
doc = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "kreki", "labels": {"app.kubernetes.io/part-of": "kreki"}},
    "spec": {"groups": groups},
}
rendered = HEAD + yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=100)
if "--check" in sys.argv:
    with open(OUT) as f:
        if f.read() != rendered:
            sys.exit(f"{OUT} is out of date: run scripts/gen-prometheus-rules.py")
else:
    with open(OUT, "w") as f:
        f.write(rendered)
