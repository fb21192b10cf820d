"""nbval settings for the course notebooks.

nbval waits only 5 s (hard-coded) for a cell's output messages after the kernel's reply; a training cell on
a loaded 2-core CI machine can take longer to flush them, which nbval reports as a failure. Give it room.
"""

OUTPUT_TIMEOUT_S = 120


def pytest_collection_modifyitems(items):
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.output_timeout = OUTPUT_TIMEOUT_S
