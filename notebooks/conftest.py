"""nbval settings for the course notebooks.

nbval waits only 5 s (hard-coded) for a cell's output messages after the kernel's reply; a training cell on
a loaded 2-core CI machine can take longer to flush them, which nbval reports as a failure. Give it room:
notebook 08's pretraining cell (two 240-step runs when notebook 06's checkpoint is not reusable) went silent for
over 120 s on a clean clone. A hung cell is still stopped by nbval's own cell timeout (2000 s).
"""

OUTPUT_TIMEOUT_S = 1200


def pytest_collection_modifyitems(items):
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.output_timeout = OUTPUT_TIMEOUT_S
