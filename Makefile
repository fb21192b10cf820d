# The two README commands: `make course` (set up + run the course on the synthetic dataset)
# and `make test` (set up + run every test, notebooks included).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stclr-installed
# JupyterLab defaults for the course (widget state saved with notebooks, arrow keys reach focused widgets)
LABSET := $(VENV)/share/jupyter/lab/settings/overrides.d/stclr.json

.PHONY: setup course test bench record clean-runs

setup: $(STAMP) $(LABSET)

$(LABSET): stclr/labsettings.py $(STAMP)
	$(BIN)/python -m stclr.labsettings

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (stclr)"
	touch $(STAMP)

course: setup
	$(BIN)/stclr course

test: setup
	$(BIN)/python -m pytest --nbval-lax tests notebooks

# execute every course notebook (seed 0, defaults) and store its outputs -- results and figures -- in the
# committed notebook (notebooks/src/build.py --record); about as long as `make course`
record: setup
	rm -rf runs/notebooks
	$(BIN)/python notebooks/src/build.py --record

bench: setup
	$(BIN)/python bench/run_all.py

clean-runs:
	rm -rf runs data/synthetic
