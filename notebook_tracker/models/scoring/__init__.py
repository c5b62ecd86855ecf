"""The scoring server: a model answered over HTTP with MLflow's scoring protocol.

`python -m notebook_tracker.models.scoring --model-dir DIR --port N` serves a local model
directory; `workers.py` and the CLI resolve model URIs and start it.
"""
