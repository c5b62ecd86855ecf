"""The tracking server: REST handlers shared by the Jupyter extension and the standalone app.

Nothing here is imported by `import notebook_tracker`; tornado loads only when a server runs.
"""
