"""The notebooks here are inputs of tests/test_batch.py and tests/test_course.py, not course notebooks:
keep ``pytest --nbval-lax tests`` from executing them as notebook tests of their own."""

collect_ignore_glob = ["*.ipynb"]
