"""What a tracked cell means, without IPython: its magic line's arguments (`arguments`) and the
rules for the params and metrics a cell logs (`autolog`). Pure functions over source text and
values, shared by the magics, `notebook-tracker rerun` (projects/) and sweeps."""
