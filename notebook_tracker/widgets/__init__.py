"""ipywidgets of notebook-tracker: the run card under tracked cells and the run comparison.

Every widget's output also carries static `text/html` and `image/png`, so notebooks keep
showing a table and plots after nbconvert or on GitHub. Import the submodules you need
(`run_card`, `compare`); ipywidgets and matplotlib load only then.
"""
