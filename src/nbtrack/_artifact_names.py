"""Names of the artifacts nbtrack itself writes to a run, shared by every layer that reads them.

Kept in a module with no imports so the server extension and the panels can
name them without loading IPython.
"""

#: The notebook as the user saw it at snapshot time (unsaved edits and outputs included).
SNAPSHOT_FILE = "notebook.ipynb"
#: The notebook rebuilt from the cells the kernel executed, in execution order.
EXECUTED_FILE = "executed.ipynb"
#: Python, platform, packages, git state and GPUs, captured when the run starts.
ENVIRONMENT_FILE = "environment.json"
