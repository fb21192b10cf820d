"""Datasets: official split parsers, the synthetic motion dataset, transcoding and checking."""
