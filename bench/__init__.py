"""Benchmarks: ferstream beside the `fer` package on the same frames and cores (issue 6).

Each script answers one question and runs on its own (``python bench/throughput.py --help``);
``bench/run_all.py`` runs them all and prints one Markdown table. What several share sits in small
modules beside them:

- ``script``: the options every script takes, the process's set-up, ``run_main``
- ``tables``: ``Report``, ``Row``, the Markdown tables and number formats
- ``timing``: stopwatches, per-item times, the CPU's flags and load (``environment()``)
- ``data``: the shared footage, its frames, clips made at run time, FER-2013
- ``realset`` and ``face_crops``: the hand-labelled real faces, cropped as the worker crops them
- ``face_labels`` and ``box_matching``: the hand-checked face boxes, and detections matched to them
- ``fer_side`` and ``ferstream_side``: loading and running each side
- ``services`` and ``processes``: Redis, Mosquitto, PostgreSQL; ferstream's commands as child processes
"""
