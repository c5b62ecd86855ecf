"""Run by every Python process the tests start: tests/conftest.py puts this folder first on
PYTHONPATH.

rfc3987-syntax builds an Earley parser when it is imported (about 3 s of CPU), and jsonschema
imports it whenever it is installed (jupyter-events asks for jsonschema[format-nongpl]). So
every Jupyter server, every process using nbformat and every `notebook-tracker run` of a
notebook paid those seconds: a minute or more of a CI run. All it adds is jsonschema's "iri"
format check, which nothing under test relies on; jsonschema leaves that check out when the
import fails, as it does here.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
